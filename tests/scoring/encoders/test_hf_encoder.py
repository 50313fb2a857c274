"""hf:<dir> specifics: identity, offline failures, hub-cache resolution, remote-code models."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.tiny_clip import build_tiny_clip

from cotclip.scoring.data.local import file_ref
from cotclip.scoring.encoders import ImageRef
from cotclip.scoring.encoders.hf import hub_offline, resolve_model_folder
from cotclip.scoring.registry import load_encoder
from cotclip.systems.errors import EncoderError

_REMOTE_CONFIG = '''
from transformers import PretrainedConfig


class FakeJinaConfig(PretrainedConfig):
    model_type = "fake_jina"

    def __init__(self, width=6, **kwargs):
        self.width = width
        super().__init__(**kwargs)
'''

_REMOTE_MODEL = '''
import numpy as np
import torch
from transformers import PreTrainedModel

from .configuration_fake_jina import FakeJinaConfig


class FakeJinaModel(PreTrainedModel):
    config_class = FakeJinaConfig

    def __init__(self, config):
        super().__init__(config)
        self.image_proj = torch.nn.Linear(3, config.width)
        self.text_proj = torch.nn.Linear(8, config.width)
        self.post_init()

    def encode_image(self, images):
        means = np.stack([np.asarray(image, dtype=np.float32).mean(axis=(0, 1)) / 255 for image in images])
        return self.image_proj(torch.tensor(means)).numpy()

    def encode_text(self, texts):
        codes = [[float(b) / 255 for b in (text.encode() + bytes(8))[:8]] for text in texts]
        return self.text_proj(torch.tensor(codes)).numpy()
'''


def _remote_code_model(folder: Path, *, multivector_images: bool = False) -> Path:
    """The fake remote-code model; ``multivector_images``: its encode_image (only) takes ``return_multivector``."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir()
    (folder / "configuration_fake_jina.py").write_text(_REMOTE_CONFIG)
    source = _REMOTE_MODEL.replace(
        "def encode_image(self, images):", "def encode_image(self, images, return_multivector=False):"
    )
    (folder / "modeling_fake_jina.py").write_text(source if multivector_images else _REMOTE_MODEL)
    config = {
        "model_type": "fake_jina",
        "width": 6,
        "architectures": ["FakeJinaModel"],
        "auto_map": {
            "AutoConfig": "configuration_fake_jina.FakeJinaConfig",
            "AutoModel": "modeling_fake_jina.FakeJinaModel",
        },
    }
    (folder / "config.json").write_text(json.dumps(config))
    generator = torch.Generator().manual_seed(0)
    weights = {
        "image_proj.weight": torch.randn(6, 3, generator=generator),
        "image_proj.bias": torch.zeros(6),
        "text_proj.weight": torch.randn(6, 8, generator=generator),
        "text_proj.bias": torch.zeros(6),
    }
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def test_identity_follows_content_not_location(tiny_clip_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_clip_dir, tmp_path / "copy")
    assert load_encoder(f"hf:{copy}").identity == load_encoder(f"hf:{tiny_clip_dir}").identity.replace(
        tiny_clip_dir.name, "copy"
    )
    first = load_encoder(f"hf:{tiny_clip_dir}").identity
    assert first.startswith("hf:CLIPModel:") and "pre=" in first


def test_identity_changes_with_weights_and_preprocessing(tiny_clip_dir: Path, tmp_path: Path) -> None:
    base = load_encoder(f"hf:{tiny_clip_dir}")
    other_weights = load_encoder(f"hf:{build_tiny_clip(tmp_path / 'w', seed=1)}")
    other_mean = load_encoder(f"hf:{build_tiny_clip(tmp_path / 'p', image_mean=(0.5, 0.5, 0.5))}")
    base_pre = base.identity.split("pre=")[1]
    assert other_weights.identity.split("@")[1] != base.identity.split("@")[1]
    assert other_mean.identity.split("pre=")[1] != base_pre
    assert not np.allclose(other_weights.encode_texts(["a cat"]), base.encode_texts(["a cat"]))


def test_crop_changes_the_embedding(tiny_clip_dir: Path, image_folder: Path) -> None:
    encoder = load_encoder(f"hf:{tiny_clip_dir}")
    path = next((image_folder / "cat").iterdir())
    whole = encoder.encode_images([file_ref(path, None)]).embeddings
    cropped = encoder.encode_images([file_ref(path, (0.0, 0.0, 0.5, 0.5))]).embeddings
    assert not np.allclose(whole, cropped, atol=1e-4)


