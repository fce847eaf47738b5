"""The throwaway PostgreSQL harness starts a real server and cleans up after itself."""

from __future__ import annotations

import pathlib
import socket

import pytest
import sqlalchemy as sa

from _postgres import throwaway_cluster

pytestmark = pytest.mark.postgresql


def test_throwaway_cluster_runs_postgres_15_and_cleans_up() -> None:
    with throwaway_cluster() as url:
        parsed = sa.engine.make_url(url)
        assert parsed.drivername == "postgresql+psycopg"
        assert parsed.username == "optout"
        assert parsed.host == "127.0.0.1"
        assert parsed.database == "optout_test"
        assert parsed.port is not None
        port = parsed.port

        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                version = conn.execute(sa.text("select version()")).scalar_one()
                datadir = pathlib.Path(conn.execute(sa.text("show data_directory")).scalar_one())
        finally:
            engine.dispose()
        assert "PostgreSQL 15" in version
        assert datadir.is_absolute()

    # The whole temp dir (the data directory's parent) is gone...
    assert not datadir.exists()
    assert not datadir.parent.exists()
    # ...and nothing accepts connections on the port any more.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
