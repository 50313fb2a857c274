"""The seeds' encoder families through ``hf:`` with remote code: defaults, options, multi-vectors, cache keys.

The models are the tiny stand-ins of ``helpers/tiny_jina.py`` (same encode signatures as
jina-clip-v1, jina-clip-v2 and jina-embeddings-v4), saved as a download would be and
loaded with ``trust_remote_code=True``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.tiny_clip import build_image_folder
from helpers.tiny_jina import FAMILIES, build_tiny_jina

from cotclip.cli import main
from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.data.local import file_ref
from cotclip.scoring.encoders.options import parse_encoder_options
from cotclip.scoring.registry import load_encoder
from cotclip.scoring.similarity import MultiVectors
from cotclip.systems.errors import EncoderError, InputError
from cotclip.systems.model import System


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("jina")
    return {family: build_tiny_jina(root / family, family) for family in FAMILIES}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_image_folder(tmp_path_factory.mktemp("images"), per_class=4)


def _load(folder: Path, *options: str, similarity: str = "cosine"):
    return load_encoder(f"hf:{folder}", trust_remote_code=True, encoder_options=list(options), similarity=similarity)


def _model(folder: Path):
    from transformers import AutoModel

    return AutoModel.from_pretrained(folder, trust_remote_code=True, local_files_only=True).eval()


def _unit(rows) -> np.ndarray:
    rows = np.stack([np.asarray(r, dtype=np.float32) for r in rows])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("family", "image_kwargs", "text_kwargs"),
    [
        ("jina-clip-v1", {}, {}),
        ("jina-clip-v2", {}, {"task": "retrieval.query"}),
        ("jina-embeddings-v4", {"task": "retrieval"}, {"task": "retrieval", "prompt_name": "query"}),
    ],
)
def test_each_family_is_called_with_its_documented_defaults(models, images, family, image_kwargs, text_kwargs) -> None:
    from PIL import Image

    encoder = _load(models[family])
    assert encoder.options.to_dict() == {"image": image_kwargs, "text": text_kwargs}
    model = _model(models[family])
    texts = ["a cat", "a small dog"]
    np.testing.assert_allclose(encoder.encode_texts(texts), _unit(model.encode_text(texts, **text_kwargs)), atol=1e-5)
    paths = sorted(images.rglob("*.png"))
    refs = [file_ref(p, None) for p in paths]
    pixels = [Image.open(p).convert("RGB") for p in paths]
    np.testing.assert_allclose(
        encoder.encode_images(refs).embeddings, _unit(model.encode_image(pixels, **image_kwargs)), atol=1e-5
    )


def test_options_reach_the_encode_calls_and_the_identity(models) -> None:
    v2, v4 = models["jina-clip-v2"], models["jina-embeddings-v4"]
    default, plain = _load(v2), _load(v2, "text.task=null")
    assert not np.allclose(default.encode_texts(["a cat"]), plain.encode_texts(["a cat"]))
    assert default.identity != plain.identity
    truncated = _load(v4, "truncate_dim=4")
    assert (
        truncated.dim == 4
        and truncated.options.image["truncate_dim"] == 4
        and truncated.options.text["truncate_dim"] == 4
    )
    passage = _load(v4, "text.prompt_name=passage")
    code = _load(v4, "task=code")
    rows = [e.encode_texts(["a cat"]) for e in (_load(v4), passage, code)]
    assert not np.allclose(rows[0], rows[1]) and not np.allclose(rows[0], rows[2])
    assert len({e.identity for e in (_load(v4), passage, code, truncated)}) == 4


@pytest.mark.parametrize(
    ("family", "options", "fragment"),
    [
        ("jina-clip-v1", ["text.task=retrieval"], "encode_text does not accept option text.task; it takes no options"),
        ("jina-clip-v2", ["image.task=retrieval"], "encode_image does not accept option image.task"),
        ("jina-embeddings-v4", ["image.prompt_name=query"], "encode_image does not accept option image.prompt_name"),
        ("jina-embeddings-v4", ["text.task=nonsense"], "rejected the encoder options"),
        ("jina-embeddings-v4", ["truncate_dim=5"], "Invalid truncate_dim: 5"),
        ("jina-embeddings-v4", ["text.return_multivector=true"], "set by --similarity maxsim"),
        ("jina-clip-v2", [], "--similarity maxsim needs multi-vector output"),
    ],
)
def test_an_option_the_model_does_not_take_is_one_error_naming_it(models, family, options, fragment) -> None:
    with pytest.raises(EncoderError, match=fragment.replace(".", r"\.")):
        _load(models[family], *options, similarity="maxsim" if not options else "cosine")


def test_malformed_options_are_input_errors() -> None:
    with pytest.raises(InputError, match="not KEY=VALUE"):
        parse_encoder_options(["truncate_dim"])
    with pytest.raises(InputError, match="image.KEY or text.KEY"):
        parse_encoder_options(["vision.task=x"])
    assert parse_encoder_options(["truncate_dim=512", "text.task=retrieval.query", "image.flag=true"]).to_dict() == {
        "image": {"flag": True, "truncate_dim": 512},
        "text": {"task": "retrieval.query", "truncate_dim": 512},
    }


def test_options_on_encoders_without_encode_calls_are_refused(tiny_clip_dir) -> None:
    with pytest.raises(EncoderError, match="has no encode_image/encode_text of its own"):
        load_encoder(f"hf:{tiny_clip_dir}", encoder_options=["truncate_dim=4"])
    with pytest.raises(EncoderError, match="applies to hf: models only"):
        load_encoder("synthetic:pokemon-like", similarity="maxsim")


def test_cache_keys_differ_per_option_and_similarity(models, tmp_path) -> None:
    v4 = models["jina-embeddings-v4"]
    cache = EmbeddingCache(tmp_path / "cache")
    texts = ["a cat", "a dog"]
    for options, similarity in (
        ((), "cosine"),
        (("truncate_dim=4",), "cosine"),
        (("task=code",), "cosine"),
        ((), "maxsim"),
    ):
        cached = CachedEncoder(_load(v4, *options, similarity=similarity), cache)
        cached.encode_texts(texts)
        assert cached.stats.misses == 2 and cached.stats.hits == 0, (options, similarity)
        again = CachedEncoder(_load(v4, *options, similarity=similarity), EmbeddingCache(tmp_path / "cache"))
        again.encode_texts(texts)
        assert again.stats.hits == 2 and again.stats.encoder_calls == 0
    assert len(list((tmp_path / "cache" / "v1").iterdir())) == 4  # one identity folder each


def test_v4_multivectors_are_token_and_patch_matrices(models, images) -> None:
    encoder = _load(models["jina-embeddings-v4"], similarity="maxsim")
    assert encoder.similarity == "maxsim" and encoder.identity.endswith(":sim=maxsim") and encoder.dim == 8
    texts = encoder.encode_texts(["a cat", "a much longer dog"])
    assert isinstance(texts, MultiVectors) and texts.counts[1] > texts.counts[0]
    assert np.allclose(np.linalg.norm(texts.vectors, axis=1), 1.0, atol=1e-5)
    refs = [file_ref(p, None) for p in sorted(images.rglob("*.png"))]
    encoded = encoder.encode_images(refs).embeddings
    assert isinstance(encoded, MultiVectors) and len(encoded) == len(refs) and set(encoded.counts) == {12}


SYSTEM = System.from_data(
    {
        "name": "pets",
        "classes": ["cat", "dog"],
        "groups": [{"name": "kind", "prompt": "a photo of a {}", "options": ["cat", "dog"], "extra_prompts": ["a {}"]}],
        "rules": {"cat": {"kind": 0}, "dog": {"kind": 1}},
    }
)


def test_cli_evaluate_with_maxsim_and_a_bad_option_exits_2(models, images, tmp_path, capsys) -> None:
    system = tmp_path / "pets.json"
    system.write_text(SYSTEM.to_json(), encoding="utf-8")
    args = [
        "evaluate",
        "--system",
        str(system),
        "--data",
        str(images),
        "--model",
        f"hf:{models['jina-embeddings-v4']}",
        "--trust-remote-code",
        "--similarity",
        "maxsim",
        "--encoder-option",
        "task=retrieval",
        "--split",
        "all",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--json",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 8 and 0.0 <= result["accuracy"] <= 1.0 and result["baseline_accuracy"] is not None
    assert main(args[:-1] + ["--encoder-option", "image.prompt_name=query"]) == 2
    err = capsys.readouterr().err.strip()
    message = [line for line in err.splitlines() if not line.startswith("Loading weights")]  # transformers' own bar
    assert len(message) == 1 and "image.prompt_name" in message[0] and "Traceback" not in err


def test_cli_export_and_predict_with_a_maxsim_encoder(models, images, tmp_path, capsys) -> None:
    system = tmp_path / "pets.json"
    system.write_text(SYSTEM.to_json(), encoding="utf-8")
    model, out = f"hf:{models['jina-embeddings-v4']}", tmp_path / "pets.npz"
    assert (
        main(
            [
                "export",
                str(system),
                "--format",
                "npz",
                "--out",
                str(out),
                "--model",
                model,
                "--trust-remote-code",
                "--similarity",
                "maxsim",
                "--cache-dir",
                str(tmp_path / "cache"),
            ]
        )
        == 0
    )
    with np.load(out) as archive:
        assert str(archive["similarity"]) == "maxsim" and str(archive["encoder_identity"]).endswith(":sim=maxsim")
    files = [str(p) for p in sorted(images.rglob("*.png"))[:2]]
    capsys.readouterr()
    assert main(["predict", "--compiled", str(out), "--trust-remote-code", *files, "--json"]) == 0
    labels = [row["label"] for row in json.loads(capsys.readouterr().out)]
    assert len(labels) == 2 and set(labels) <= {"cat", "dog"}
    assert main(["predict", "--compiled", str(out), "--trust-remote-code", "--similarity", "maxsim", *files]) == 0
    capsys.readouterr()