def test_missing_hub_model_fails_fast_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    started = time.perf_counter()
    with pytest.raises(EncoderError) as raised:
        load_encoder("hf:openai/clip-vit-base-patch32", hub_cache_dir=str(tmp_path / "empty"))
    assert time.perf_counter() - started < 2.0
    message = str(raised.value)
    assert "\n" not in message and "not in the local Hugging Face cache and downloads are off" in message


def test_hub_id_resolves_to_the_cached_snapshot(tiny_clip_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--me--tiny-clip"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_clip_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    encoder = load_encoder("hf:me/tiny-clip", hub_cache_dir=str(tmp_path / "hub"))
    assert encoder.identity.startswith(f"hf:CLIPModel:me/tiny-clip@rev:{commit}:pre=")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("hf:", "empty model spec"),
        ("hf:./no/such/folder", "does not exist"),
        ("hf:{empty}", "no config.json"),
        ("hf:{garbled}", "not readable JSON"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: str, expected: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "config.json").write_text("{not json")
    with pytest.raises(EncoderError, match=expected):
        load_encoder(spec.format(empty=tmp_path / "empty", garbled=tmp_path / "garbled"))


def test_bad_batch_size_and_device(tiny_clip_dir: Path) -> None:
    with pytest.raises(EncoderError, match="batch size"):
        load_encoder(f"hf:{tiny_clip_dir}", batch_size=0)
    with pytest.raises(EncoderError, match="unknown device"):
        load_encoder(f"hf:{tiny_clip_dir}", device="quantum")


def test_small_batches_give_the_same_rows(tiny_clip_dir: Path, image_folder: Path) -> None:
    refs = [file_ref(p, None) for p in sorted(image_folder.rglob("*.png"))]
    one = load_encoder(f"hf:{tiny_clip_dir}", batch_size=1, progress=False).encode_images(refs).embeddings
    many = load_encoder(f"hf:{tiny_clip_dir}", batch_size=64).encode_images(refs).embeddings
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_remote_code_needs_explicit_trust(tmp_path: Path) -> None:
    folder = _remote_code_model(tmp_path / "jina_like")
    with pytest.raises(EncoderError, match="trust_remote_code"):
        load_encoder(f"hf:{folder}")


def test_jina_style_encode_image_and_text(tmp_path: Path, image_folder: Path) -> None:
    encoder = load_encoder(f"hf:{_remote_code_model(tmp_path / 'jina_like')}", trust_remote_code=True)
    assert (
        encoder.dim == 6
        and encoder.identity.startswith("hf:FakeJinaModel:")
        and encoder.identity.endswith("pre=remote-code")
    )
    texts = encoder.encode_texts(["a cat", "a dog"])
    assert texts.shape == (2, 6) and np.allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    refs = [file_ref(p, None) for p in sorted(image_folder.rglob("*.png"))]
    assert encoder.encode_images(refs).embeddings.shape == (len(refs), 6)


def test_open_clip_without_the_extra_gives_the_install_hint() -> None:
    pytest.importorskip("torch")
    try:
        import open_clip  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("open_clip is installed here")
    with pytest.raises(EncoderError, match=r"pip install 'cotclip\[open_clip\]'.*newer torch than the pinned 2.13.0"):
        load_encoder("open_clip:ViT-B-32/laion2b_s34b_b79k")
    with pytest.raises(EncoderError, match="<arch>/<pretrained>"):
        load_encoder("open_clip:ViT-B-32")


def test_siglip_pads_to_max_length_and_truncates(tiny_siglip_dir: Path) -> None:
    encoder = load_encoder(f"hf:{tiny_siglip_dir}")
    assert encoder.identity.startswith("hf:SiglipModel:") and encoder.dim == 32
    long_text = "a very long description " * 10
    rows = encoder.encode_texts(["a cat", long_text, long_text + "with more words at the end"])
    np.testing.assert_allclose(rows[1], rows[2], atol=1e-6)
    assert not np.allclose(rows[0], rows[1])


def test_folder_without_a_processor_is_a_one_line_error(tiny_clip_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_clip_dir, tmp_path / "no_processor")
    (copy / "processor_config.json").unlink()
    with pytest.raises(EncoderError, match="no usable image processor/tokenizer.*save the processor next to the model"):
        load_encoder(f"hf:{copy}")


@pytest.mark.parametrize(
    ("value", "offline"),
    [
        ("1", True),
        ("true", True),
        (" TRUE ", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("", False),
        ("offline", False),
    ],
)
def test_hub_offline_reads_the_usual_true_spellings(value: str, offline: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert hub_offline() is offline
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert hub_offline() is False


def test_a_missing_model_under_hf_hub_offline_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        EncoderError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE=1 is set; pass a local folder"
    ):
        load_encoder("hf:me/absent", allow_download=True, hub_cache_dir=str(tmp_path / "empty"))


class _FakeHub:
    """Stands in for the hub's two calls (this machine has no network): records what was asked."""

    def __init__(self, files: list[str], snapshot: Path, error: Exception | None = None) -> None:
        self.files, self.snapshot, self.error, self.calls = files, snapshot, error, []

    def list_repo_files(self, repo_id, revision=None):
        self.calls.append(("list", repo_id, revision))
        return self.files

    def snapshot_download(self, repo_id, **kwargs):
        self.calls.append(("snapshot", repo_id, kwargs))
        if self.error is not None:
            raise self.error
        return str(self.snapshot)


@pytest.mark.parametrize(
    ("files", "weights"),
    [
        (["config.json", "model.safetensors", "pytorch_model.bin"], "*.safetensors"),
        (["config.json", "pytorch_model.bin"], "*.bin"),
    ],
)
def test_a_download_asks_for_configs_code_and_one_weights_format(
    files, weights, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    snapshot = tmp_path / "hub" / "snapshots" / "c0ffee"
    hub = _FakeHub(files, snapshot)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", hub.list_repo_files)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    folder, version = resolve_model_folder(
        "me/model", revision="v2", allow_download=True, hub_cache_dir=str(tmp_path / "hub")
    )
    assert (folder, version) == (snapshot, "rev:c0ffee")
    assert hub.calls == [
        ("list", "me/model", "v2"),
        (
            "snapshot",
            "me/model",
            {
                "revision": "v2",
                "cache_dir": str(tmp_path / "hub"),
                "allow_patterns": ["*.json", "*.txt", "*.model", "*.py", "*.tiktoken", weights],
            },
        ),
    ]
    hub.calls.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the environment wins over allow_download: cache only
    assert resolve_model_folder("me/model", allow_download=True, hub_cache_dir="c") == (snapshot, "rev:c0ffee")
    assert hub.calls == [("snapshot", "me/model", {"revision": None, "cache_dir": "c", "local_files_only": True})]


def test_a_failed_download_is_one_line_naming_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    hub = _FakeHub(["model.safetensors"], tmp_path, error=OSError("connection refused\nretrying"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", hub.list_repo_files)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    with pytest.raises(EncoderError) as raised:
        resolve_model_folder("me/model", allow_download=True)
    assert (
        str(raised.value) == "cannot fetch model 'me/model' from the hub: connection refused; check the id and network"
    )


def test_unreadable_and_pixel_less_images(tiny_clip_encoder, image_folder: Path, tmp_path: Path) -> None:
    def empty_error():
        raise EOFError()

    (tmp_path / "broken.png").write_bytes(b"not an image")
    good = file_ref(next((image_folder / "cat").iterdir()), None)
    refs = [ImageRef("u:1", "one", open_pixels=empty_error), good, file_ref(tmp_path / "broken.png", None)]
    encoding = tiny_clip_encoder.encode_images(refs)
    assert encoding.ok_positions == [1] and encoding.embeddings.shape == (1, tiny_clip_encoder.dim)
    assert encoding.failures[0] == (0, "EOFError: unreadable")
    assert encoding.failures[1][0] == 2 and encoding.failures[1][1].startswith(
        "UnidentifiedImageError: cannot identify image file"
    )
    nothing = tiny_clip_encoder.encode_images(refs[:1] + refs[2:])
    assert nothing.ok_positions == [] and nothing.embeddings.shape == (0, tiny_clip_encoder.dim)
    with pytest.raises(EncoderError) as raised:
        tiny_clip_encoder.encode_images([ImageRef("npz:x:0", "rows.npz#0", row=0)])
    assert str(raised.value) == "rows.npz#0 carries no pixels (id-only image); hf: encoders need image files"


@pytest.mark.parametrize(("multivector_images", "side"), [(False, "image"), (True, "text")])
def test_maxsim_on_a_model_without_multi_vectors_names_the_model_and_the_call(
    multivector_images, side, tmp_path: Path
) -> None:
    folder = _remote_code_model(
        tmp_path / f"jina_like_{side}", multivector_images=multivector_images
    )  # own module name
    with pytest.raises(EncoderError) as raised:
        load_encoder(f"hf:{folder}", trust_remote_code=True, similarity="maxsim")
    assert str(raised.value) == (
        "--similarity maxsim needs multi-vector output, but FakeJinaModel (remote code) in "
        f"{folder.resolve()}'s encode_{side} takes no return_multivector; "
        "use --similarity cosine or a multi-vector model such as jina-embeddings-v4"
    )
    with pytest.raises(EncoderError) as raised:
        load_encoder(f"hf:{folder}", trust_remote_code=True, encoder_options=["text.task=x"])
    assert str(raised.value).startswith(
        f"FakeJinaModel (remote code) in {folder.resolve()}'s encode_text does not accept option text.task"
    )
