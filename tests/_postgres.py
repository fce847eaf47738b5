"""Throwaway PostgreSQL clusters for the test suite.

``throwaway_cluster()`` builds a brand-new cluster in a fresh temporary
directory, starts it on a free loopback TCP port, creates the ``optout_test``
database and yields a SQLAlchemy URL for it.  On exit the server is stopped
(immediate mode: we never care about the data) and the directory is removed,
whether the ``with`` body succeeded or raised.

PostgreSQL refuses to run as root.  When the test process *is* root (as CI
is), the server-side programs (``initdb``, ``pg_ctl``) are run as the
``postgres`` system user via ``runuser`` (or ``setpriv`` as a fallback), and
the temporary directory is handed over to that user.  Client programs
(``createdb``) and the Python process itself keep running as root; they only
talk to the server over TCP.  When not root, everything runs as the current
user directly.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence

__all__ = ["find_pg_bindir", "throwaway_cluster"]

#: Database role created by ``initdb`` (it becomes the bootstrap superuser).
USER = "optout"
#: Database created for the tests.
DATABASE = "optout_test"
#: System account the server runs as when the test process is root.
SERVICE_USER = "postgres"

#: Programs a usable bindir must contain.
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
#: Seconds ``pg_ctl`` waits for the server to come up (``pg_ctl -t``).
_START_TIMEOUT = 60
#: How many times to retry startup if the picked port got stolen meanwhile.
_PORT_ATTEMPTS = 3
#: How much of the server log to quote in a startup error.
_LOG_TAIL_CHARS = 4000

# Settings passed to the server.  Durability is pointless for throwaway data,
# so turn off everything that makes writes wait for the disk.
_FAST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
}

# Only loopback: local socket connections plus IPv4 127.0.0.1, no password.
# (The server also listens only on 127.0.0.1, see listen_addresses below.)
_PG_HBA = """\
# Written by tests/_postgres.py: trust, loopback only.
local all all trust
host  all all 127.0.0.1/32 trust
"""


def _is_usable_bindir(path: pathlib.Path) -> bool:
    """True if *path* holds executable initdb, pg_ctl and postgres."""
    return all(os.access(path / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _version_key(path: pathlib.Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin`` ("9.6" < "15")."""
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def find_pg_bindir() -> pathlib.Path | None:
    """Locate a directory holding the PostgreSQL server programs.

    Tries ``pg_config --bindir`` first (if ``pg_config`` is on PATH), then
    Debian/Ubuntu's ``/usr/lib/postgresql/*/bin``, newest version first.
    A candidate only counts if it contains ``initdb``, ``pg_ctl`` and
    ``postgres``.  Returns None if nothing usable is found.
    """
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _is_usable_bindir(pathlib.Path(out)):
            return pathlib.Path(out)

    candidates = sorted(
        pathlib.Path("/usr/lib/postgresql").glob("*/bin"),
        key=_version_key,
        reverse=True,
    )
    for candidate in candidates:
        if _is_usable_bindir(candidate):
            return candidate
    return None


def _free_port() -> int:
    """Ask the kernel for a currently free TCP port on 127.0.0.1.

    There is an unavoidable race between closing this socket and the server
    binding the port; ``throwaway_cluster`` retries startup to cover it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    """The current environment minus libpq/PostgreSQL variables.

    Variables such as PGDATA, PGPORT, PGHOST or PGUSER would otherwise leak
    into initdb/pg_ctl/createdb and could point them at some other cluster.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _server_user_prefix() -> list[str]:
    """Command prefix that runs server programs as an acceptable user.

    Empty when not root.  As root, switch to SERVICE_USER with ``runuser``
    (util-linux, Debian) or, failing that, ``setpriv``.
    """
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root, but there is no {SERVICE_USER!r} system user "
            "to run the PostgreSQL server as"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", SERVICE_USER, "--"]
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        # --init-groups needs the user name, which setpriv takes via --reuid.
        return [
            setpriv,
            f"--reuid={SERVICE_USER}",
            f"--regid={SERVICE_USER}",
            "--init-groups",
            "--",
        ]
    raise RuntimeError(
        "running as root, but neither runuser nor setpriv is available "
        f"to run the PostgreSQL server as {SERVICE_USER!r}"
    )


