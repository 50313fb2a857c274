"""Where an ``hf:`` model lives: a local folder, or a hub id resolved offline by default.

A folder is versioned by a sha256 over its files (:func:`folder_fingerprint`); a hub id by the
commit of its snapshot in the local Hugging Face cache (``local_files_only``), so a missing model
fails at once with one line instead of retrying the network. ``allow_download=True`` opts in to
downloading, unless the environment says ``HF_HUB_OFFLINE=1`` (:func:`hub_offline`). The
encoder itself is :mod:`cotclip.scoring.encoders.hf`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cotclip.systems.errors import EncoderError

__all__ = ["hub_offline", "folder_fingerprint", "resolve_model_folder"]


def hub_offline() -> bool:
    """Whether the environment forbids Hugging Face downloads (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def folder_fingerprint(folder: Path) -> str:
    """sha256 over the relative names and bytes of every non-hidden file under ``folder``."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _download_snapshot(repo_id: str, revision: str | None, cache_dir: str | None) -> Path:
    from huggingface_hub import HfApi, snapshot_download

    files = HfApi().list_repo_files(repo_id, revision=revision)
    weights = ["*.safetensors"] if any(name.endswith(".safetensors") for name in files) else ["*.bin"]
    patterns = ["*.json", "*.txt", "*.model", "*.py", "*.tiktoken", *weights]
    return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, allow_patterns=patterns))


def resolve_model_folder(
    rest: str, *, revision: str | None = None, allow_download: bool = False, hub_cache_dir: str | None = None
) -> tuple[Path, str]:
    """The local folder holding model ``rest`` and its version label (hub commit or content hash).

    Raises EncoderError with a one-line fix when the model is not available offline.
    """
    if not rest.strip():
        raise EncoderError("empty model spec 'hf:'; pass hf:<hub-id> or hf:<folder saved with save_pretrained>")
    candidate = Path(rest).expanduser()
    if candidate.is_dir():
        return candidate.resolve(), f"sha256:{folder_fingerprint(candidate)[:32]}"
    if candidate.exists() or rest.startswith((".", "/", "~")) or rest.count("/") > 1:
        raise EncoderError(
            f"model folder {rest!r} does not exist or is not a folder; pass a folder saved with save_pretrained"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        if allow_download and not hub_offline():
            folder = _download_snapshot(rest, revision, hub_cache_dir)
        else:
            folder = Path(snapshot_download(rest, revision=revision, cache_dir=hub_cache_dir, local_files_only=True))
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE=1 is set" if hub_offline() else "downloads are off"
        raise EncoderError(
            f"model {rest!r} is not in the local Hugging Face cache and {why}; pass a local folder "
            "(hf:<dir>) holding the model (the command line never downloads; the Python API's "
            "allow_download=True does, on a machine with network)"
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise EncoderError(
            f"cannot fetch model {rest!r} from the hub: {str(exc).splitlines()[0]}; check the id and network"
        ) from None
    return folder, f"rev:{folder.name}"
