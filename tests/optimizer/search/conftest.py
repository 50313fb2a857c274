"""A real PostgreSQL 16 server (PyPI ``pgserver``, from the ``postgres`` extra) for the search tests."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def postgres_server():
    """One server for the session, stopped and deleted at its end; yields the ``pgserver`` handle."""
    pgserver = pytest.importorskip(
        "pgserver", reason="PostgreSQL tests need the postgres extra: pip install -e '.[postgres]'"
    )
    pytest.importorskip("psycopg", reason="PostgreSQL tests need the postgres extra: pip install -e '.[postgres]'")
    # not under pytest's tmp dir: as root, pgserver runs PostgreSQL as its own user, which needs every
    # folder above the data dir to be searchable (pytest's are private to root)
    folder = Path(tempfile.mkdtemp(prefix="cotclip-pg-"))
    server = pgserver.get_server(folder / "data", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, request):
    """A URL of a fresh, empty database on the session's server (one per test)."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name};")
    return postgres_server.get_uri(name)
