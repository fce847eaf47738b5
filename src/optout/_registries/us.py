"""The US National Do Not Call Registry (FTC), from its full-list and change-list files.

Formats read (every file may be plain or a zip holding one or several members; the kind of
each member is detected from its first bytes, so one codec reads them all):

- **Full list, flat text**, one number per line, in both documented variants (the
  reference records a conflict between the FTC's archived description and a current
  third-party one, so both are accepted, even mixed): ``NPANXXXXXX`` and ``NPA,NXXXXXX``.
  LF, CRLF, bare CR and mixed line endings are tolerated, as are a UTF-8 BOM, blank
  lines, a header line without digits and an 11-digit ``1NPANXXXXXX`` form. This path is
  vectorized (numpy over blocks of tens of MB): a 250-million-line list parses in well
  under a minute.
- **Full list, XML**: the FTC's "XML tagged file" layout is NOT CONFIRMED (the reference
  has no sample). :data:`US_XML` is a best guess that reads the common shapes
  (``<Record><AreaCode>202</AreaCode><PhoneNumber>5550123</PhoneNumber></Record>``,
  ``<PhoneNumber>2025550123</PhoneNumber>``, ``<ac val="202"><ph val="5550123"/></ac>``);
  pass another :class:`XmlLayout` to ``us_dnc(xml=...)`` when the real tag names differ.
- **Change lists**: the record layout is NOT CONFIRMED (the FTC only says "comma-delimited
  text ... several data items per record"; likely an add/delete flag, a date and the
  number). Lines are read as comma/semicolon/tab/pipe separated fields; the number is one
  10-digit field (or ``NPA`` then ``NXXXXXX``), the flag is a field such as ``A``/``D``,
  ``ADD``/``DELETE``, anywhere on the line; other fields (dates) are ignored. So
  ``2025550123,A``, ``202,5550123,D``, ``A,202,5550123`` and ``D,20250101,2025550123``
  all work. A member is a change list when one of its first lines carries such a flag.
  XML change lists use :attr:`XmlLayout.action`.

Invalid lines (not 10 digits, or an area code or exchange starting with 0 or 1, which no
NANP number does) are counted as rejected, with line numbers for the first few. A number
listed twice is not an error; duplicates collapse in the index.

The NANP machinery here is shared with the Canadian DNCL backend (:mod:`.ca`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import IO
from xml.etree import ElementTree as ET

import numpy as np
import numpy.typing as npt

from optout._errors import RegistryFormatError
from optout._registries._base import RegistryOptions
from optout._registries._kinds import ParsedChunk, SnapshotRegistry
from optout._registries._snapshot import EPOCH
from optout._registries._zip import ZIP_ERRORS, is_member_dir

__all__ = ["US_XML", "UsDncCodec", "XmlLayout", "us_dnc"]

#: Bytes read per block from a flat file.
BLOCK = 32 << 20
#: Keys per chunk on the slower (per-line or XML) paths.
CHUNK = 1_000_000
MAX_SAMPLES = 5
MAX_LINE = 1 << 20
NANP = 10_000_000_000  # the "1" country code in front of the ten digits

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


# -- files and blocks -------------------------------------------------------------------------


def open_members(path: pathlib.Path) -> Iterator[tuple[str, IO[bytes]]]:
    """The binary members of a file: itself, or every non-directory member of a zip."""
    with path.open("rb") as probe:
        magic = probe.read(4)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                infos = [i for i in archive.infolist() if not is_member_dir(i)]
                if not infos:
                    raise RegistryFormatError("the zip is empty", path=str(path))
                for info in infos:
                    with archive.open(info) as member:
                        yield f"{path.name}:{info.filename}", member
        except ZIP_ERRORS as exc:
            raise RegistryFormatError(f"corrupt zip: {exc}", path=str(path)) from None
        return
    if magic == b"PK\x03\x04":
        raise RegistryFormatError("corrupt zip: no central directory", path=str(path))
    with path.open("rb") as handle:
        yield path.name, handle


def read_some(name: str, stream: IO[bytes], size: int) -> bytes:
    """``stream.read(size)``, with a damaged zip member reported as a format error."""
    try:
        return stream.read(size)
    except ZIP_ERRORS as exc:
        raise RegistryFormatError(f"corrupt zip member: {exc}", path=name) from None


def start_of(name: str, stream: IO[bytes]) -> bytes:
    """The first bytes of a member, a UTF-8 BOM removed; UTF-16 text is refused."""
    head = read_some(name, stream, 1 << 16)
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    if head.startswith(_UTF16_BOMS) or head[:64].count(b"\x00") > 8:
        raise RegistryFormatError("not ASCII/UTF-8 text (UTF-16?)", path=name)
    return head


def line_blocks(
    name: str, head: bytes, stream: IO[bytes], size: int = BLOCK
) -> Iterator[tuple[bytes, int]]:
    """Whole lines in blocks of about ``size`` bytes, as ``(block, first line number)``.

    Every block ends with ``\\n``; CRLF and bare CR line ends are turned into LF (so line
    numbers stay right); a partial line at a block's end is carried into the next one.
    """
    carry = head
    line = 1
    eof = False
    while not eof:
        more = read_some(name, stream, size)
        eof = not more
        data = carry + more
        if not eof and data.endswith(b"\r"):  # a CRLF may straddle the boundary
            data, carry = data[:-1], b"\r"
        else:
            carry = b""
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
            if b"\r" in data:
                data = data.replace(b"\r", b"\n")
        cut = len(data) if eof else data.rfind(b"\n") + 1
        block, carry = data[:cut], data[cut:] + carry
        if len(carry) > MAX_LINE:
            raise RegistryFormatError(
                f"a line longer than {MAX_LINE} bytes: not a list of numbers", path=name, line=line
            )
        if not block:
            continue
        if not block.endswith(b"\n"):
            block += b"\n"
        yield block, line
        line += block.count(b"\n")


def digit_lines(buf: bytes, widths: tuple[int, ...]) -> tuple[U64, I64, Bools]:
    """Per line of ``buf`` (each ending with ``\\n``): its value, length and whether it is
    all digits with a length in ``widths``. Vectorized; uniform blocks take a fast path."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    for w in widths:
        if len(arr) % (w + 1) == 0:
            rows = arr.reshape(-1, w + 1)
            if bool((rows[:, w] == 10).all()):
                value, ok = _digits_value(rows[:, :w])
                return value, np.full(len(rows), w, dtype=np.int64), ok
    ends = np.flatnonzero(arr == 10)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = (ends - starts).astype(np.int64)
    values = np.zeros(len(ends), dtype=np.uint64)
    ok = np.zeros(len(ends), dtype=bool)
    for w in widths:
        selected = np.flatnonzero(lengths == w)
        for at in range(0, len(selected), 500_000):
            part = selected[at : at + 500_000]
            idx = starts[part][:, None] + np.arange(w)
            values[part], ok[part] = _digits_value(arr[idx])
    return values, lengths, ok


