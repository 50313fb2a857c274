"""``hf:`` encoder behaviours that the mutation run of ``scoring/encoders/hf.py`` found untested (TESTING.md)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cotclip.scoring.data.local import file_ref
from cotclip.scoring.registry import load_encoder
from cotclip.systems.errors import EncoderError


def _reference_texts(folder: Path, texts: list[str]) -> np.ndarray:
    """transformers' own text features in float32, L2-normalised."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(folder, dtype=torch.float32).eval()
    tokens = CLIPProcessor.from_pretrained(folder)(text=texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        rows = model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    rows = getattr(rows, "pooler_output", rows).numpy()
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_half_precision_checkpoint_is_run_in_float32(tiny_clip_dir: Path, tmp_path: Path) -> None:
    from transformers import CLIPModel

    half = Path(shutil.copytree(tiny_clip_dir, tmp_path / "half"))
    CLIPModel.from_pretrained(half, dtype=torch.float32).half().save_pretrained(half)
    texts = ["a cat", "a dog on a sofa"]
    rows = load_encoder(f"hf:{half}").encode_texts(texts)
    np.testing.assert_allclose(rows, _reference_texts(half, texts), atol=1e-6)


def test_a_folder_without_a_processor_config_loads_the_image_processor_and_tokenizer_alone(
    tiny_clip_dir: Path, image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Repositories that ship no processor config: AutoProcessor fails, the parts load one by one.
    import transformers

    reference = load_encoder(f"hf:{tiny_clip_dir}")
    refs = [file_ref(p, None) for p in sorted(image_folder.rglob("*.png"))]
    split = Path(shutil.copytree(tiny_clip_dir, tmp_path / "split"))
    transformers.CLIPProcessor.from_pretrained(split).image_processor.save_pretrained(split)

    def no_processor(*args, **kwargs):
        raise OSError("no processor_config.json")

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", no_processor)
    encoder = load_encoder(f"hf:{split}")
    np.testing.assert_allclose(encoder.encode_texts(["a cat"]), reference.encode_texts(["a cat"]), atol=1e-6)
    np.testing.assert_allclose(
        encoder.encode_images(refs).embeddings, reference.encode_images(refs).embeddings, atol=1e-6
    )


def test_a_folder_whose_weights_are_missing_is_a_one_line_error(tiny_clip_dir: Path, tmp_path: Path) -> None:
    broken = Path(shutil.copytree(tiny_clip_dir, tmp_path / "no_weights"))
    (broken / "model.safetensors").unlink()
    with pytest.raises(EncoderError) as info:
        load_encoder(f"hf:{broken}")
    message = str(info.value)
    assert message.startswith(f"cannot load the model in {broken}: ") and "\n" not in message
    assert message.endswith("; check that it is a CLIP-style model")


def test_a_folder_whose_weights_are_corrupt_is_a_one_line_error(tiny_clip_dir: Path, tmp_path: Path) -> None:
    broken = Path(shutil.copytree(tiny_clip_dir, tmp_path / "corrupt"))
    (broken / "model.safetensors").write_bytes(b"not a safetensors file" * 50)
    with pytest.raises(EncoderError, match=f"cannot load the model in {broken}"):
        load_encoder(f"hf:{broken}")


def test_a_model_whose_features_are_no_tensor_is_refused(tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import CLIPModel

    monkeypatch.setattr(CLIPModel, "get_text_features", lambda self, **inputs: {"logits": None})
    with pytest.raises(EncoderError, match="^the model's feature method returned no tensor; use a CLIP-family model$"):
        load_encoder(f"hf:{tiny_clip_dir}")


@pytest.mark.parametrize(
    "spec", ["./missing-model", "~/cotclip-no-such-model", "/cotclip-no-such-model", "weights.bin"]
)
def test_paths_that_are_not_folders_are_never_looked_up_on_the_hub(
    spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(EncoderError, match=f"^model folder '{spec}' does not exist or is not a folder; pass a folder"):
        load_encoder(f"hf:{spec}")


def test_a_missing_hub_model_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(EncoderError) as info:
        load_encoder("hf:me/absent", hub_cache_dir=str(tmp_path / "empty"))
    assert str(info.value) == (
        "model 'me/absent' is not in the local Hugging Face cache and downloads are off; pass a local folder "
        "(hf:<dir>) holding the model (the command line never downloads; the Python API's allow_download=True "
        "does, on a machine with network)"
    )


@pytest.mark.parametrize("cuda", [True, False])
def test_device_auto_is_cuda_when_available(cuda: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from cotclip.scoring.encoders import hf

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    for device in (None, "", "auto"):
        chosen = hf._device(device)
        assert chosen == ("cuda" if cuda else "cpu") and torch.device(chosen).type == chosen


def test_long_jobs_on_a_terminal_show_a_progress_bar_that_goes_away(
    tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = [f"text number {i}" for i in range(300)]
    loud = load_encoder(f"hf:{tiny_clip_dir}")  # progress is on by default
    quiet = load_encoder(f"hf:{tiny_clip_dir}", progress=False)
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)

    quiet_rows = quiet.encode_texts(texts)
    assert capsys.readouterr().err == ""
    rows = loud.encode_texts(texts)

    err = capsys.readouterr().err
    np.testing.assert_array_equal(rows, quiet_rows)
    assert "encoding 300 texts" in err
    assert "300/300" in err or "100%" in err
    assert err.rstrip("\n").endswith("\x1b[2K")  # transient: the finished bar is erased


def test_no_texts_under_maxsim_are_an_empty_multi_vector_set(tmp_path: Path) -> None:
    from helpers.tiny_jina import build_tiny_jina

    folder = build_tiny_jina(tmp_path / "v4", "jina-embeddings-v4")
    encoder = load_encoder(f"hf:{folder}", trust_remote_code=True, similarity="maxsim")
    empty = encoder.encode_texts([])
    assert len(empty) == 0 and empty.vectors.shape == (0, encoder.dim)


def test_a_clip_encoder_is_a_cosine_encoder_named_by_class_folder_content_and_preprocessing(
    tiny_clip_dir: Path,
) -> None:
    import re

    encoder = load_encoder(f"hf:{tiny_clip_dir}")
    assert encoder.similarity == "cosine" and not encoder.options
    pattern = rf"hf:CLIPModel:dir:{re.escape(tiny_clip_dir.name)}@sha256:[0-9a-f]{{32}}:pre=[0-9a-f]{{16}}"
    assert re.fullmatch(pattern, encoder.identity)


def test_options_or_maxsim_on_a_feature_model_name_what_was_asked(tiny_clip_dir: Path) -> None:
    with pytest.raises(EncoderError, match=r"so --encoder-option text\.task=retrieval cannot apply; drop it"):
        load_encoder(f"hf:{tiny_clip_dir}", encoder_options=["text.task=retrieval"])
    with pytest.raises(EncoderError, match="so --similarity maxsim cannot apply; drop it"):
        load_encoder(f"hf:{tiny_clip_dir}", similarity="maxsim")


def test_a_model_with_only_one_encode_method_still_uses_its_feature_methods(
    tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import CLIPModel

    expected = load_encoder(f"hf:{tiny_clip_dir}").encode_texts(["a cat"])
    monkeypatch.setattr(CLIPModel, "encode_image", lambda self, images: None, raising=False)
    np.testing.assert_allclose(load_encoder(f"hf:{tiny_clip_dir}").encode_texts(["a cat"]), expected, atol=1e-6)


def test_a_model_without_feature_or_encode_methods_is_named_in_the_refusal(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    folder = tmp_path / "bert"
    config = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    BertModel(config).save_pretrained(folder)
    with pytest.raises(EncoderError) as info:
        load_encoder(f"hf:{folder}")
    assert str(info.value) == (
        f"BertModel in {folder.resolve()} has neither get_image_features/get_text_features nor "
        "encode_image/encode_text; use a CLIP-family model"
    )


def test_a_hub_revision_picks_that_snapshot_from_the_cache(tiny_clip_dir: Path, tmp_path: Path) -> None:
    from helpers.tiny_clip import build_tiny_clip

    repo = tmp_path / "hub" / "models--me--tiny-clip"
    main, pinned = "a" * 40, "b" * 40
    shutil.copytree(tiny_clip_dir, repo / "snapshots" / main)
    build_tiny_clip(repo / "snapshots" / pinned, seed=1)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(main)
    hub = str(tmp_path / "hub")

    latest = load_encoder("hf:me/tiny-clip", hub_cache_dir=hub)
    old = load_encoder("hf:me/tiny-clip", revision=pinned, hub_cache_dir=hub)

    assert latest.identity.startswith(f"hf:CLIPModel:me/tiny-clip@rev:{main}:")
    assert old.identity.startswith(f"hf:CLIPModel:me/tiny-clip@rev:{pinned}:")
    assert not np.allclose(old.encode_texts(["a cat"]), latest.encode_texts(["a cat"]))


def test_an_empty_model_spec_says_what_to_pass() -> None:
    with pytest.raises(EncoderError) as info:
        load_encoder("hf:")
    assert str(info.value) == "empty model spec 'hf:'; pass hf:<hub-id> or hf:<folder saved with save_pretrained>"


def _hub_snapshot(cache: Path, source: Path, revision: str) -> None:
    """``source`` as snapshot ``revision`` of ``me/tiny-clip`` in the hub cache ``cache`` (the revision is main)."""
    repo = cache / "models--me--tiny-clip"
    shutil.copytree(source, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)


def test_the_tokenizer_class_alone_changes_the_identity(tiny_clip_dir: Path, tmp_path: Path) -> None:
    # A hub revision names files, not how this transformers reads them: the same snapshot can be
    # tokenized by another class (slow/fast, a transformers upgrade), and the rows then change, so a
    # shared cache must not hand one the other's rows. Two caches hold the same revision id whose
    # tokenizer_config.json differs only in tokenizer_class (byte-level BPE over the same files).
    import json

    revision = "c" * 40
    other = Path(shutil.copytree(tiny_clip_dir, tmp_path / "gpt2-tokenizer"))
    config = json.loads((other / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "CLIPTokenizer"
    (other / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "GPT2Tokenizer"}))
    for cache, source in (("clip", tiny_clip_dir), ("clip-again", tiny_clip_dir), ("gpt2", other)):
        _hub_snapshot(tmp_path / cache, source, revision)

    clip, clip_again, gpt2 = (
        load_encoder("hf:me/tiny-clip", hub_cache_dir=str(tmp_path / cache)) for cache in ("clip", "clip-again", "gpt2")
    )

    assert not np.allclose(clip.encode_texts(["a cat"]), gpt2.encode_texts(["a cat"]))
    named = f"hf:CLIPModel:me/tiny-clip@rev:{revision}:pre="
    assert clip.identity.startswith(named) and gpt2.identity.startswith(named)
    assert clip.identity != gpt2.identity
    assert clip.identity == clip_again.identity  # the same files read the same way: one identity


def test_a_model_that_cannot_load_says_why_in_transformers_own_words(tiny_clip_dir: Path, tmp_path: Path) -> None:
    from safetensors import SafetensorError
    from transformers import AutoModel

    missing = Path(shutil.copytree(tiny_clip_dir, tmp_path / "missing"))
    (missing / "model.safetensors").unlink()
    corrupt = Path(shutil.copytree(tiny_clip_dir, tmp_path / "corrupt"))
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file" * 50)
    for broken in (missing, corrupt):
        with pytest.raises((OSError, SafetensorError)) as own:
            AutoModel.from_pretrained(broken, local_files_only=True)
        cause = str(own.value).splitlines()[0]
        assert cause.strip()
        with pytest.raises(EncoderError) as info:
            load_encoder(f"hf:{broken}")
        assert str(info.value) == f"cannot load the model in {broken}: {cause}; check that it is a CLIP-style model"


def test_an_image_processor_holding_numpy_settings_gets_a_stable_identity(
    tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # transformers lets an image processor keep numpy arrays among its settings (its own
    # to_json_string turns them into lists; any other non-JSON value already fails in
    # from_pretrained); the preprocessing hash must take them too.
    from transformers import AutoProcessor

    image_processor_class = type(AutoProcessor.from_pretrained(tiny_clip_dir).image_processor)
    plain = load_encoder(f"hf:{tiny_clip_dir}").identity
    own_to_dict = image_processor_class.to_dict

    def with_array(scale: float):
        def to_dict(self):
            return {**own_to_dict(self), "patch_weights": np.array([1.0, scale], dtype=np.float32)}

        return to_dict

    identities = []
    for scale in (0.5, 0.5, 0.25):
        monkeypatch.setattr(image_processor_class, "to_dict", with_array(scale))
        identities.append(load_encoder(f"hf:{tiny_clip_dir}").identity)
    assert identities[0] == identities[1] != identities[2]
    assert plain not in identities


def test_a_model_rejecting_an_option_without_a_message_is_named_by_its_exception(tmp_path: Path) -> None:
    # Remote code often checks its arguments with a bare assert: the error then has no text.
    from helpers.tiny_jina import build_tiny_jina

    folder = build_tiny_jina(tmp_path / "v4-bare-assert", "jina-embeddings-v4")
    code = (folder / "modeling_tiny_jina.py").read_text(encoding="utf-8")
    check = (
        "        if truncate_dim is not None and truncate_dim not in self.config.matryoshka_dims:\n"
        '            raise ValueError(f"Invalid truncate_dim: {truncate_dim}. '
        'Must be one of {self.config.matryoshka_dims}.")\n'
    )
    assert check in code
    code = code.replace(check, "        assert truncate_dim is None or truncate_dim in self.config.matryoshka_dims\n")
    (folder / "modeling_tiny_jina.py").write_text(code, encoding="utf-8")
    with pytest.raises(EncoderError) as info:
        load_encoder(f"hf:{folder}", trust_remote_code=True, encoder_options=["truncate_dim=5"])
    assert str(info.value) == (
        "JinaEmbeddingsV4Model rejected the encoder options image.task=retrieval image.truncate_dim=5 "
        "text.prompt_name=query text.task=retrieval text.truncate_dim=5 (AssertionError); fix or drop the "
        "--encoder-option"
    )


_MIRROR = '''
from PIL import ImageOps
from transformers import CLIPImageProcessorPil


class MirrorImageProcessor(CLIPImageProcessorPil):
    """The CLIP preprocessing of the mirrored image."""

    def __call__(self, images, **kwargs):
        return super().__call__(images=[ImageOps.mirror(image) for image in images], **kwargs)
'''


def _clip_with_remote_image_processor(source: Path, folder: Path, *, split: bool = False) -> Path:
    """A standard CLIP whose image processor is the folder's own code (mirrors each image).

    ``split``: no processor config, the image processor alone in ``preprocessor_config.json``
    (as in repositories that save the parts one by one).
    """
    import json

    shutil.copytree(source, folder)
    (folder / "image_processing_mirror.py").write_text(_MIRROR, encoding="utf-8")
    config = json.loads((folder / "processor_config.json").read_text(encoding="utf-8"))
    config["image_processor"]["image_processor_type"] = "MirrorImageProcessor"
    config["image_processor"]["auto_map"] = {"AutoImageProcessor": "image_processing_mirror.MirrorImageProcessor"}
    if split:
        (folder / "processor_config.json").unlink()
        tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        del tokenizer_config["processor_class"]
        (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config), encoding="utf-8")
        (folder / "preprocessor_config.json").write_text(json.dumps(config["image_processor"]), encoding="utf-8")
    else:
        (folder / "processor_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.mark.parametrize("split", [False, True])
def test_a_standard_model_whose_processor_is_remote_code_runs_that_code_when_trusted(
    split: bool, tiny_clip_dir: Path, image_folder: Path, tmp_path: Path
) -> None:
    from PIL import Image, ImageOps

    folder = _clip_with_remote_image_processor(tiny_clip_dir, tmp_path / f"mirror-clip-{split}", split=split)
    paths = sorted(image_folder.rglob("*.png"))
    mirrored = tmp_path / "mirrored"
    mirrored.mkdir()
    for path in paths:
        ImageOps.mirror(Image.open(path).convert("RGB")).save(mirrored / path.name)

    encoder = load_encoder(f"hf:{folder}", trust_remote_code=True)
    plain = load_encoder(f"hf:{tiny_clip_dir}")

    rows = encoder.encode_images([file_ref(p, None) for p in paths]).embeddings
    expected = plain.encode_images([file_ref(mirrored / p.name, None) for p in paths]).embeddings
    np.testing.assert_allclose(rows, expected, atol=1e-6)
    assert not np.allclose(rows, plain.encode_images([file_ref(p, None) for p in paths]).embeddings)


def test_a_standard_model_whose_processor_is_remote_code_is_refused_untrusted_without_a_prompt(
    tiny_clip_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before the check, transformers' "Do you wish to run the custom code? [y/N]" prompt appeared
    # (and waited on a terminal) and the refusal told the user to save a processor.
    for split in (False, True):
        folder = _clip_with_remote_image_processor(tiny_clip_dir, tmp_path / f"mirror-clip-{split}", split=split)
        with pytest.raises(EncoderError) as info:
            load_encoder(f"hf:{folder}")
        assert str(info.value) == (
            f"{folder} needs its own Python code to load; pass trust_remote_code=True (--trust-remote-code) only "
            "if you trust it"
        )
        assert "Do you wish" not in capsys.readouterr().out


def test_a_folder_without_an_image_processor_says_why_in_transformers_own_words(
    tiny_clip_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoImageProcessor

    folder = Path(shutil.copytree(tiny_clip_dir, tmp_path / "no-image-processor"))
    (folder / "processor_config.json").unlink()
    with pytest.raises(OSError) as own:
        AutoImageProcessor.from_pretrained(folder, local_files_only=True)
    cause = str(own.value).splitlines()[0]
    assert cause.strip()
    with pytest.raises(EncoderError) as info:
        load_encoder(f"hf:{folder}")
    assert str(info.value) == (
        f"{folder} has no usable image processor/tokenizer ({cause}); save the processor next to the model"
    )


def test_long_image_jobs_on_a_terminal_name_images_in_the_progress_bar(
    tiny_clip_dir: Path, image_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = sorted(image_folder.rglob("*.png"))
    refs = [file_ref(paths[i % len(paths)], None) for i in range(300)]
    encoder = load_encoder(f"hf:{tiny_clip_dir}", batch_size=100)
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)

    encoding = encoder.encode_images(refs)

    err = capsys.readouterr().err
    assert encoding.ok_positions == list(range(300))
    assert "encoding 300 images" in err


def test_a_model_with_only_one_feature_method_is_refused(tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import CLIPModel

    monkeypatch.delattr(CLIPModel, "get_image_features")
    with pytest.raises(EncoderError) as info:
        load_encoder(f"hf:{tiny_clip_dir}")
    assert str(info.value) == (
        f"CLIPModel in {tiny_clip_dir.resolve()} has neither get_image_features/get_text_features nor "
        "encode_image/encode_text; use a CLIP-family model"
    )


def test_an_unknown_similarity_names_the_choices() -> None:
    from cotclip.scoring.encoders.hf import load_encoder as load_hf
    from cotclip.scoring.similarity import check_similarity

    with pytest.raises(ValueError) as own:
        check_similarity("dot")
    with pytest.raises(EncoderError) as info:
        load_hf("no/such-model", similarity="dot")
    assert str(info.value) == f"{own.value}; pass --similarity cosine or maxsim"


def test_the_batch_size_bounds_each_model_call(tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import CLIPModel

    sizes: list[int] = []
    own = CLIPModel.get_text_features

    def recorded(self, input_ids, **inputs):
        sizes.append(int(input_ids.shape[0]))
        return own(self, input_ids=input_ids, **inputs)

    monkeypatch.setattr(CLIPModel, "get_text_features", recorded)
    encoder = load_encoder(f"hf:{tiny_clip_dir}", batch_size=2)
    sizes.clear()
    rows = encoder.encode_texts([f"text {i}" for i in range(5)])
    assert sizes == [2, 2, 1] and rows.shape[0] == 5
