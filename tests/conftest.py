"""Shared fixtures: one test matrix over every storage backend.

``backend_url`` is parametrized over SQLite (a file in the test's temp dir) and a real
PostgreSQL 15 server (a throwaway cluster started once per session by ``_postgres.py``).
Set ``OPTOUT_TEST_POSTGRES_URL`` to use an existing server instead. Outside CI a missing
PostgreSQL is skipped with a reason; on CI (``CI`` set) it is an error, so nothing is
skipped there.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import settings

# The numbering-plan table cache (optout._tablecache) of this run: not the user's folder.
if "OPTOUT_CACHE_DIR" not in os.environ:
    os.environ["OPTOUT_CACHE_DIR"] = tempfile.mkdtemp(prefix="optout-test-cache-")
    atexit.register(shutil.rmtree, os.environ["OPTOUT_CACHE_DIR"], ignore_errors=True)

import optout
from _fakes import NO_RULES, all_clear
from _postgres import throwaway_cluster
from optout import _client, _db
from optout._schema import METADATA

BACKENDS = ("sqlite", "postgresql")

# CI runs the properties on a fixed sequence of examples, so that a submission's result
# does not depend on the draw; local runs keep exploring new examples each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL database migrated to the newest schema."""
    external = os.environ.get("OPTOUT_TEST_POSTGRES_URL", "").strip()
    if external:
        url = external
        _migrate(url)
        yield url
        return
    try:
        cluster = throwaway_cluster()
        url = cluster.__enter__()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL server could be started: {exc}")
    try:
        _migrate(url)
        yield url
    finally:
        cluster.__exit__(None, None, None)


def _migrate(url: str) -> None:
    engine = _db.create_engine(url)
    try:
        _db.upgrade(engine)
    finally:
        engine.dispose()


def _truncate(url: str) -> None:
    engine = _db.create_engine(url)
    try:
        names = ", ".join(t.name for t in METADATA.sorted_tables)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database URL with an empty, current schema, for each backend in the matrix."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        return f"sqlite:///{folder / 'optout.sqlite3'}"
    url: str = request.getfixturevalue("postgres_server")
    _truncate(url)
    return url


@pytest.fixture
def client(backend_url: str) -> Iterator[optout.Compliance]:
    """A client on ``backend_url`` (migrated, empty) without jurisdiction packs."""
    with optout.Compliance(backend_url, migrate=True, rules=NO_RULES, registries=()) as c:
        yield c


@pytest.fixture
def lawful_client(backend_url: str) -> Iterator[optout.Compliance]:
    """A client on ``backend_url`` with every built-in jurisdiction pack, and registries
    that answer "consulted yesterday, not listed" (registry behaviour has its own tests)."""
    with optout.Compliance(backend_url, migrate=True, registries=all_clear()) as c:
        yield c


@pytest.fixture(autouse=True)
def _isolated_default_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Point the default database at a temp file and forget the process-wide client."""
    folder = tmp_path_factory.mktemp("default-db")
    monkeypatch.setenv(_db.ENV_DATABASE_URL, f"sqlite:///{folder / 'default.sqlite3'}")
    monkeypatch.setattr(_client, "_default", None)
    yield
    if _client._default is not None:
        _client._default.close()
