"""Where knob-search studies live: memory, a journal file, or an Optuna RDB (PostgreSQL, SQLite, ...).

:func:`open_storage` turns a ``--storage`` spec into an Optuna storage. An RDB
server (``postgresql://user:password@host/db``, which SQLAlchemy drives with
psycopg 3 from the ``cotclip[postgres]`` extra) is what several machines share:

* **Heartbeats.** Every RDB storage but SQLite records a heartbeat for each running trial
  every ``heartbeat_s`` seconds. A worker that dies (``kill -9``, a lost machine)
  stops beating; once ``grace_s`` seconds have passed, the next trial any other
  worker starts marks the dead worker's trial FAILED, and Optuna's
  :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback` enqueues it again with
  the same parameters (once), so the other workers finish the study. Complete
  trials are rows in the database and are never lost. A journal file has no
  heartbeats: a trial of a dead worker stays RUNNING, which
  :func:`~cotclip.optimizer.search.knob_search` ignores (it counts complete trials).
* **Bad URLs.** A server that does not answer within ``connect_timeout_s``, a
  wrong password, an unknown database or a missing driver is one
  :class:`~cotclip.systems.errors.InputError` line saying how to fix it (the
  password is never shown).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import optuna

from cotclip.systems.errors import InputError

__all__ = ["open_storage", "JOURNAL_NAME", "HEARTBEAT_S", "GRACE_S", "CONNECT_TIMEOUT_S"]

JOURNAL_NAME = "search.journal"
HEARTBEAT_S = 10
"""Seconds between a running trial's heartbeats in an RDB storage."""
GRACE_S = 30
"""Seconds without a heartbeat after which a running trial counts as dead (failed, retried once)."""
CONNECT_TIMEOUT_S = 10
"""Seconds to wait for a database server to accept a connection."""
_RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "oracle", "mssql")
_DRIVER_HINT = {
    "postgresql": "pip install 'cotclip[postgres]' (psycopg 3)",
    "mysql": "pip install pymysql and use mysql+pymysql://",
}


def _shown(url: str) -> str:
    """``url`` with its password masked (what messages and reports show)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no password to hide that we could find
        return url.split("@")[-1] if "@" in url else url


def _reason(exc: BaseException) -> str:
    """The first line of the innermost database error, e.g. ``connection refused``."""
    inner = getattr(exc, "orig", None) or exc.__cause__ or exc
    lines = [line.strip() for line in str(inner).splitlines() if line.strip()]
    text = lines[-1] if lines else type(inner).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _rdb(url: str, scheme: str, heartbeat_s: int, grace_s: int) -> optuna.storages.RDBStorage:
    engine_kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}} if scheme == "postgresql" else {}
    shown = _shown(url)
    for attempt in range(2):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna, and say so on every use
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # SQLite is one file on one machine and locks on every write: no heartbeat thread there
                if scheme == "sqlite":
                    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_s,
                    grace_period=grace_s,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
                )
        except ImportError:
            hint = _DRIVER_HINT.get(scheme, "install the database driver SQLAlchemy names for this URL")
            raise InputError(f"no database driver for search storage {shown}; {hint}") from None
        except Exception as exc:  # SQLAlchemy raises many types for bad URLs and unreachable servers
            if attempt == 0 and "already exists" in str(exc):
                time.sleep(0.5)  # another worker was creating the tables at the same moment
                continue
            raise InputError(
                f"cannot open search storage {shown} ({_reason(exc)}); start the database server or fix the "
                "--storage URL (host, port, user, password, database)"
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def open_storage(
    storage: str | None, run_dir: str | Path | None, *, heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S
) -> tuple[optuna.storages.BaseStorage, str]:
    """The Optuna storage for a spec, and how to name it in reports (password masked).

    ``None`` -> ``<run_dir>/search.journal`` (or memory without a run dir); an RDB URL
    -> :class:`optuna.storages.RDBStorage` with heartbeats (see the module docstring);
    any other string -> a journal file path.
    """
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if storage is None:
        if run_dir is None:
            return optuna.storages.InMemoryStorage(), "memory"
        path = Path(run_dir) / JOURNAL_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path))), str(path)
    scheme = storage.split("://", 1)[0].split("+", 1)[0] if "://" in storage else ""
    if scheme in _RDB_SCHEMES:
        return _rdb(storage, scheme, heartbeat_s, grace_s), _shown(storage)
    if "://" in storage:
        raise InputError(
            f"unsupported storage {_shown(storage)!r}; use sqlite:///file.db, postgresql://..., or a .journal path"
        )
    path = Path(storage)
    if path.is_dir():
        raise InputError(f"storage {storage!r} is a directory; give a journal file path such as {path / JOURNAL_NAME}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path))), str(path)
