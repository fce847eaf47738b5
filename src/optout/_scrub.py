"""Batch scrubbing of lead lists: CSV/TSV, Parquet, JSON Lines and Excel, in bounded memory.

Every row gets the decision ``can_call()`` gives for it, from the batch core
(:class:`optout._batch.BatchRun`, one per run, so its caches serve every chunk). The main
thread reads chunks of ``chunk_rows`` rows with pyarrow; two threads decide them (numpy and
pyarrow release the GIL; texts only libphonenumber can read go to a process pool); a writer
thread marks duplicates, counts and writes them in input order. At most a few chunks are in
flight, so memory stays bounded whatever the file's size.

Output: the input columns unchanged, then the decision columns. With one phone column they
are :data:`DECISION_COLUMNS` (``optout_number``, ``optout_allowed``, ``optout_reason``,
``optout_reasons``, ``optout_next_allowed_at``, ``optout_registry``, ``optout_duplicate``);
with several phone columns each set is prefixed with its column's name
(``mobile_optout_allowed``, ...). ``optout_registry`` is the registry evidence, ``;``-joined
``registry:status[@date]``. ``optout_duplicate`` is true when the same number (E.164) was
seen earlier in the file, in any phone column; numbers with an extension are never marked.

Output files are written atomically: a hidden temporary file in the same folder, fsynced,
then renamed. On any error, on Ctrl-C and on SIGTERM the temporary file is removed and
the target is left as it was; a ``kill -9`` leaves at most the hidden temporary file.
"""

from __future__ import annotations

import argparse
import codecs
import collections
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import functools
import importlib
import json
import logging
import math
import os
import pathlib
import queue
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from optout._errors import ConfigurationError, OptoutError
from optout._fastnum import distinct, warm_up
from optout._numbers import normalize_region
from optout._registries._snapshot import _search_sorted
from optout._timeutil import instant, parse_instant

if TYPE_CHECKING:
    from rich.console import Console

    from optout._batch import BatchRun
    from optout._client import Compliance

__all__ = [
    "DECISION_COLUMNS",
    "DECISION_FIELDS",
    "FORMATS",
    "ScrubSummary",
    "add_scrub_arguments",
    "decision_columns",
    "detect_phone_columns",
    "pick_columns",
    "read_table",
    "run_scrub",
    "scrub_csv",
    "scrub_file",
    "scrub_table",
]

DECISION_FIELDS = (
    "number",
    "allowed",
    "reason",
    "reasons",
    "next_allowed_at",
    "registry",
    "duplicate",
)
DECISION_COLUMNS = tuple(f"optout_{name}" for name in DECISION_FIELDS)
_DECISION_TYPES = {
    "number": pa.string(),
    "allowed": pa.bool_(),
    "reason": pa.string(),
    "reasons": pa.string(),
    "next_allowed_at": pa.string(),
    "registry": pa.string(),
    "duplicate": pa.bool_(),
}

FORMATS = ("csv", "tsv", "parquet", "jsonl", "xlsx")
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
}
_EXCEL_MAX_ROWS = 1_048_576
DEFAULT_CHUNK_ROWS = 250_000

# Whole words only: "cancellation_date" must not match "cell".
_PHONE_HEADER = re.compile(
    r"(?:^|[^a-z])(?:phone|telephone|tel|mobile|cell|cellphone|number|msisdn|numero|telefono)"
    r"(?:$|[^a-z])",
    re.IGNORECASE,
)
_PHONE_VALUE = re.compile(r"^\s*\+?[\d\s().\-/]{6,}\s*$")


# -- summary -----------------------------------------------------------------------------------


@dataclasses.dataclass
class ScrubSummary:
    """Counts of a scrub run.

    ``rows`` counts input rows; ``numbers`` counts decisions (rows times phone columns);
    ``allowed``, ``denied``, ``invalid`` and ``duplicates`` count decisions.
    """

    rows: int = 0
    numbers: int = 0
    allowed: int = 0
    denied: int = 0
    invalid: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    by_reason: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    by_registry: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    columns: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)

    def render(self) -> str:
        """A short plain-text report."""
        lines = [
            f"rows: {self.rows}  allowed: {self.allowed}  denied: {self.denied}  "
            f"invalid: {self.invalid}  duplicates: {self.duplicates}",
        ]
        if self.numbers != self.rows:
            lines.append(f"numbers: {self.numbers} in {len(self.columns)} columns")
        lines.append(f"time: {self.seconds:.2f} s ({self.rate:,.0f} rows/s)")
        if self.by_reason:
            lines.append("denied by reason:")
            lines.extend(f"  {code}: {count}" for code, count in self.by_reason.most_common())
        if self.by_registry:
            lines.append("denied by registry:")
            lines.extend(f"  {name}: {count}" for name, count in self.by_registry.most_common())
        lines.extend(f"wrote {path}" for path in self.outputs)
        return "\n".join(lines)

    def _add(self, decided: _Decided) -> None:
        self.duplicates += int(pc.sum(decided.duplicate).as_py() or 0)
        # Counted once for each distinct answer (the rows share a few).
        allowed, reason, reasons, _, registry = decided.answers
        counts = np.bincount(decided.slot, minlength=len(allowed)).tolist()
        for j, count in enumerate(counts):
            if not count:
                continue
            self.numbers += count
            if allowed[j]:
                self.allowed += count
                continue
            self.denied += count
            code = reason[j] or "unknown"
            self.by_reason[code] += count
            if code == "number.invalid":
                self.invalid += count
            if "registry." in (reasons[j] or ""):
                self._add_registry(registry[j] or "", count)

    def _add_registry(self, text: str, count: int) -> None:
        for entry in text.split(";"):
            name, _, status = entry.partition(":")
            status = status.split("@", 1)[0]
            if name and status != "clear":
                self.by_registry[f"{name} ({status or 'unknown'})"] += count


# -- decisions ---------------------------------------------------------------------------------


@dataclasses.dataclass
class _Decided:
    """Column-aligned decisions (pyarrow arrays, the columns of ``BatchDecisions``)."""

    number: pa.Array
    allowed: pa.Array
    reason: pa.Array
    reasons: pa.Array
    next_allowed_at: pa.Array
    registry: pa.Array
    duplicate: pa.Array
    keys: np.ndarray[Any, np.dtype[np.uint64]]  # E.164 digits; 0: invalid or an extension
    # Each decision's index into the distinct answers (allowed, reason, reasons,
    # next_allowed_at, registry lists), for counting once per answer.
    slot: np.ndarray[Any, np.dtype[np.int64]]
    answers: tuple[list[Any], ...]
    # distinct(keys[keys != 0]) when the batch already computed it.
    keyed: tuple[Any, Any, Any] | None = None


