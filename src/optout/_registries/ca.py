"""Canada's National Do Not Call List (DNCL, CRTC), from the download subscription files.

Formats (reference section 4; one zip holding one file per area code or one national
file, or the files themselves):

- **CSV**: ``NPA,NNNNNNN`` per line, LF line ends (documented). CRLF, bare CR, mixed line
  ends, a UTF-8 BOM, blank lines, a header without digits and ``NPANNNNNNN`` are
  tolerated; this path is vectorized and shared with the US backend.
- **CSV with a registration date**: NOT CONFIRMED (the documented layout has no date). When
  the first data lines have a third field, the file is read line by line and a date field
  (``YYYY-MM-DD``, ``YYYYMMDD``, ``YYYY/MM/DD``, ``MM/DD/YYYY``; a time after it ignored)
  becomes the registration day, which feeds ``registered_at`` (the 31-day rule). A number
  whose date is missing or unreadable is kept as registered on 1970-01-01 (long
  registered: the fail-closed reading).
- **XML**: documented as ``<list type='full' level='all' val=''>`` (or ``level='ac'
  val='416'``) with ``<ac val='416'><ph val='1234567' /></ac>``. The exact element names,
  any date attribute and a change-list form are NOT CONFIRMED: :data:`CA_XML` reads the
  documented shape plus a ``date`` attribute; pass another layout to ``ca_dncl(xml=...)``.

Invalid NANP numbers are counted as rejected. Incremental (delta) downloads are NOT
CONFIRMED; XML records with an ``action`` of ``D``/``delete`` are read as deletions.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator
from typing import IO

import numpy as np

from optout._registries._base import RegistryOptions
from optout._registries._kinds import ParsedChunk, SnapshotRegistry
from optout._registries.us import (
    BLOCK,
    CHUNK,
    MAX_SAMPLES,
    XmlLayout,
    line_blocks,
    nanp_flat_chunks,
    nanp_key,
    open_members,
    parse_day,
    start_of,
    xml_chunks,
)

__all__ = ["CA_XML", "DnclCodec", "ca_dncl"]

#: The documented DNCL XML layout, plus guessed date and action attributes.
CA_XML = XmlLayout(
    record=("ph", "phone", "number"),
    number=("val", "value", "number", "phone"),
    area=("ac", "npa", "areacode"),
    group=("ac", "list", "npa", "areacode"),
    group_attr=("val", "value", "npa"),
    date=("date", "regdate", "registrationdate", "registered", "dt"),
    action=("action", "change", "flag"),
)

_SPLIT = re.compile(r"[,;\t|]")


def _dated(head: bytes) -> bool:
    """Whether the first data lines carry more than the number (a registration date)."""
    lines = head.replace(b"\r", b"\n").split(b"\n")[:20]
    data = [ln for ln in lines[:-1] or lines if any(48 <= c <= 57 for c in ln)]
    if not data:
        return False
    rows = [_SPLIT.split(ln.decode("ascii", "replace")) for ln in data]
    return all(
        len(row) >= 3 or any(not f.strip().strip("\"'").isdigit() for f in row) for row in rows
    )


def _dated_line(fields: list[str], cache: dict[str, int | None]) -> tuple[int | None, int]:
    """``(key, day)`` of a dated CSV record (day 0 when it has no readable date)."""
    key: int | None = None
    day: int | None = None
    rest: list[str] = []
    i = 0
    while i < len(fields):
        field = fields[i].strip().strip("\"'")
        if key is None and field.isdigit() and len(field) == 3 and i + 1 < len(fields):
            key = nanp_key(field, fields[i + 1].strip().strip("\"'"))
            i += 2
            continue
        if key is None and field.isdigit() and len(field) in (10, 11):
            key = nanp_key("", field)
        else:
            rest.append(field)
        i += 1
    for field in rest:
        day = parse_day(field, cache)
        if day is not None:
            break
    return key, day or 0


def _dated_chunks(name: str, head: bytes, stream: IO[bytes], size: int) -> Iterator[ParsedChunk]:
    keys: list[int] = []
    days: list[int] = []
    rejected = 0
    samples: list[tuple[int, str]] = []
    cache: dict[str, int | None] = {}
    for block, line0 in line_blocks(name, head, stream, size):
        for offset, line in enumerate(block.decode("ascii", "replace").split("\n")[:-1]):
            if not line.strip():
                continue
            key, day = _dated_line(_SPLIT.split(line), cache)
            if key is None:
                if line0 + offset == 1 and not any(c.isdigit() for c in line):
                    continue  # a header
                rejected += 1
                if len(samples) < MAX_SAMPLES:
                    samples.append((line0 + offset, f"{name}: no valid NANP number: {line[:40]!r}"))
                continue
            keys.append(key)
            days.append(day)
        if len(keys) >= CHUNK:
            yield _chunk(keys, days, rejected, samples)
            keys, days, rejected, samples = [], [], 0, []
    yield _chunk(keys, days, rejected, samples)


def _chunk(
    keys: list[int], days: list[int], rejected: int, samples: list[tuple[int, str]]
) -> ParsedChunk:
    return ParsedChunk(
        keys=np.array(keys, dtype=np.uint64),
        days=np.array(days, dtype=np.uint32),
        rejected=rejected,
        samples=tuple(samples),
    )


class DnclCodec:
    """Reads the DNCL download files (CSV, dated CSV, XML), plain or zipped.

    Args:
        xml: the XML layout (default :data:`CA_XML`).
        block_size: bytes per block on the CSV paths.
    """

    def __init__(self, *, xml: XmlLayout = CA_XML, block_size: int = BLOCK) -> None:
        self.xml = xml
        self.block_size = block_size

    def read(self, path: pathlib.Path) -> Iterator[ParsedChunk]:
        for name, stream in open_members(path):
            head = start_of(name, stream)
            if head.lstrip().startswith(b"<"):
                yield from xml_chunks(name, head, stream, self.xml, nanp_key)
            elif _dated(head):
                yield from _dated_chunks(name, head, stream, self.block_size)
            else:
                yield from nanp_flat_chunks(name, head, stream, self.block_size)


def ca_dncl(
    *,
    options: RegistryOptions | None = None,
    max_rejected: float = 0.01,
    xml: XmlLayout = CA_XML,
) -> SnapshotRegistry:
    """Canada's National Do Not Call List, from the DNCL download subscription files."""
    return SnapshotRegistry(
        "ca_dncl", DnclCodec(xml=xml), options=options, max_rejected=max_rejected
    )
