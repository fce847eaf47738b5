"""Compact, memory-mapped snapshot indexes of whole registry lists.

An index file holds the registry's numbers as sorted, unique unsigned 64-bit integers (the
E.164 digits: ``+12025550123`` is ``12025550123``), optionally followed by a parallel array
of registration days. 250 million numbers take 2 GB; every process on the host maps the
same file, so the operating system keeps one copy in its page cache. A lookup is a binary
search (``numpy.searchsorted``), vectorized for batches.

Layout (little-endian): ``b"OPTOUTIX"``, u32 format version, u32 flags (1: has dates),
u64 count, 8 reserved bytes; then ``count`` u64 keys; then, with dates, ``count`` u32 days
since 1970-01-01. Files are written to a temporary name, fsynced and renamed: a reader
never sees a half-written index.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import pathlib
import struct
import tempfile
import threading
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from optout._errors import RegistryError

__all__ = ["SnapshotIndex", "e164_keys", "forget_indexes", "key_of", "open_index", "write_index"]

MAGIC = b"OPTOUTIX"
FORMAT = 1
HEADER = struct.Struct("<8sIIQ8x")
HAS_DATES = 1
EPOCH = dt.date(1970, 1, 1)

Keys = npt.NDArray[np.uint64]
Days = npt.NDArray[np.uint32]


def key_of(e164: str) -> int:
    """The integer key of an E.164 number."""
    return int(e164[1:])


def e164_keys(numbers: list[str]) -> Keys:
    """Keys for a list of E.164 numbers."""
    return np.fromiter((int(n[1:]) for n in numbers), dtype=np.uint64, count=len(numbers))


def write_index(path: pathlib.Path, keys: Keys, days: Days | None = None) -> tuple[int, str]:
    """Sort, deduplicate and write ``keys`` (with ``days``) to ``path`` atomically.

    Duplicate numbers keep their earliest registration day. Returns ``(count, sha256)``.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    if days is not None:
        days = np.asarray(days, dtype=np.uint32)
        if days.shape != keys.shape:
            raise ValueError("keys and days differ in length")
        order = np.lexsort((days, keys))
        keys, days = keys[order], days[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        keys, days = keys[first], days[first]
    else:
        # sort + neighbour mask: far faster than np.unique on hundreds of millions of keys
        keys = np.sort(keys)
        if len(keys):
            keep = np.empty(len(keys), dtype=bool)
            keep[0] = True
            np.not_equal(keys[1:], keys[:-1], out=keep[1:])
            if not keep.all():
                keys = keys[keep]
    flags = HAS_DATES if days is not None else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            header = HEADER.pack(MAGIC, FORMAT, flags, len(keys))
            for chunk in (header, keys.astype("<u8", copy=False).tobytes()):
                out.write(chunk)
                digest.update(chunk)
            if days is not None:
                chunk = days.astype("<u4", copy=False).tobytes()
                out.write(chunk)
                digest.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return len(keys), digest.hexdigest()


def _fsync_dir(folder: pathlib.Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Queries searched together in one slice of the index (keeps each search in cache).
_BLOCK = 2048


def _search_sorted(keys: Keys, queries: Keys) -> npt.NDArray[np.intp]:
    """``np.searchsorted(keys, queries)`` for sorted ``queries``, block by block.

    A whole-index binary search per query costs ~28 dependent reads into gigabytes of
    mapped memory; locating each block of 2,048 sorted queries first and then searching
    only its slice keeps the work in cache (about twice as fast on 250 million keys).
    """
    starts = np.searchsorted(keys, queries[::_BLOCK])
    ends = np.append(starts[1:], len(keys))
    out = np.empty(len(queries), dtype=np.intp)
    for i, (lo, hi) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        part = slice(i * _BLOCK, (i + 1) * _BLOCK)
        out[part] = np.searchsorted(keys[lo:hi], queries[part])
        out[part] += lo
    return out


#: Keys per fence block (1 KiB of the index; the fence keeps every 128th key: 16 MB for
#: 250 million numbers, shared by a process's threads).
_FENCE = 128
#: Batches from this size on use the fence. Building it touches every page of the index
#: once (about 0.1 s for 250 million numbers): ``SnapshotIndex.prepare`` does that ahead of
#: time; otherwise the first such batch starts it in a thread (numpy copies without the
#: GIL) and is block-searched meanwhile, and a batch that comes during the build waits.
_FENCE_FROM = 50_000


def _fenced_search(keys: Keys, queries: Keys, fence: Keys) -> npt.NDArray[np.intp]:
    """``np.searchsorted(keys, queries)`` for sorted ``queries`` through ``fence``
    (``keys[::_FENCE]``, small enough to stay in cache): find each query's block in the
    fence, then search that block branch-free, vectorized: seven halving steps of one
    gather and one comparison each (the block's first key is below the query, the next
    block's first key is not, so the answer is in the block or just after it)."""
    last = len(keys) - 1
    pos = np.maximum(np.searchsorted(fence, queries) - 1, 0) * _FENCE
    # Only a query in the last, possibly short, block can probe past the end; clamped
    # probes read the last key, which is then not below the query (or every key is).
    tail = bool(len(pos)) and int(pos[-1]) + _FENCE > last
    step = _FENCE // 2
    while step:
        probe = pos + (step - 1)
        if tail:
            np.minimum(probe, last, out=probe)
        below = keys[probe] < queries
        pos += below * step if step > 1 else below
        step //= 2
    if tail:
        np.minimum(pos, last, out=pos)
    pos += keys[pos] < queries
    return pos.astype(np.intp, copy=False)


class SnapshotIndex:
    """A read-only view of an index file (memory-mapped; cheap to open)."""

    _fence: Keys | None = None
    _fence_started = False

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self._fence_ready = threading.Event()
        try:
            with path.open("rb") as handle:
                raw = handle.read(HEADER.size)
        except OSError as exc:
            raise RegistryError(f"cannot open snapshot index {path}: {exc.strerror}") from None
        if len(raw) != HEADER.size:
            raise RegistryError(f"snapshot index {path} is truncated")
        magic, version, flags, count = HEADER.unpack(raw)
        if magic != MAGIC or version != FORMAT:
            raise RegistryError(f"{path} is not an optout snapshot index (format {FORMAT})")
        expected = HEADER.size + count * 8 + (count * 4 if flags & HAS_DATES else 0)
        if path.stat().st_size != expected:
            raise RegistryError(f"snapshot index {path} has the wrong size (damaged)")
        self.count = int(count)
        self.keys: Keys = (
            np.memmap(path, dtype="<u8", mode="r", offset=HEADER.size, shape=(self.count,))
            if self.count
            else np.empty(0, dtype=np.uint64)
        )
        self.days: Days | None = None
        if flags & HAS_DATES and self.count:
            self.days = np.memmap(
                path,
                dtype="<u4",
                mode="r",
                offset=HEADER.size + self.count * 8,
                shape=(self.count,),
            )

    def positions(self, keys: Keys) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """For each key, its position and whether the index holds it."""
        keys = np.asarray(keys, dtype=np.uint64)
        if self.count == 0:
            return np.zeros(len(keys), dtype=np.intp), np.zeros(len(keys), dtype=bool)
        search: Callable[[Keys, Keys], npt.NDArray[np.intp]] = _search_sorted
        if len(keys) >= _FENCE_FROM and self.count > 64 * _FENCE:
            fence = self._fence_if_built()
            if fence is not None:
                search = functools.partial(_fenced_search, fence=fence)
        if len(keys) <= 64:
            pos = np.searchsorted(self.keys, keys)
        elif bool((keys[1:] >= keys[:-1]).all()):
            pos = search(self.keys, keys)
        else:
            order = np.argsort(keys)
            pos = np.empty(len(keys), dtype=np.intp)
            pos[order] = search(self.keys, keys[order])
        np.minimum(pos, self.count - 1, out=pos)
        return pos, self.keys[pos] == keys

    def _fence_if_built(self) -> Keys | None:
        """The fence; ``None`` when this call had to start building it (in a thread). A
        call while another is building it waits for it."""
        if self._fence is None and not self._start_fence():
            self._fence_ready.wait()
        return self._fence

    def _start_fence(self, thread: bool = True) -> bool:
        """Start building the fence (in a thread, or in this one); ``False`` when that was
        done or started before."""
        with _OPENING:
            if self._fence_started:
                return False
            self._fence_started = True
        if thread:
            threading.Thread(
                target=self._build_fence, name="optout-index-fence", daemon=True
            ).start()
        else:
            self._build_fence()
        return True

    def _build_fence(self) -> None:
        try:
            if self.count > 64 * _FENCE:
                self._fence = np.ascontiguousarray(self.keys[::_FENCE])
        except (OSError, ValueError, MemoryError):  # pragma: no cover - searches go on without
            pass
        finally:
            self._fence_ready.set()

    def prepare(self) -> None:
        """Get ready for large batches now: build the fence (mapping every page of the
        index, about 0.1 s for 250 million numbers) in this thread, as a scrub's warm-up
        does while the run starts. Returns once it is built, here or elsewhere."""
        if not self._start_fence(thread=False):
            self._fence_ready.wait()

    def contains(self, keys: Keys) -> npt.NDArray[np.bool_]:
        """Vectorized membership test."""
        return self.positions(keys)[1]

    def registered_on(self, key: int) -> dt.date | bool | None:
        """``False`` when not listed; the registration date, or ``None`` when undated."""
        pos, found = self.positions(np.array([key], dtype=np.uint64))
        if not found[0]:
            return False
        if self.days is None:
            return None
        return EPOCH + dt.timedelta(days=int(self.days[pos[0]]))

    def all_keys(self) -> Keys:
        """Every key (a view on the mapped file)."""
        return self.keys


_OPENING = threading.Lock()


def open_index(path: str, checksum: str) -> SnapshotIndex:
    """An index, opened once per process per file version (keyed by its checksum too).

    Threads deciding at once share one mapping (two would each count the file's pages)."""
    with _OPENING:
        return _open_index(path, checksum)


def forget_indexes() -> None:
    """Close the indexes this process opened (the next look-up maps the files again)."""
    with _OPENING:
        _open_index.cache_clear()


@functools.lru_cache(maxsize=64)
def _open_index(path: str, checksum: str) -> SnapshotIndex:
    return SnapshotIndex(pathlib.Path(path))