def _new_run(client: Compliance, at: dt.datetime, context: Mapping[str, Any]) -> BatchRun:
    from optout._batch import BatchRun  # noqa: PLC0415 - _batch imports the client

    # Numbers only libphonenumber can read are parsed in processes, one per core.
    return BatchRun(client, at=at, workers=os.cpu_count() or 1, **context)


def _decide(run: BatchRun, numbers: pa.Array, *, encoded: bool = False) -> _Decided:
    """Decide ``numbers`` (a string array): the adapter between the scrubber and the core.

    With ``encoded``, the text answer columns are dictionary arrays (each row an index
    into the chunk's distinct answers): pyarrow's CSV writer writes the same bytes from
    them without copying every row's text first."""
    got = run.decide(numbers)
    # The registry column with "" for invalid numbers, from each distinct answer (cheaper
    # than filling the nulls of the whole column).
    registry = pa.array(["" if r is None else r for r in got._answers[4]], pa.string())
    if encoded:
        slot = pa.array(got._slot.astype(np.int32, copy=False))

        def column(values: pa.Array) -> pa.Array:
            return pa.DictionaryArray.from_arrays(slot, values)

        reason = column(pa.array(got._answers[1], pa.string()))
        reasons = column(pa.array(got._answers[2], pa.string()))
        next_allowed_at = column(pa.array(got._answers[3], pa.string()))
        registry = column(registry)
    else:
        reason, reasons, next_allowed_at = got.reason, got.reasons, got.next_allowed_at
        registry = registry.take(pa.array(got._slot))
    return _Decided(
        number=got.number,
        allowed=got.allowed,
        reason=reason,
        reasons=reasons,
        next_allowed_at=next_allowed_at,
        registry=registry,
        duplicate=got.duplicate,
        keys=got.number_keys,
        slot=got._slot,
        answers=got._answers,
        keyed=got._keyed,
    )


class _Seen:
    """The E.164 numbers seen so far, as one sorted ``uint64`` array (8 bytes a number)."""

    def __init__(self) -> None:
        self._seen: np.ndarray[Any, np.dtype[np.uint64]] = np.zeros(0, dtype=np.uint64)

    def mark(self, decided: _Decided) -> None:
        """Set ``decided.duplicate`` for numbers seen before (earlier rows or chunks).

        The chunk's distinct numbers (sorted) are searched block by block in the numbers
        seen before, and the new ones inserted where that search put them: one linear
        copy, about 30 ms a chunk after 10 million numbers."""
        n = len(decided.number)
        if n == 0:
            return
        index = np.flatnonzero(decided.keys)
        if index.size == 0:
            decided.duplicate = pa.array(np.zeros(n, dtype=bool))
            return
        keys = decided.keys[index]
        unique, first, inverse = decided.keyed if decided.keyed is not None else distinct(keys)
        seen = self._seen
        if seen.size:
            pos = _search_sorted(seen, unique)
            before = seen[np.minimum(pos, seen.size - 1)] == unique
            new = ~before
            self._seen = np.insert(seen, pos[new], unique[new])
        else:
            before = np.zeros(unique.size, dtype=bool)
            self._seen = unique.copy()
        dup = before[inverse]
        later = np.ones(keys.size, dtype=bool)
        later[first] = False  # a repeat within this chunk
        dup |= later
        flags = np.zeros(n, dtype=bool)
        flags[index] = dup
        decided.duplicate = pa.array(flags)


def decision_columns(column: str, multi: bool) -> list[str]:
    """The decision column names for phone column ``column``."""
    prefix = f"{column}_" if multi else ""
    return [f"{prefix}optout_{name}" for name in DECISION_FIELDS]


def _text(column: Any) -> pa.Array:
    """A column's values as a string array (ints and integral floats without a decimal
    point; other values as ``str()`` gives them)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.dictionary_decode()
        kind = column.type
    if pa.types.is_string(kind):
        return column
    if pa.types.is_large_string(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string())
    out: list[str | None] = []
    for value in column.to_pylist():
        if value is None:
            out.append(None)
        elif isinstance(value, float):
            finite = math.isfinite(value)
            out.append(str(int(value)) if finite and value.is_integer() else repr(value))
        elif isinstance(value, bytes):
            out.append(value.decode("utf-8", errors="replace"))
        else:
            out.append(str(value))
    return pa.array(out, pa.string())


def _decide_table(
    run: BatchRun, table: pa.Table, columns: Sequence[str], *, encoded: bool = False
) -> _Decided:
    """Decide the phone ``columns`` of ``table`` (thread-safe: no shared state but ``run``);
    ``encoded``: see :func:`_decide`.

    With several columns the numbers are decided row-major, so that "seen earlier" (the
    duplicate flag) means an earlier row, then an earlier column of the same row.
    """
    rows = table.num_rows
    names = list(table.column_names)
    texts = [_text(table.column(names.index(c))) for c in columns]
    if len(texts) == 1:
        return _decide(run, texts[0], encoded=encoded)
    order = (np.arange(rows)[:, None] + np.arange(len(texts))[None, :] * rows).ravel()
    return _decide(run, pa.concat_arrays(texts).take(pa.array(order)), encoded=encoded)


def _split_columns(
    decided: _Decided, columns: Sequence[str], rows: int
) -> tuple[list[pa.Array], list[str], Any]:
    """The decision columns of each phone column, and whether each row has an allowed one."""
    arrays: list[pa.Array] = []
    out_names: list[str] = []
    width = len(columns)
    any_allowed = np.zeros(rows, dtype=bool)
    for k, column in enumerate(columns):
        out_names.extend(decision_columns(column, width > 1))
        pick = None if width == 1 else pa.array(np.arange(k, rows * width, width))
        for name in DECISION_FIELDS:
            values = getattr(decided, name)
            arrays.append(values if pick is None else values.take(pick))
        part = decided.allowed if pick is None else decided.allowed.take(pick)
        any_allowed |= np.asarray(part.to_numpy(zero_copy_only=False), dtype=bool)
    return arrays, out_names, any_allowed


def _settle(
    decided: _Decided, columns: Sequence[str], rows: int, seen: _Seen, summary: ScrubSummary
) -> tuple[list[pa.Array], list[str], Any]:
    """Mark duplicates against everything seen before and count; in input order."""
    seen.mark(decided)
    summary._add(decided)
    summary.rows += rows
    return _split_columns(decided, columns, rows)


def detect_phone_columns(names: Sequence[str]) -> list[str]:
    """The first column whose name is a phone word (whole word), or ``[]``."""
    for name in names:
        if _PHONE_HEADER.search(name):
            return [name]
    return []


def pick_columns(
    names: Sequence[str],
    wanted: Sequence[str] | None,
    sample: pa.Table | None = None,
    header: bool = True,
) -> list[str]:
    """The phone columns: ``wanted`` (checked), else detected from the names (or values)."""
    if wanted:
        missing = [c for c in wanted if c not in names]
        if missing:
            shown = ", ".join(names) if len(names) <= 30 else ", ".join(names[:30]) + ", ..."
            raise ConfigurationError(f"no column {missing[0]!r}; the columns are: {shown}")
        if len(set(wanted)) != len(wanted):
            raise ConfigurationError("a phone column is named twice")
        return list(wanted)
    if header:
        found = detect_phone_columns(names)
        if found:
            return found
        raise ConfigurationError("no phone column found in the header; name it with --column")
    # No header: the first column whose values look like phone numbers.
    if sample is not None and sample.num_rows:
        for index, name in enumerate(names):
            values = [v for v in _text(sample.column(index)).slice(0, 1000).to_pylist() if v]
            hits = sum(1 for v in values if _PHONE_VALUE.match(v))
            if values and hits * 2 >= len(values):
                return [name]
    raise ConfigurationError(
        "no column looks like phone numbers; name it with --column (columns are numbered "
        "from 1 without a header)"
    )


# -- atomic outputs ----------------------------------------------------------------------------


class _Staged:
    """Temporary files next to their targets, renamed into place together or removed."""

    def __init__(self) -> None:
        self._items: list[tuple[pathlib.Path, pathlib.Path]] = []

    def temp_for(self, target: pathlib.Path) -> pathlib.Path:
        folder = target.resolve().parent
        try:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise ConfigurationError(f"cannot write {target}: {exc.strerror}") from None
        os.close(fd)
        tmp = pathlib.Path(name)
        self._items.append((tmp, target))
        return tmp

    def commit(self) -> None:
        for tmp, _ in self._items:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        folders = set()
        for tmp, target in self._items:
            os.replace(tmp, target)
            folders.add(target.resolve().parent)
        self._items.clear()
        for folder in folders:
            _fsync_dir(folder)

    def discard(self) -> None:
        for tmp, _ in self._items:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._items.clear()


def _fsync_dir(folder: pathlib.Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every platform can open a directory
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _sigterm_raises_interrupt() -> Iterator[None]:
    """During the run, SIGTERM raises KeyboardInterrupt so temporary files are removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- readers -----------------------------------------------------------------------------------