def _run(
    argv: Sequence[str | os.PathLike[str]], *, cwd: pathlib.Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; a non-zero exit is returned, not raised.

    ``cwd`` is set to the temp dir because, as root, our own working
    directory (e.g. /root) may be unreadable for the postgres user.
    stdin is /dev/null so nothing can ever wait for a password.  A missing
    program or a timeout becomes RuntimeError, like every other failure here.
    """
    args = [os.fspath(a) for a in argv]
    try:
        return subprocess.run(
            args,
            cwd=cwd,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"could not run {args}: {exc}") from exc


def _tail(path: pathlib.Path) -> str:
    """The last few KB of a (log) file, or a note if it can't be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return text[-_LOG_TAIL_CHARS:] if text else "<empty>"


def _conf_line(name: str, value: str) -> str:
    """A postgresql.conf line with a properly quoted string value."""
    return f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n"


def _stop(
    bindir: pathlib.Path, prefix: list[str], datadir: pathlib.Path, cwd: pathlib.Path
) -> None:
    """Stop the server if it might be running; as a last resort kill it.

    Called from ``finally`` so it must not raise for ordinary failures.
    """
    pidfile = datadir / "postmaster.pid"
    if not pidfile.exists():
        return  # never started (or already gone)
    with contextlib.suppress(RuntimeError):
        _run(
            [*prefix, bindir / "pg_ctl", "stop", "-D", datadir, "-m", "immediate", "-w"],
            cwd=cwd,
            timeout=60,
        )
    if not pidfile.exists():
        return
    # pg_ctl failed or timed out: kill the postmaster ourselves.  Its children
    # notice the postmaster's death and exit on their own.
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # raises ProcessLookupError once it's gone
            time.sleep(0.05)


def _make_tempdir(server_user: bool) -> pathlib.Path:
    """Create the cluster's temp dir; hand it to SERVICE_USER if needed.

    mkdtemp makes it mode 0700 owned by us.  Non-root: that is exactly right.
    Root: chown it to the postgres user so initdb (running as that user) can
    create the data directory, socket and log inside it; root itself can still
    read the log and delete everything afterwards.
    """
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="optout-pg-"))
    if server_user:
        pw = pwd.getpwnam(SERVICE_USER)
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    return tmp


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Run a fresh PostgreSQL cluster for the duration of the ``with`` block.

    Yields ``postgresql+psycopg://optout@127.0.0.1:<port>/optout_test``: role
    ``optout`` (superuser, trust auth, loopback only), database
    ``optout_test``.  The server listens only on 127.0.0.1 (plus a unix
    socket inside the temp dir) and runs with fsync etc. turned off.

    Raises RuntimeError (with the tail of the server log, where there is one)
    if the binaries can't be found or the cluster fails to come up.  The
    server is always stopped and the temp dir always removed on exit.
    """
    bindir = find_pg_bindir()
    if bindir is None:
        raise RuntimeError(
            "no PostgreSQL server binaries found (tried pg_config --bindir and "
            "/usr/lib/postgresql/*/bin); install e.g. the postgresql-15 package"
        )
    prefix = _server_user_prefix()
    tmp = _make_tempdir(server_user=bool(prefix))
    datadir = tmp / "data"  # created by initdb, as the server user
    logfile = tmp / "server.log"  # created by pg_ctl, as the server user
    try:
        init = _run(
            [
                *prefix,
                bindir / "initdb",
                "-D",
                datadir,
                "-A",
                "trust",
                "-U",
                USER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            cwd=tmp,
            timeout=120,
        )
        if init.returncode != 0:
            raise RuntimeError(
                f"initdb failed (exit {init.returncode}):\n{init.stdout}{init.stderr}"
            )
        # Root may overwrite these files (owned by the server user) in place;
        # the ownership and permissions stay as initdb made them.
        (datadir / "pg_hba.conf").write_text(_PG_HBA)

        port = 0
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = _free_port()
            # Settings go into postgresql.conf (the last occurrence of a name
            # wins) rather than pg_ctl -o, which pg_ctl hands to /bin/sh and
            # would need shell quoting for the socket path.
            settings = {
                **_FAST_SETTINGS,
                "listen_addresses": "127.0.0.1",
                "port": str(port),
                # Unix socket paths are limited to ~107 bytes; the default
                # temp dir keeps us far below that.
                "unix_socket_directories": str(tmp),
            }
            with (datadir / "postgresql.conf").open("a") as conf:
                conf.write("\n# Added by tests/_postgres.py\n")
                conf.writelines(_conf_line(k, v) for k, v in settings.items())
            start = _run(
                [
                    *prefix,
                    bindir / "pg_ctl",
                    "start",
                    "-D",
                    datadir,
                    "-l",
                    logfile,
                    "-w",
                    "-t",
                    str(_START_TIMEOUT),
                ],
                cwd=tmp,
                timeout=_START_TIMEOUT + 30,
            )
            if start.returncode == 0:
                break
            log = _tail(logfile)
            # pg_ctl may have given up while the postmaster lives on.
            _stop(bindir, prefix, datadir, tmp)
            if "Address already in use" in log and attempt < _PORT_ATTEMPTS:
                continue  # someone grabbed the port in between; pick another
            raise RuntimeError(
                f"pg_ctl start failed (exit {start.returncode}):\n"
                f"{start.stdout}{start.stderr}\n--- tail of the server log ---\n{log}"
            )

        # createdb is a plain client: it runs as whoever we are, over TCP.
        # Debian ships it in the same bindir; elsewhere fall back to PATH.
        createdb = bindir / "createdb"
        if not os.access(createdb, os.X_OK):
            createdb = pathlib.Path(shutil.which("createdb") or createdb)
        created = _run(
            [
                createdb,
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                USER,
                "-w",  # never prompt for a password
                DATABASE,
            ],
            cwd=tmp,
            timeout=60,
        )
        if created.returncode != 0:
            raise RuntimeError(
                f"createdb failed (exit {created.returncode}):\n"
                f"{created.stdout}{created.stderr}\n"
                f"--- tail of the server log ---\n{_tail(logfile)}"
            )

        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        try:
            _stop(bindir, prefix, datadir, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
