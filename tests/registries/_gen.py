"""Generators of fictional registry files for the tests (no real people's numbers).

US/CA numbers use exchange 555 with lines 0100-0199 (reserved for fiction) for the
hand-picked ones, and random subscriber digits in random area codes for the bulk ones;
UK numbers are Ofcom's drama ranges (020 7946 0xxx, 07700 900xxx).
"""

from __future__ import annotations

import pathlib
import zipfile
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

POW10 = 10 ** np.arange(9, -1, -1, dtype=np.uint64)


def random_nanp(count: int, seed: int = 0) -> npt.NDArray[np.uint64]:
    """``count`` random valid 10-digit NANP numbers (NPA and NXX starting 2-9)."""
    rng = np.random.default_rng(seed)
    npa = rng.integers(200, 1000, count, dtype=np.uint64)
    nxx = rng.integers(200, 1000, count, dtype=np.uint64)
    line = rng.integers(0, 10_000, count, dtype=np.uint64)
    out: npt.NDArray[np.uint64] = npa * np.uint64(10_000_000) + nxx * np.uint64(10_000) + line
    return out


def flat_bytes(numbers: npt.NDArray[np.uint64], *, comma: bool = False) -> bytes:
    """``NPANXXXXXX\\n`` (or ``NPA,NXXXXXX\\n``) lines, built with numpy."""
    digits = ((numbers[:, None] // POW10) % np.uint64(10) + np.uint64(48)).astype(np.uint8)
    parts = [digits[:, :3]]
    if comma:
        parts.append(np.full((len(numbers), 1), ord(","), dtype=np.uint8))
    parts += [digits[:, 3:], np.full((len(numbers), 1), 10, dtype=np.uint8)]
    return np.concatenate(parts, axis=1).tobytes()


def write_flat(path: pathlib.Path, numbers: npt.NDArray[np.uint64], *, comma: bool = False) -> None:
    """Write a flat list in blocks (so large files need little memory)."""
    with path.open("wb") as out:
        for start in range(0, len(numbers), 2_000_000):
            out.write(flat_bytes(numbers[start : start + 2_000_000], comma=comma))


def us_fictional(count: int, npa: int = 202) -> list[str]:
    """E.164 numbers ``+1 NPA 555 01xx``."""
    assert count <= 100
    return [f"+1{npa}55501{i:02d}" for i in range(count)]


def zip_members(path: pathlib.Path, members: Sequence[tuple[str, bytes]]) -> pathlib.Path:
    """A zip with the given members."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


KILL_SCRIPT = """
import datetime as dt, importlib, pathlib, sys
from optout._db import create_engine
from optout._registries._store import RegistryStore
db, snap, source, marker, target = sys.argv[1:]
module, _, attr = target.partition(":")
registry = getattr(importlib.import_module(module), attr)()
registry.codec.block_size = 1 << 20
read = registry.codec.read
def reading(path):
    for i, chunk in enumerate(read(path)):
        yield chunk
        if i == 0:
            pathlib.Path(marker).touch()
registry.codec.read = reading
registry.bind(RegistryStore(create_engine(db), pathlib.Path(snap)))
registry.import_files([source], taken_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC), full_list=True)
"""


def kill_mid_import(
    tmp_path: pathlib.Path, db_url: str, snap: pathlib.Path, source: pathlib.Path, target: str
) -> int:
    """Import ``source`` with the factory ``target`` in a subprocess and SIGKILL it once
    the parse has started (its first chunk was read, or a temporary index file exists).
    Returns the subprocess's return code (``-9`` when it was killed)."""
    import signal  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    marker = tmp_path / "parse-started"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, db_url, str(snap), str(source), str(marker), target]
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if marker.exists() or any(snap.rglob(".*.idx.*.tmp")):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