@dataclasses.dataclass
class _Chunk:
    table: pa.Table
    native: list[Any] | None = None  # JSON objects or Excel rows, for same-format output


class _Reader(Protocol):
    names: list[str]
    schema: pa.Schema
    total: int | None
    native_kind: str | None

    def chunks(self) -> Iterator[_Chunk]: ...

    def position(self) -> int: ...

    def close(self) -> None: ...


def _strings_table(names: Sequence[str], columns: Sequence[list[str | None]]) -> pa.Table:
    return pa.Table.from_arrays([pa.array(c, pa.string()) for c in columns], names=list(names))


def _check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigurationError(f"unknown encoding {encoding!r}") from None


def _decode_error(path: pathlib.Path, encoding: str) -> ConfigurationError:
    """Find the first undecodable byte of ``path`` and describe it in one line."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line, offset = 1, 0
    with path.open("rb") as handle:
        for raw in handle:
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as exc:
                return ConfigurationError(
                    f"{path}, line {line}: byte {offset + exc.start} (0x{raw[exc.start]:02x}) "
                    f"is not valid {encoding.upper()}; pass the file's --encoding or convert it"
                )
            line += 1
            offset += len(raw)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return ConfigurationError(f"{path}: the file ends inside a {encoding} character")
    return ConfigurationError(f"{path} is not valid {encoding} text")


def _sniff_delimiter(path: pathlib.Path, encoding: str) -> str:
    with path.open("rb") as handle:
        head = handle.read(65536)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    counts = dict.fromkeys((",", ";", "\t", "|"), 0)
    quoted = False
    for char in first:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class _CsvReader:
    native_kind: str | None = None
    total: int | None

    def __init__(
        self,
        path: pathlib.Path,
        *,
        delimiter: str,
        header: bool,
        encoding: str,
        chunk_rows: int,
    ) -> None:
        import pyarrow.csv as pacsv  # noqa: PLC0415

        self._path = path
        self._encoding = encoding
        self._header = header
        self.total = path.stat().st_size
        parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
        # 1 MB blocks, gathered into chunks of about chunk_rows rows: bounded memory.
        block = 1 << 20
        try:
            probe = pacsv.open_csv(
                str(path),
                read_options=pacsv.ReadOptions(
                    use_threads=False,
                    block_size=block,
                    autogenerate_column_names=not header,
                    encoding=encoding,
                ),
                parse_options=parse,
                convert_options=pacsv.ConvertOptions(check_utf8=False),
            )
            names = list(probe.schema.names)
            probe.close()
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise self._error(exc) from None
        if not header:
            names = [str(i + 1) for i in range(len(names))]
        self.names = names
        internal = [f"c{i}" for i in range(len(names))]
        self.schema = pa.schema([(n, pa.string()) for n in names])
        self._stream = pa.OSFile(str(path), "r")
        try:
            self._reader = pacsv.open_csv(
                self._stream,
                read_options=pacsv.ReadOptions(
                    use_threads=False,
                    block_size=block,
                    column_names=internal,
                    skip_rows=1 if header else 0,
                    encoding=encoding,
                ),
                parse_options=parse,
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in internal},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            self._stream.close()
            raise self._error(exc) from None
        self._chunk_rows = chunk_rows

    def _error(self, exc: BaseException) -> ConfigurationError:
        message = str(exc)
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in message or "decode" in message:
            return _decode_error(self._path, self._encoding)
        if "Empty CSV file" in message:
            return ConfigurationError(f"{self._path} is empty: a header row is needed")
        found = re.search(r"Row #(\d+): (Expected \d+ columns, got \d+)", message)
        if found:
            row = int(found.group(1))
            return ConfigurationError(
                f"{self._path}, line {row}: {found.group(2).lower()} "
                "(check the delimiter and the quoting)"
            )
        found = re.search(r"(Expected \d+ columns, got \d+)", message)
        if found:
            return ConfigurationError(
                f"{self._path}: {found.group(1).lower()} on some line "
                "(check the delimiter and the quoting)"
            )
        first = message.splitlines()[0] if message else type(exc).__name__
        return ConfigurationError(f"{self._path}: cannot read as CSV: {first[:200]}")

    def position(self) -> int:
        try:
            return int(self._stream.tell())
        except (OSError, ValueError, pa.ArrowException):
            return 0

    def chunks(self) -> Iterator[_Chunk]:
        pending: list[pa.RecordBatch] = []
        count = 0
        last: pa.RecordBatch | None = None
        while True:
            try:
                batch = self._reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise self._error(exc) from None
            if last is not None:
                pending.append(last)
                count += last.num_rows
                while count >= self._chunk_rows:
                    table = pa.Table.from_batches(pending)
                    yield self._chunk(table.slice(0, self._chunk_rows))
                    rest = table.slice(self._chunk_rows)
                    pending, count = rest.to_batches(), rest.num_rows
            last = batch
        if last is not None:
            self._check_closed_quotes(last)
            pending.append(last)
            count += last.num_rows
        table = pa.Table.from_batches(pending, schema=self._reader.schema)
        for start in range(0, count, self._chunk_rows):
            yield self._chunk(table.slice(start, self._chunk_rows))

    def _chunk(self, table: pa.Table) -> _Chunk:
        return _Chunk(table.rename_columns(self.names))

    def _check_closed_quotes(self, batch: pa.RecordBatch) -> None:
        """A quote never closed swallows the file to its end: make that an error."""
        if batch.num_rows == 0:
            return
        tail = batch.slice(batch.num_rows - 1)
        for column in tail.columns:
            value = column[0].as_py()
            if isinstance(value, str) and value.endswith(("\n", "\r")):
                with self._path.open("rb") as handle:
                    lines = sum(
                        block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")
                    )
                start = max(1, lines - value.count("\n") + 1)
                raise ConfigurationError(
                    f"{self._path}, line {start}: a quoted field is never closed "
                    "(it runs to the end of the file)"
                )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._reader.close()
        self._stream.close()


class _ParquetReader:
    native_kind: str | None = None
    total: int | None

    def __init__(self, path: pathlib.Path, *, chunk_rows: int) -> None:
        import pyarrow.parquet as pq  # noqa: PLC0415

        try:
            self._file = pq.ParquetFile(str(path))
        except (pa.ArrowException, OSError) as exc:
            raise ConfigurationError(
                f"{path} is not a readable Parquet file: {str(exc).splitlines()[0][:200]}"
            ) from None
        self._path = path
        self.schema = self._file.schema_arrow
        self.names = list(self.schema.names)
        self.total = self._file.metadata.num_rows
        self._rows = 0
        self._chunk_rows = chunk_rows

    def position(self) -> int:
        return self._rows

    def chunks(self) -> Iterator[_Chunk]:
        try:
            for batch in self._file.iter_batches(batch_size=self._chunk_rows):
                self._rows += batch.num_rows
                yield _Chunk(pa.Table.from_batches([batch]))
        except (pa.ArrowException, OSError) as exc:
            raise ConfigurationError(
                f"{self._path}: cannot read: {str(exc).splitlines()[0][:200]}"
            ) from None

    def close(self) -> None:
        self._file.close()


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


class _JsonlReader:
    native_kind: str | None = "jsonl"
    total: int | None

    def __init__(
        self, path: pathlib.Path, *, encoding: str, chunk_rows: int, fixed_keys: bool
    ) -> None:
        try:
            self._handle: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None
        self._path = path
        self._encoding = encoding
        self._chunk_rows = chunk_rows
        self._fixed = fixed_keys
        self._line = 0
        self._offset = 0
        self.total = path.stat().st_size
        try:
            self._first = self._read_records()
        except BaseException:
            self._handle.close()
            raise
        if not self._first and self._line == 0:
            self._handle.close()
            raise ConfigurationError(f"{path} is empty: at least one JSON object is needed")
        keys: dict[str, None] = {}
        for record in self._first:
            keys.update(dict.fromkeys(record))
        self.names = list(keys)
        self.schema = pa.schema([(n, pa.string()) for n in self.names])

    def _read_records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        decode = codecs.getdecoder(self._encoding)
        while len(records) < self._chunk_rows:
            raw = self._handle.readline()
            if not raw:
                break
            self._line += 1
            start = self._offset
            self._offset += len(raw)
            try:
                text = decode(raw)[0]
            except UnicodeDecodeError as exc:
                raise ConfigurationError(
                    f"{self._path}, line {self._line}: byte {start + exc.start} "
                    f"(0x{raw[exc.start]:02x}) is not valid {self._encoding.upper()}; "
                    "pass the file's --encoding or convert it"
                ) from None
            if self._line == 1:
                text = text.lstrip("\ufeff")
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except ValueError as exc:
                message = str(exc).split(":")[0]
                raise ConfigurationError(
                    f"{self._path}, line {self._line}: not valid JSON ({message})"
                ) from None
            if not isinstance(record, dict):
                raise ConfigurationError(
                    f"{self._path}, line {self._line}: expected a JSON object, "
                    f"got {type(record).__name__}"
                )
            records.append(record)
        return records

    def position(self) -> int:
        return self._offset

    def chunks(self) -> Iterator[_Chunk]:
        records = self._first
        while records:
            yield self._chunk(records)
            records = self._read_records()

    def _chunk(self, records: list[dict[str, Any]]) -> _Chunk:
        if self._fixed:
            for record in records:
                for key in record:
                    if key not in self.schema.names:
                        raise ConfigurationError(
                            f"{self._path}: field {key!r} first appears after the first "
                            f"{self._chunk_rows} lines; raise --chunk-rows or write JSON Lines"
                        )
        columns = [[_json_text(r.get(name)) for r in records] for name in self.names]
        return _Chunk(_strings_table(self.names, columns), native=records)

    def close(self) -> None:
        self._handle.close()


def _openpyxl() -> Any:
    try:
        return importlib.import_module("openpyxl")
    except ModuleNotFoundError:
        raise ConfigurationError(
            "Excel files need the openpyxl package: pip install openpyxl"
        ) from None


def _cell_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class _XlsxReader:
    native_kind: str | None = "xlsx"
    total: int | None

    def __init__(self, path: pathlib.Path, *, header: bool, chunk_rows: int) -> None:
        openpyxl = _openpyxl()
        self._path = path
        try:
            self._book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise ConfigurationError(
                f"{path} is not a readable .xlsx workbook ({type(exc).__name__})"
            ) from None
        sheet = self._book.worksheets[0]
        self._rows_iter = sheet.iter_rows(values_only=True)
        self._row = 0
        self._chunk_rows = chunk_rows
        first = self._next_row()
        if first is None:
            self._book.close()
            raise ConfigurationError(f"{path} is empty: its first sheet has no rows")
        if header:
            self._pending: list[tuple[Any, ...]] = []
            self.names = [
                f"column{i + 1}" if v is None else (_cell_text(v) or f"column{i + 1}")
                for i, v in enumerate(first)
            ]
        else:
            self._pending = [first]
            self.names = [str(i + 1) for i in range(len(first))]
        max_row = getattr(sheet, "max_row", None)
        self.total = int(max_row) if isinstance(max_row, int) else None
        self.schema = pa.schema([(n, pa.string()) for n in self.names])

    def _next_row(self) -> tuple[Any, ...] | None:
        for row in self._rows_iter:
            self._row += 1
            values = tuple(row)
            if any(v is not None and v != "" for v in values):
                return values
        return None

    def position(self) -> int:
        return self._row

    def chunks(self) -> Iterator[_Chunk]:
        width = len(self.names)
        while True:
            rows = self._pending
            self._pending = []
            while len(rows) < self._chunk_rows:
                row = self._next_row()
                if row is None:
                    break
                if len(row) > width and any(v is not None for v in row[width:]):
                    raise ConfigurationError(
                        f"{self._path}, row {self._row}: more cells than the header has columns"
                    )
                rows.append(tuple(row[:width]) + (None,) * (width - len(row)))
            if not rows:
                return
            columns = [[_cell_text(r[i]) for r in rows] for i in range(width)]
            yield _Chunk(_strings_table(self.names, columns), native=rows)

    def close(self) -> None:
        self._book.close()


# -- writers -----------------------------------------------------------------------------------


class _Writer(Protocol):
    def write(self, table: pa.Table, native: list[Any] | None, width: int) -> None: ...

    def close(self) -> None: ...


def _start_writeback(sink: Any) -> None:
    """Start writing what ``sink`` holds so far to disk, without waiting.

    The output is fsynced before it is renamed into place; left to the end, that flush
    (allocating and submitting a whole large file at once) would add half a second to a
    2 GB scrub after the work is done. Started chunk by chunk, it overlaps the work
    (``POSIX_FADV_DONTNEED`` starts write-out of dirty pages, and drops pages already
    written, which the scrub never reads again). Where the call is missing or refused,
    nothing changes but the timing."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:  # pragma: no cover - not on Linux or macOS
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        advise(sink.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


class _CsvWriter:
    def __init__(self, path: pathlib.Path, *, delimiter: str, header: bool) -> None:
        self._path = path
        self._sink = pa.OSFile(str(path), "w")
        self._delimiter = delimiter
        self._header = header
        self._writer: Any = None

    def write(self, table: pa.Table, native: list[Any] | None, width: int) -> None:
        import pyarrow.csv as pacsv  # noqa: PLC0415

        try:
            if self._writer is None:
                # Rows formatted per batch: 8,192 rather than pyarrow's 1,024 spends about
                # 12 % less time per chunk on per-batch work (casts, small writes).
                options = pacsv.WriteOptions(
                    include_header=self._header, delimiter=self._delimiter, batch_size=8192
                )
                self._writer = pacsv.CSVWriter(self._sink, table.schema, write_options=options)
            self._writer.write_table(table)
            _start_writeback(self._sink)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ConfigurationError(
                f"cannot write these columns as CSV ({str(exc).splitlines()[0][:160]}); "
                "write Parquet or JSON Lines"
            ) from None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._sink.close()


class _ParquetWriter:
    def __init__(self, path: pathlib.Path) -> None:
        self._path = path
        self._sink = pa.OSFile(str(path), "w")
        self._writer: Any = None

    def write(self, table: pa.Table, native: list[Any] | None, width: int) -> None:
        import pyarrow.parquet as pq  # noqa: PLC0415

        if self._writer is None:
            self._writer = pq.ParquetWriter(self._sink, table.schema)
        self._writer.write_table(table)
        _start_writeback(self._sink)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._sink.close()


def _json_default(value: object) -> object:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class _JsonlWriter:
    def __init__(self, path: pathlib.Path) -> None:
        self._handle = path.open("w", encoding="utf-8", newline="\n")

    def write(self, table: pa.Table, native: list[Any] | None, width: int) -> None:
        decisions = table.select(list(range(width, table.num_columns)))
        extra = decisions.to_pylist()
        base = native if native is not None else table.select(list(range(width))).to_pylist()
        lines = [
            json.dumps({**record, **more}, ensure_ascii=False, default=_json_default)
            for record, more in zip(base, extra, strict=True)
        ]
        if lines:
            self._handle.write("\n".join(lines) + "\n")
            self._handle.flush()
            _start_writeback(self._handle)

    def close(self) -> None:
        self._handle.close()


def _cell(value: object) -> object:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.isoformat()
    if isinstance(value, (bytes, list, dict)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return value


class _XlsxWriter:
    def __init__(self, path: pathlib.Path) -> None:
        openpyxl = _openpyxl()
        self._path = path
        self._book = openpyxl.Workbook(write_only=True)
        self._sheet = self._book.create_sheet("optout")
        self._rows = 0
        self._started = False

    def write(self, table: pa.Table, native: list[Any] | None, width: int) -> None:
        if not self._started:
            self._sheet.append(list(table.column_names))
            self._started = True
        self._rows += table.num_rows
        if self._rows >= _EXCEL_MAX_ROWS:
            raise ConfigurationError(
                f"an .xlsx sheet holds at most {_EXCEL_MAX_ROWS:,} rows; write CSV or Parquet"
            )
        decisions = [c.to_pylist() for c in table.columns[width:]]
        if native is not None:
            base: list[Sequence[Any]] = native
        else:
            inputs = [c.to_pylist() for c in table.columns[:width]]
            base = list(zip(*inputs, strict=True)) if inputs else [()] * table.num_rows
        try:
            for i, row in enumerate(base):
                self._sheet.append([_cell(v) for v in row] + [d[i] for d in decisions])
        except (ValueError, TypeError) as exc:  # IllegalCharacterError is a ValueError
            raise ConfigurationError(
                f"cannot write row {self._rows - table.num_rows + i + 1} to .xlsx "
                f"({type(exc).__name__}); write CSV or Parquet"
            ) from None

    def close(self) -> None:
        self._book.save(str(self._path))


# -- progress ----------------------------------------------------------------------------------


class _Progress:
    """A rich bar on a terminal, plain lines every ``interval`` seconds otherwise."""

    def __init__(
        self, *, stream: IO[str] | None, total: int | None, interval: float, label: str
    ) -> None:
        self._stream = stream
        self._total = total
        self._interval = interval
        self._started = time.perf_counter()
        self._last = self._started
        self._bar: Any = None
        self._task: Any = None
        if stream is not None and stream.isatty():
            from rich.console import Console  # noqa: PLC0415
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn(label),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rows]:,} rows"),
                TextColumn("{task.fields[rate]:,.0f} rows/s"),
                TimeRemainingColumn(),
                console=Console(file=stream),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(label, total=total, rows=0, rate=0.0)

    def update(self, rows: int, position: int) -> None:
        if self._stream is None:
            return
        now = time.perf_counter()
        elapsed = now - self._started
        rate = rows / elapsed if elapsed > 0 else 0.0
        if self._bar is not None:
            self._bar.update(self._task, completed=position, rows=rows, rate=rate)
            return
        if now - self._last < self._interval:
            return
        self._last = now
        line = f"optout scrub: {rows:,} rows, {rate:,.0f} rows/s, {elapsed:.0f} s"
        if self._total and position:
            share = min(position / self._total, 1.0)
            line += f", {share:.0%}"
            if 0 < share < 1:
                line += f", about {elapsed * (1 - share) / share:.0f} s left"
        print(line, file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


# -- the run -----------------------------------------------------------------------------------


def _format_of(path: pathlib.Path, forced: str | None, what: str) -> str | None:
    if forced is not None:
        if forced not in FORMATS:
            raise ConfigurationError(f"unknown {what} format {forced!r}; one of {FORMATS}")
        return forced
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    return None


def split_paths(target: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """``out.csv`` -> ``out.allowed.csv`` and ``out.denied.csv``."""
    stem, suffix = (target.stem, target.suffix) if target.suffix else (target.name, "")
    return (
        target.with_name(f"{stem}.allowed{suffix}"),
        target.with_name(f"{stem}.denied{suffix}"),
    )


def _open_reader(
    path: pathlib.Path,
    fmt: str,
    *,
    delimiter: str | None,
    header: bool,
    encoding: str,
    chunk_rows: int,
    fixed_keys: bool,
) -> _Reader:
    if fmt in ("csv", "tsv"):
        if delimiter is None:
            delimiter = "\t" if fmt == "tsv" else _sniff_delimiter(path, encoding)
        return _CsvReader(
            path, delimiter=delimiter, header=header, encoding=encoding, chunk_rows=chunk_rows
        )
    if fmt == "parquet":
        return _ParquetReader(path, chunk_rows=chunk_rows)
    if fmt == "jsonl":
        return _JsonlReader(path, encoding=encoding, chunk_rows=chunk_rows, fixed_keys=fixed_keys)
    return _XlsxReader(path, header=header, chunk_rows=chunk_rows)


def _open_writer(path: pathlib.Path, fmt: str, *, delimiter: str, header: bool) -> _Writer:
    if fmt in ("csv", "tsv"):
        return _CsvWriter(path, delimiter="\t" if fmt == "tsv" else delimiter, header=header)
    if fmt == "parquet":
        return _ParquetWriter(path)
    if fmt == "jsonl":
        return _JsonlWriter(path)
    return _XlsxWriter(path)


def _same_file(a: pathlib.Path, b: pathlib.Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _check_options(
    src: pathlib.Path,
    dst: pathlib.Path,
    chunk_rows: int,
    delimiter: str | None,
    encoding: str,
    input_format: str | None,
    output_format: str | None,
) -> tuple[str | None, str, str, str]:
    """Checked (delimiter, encoding, input format, output format)."""
    if chunk_rows < 1:
        raise ConfigurationError("--chunk-rows must be at least 1")
    if delimiter is not None and len(delimiter) != 1:
        if delimiter not in ("\\t", "tab"):
            raise ConfigurationError(f"the delimiter must be one character, got {delimiter!r}")
        delimiter = "\t"
    encoding = _check_encoding(encoding)
    if not src.is_file():
        what = "is a folder" if src.is_dir() else "does not exist"
        raise ConfigurationError(f"the input {src} {what}")
    in_fmt = _format_of(src, input_format, "input")
    if in_fmt is None:
        raise ConfigurationError(
            f"cannot tell the format of {src} from its extension; pass --input-format"
        )
    return delimiter, encoding, in_fmt, _format_of(dst, output_format, "output") or in_fmt


def _check_targets(src: pathlib.Path, every: Sequence[pathlib.Path]) -> None:
    for path in every:
        if _same_file(src, path):
            raise ConfigurationError("the output must not overwrite the input")
        if not path.resolve().parent.is_dir():
            raise ConfigurationError(f"the folder of {path} does not exist")
    if len({p.resolve() for p in every}) != len(every):
        raise ConfigurationError("the report must not overwrite the output")


def scrub_file(
    client: Compliance,
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    column: str | Sequence[str] | None = None,
    input_format: str | None = None,
    output_format: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    encoding: str = "utf-8",
    split: bool = False,
    report: str | os.PathLike[str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: IO[str] | None = None,
    progress_interval: float = 5.0,
    at: dt.datetime | None = None,
    country: str | None = None,
    **context: Any,
) -> ScrubSummary:
    """Decide every row of ``source`` and write ``target`` with decision columns added.

    Formats come from the extensions (``.csv``/``.txt``, ``.tsv``, ``.parquet``, ``.jsonl``/
    ``.ndjson``, ``.xlsx``) unless forced; the output takes the input's format when its
    extension says nothing. ``column`` names one or several phone columns (default: the
    first whose header is a phone word). ``at`` is read once for the whole run. With
    ``split``, the allowed and the denied rows go to ``target`` with ``.allowed`` /
    ``.denied`` before the extension (a row with several phone columns is allowed when
    any of its numbers is). ``report`` writes an HTML report. ``progress`` is a text stream
    (``sys.stderr``) for a progress bar (a terminal) or a line every ``progress_interval``
    seconds. Every output is written atomically.

    Raises:
        ConfigurationError: unusable input or options (one line, naming the file and line).
    """
    started = time.perf_counter()
    when = instant(at)
    context = {**context, "country": normalize_region(country)}
    src = pathlib.Path(source)
    dst = pathlib.Path(target)
    delimiter, encoding, in_fmt, out_fmt = _check_options(
        src, dst, chunk_rows, delimiter, encoding, input_format, output_format
    )
    targets = list(split_paths(dst)) if split else [dst]
    report_path = None if report is None else pathlib.Path(report)
    _check_targets(src, [*targets, *([report_path] if report_path is not None else [])])
    columns = None if column is None else [column] if isinstance(column, str) else list(column)

    summary = ScrubSummary()
    staged = _Staged()
    reader: _Reader | None = None
    writers: list[_Writer] = []
    bar: _Progress | None = None
    with _sigterm_raises_interrupt():
        try:
            reader = _open_reader(
                src,
                in_fmt,
                delimiter=delimiter,
                header=header,
                encoding=encoding,
                chunk_rows=chunk_rows,
                fixed_keys=out_fmt != "jsonl",
            )
            # CSV output keeps a CSV input's delimiter; .tsv output always uses tabs.
            out_delimiter = (
                (delimiter or _sniff_delimiter(src, encoding)) if in_fmt == "csv" else ","
            )
            bar = _Progress(
                stream=progress, total=reader.total, interval=progress_interval, label="scrub"
            )
            _pump(
                client,
                writers,
                reader,
                columns,
                staged,
                targets,
                bar,
                summary,
                header=header,
                out_fmt=out_fmt,
                out_delimiter=out_delimiter,
                split=split,
                when=when,
                context=context,
            )
            while writers:
                writers.pop(0).close()
            summary.seconds = time.perf_counter() - started
            summary.outputs = tuple(str(p) for p in targets)
            if report_path is not None:
                _write_report(staged.temp_for(report_path), summary, src, when, context)
                summary.outputs = (*summary.outputs, str(report_path))
            staged.commit()
        except BaseException as exc:
            for writer in writers:
                with contextlib.suppress(Exception):
                    writer.close()
            staged.discard()
            _reraise(exc)
        finally:
            if bar is not None:
                bar.close()
            if reader is not None:
                reader.close()
    return summary


def _deciders() -> int:
    """Threads deciding chunks while the main thread reads and writes (numpy and pyarrow
    release the GIL, so two deciders keep two cores busy)."""
    return max(1, min(2, os.cpu_count() or 1))


class _Pipeline:
    """Three stages: this thread reads, a small pool decides, a writer thread settles and
    writes in input order. ``limit`` chunks at most are in flight (bounded memory)."""

    def __init__(self, deciders: int, write: Callable[[_Chunk, _Decided], None]) -> None:
        self._write = write
        self._pool = concurrent.futures.ThreadPoolExecutor(
            deciders, thread_name_prefix="optout-scrub"
        )
        self._queue: queue.Queue[tuple[_Chunk, concurrent.futures.Future[_Decided]] | None]
        self._queue = queue.Queue(maxsize=deciders + 1)
        self._failure: list[BaseException] = []
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._writing, name="optout-scrub-writer")
        self._writer.start()

    def _writing(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._stop.is_set():
                continue  # drain after a failure, so the reader never blocks
            chunk, future = item
            try:
                self._write(chunk, future.result())
            except BaseException as exc:  # reported to the reading thread
                self._failure.append(exc)
                self._stop.set()

    def submit(self, decide: Callable[[], _Decided], chunk: _Chunk) -> None:
        """Decide ``chunk`` on the pool; raise the writer's failure, if any."""
        self._check()
        item = (chunk, self._pool.submit(decide))
        while True:
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                self._check()

    def _check(self) -> None:
        if self._failure:
            raise self._failure[0]

    def finish(self, *, ok: bool) -> None:
        """Wait until every chunk is written (``ok``) or stop at once; then re-raise the
        writer's failure, if any."""
        if not ok:
            self._stop.set()
        while True:
            try:
                self._queue.put(None, timeout=0.2)
                break
            except queue.Full:
                if not self._writer.is_alive():
                    break
        self._writer.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if ok:
            self._check()


def _pump(
    client: Compliance,
    writers: list[_Writer],
    reader: _Reader,
    columns: Sequence[str] | None,
    staged: _Staged,
    targets: Sequence[pathlib.Path],
    bar: _Progress,
    summary: ScrubSummary,
    *,
    header: bool,
    out_fmt: str,
    out_delimiter: str,
    split: bool,
    when: dt.datetime,
    context: Mapping[str, Any],
) -> None:
    """Read, decide and write every chunk, opening ``writers`` (left open) on the first.

    This thread reads; chunks are decided by a small thread pool (numpy and pyarrow release
    the GIL) and settled and written in input order by a writer thread.
    """
    # One-time work of the first chunks, started while the run opens and the first chunk
    # is read (see _warm_up).
    threading.Thread(target=_warm_up, name="optout-warm-up", daemon=True).start()
    seen = _Seen()
    run = _new_run(client, when, context)
    if reader.total is not None and reader.total >= _PREPARE_FROM:
        threading.Thread(
            target=_quietly, args=(run.prepare_registries,), name="optout-registries", daemon=True
        ).start()
    native_ok = reader.native_kind == out_fmt
    picked: list[str] = []
    width = len(reader.names)

    def write(chunk: _Chunk, decided: _Decided) -> None:
        _write_chunk(
            chunk,
            decided,
            picked,
            seen,
            summary,
            writers,
            native_ok=native_ok,
            split=split,
            width=width,
        )
        bar.update(summary.rows, reader.position())

    pipeline = _Pipeline(_deciders(), write)
    done = False
    try:
        chunks = reader.chunks()
        while True:
            chunk = next(chunks, None)
            if chunk is None and not picked:
                # Header only: the output has the header and no rows.
                chunk = _Chunk(reader.schema.empty_table(), native=[])
            elif chunk is None:
                break
            if not picked:
                picked.extend(pick_columns(reader.names, columns, chunk.table, header))
                summary.columns = tuple(picked)
                for path in targets:
                    temp = staged.temp_for(path)
                    writers.append(
                        _open_writer(temp, out_fmt, delimiter=out_delimiter, header=header)
                    )
            table = chunk.table
            decide = functools.partial(
                _decide_table, run, table, list(picked), encoded=out_fmt in ("csv", "tsv")
            )
            pipeline.submit(decide, chunk)
        done = True
    finally:
        pipeline.finish(ok=done)
        run.close()


#: Inputs from this size on (bytes; about 100,000 rows of a lead list) get the registries
#: of their default country ready while the run starts (see BatchRun.prepare_registries).
_PREPARE_FROM = 8 << 20


def _quietly(work: Callable[[], None]) -> None:
    """Run ``work``, a head start the run does not depend on: its failure is the run's to
    meet later, if at all."""
    try:
        work()
    except Exception:  # best effort: the look-ups report real failures
        logging.getLogger("optout.scrub").debug("warm-up failed", exc_info=True)


def _warm_up() -> None:
    """What the first chunk would otherwise wait for: pyarrow imports pandas (when it is
    installed) on its first conversion of a Python or numpy value, a quarter of a second of
    imports, which the reading thread overlaps in part here; then the NANP tables
    (:func:`optout._fastnum.warm_up`)."""
    pa.array(np.zeros(0, dtype=np.int64))
    warm_up()


def _write_report(
    path: pathlib.Path,
    summary: ScrubSummary,
    src: pathlib.Path,
    when: dt.datetime,
    context: Mapping[str, Any],
) -> None:
    from optout._report import render_report  # noqa: PLC0415

    page = render_report(summary, source=str(src), at=when, context=context)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(page)


def _reraise(exc: BaseException) -> NoReturn:
    """Re-raise ``exc``, as a one-line ConfigurationError when it is a resource failure."""
    if isinstance(exc, (OptoutError, KeyboardInterrupt, SystemExit)):
        raise exc
    if isinstance(exc, MemoryError):
        raise ConfigurationError("out of memory; lower --chunk-rows") from None
    if isinstance(exc, OSError):
        raise ConfigurationError(f"cannot write the output: {exc.strerror or exc}") from None
    raise exc


def _write_chunk(
    chunk: _Chunk,
    decided: _Decided,
    picked: Sequence[str],
    seen: _Seen,
    summary: ScrubSummary,
    writers: Sequence[_Writer],
    *,
    native_ok: bool,
    split: bool,
    width: int,
) -> None:
    table = chunk.table
    arrays, names, any_allowed = _settle(decided, picked, table.num_rows, seen, summary)
    out = pa.Table.from_arrays([*table.columns, *arrays], names=[*table.column_names, *names])
    native = chunk.native if native_ok else None
    if not split:
        writers[0].write(out, native, width)
        return
    for writer, keep in zip(writers, (any_allowed, ~any_allowed), strict=True):
        mask = pa.array(keep, pa.bool_())
        part = out.filter(mask)
        rows = None if native is None else [r for r, k in zip(native, keep, strict=True) if k]
        writer.write(part, rows, width)


def scrub_table(
    client: Compliance,
    table: pa.Table,
    *,
    column: str | Sequence[str] | None = None,
    at: dt.datetime | None = None,
    country: str | None = None,
    **context: Any,
) -> tuple[pa.Table, ScrubSummary]:
    """``table`` with the decision columns appended, and the run's counts."""
    started = time.perf_counter()
    when = instant(at)
    context = {**context, "country": normalize_region(country)}
    names = [str(n) for n in table.column_names]
    wanted = None if column is None else [column] if isinstance(column, str) else list(column)
    picked = pick_columns(names, wanted, table, True)
    summary = ScrubSummary(columns=tuple(picked))
    run = _new_run(client, when, context)
    seen = _Seen()
    parts: list[list[pa.Array]] = []
    out_names: list[str] = list(decision_columns(picked[0], len(picked) > 1))
    step = DEFAULT_CHUNK_ROWS
    try:
        for start in range(0, max(table.num_rows, 1), step):
            piece = table.slice(start, step)
            decided = _decide_table(run, piece, picked)
            arrays, out_names, _ = _settle(decided, picked, piece.num_rows, seen, summary)
            parts.append(arrays)
    finally:
        run.close()
    clash = [n for n in out_names if n in names]
    if clash:
        raise ConfigurationError(f"the data already has a column {clash[0]!r}")
    summary.seconds = time.perf_counter() - started
    columns = [pa.chunked_array([p[k] for p in parts]) for k in range(len(out_names))]
    out = pa.Table.from_arrays([*table.columns, *columns], names=[*names, *out_names])
    return out, summary


def read_table(
    source: str | os.PathLike[str],
    *,
    input_format: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    encoding: str = "utf-8",
) -> pa.Table:
    """Read a whole lead file into a pyarrow Table (the columns the scrubber would see)."""
    src = pathlib.Path(source)
    if not src.is_file():
        raise ConfigurationError(f"the input {src} does not exist")
    fmt = _format_of(src, input_format, "input")
    if fmt is None:
        raise ConfigurationError(f"cannot tell the format of {src}; pass input_format")
    reader = _open_reader(
        src,
        fmt,
        delimiter=delimiter,
        header=header,
        encoding=_check_encoding(encoding),
        chunk_rows=DEFAULT_CHUNK_ROWS,
        fixed_keys=True,
    )
    try:
        tables = [c.table for c in reader.chunks()]
    finally:
        reader.close()
    return pa.concat_tables(tables) if tables else reader.schema.empty_table()


def scrub_csv(
    client: Compliance,
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    column: str | None = None,
    at: dt.datetime | None = None,
    country: str | None = None,
    **context: Any,
) -> ScrubSummary:
    """Scrub a CSV file (kept for callers of the first version; see :func:`scrub_file`)."""
    return scrub_file(
        client,
        source,
        target,
        column=column,
        input_format="csv",
        at=at,
        country=country,
        **context,
    )


# -- command line ------------------------------------------------------------------------------


def add_scrub_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``optout scrub`` options, except the decision context and ``--database``."""
    parser.add_argument(
        "input", metavar="INPUT", help="lead list: .csv/.tsv, .parquet, .jsonl or .xlsx"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="file to write (format from its extension, else the input's); written atomically",
    )
    parser.add_argument(
        "--column",
        action="append",
        default=None,
        metavar="NAME",
        help="a phone column; repeat for several (default: the first whose name is a phone "
        "word like phone, mobile, tel). With several, decision columns are prefixed "
        "with the column name. Without a header, columns are numbered from 1.",
    )
    parser.add_argument("--input-format", choices=FORMATS, default=None)
    parser.add_argument("--output-format", choices=FORMATS, default=None)
    parser.add_argument(
        "--delimiter",
        default=None,
        metavar="CHAR",
        help="CSV field delimiter (default: guessed from the first line; tab for .tsv)",
    )
    parser.add_argument(
        "--no-header", action="store_true", help="the CSV/Excel input has no header row"
    )
    parser.add_argument(
        "--encoding", default="utf-8", help="text encoding of CSV/JSONL input (default: utf-8)"
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="write the allowed and the denied rows to OUTPUT with .allowed/.denied "
        "before the extension, instead of OUTPUT",
    )
    parser.add_argument("--report", default=None, metavar="HTML", help="write an HTML report")
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"rows decided per chunk (default: {DEFAULT_CHUNK_ROWS:,}); bounds memory",
    )
    parser.add_argument("--quiet", action="store_true", help="print no progress and no summary")


_CONTEXT_KEYS = (
    "campaign",
    "brand",
    "purpose",
    "channel",
    "technology",
    "person",
    "debt",
    "subject",
    "sector",
    "caller_id",
    "state",
    "postal_code",
    "time_zone",
)


def _keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for reuse instead of giving it back to the
    system (the command's own process only; ``optout.scrub()`` leaves its caller's
    allocator alone).

    Each chunk allocates and frees tens of megabytes of numpy arrays; by default glibc maps
    large blocks afresh and unmaps them when freed, so every chunk pays page faults again
    (about a third of a 10-million-row run's system time). Blocks up to 256 MiB now come
    from the heap, and up to 1 GiB of free heap is kept. Returns whether it applied
    (``False`` where the C library has no ``mallopt``)."""
    import ctypes  # noqa: PLC0415 - only the command needs it

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # glibc's malloc.h
    return all(
        mallopt(option, value) == 1
        for option, value in (
            (m_mmap_threshold, 256 << 20),
            (m_trim_threshold, 1 << 30),
            (m_top_pad, 64 << 20),
        )
    )


def run_scrub(
    args: argparse.Namespace,
    client_factory: Callable[[argparse.Namespace], Compliance],
    out: Console,
) -> int:
    """Run ``optout scrub`` from parsed arguments; return the exit code (0)."""
    if _keep_freed_memory():
        # pyarrow's default pool (mimalloc) gives freed pages back to the system within
        # milliseconds, so each chunk's buffers fault in afresh (a quarter of the run's
        # system time); glibc's malloc, tuned above, keeps them for the next chunk.
        pa.set_memory_pool(pa.system_memory_pool())
    at = None if getattr(args, "at", None) is None else parse_instant(args.at)
    context = {k: getattr(args, k) for k in _CONTEXT_KEYS if getattr(args, k, None) is not None}
    quiet = bool(args.quiet)
    with client_factory(args) as client:
        summary = scrub_file(
            client,
            args.input,
            args.output,
            column=args.column,
            input_format=args.input_format,
            output_format=args.output_format,
            delimiter=args.delimiter,
            header=not args.no_header,
            encoding=args.encoding,
            split=args.split,
            report=args.report,
            chunk_rows=args.chunk_rows,
            progress=None if quiet else sys.stderr,
            at=at,
            country=getattr(args, "country", None),
            **context,
        )
    if not quiet:
        out.print(summary.render(), highlight=False)
    return 0