def _digits_value(chars: npt.NDArray[np.uint8]) -> tuple[U64, Bools]:
    digits = chars - np.uint8(48)  # anything below '0' wraps above 9
    ok: Bools = np.asarray((digits <= 9).all(axis=1))
    value = digits[:, 0].astype(np.uint64)
    for i in range(1, digits.shape[1]):
        value *= np.uint64(10)
        value += digits[:, i]
    return value, ok


def line_texts(buf: bytes, lines: npt.NDArray[np.intp]) -> list[str]:
    """The text of some lines (0-based) of ``buf``, shortened, for error samples."""
    if not len(lines):
        return []
    ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
    out = []
    for i in lines:
        start = 0 if i == 0 else int(ends[i - 1]) + 1
        out.append(buf[start : int(ends[i])][:40].decode("ascii", "replace"))
    return out


def has_header(block: bytes) -> bool:
    """Whether the first line of a member is a header (no digit in it)."""
    first = block[: block.find(b"\n")]
    return bool(first.strip()) and not any(48 <= c <= 57 for c in first)


# -- NANP -------------------------------------------------------------------------------------

_FLAT_JUNK = b", \t-;|\"'"


def nanp_flat_chunks(
    name: str, head: bytes, stream: IO[bytes], size: int = BLOCK
) -> Iterator[ParsedChunk]:
    """A flat NANP list (``NPANXXXXXX`` or ``NPA,NXXXXXX`` per line), vectorized."""
    first = True
    for block, line0 in line_blocks(name, head, stream, size):
        skip = first and has_header(block)
        first = False
        clean = block.translate(None, _FLAT_JUNK)
        values, lengths, ok = digit_lines(clean, (10, 11))
        if skip:
            lengths[0] = 0
        eleven = lengths == 11
        if eleven.any():
            ok &= ~eleven | (values // np.uint64(NANP) == 1)
            values = np.where(eleven, values - np.uint64(NANP), values)
        ok &= (values // np.uint64(10_000_000) >= 200) & (
            values // np.uint64(10_000) % np.uint64(1000) >= 200
        )
        bad = np.flatnonzero(~ok & (lengths > 0))
        shown = bad[:MAX_SAMPLES]
        samples = tuple(
            (line0 + int(i), f"{name}: not a valid 10-digit US/NANP number: {text!r}")
            for i, text in zip(shown, line_texts(block, shown), strict=True)
        )
        keys = values[ok] if not bool(ok.all()) else values
        keys += np.uint64(NANP)
        yield ParsedChunk(keys=keys, rejected=len(bad), samples=samples)


def nanp_key(npa: str, local: str) -> int | None:
    """The key of an NPA and a 7-digit local number (or a 10/11-digit number in ``local``)."""
    digits = npa + local
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or not digits.isdigit() or digits[0] < "2" or digits[3] < "2":
        return None
    return NANP + int(digits)


_ADD = frozenset({"a", "add", "added", "addition", "i", "ins", "insert", "n", "new"})
_DELETE = frozenset({"d", "del", "delete", "deleted", "deletion", "r", "remove", "removed"})
_FIELDS = re.compile(r"[,;\t|]")
_FLAG_LINE = re.compile(
    rb"(?:^|[,;\t|])\s*\"?(?:[AaDdIiRrNn]|add|delete|del)\"?\s*(?:[,;\t|]|$)", re.I
)


def looks_like_changes(head: bytes) -> bool:
    """Whether one of the first lines carries an add/delete flag field."""
    lines = [ln for ln in head.replace(b"\r", b"\n").split(b"\n")[:50] if ln.strip()]
    return any(_FLAG_LINE.search(ln) for ln in lines[:-1] or lines)


def change_record(fields: list[str]) -> tuple[int | None, bool | None]:
    """``(key, is_addition)`` from a change-list record's fields; ``None`` when unusable."""
    flag: bool | None = None
    numbers: list[str] = []
    for raw in fields:
        field = raw.strip().strip("\"'").strip()
        low = field.lower()
        if low in _ADD:
            flag = True
        elif low in _DELETE:
            flag = False
        elif field.isdigit():
            numbers.append(field)
    key = None
    for i, num in enumerate(numbers):
        if len(num) in (10, 11):
            key = nanp_key("", num)
        elif len(num) == 3 and i + 1 < len(numbers) and len(numbers[i + 1]) == 7:
            key = nanp_key(num, numbers[i + 1])
        if key is not None:
            break
    return key, flag


def change_chunks(
    name: str, head: bytes, stream: IO[bytes], size: int = BLOCK
) -> Iterator[ParsedChunk]:
    """A flat change list: additions in ``keys``, deletions in ``deletes``."""
    adds: list[int] = []
    dels: list[int] = []
    rejected = 0
    samples: list[tuple[int, str]] = []
    for block, line0 in line_blocks(name, head, stream, size):
        text = block.decode("ascii", "replace")
        for offset, line in enumerate(text.split("\n")[:-1]):
            if not line.strip():
                continue
            key, flag = change_record(_FIELDS.split(line))
            if key is None or flag is None:
                if line0 + offset == 1 and not any(c.isdigit() for c in line):
                    continue  # a header
                rejected += 1
                if len(samples) < MAX_SAMPLES:
                    why = "no add/delete flag" if key is not None else "no valid NANP number"
                    samples.append((line0 + offset, f"{name}: {why}: {line[:40]!r}"))
                continue
            (adds if flag else dels).append(key)
        if len(adds) + len(dels) >= CHUNK:
            yield _change_chunk(adds, dels, rejected, samples)
            adds, dels, rejected, samples = [], [], 0, []
    yield _change_chunk(adds, dels, rejected, samples)


def _change_chunk(
    adds: list[int], dels: list[int], rejected: int, samples: list[tuple[int, str]]
) -> ParsedChunk:
    return ParsedChunk(
        keys=np.array(adds, dtype=np.uint64),
        deletes=np.array(dels, dtype=np.uint64),
        rejected=rejected,
        samples=tuple(samples),
    )


# -- dates ------------------------------------------------------------------------------------

_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%m-%d-%Y")


def parse_day(text: str, cache: dict[str, int | None] | None = None) -> int | None:
    """Days since 1970 of a date (ISO, ``YYYYMMDD``, ``YYYY/MM/DD``, ``MM/DD/YYYY``; a time
    after the date is ignored), or ``None``."""
    if cache is not None and text in cache:
        return cache[text]
    raw = text.strip().strip("\"'")
    day: int | None = None
    for part in (raw, raw[:10], raw.split("T")[0].split(" ")[0]):
        for fmt in _DATE_FORMATS:
            try:
                day = (dt.datetime.strptime(part, fmt).date() - EPOCH).days
            except ValueError:
                continue
            break
        if day is not None:
            break
    if day is not None and day < 0:
        day = None
    if cache is not None:
        cache[text] = day
    return day


# -- XML --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class XmlLayout:
    """Where the numbers are in an XML registry file (tag and attribute names, matched
    without namespace and case).

    Attributes:
        record: elements holding one number (the outermost match is the record).
        number: attributes or child elements of a record holding the number (10 digits,
            or the 7-digit local number when an area code is given apart); without one,
            the record's own text.
        area: attributes or child elements of a record holding the area code.
        group: enclosing elements that give the area code of the records inside them...
        group_attr: ...in one of these attributes (``<ac val="416">``).
        date: attributes or child elements holding the registration date.
        action: attributes or child elements holding an add/delete flag (change lists).
    """

    record: tuple[str, ...]
    number: tuple[str, ...]
    area: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    group_attr: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    action: tuple[str, ...] = ()


#: The guessed FTC layout (NOT CONFIRMED; see the module docstring).
US_XML = XmlLayout(
    record=("record", "dncrecord", "entry", "row", "ph", "phone", "phonenumber", "tn"),
    number=("phonenumber", "phone", "number", "telephonenumber", "tn", "ph", "val", "value"),
    area=("areacode", "npa", "ac"),
    group=("areacode", "ac", "npa"),
    group_attr=("val", "value", "code", "npa", "id"),
    date=("date", "registrationdate", "registered", "regdate", "dateadded"),
    action=("action", "type", "flag", "changetype", "change", "status"),
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def xml_chunks(
    name: str,
    head: bytes,
    stream: IO[bytes],
    layout: XmlLayout,
    key_of: Callable[[str, str], int | None],
) -> Iterator[ParsedChunk]:
    """Stream an XML registry file (``XMLPullParser``, the engine behind ``iterparse``).

    Memory stays flat: each record is cleared and detached once read. ``samples`` give the
    record's ordinal, not a line number."""
    reader = _XmlReader(name, layout, key_of)
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    data = head
    while True:
        try:
            parser.feed(data)
            for item in parser.read_events():
                event, elem = item[0], item[1] if len(item) == 2 else None
                if isinstance(elem, ET.Element):
                    reader.event(event, elem)
        except ET.ParseError as exc:
            raise RegistryFormatError(f"not well-formed XML: {exc}", path=name) from None
        if len(reader.adds) + len(reader.dels) >= CHUNK:
            yield reader.chunk()
        if not data:
            break
        data = read_some(name, stream, 1 << 20)
    try:
        parser.close()
    except ET.ParseError as exc:
        raise RegistryFormatError(f"not well-formed XML: {exc}", path=name) from None
    yield reader.chunk()


class _XmlReader:
    def __init__(
        self, name: str, layout: XmlLayout, key_of: Callable[[str, str], int | None]
    ) -> None:
        self.name = name
        self.layout = layout
        self.key_of = key_of
        self.record = frozenset(t.lower() for t in layout.record)
        self.group = frozenset(t.lower() for t in layout.group)
        self.stack: list[ET.Element] = []
        self.areas: list[str | None] = []
        self.current: ET.Element | None = None
        self.adds: list[int] = []
        self.days: list[int] = []
        self.dels: list[int] = []
        self.dated = bool(layout.date)
        self.day_cache: dict[str, int | None] = {}
        self.seen = 0
        self.rejected = 0
        self.samples: list[tuple[int, str]] = []

    def event(self, event: str, elem: ET.Element) -> None:
        tag = _local(elem.tag)
        if event == "start":
            self.stack.append(elem)
            area = None
            if self.current is None and tag in self.group:
                attrs = {k.lower(): v for k, v in elem.attrib.items()}
                area = next((attrs[a] for a in self.layout.group_attr if attrs.get(a)), None)
            self.areas.append(area)
            if self.current is None and tag in self.record:
                self.current = elem
            return
        self.stack.pop()
        self.areas.pop()
        if elem is self.current:
            self.current = None
            self.take(elem)
        if self.current is None:
            elem.clear()
            if self.stack and len(self.stack[-1]) and self.stack[-1][-1] is elem:
                del self.stack[-1][-1]

    def take(self, elem: ET.Element) -> None:
        layout = self.layout
        self.seen += 1
        fields = {k.lower(): v for k, v in elem.attrib.items()}
        for child in elem:
            fields.setdefault(_local(child.tag), (child.text or "").strip())
        number = next((fields[n] for n in layout.number if fields.get(n)), None)
        if number is None:
            number = (elem.text or "").strip()
        area = next((fields[a] for a in layout.area if fields.get(a)), None)
        if area is None:
            area = next((a for a in reversed(self.areas) if a), "")
        key = self.key_of(re.sub(r"\D", "", area), re.sub(r"\D", "", number))
        action = next((fields[a] for a in layout.action if fields.get(a)), None)
        addition = True
        if action is not None:
            low = action.strip().lower()
            addition = low not in _DELETE
            if low not in _ADD and low not in _DELETE and low not in ("full", "active"):
                key = None
        if key is None:
            self.rejected += 1
            if len(self.samples) < MAX_SAMPLES:
                shown = ET.tostring(elem, encoding="unicode")[:60]
                self.samples.append(
                    (self.seen, f"{self.name}: record {self.seen}: no valid number: {shown}")
                )
        elif not addition:
            self.dels.append(key)
        else:
            self.adds.append(key)
            if self.dated:
                raw = next((fields[d] for d in layout.date if fields.get(d)), None)
                day = None if raw is None else parse_day(raw, self.day_cache)
                if day is None:
                    self.dated = False
                else:
                    self.days.append(day)

    def chunk(self) -> ParsedChunk:
        out = _xml_chunk(
            self.adds, self.days if self.dated else None, self.dels, self.rejected, self.samples
        )
        self.adds, self.days, self.dels, self.rejected, self.samples = [], [], [], 0, []
        return out


def _xml_chunk(
    adds: list[int],
    days: list[int] | None,
    dels: list[int],
    rejected: int,
    samples: list[tuple[int, str]],
) -> ParsedChunk:
    return ParsedChunk(
        keys=np.array(adds, dtype=np.uint64),
        days=None if days is None else np.array(days, dtype=np.uint32),
        deletes=np.array(dels, dtype=np.uint64) if dels else None,
        rejected=rejected,
        samples=tuple(samples),
    )


# -- the codec --------------------------------------------------------------------------------


class UsDncCodec:
    """Reads the FTC's full-list (flat or XML) and change-list files, plain or zipped.

    Args:
        xml: the XML layout (default :data:`US_XML`, a guess).
        block_size: bytes per block on the flat path (memory use is a few times this).
    """

    def __init__(self, *, xml: XmlLayout = US_XML, block_size: int = BLOCK) -> None:
        self.xml = xml
        self.block_size = block_size

    def read(self, path: pathlib.Path) -> Iterator[ParsedChunk]:
        for name, stream in open_members(path):
            head = start_of(name, stream)
            if head.lstrip().startswith(b"<"):
                yield from xml_chunks(name, head, stream, self.xml, nanp_key)
            elif looks_like_changes(head):
                yield from change_chunks(name, head, stream, self.block_size)
            else:
                yield from nanp_flat_chunks(name, head, stream, self.block_size)


def us_dnc(
    *,
    options: RegistryOptions | None = None,
    max_rejected: float = 0.01,
    xml: XmlLayout = US_XML,
) -> SnapshotRegistry:
    """The US National Do Not Call Registry, from the FTC's downloaded files.

    Import full lists with ``import_files`` and change lists with ``apply_changes``; the
    files may be zipped. See the module docstring for the formats (the XML and change-list
    layouts are documented guesses).
    """
    return SnapshotRegistry(
        "us_dnc", UsDncCodec(xml=xml), options=options, max_rejected=max_rejected
    )
