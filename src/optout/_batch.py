"""Batch decisions: ``can_call()``'s pipeline over columns instead of rows.

The answer for every row equals ``client.can_call(numbers[i], at=at, ...)`` (allowed, reason
codes in order, number, ``next_allowed_at``, and :meth:`BatchDecisions.decision` gives the
whole :class:`optout.Decision`). Per-row work is vectorized (numpy and pyarrow); Python
runs once per distinct *situation*, not per row:

1. **Normalize.** Well-formed inputs (ASCII digits, one leading ``+``, spaces, dashes,
   dots, parentheses, at most :data:`~optout._numbers.MAX_INPUT_LENGTH` characters), and
   labels around one (``tel: +1 ...``, ``... (mobile)``, ``... ext. 12``), are reduced to
   the digits libphonenumber would read (and an extension) and decided by the vectorized
   normalizer (:mod:`optout._fastnum`: libphonenumber's own metadata, as exact prefix
   tables and RE2 patterns), valid or not. Everything else goes through libphonenumber's
   ``parse`` once per distinct text (in the run's process pool when a chunk has many and
   ``workers`` allows), and the E.164 forms it gives back through the vectorized path; a
   key the vectorized path defers goes through :func:`optout.normalize` itself. A valid
   number becomes a 64-bit key: its E.164 digits.
2. **Locate.** Numbers that :func:`optout._location.locate` cannot tell apart (same region,
   time zones, and area-code state or Brazilian DDD) share one ``locate`` call.
3. **Look up facts in bulk.** The numbers that have any suppression entry, consent,
   registration or recent attempt are found with sorted, vectorized look-ups against sets
   read once per run (and read again when the database changes between chunks); for a
   number whose only entries are global, lasting number suppressions, their count is
   enough. Registry answers come from each backend's vectorized ``fact_codes`` (snapshot
   indexes, consultations), or from ``facts`` for backends that only have that.
4. **Decide per group.** A number with none of those stored facts is decided by its
   location, its line type, its registry answers and its count of lasting suppressions;
   rows that agree on all of them share one rule evaluation, cached for the whole run (a
   registration date whose grace period is over counts as any other such date), and an
   extension adds its reason in front. Numbers with other stored facts are decided one by
   one from facts read for them alone.

The decision itself is assembled by :func:`optout._core.assemble`, the same function
``can_call()`` ends in.

The run state (:class:`BatchRun`) is shared by the chunks of one scrub and is safe to use
from several threads at once (the vectorized steps release the GIL).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import functools
import logging
import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from optout._client import _optional_text, _optional_texts, call_context
from optout._consents import Consent, registration_pairs
from optout._consents import _row as _consent_row
from optout._core import (
    CallFacts,
    assemble,
    backend_failed,
    fixed_reasons,
    invalid_decision,
    no_backend,
    outcome_of,
)
from optout._core import registry_token as _registry_token
from optout._db import translate_errors
from optout._decision import Decision
from optout._errors import InvalidNumberError
from optout._facts import Needs, needs_of
from optout._fastnum import (
    FastBatch,
    distinct,
    e164_strings,
    filled,
    key_digits,
    key_flags,
    key_prefix,
    merge_sorted,
    normalize_keys,
    plain_nanp,
    text_bytes,
)
from optout._ledger_schema import change_log as _log_table
from optout._location import Location, locate, nanp_states
from optout._numbers import (
    _TYPE_MAP,
    MAX_INPUT_LENGTH,
    PhoneNumber,
    _parse_message,
    normalize,
    normalize_region,
)
from optout._privacy import HASH_PREFIX, Privacy
from optout._registries._base import codes_of
from optout._rules._decide import RuleCall
from optout._rules._engine import AttemptFact, BoundRule, RegistryFact
from optout._rules._model import CapRule, CooldownRule, RegistryRule
from optout._schema import attempts as _a
from optout._schema import consents as _c
from optout._schema import registrations as _r
from optout._schema import suppressions as _s
from optout._suppressions import Suppression, _row_to_entry, prefix_candidates
from optout._timeutil import instant
from optout._vocab import Channel, NumberType, Outcome, Purpose, Technology, coerce

if TYPE_CHECKING:
    from optout._client import Compliance
    from optout._rules._book import RuleBook

__all__ = ["BatchDecisions", "BatchRun", "decide_many"]

_log = logging.getLogger("optout")

#: A raw string that is only formatting around digits; its digits parse the same.
_WELL_FORMED = r"^[ \t\r\n]*\+?[0-9 ().\-]*[0-9][0-9 ().\-]*[ \t\r\n]*$"
#: A well-formed number with three digits or more: libphonenumber finds it viable
#: (``_is_viable_phone_number``), so it reads the text as it reads the digits alone.
_NUMBER = r"\+?[ ().\-]*(?:[0-9][ ().\-]*){3,}"
#: What libphonenumber keeps of a text (``_extract_possible_number``), when that is such a
#: number followed by a label of letters, digits and the same formatting, ending in a
#: letter (``202-555-0123 (mobile``): viable, and without an extension (every form of one
#: ends in a digit or ``#``). Its letters count as keypad digits when there are three or
#: more of them (``_normalize``), and are dropped otherwise.
_LETTERED = rf"^{_NUMBER}[A-Za-z](?:[ ().\-0-9A-Za-z]*[A-Za-z])?$"
#: Such a number followed by an extension written with an explicit label (``ext. 12``,
#: ``, extension: 7``; the ASCII forms of libphonenumber's ``e?xt(?:ensio)?n?``, any case,
#: and what it allows around them). Nothing before the label can start an extension, so
#: libphonenumber cuts the text where this pattern does.
_EXTENDED = (
    rf"^(?P<number>{_NUMBER})[ \t,]*(?i:e?xt(?:ensio)?n?)[:.]?[ \t,\-]*"
    r"(?P<extension>[0-9]{1,20})$"
)
#: Whether a byte is an ASCII digit.
_ASCII_DIGIT = np.zeros(256, dtype=bool)
_ASCII_DIGIT[ord("0") : ord("9") + 1] = True
#: Bytes kept by :func:`_digits`: ASCII digits and ``+`` (as themselves).
_KEEP = np.full(256, -1, dtype=np.int16)
_KEEP[[ord(c) for c in "0123456789+"]] = [ord(c) for c in "0123456789+"]
#: The same, with ASCII letters as their keypad digits (E.161, as libphonenumber maps them).
_KEEP_KEYPAD = _KEEP.copy()
for _letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _digit = ord(phonenumbers.convert_alpha_characters_in_number(_letter))
    _KEEP_KEYPAD[[ord(_letter), ord(_letter.lower())]] = _digit


def _byte_class(chars: str) -> npt.NDArray[np.bool_]:
    table = np.zeros(256, dtype=bool)
    table[[ord(c) for c in chars]] = True
    return table


#: Bytes that leave a text to libphonenumber's parse in :func:`_labelled`: non-ASCII ones
#: and those that can end the part it reads (``;``, ``/``, ``\``).
_UNUSABLE = _byte_class(";/\\")
_UNUSABLE[128:] = True
#: Where the part libphonenumber reads starts (``+`` or a digit) and ends (a letter, a
#: digit or ``#``).
_STARTS = _byte_class("+0123456789")
_ENDS = _byte_class("#0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_LETTER = _byte_class("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
#: ``normalize``'s message for a number that parses but is not valid.
_NOT_VALID = "not a valid phone number in its numbering plan"
#: Distinct texts a chunk must send to libphonenumber for the run's process pool to be used
#: (when ``workers`` allows); fewer are parsed in the deciding thread.
PARALLEL_MIN = 2_000
_CHUNK_MIN = 1_000
#: Bind parameters per ``IN (...)`` query (SQLite allows 32766, PostgreSQL 65535).
_IN_CHUNK = 5_000

_IntArray = npt.NDArray[np.int64]
_Keys = npt.NDArray[np.uint64]
_Bools = npt.NDArray[np.bool_]

#: Line types by code (a row's ``kind``), and libphonenumber's type codes mapped to them.
_KINDS: tuple[NumberType, ...] = tuple(NumberType)
_KIND_OF: dict[NumberType, int] = {k: i for i, k in enumerate(_KINDS)}
_PN_KIND = np.full(128, _KIND_OF[NumberType.UNKNOWN], dtype=np.int64)
for _pn, _kind in _TYPE_MAP.items():
    _PN_KIND[int(_pn)] = _KIND_OF[_kind]
#: Line types the geocoder treats as geographic for +1 numbers (``_location._from_number``).
_NANP_GEO = np.array(
    [_KIND_OF[NumberType.FIXED_LINE], _KIND_OF[NumberType.FIXED_LINE_OR_MOBILE]], dtype=np.int64
)
#: A stand-in registration date for answers whose grace period is long over (see _Canon).
_LONG_AGO = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# Row states.
_VALID = 0  # a number decided by its group (or as a special unit)
_SPECIAL = 1  # a number decided on its own (no integer key: too long)
_INVALID = 2  # not a usable number: number.invalid

T = TypeVar("T")


class _Interner(Generic[T]):
    """Values numbered in order of first sight."""

    def __init__(self) -> None:
        self.values: list[T] = []
        self._index: dict[T, int] = {}

    def id(self, value: T) -> int:
        found = self._index.get(value)
        if found is None:
            found = self._index[value] = len(self.values)
            self.values.append(value)
        return found


# -- normalization --------------------------------------------------------------------------

# A parsed text: an error message, or (e164, country code, region, type, zones, extension).
_Parsed = str | tuple[str, int, str | None, str, tuple[str, ...], str | None]


def _parse(texts: Sequence[str], region: str | None) -> list[_Parsed]:
    """``normalize`` each text (the reference path; plain tuples out)."""
    out: list[_Parsed] = []
    for text in texts:
        try:
            p = normalize(text, region)
        except InvalidNumberError as exc:
            out.append(str(exc))
            continue
        out.append(
            (
                p.e164,
                p.country_code,
                p.region,
                p.number_type.value,
                tuple(sorted(p.time_zones)),
                p.extension,
            )
        )
    return out


# The first half of a parse: an error message, or (E.164 form, extension).
_Read = str | tuple[str, str | None]


def _read(texts: Sequence[str], region: str | None) -> list[_Read]:
    """libphonenumber's ``parse`` of each text, with ``normalize``'s checks and messages
    (runs in worker processes too). Validity, line type, zones and region come after, from
    the vectorized normalizer on the E.164 forms: ``parse(format_e164(n))`` gives ``n``
    back, so they are the same as ``normalize`` would find."""
    out: list[_Read] = []
    for raw in texts:
        text = raw.strip()
        if not text or len(text) > MAX_INPUT_LENGTH:
            # normalize refuses these before parsing: take its own message.
            message = _parse([raw], region)[0]
            out.append(message if isinstance(message, str) else "not a phone number")
            continue
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as exc:
            out.append(_parse_message(exc, region))
            continue
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        out.append((e164, parsed.extension or None))
    return out


def _read_all(
    texts: list[str], region: str | None, pool: concurrent.futures.Executor | None, workers: int
) -> list[_Read]:
    """:func:`_read` of many texts, split over ``pool``'s processes when there is one."""
    if pool is None or len(texts) < PARALLEL_MIN:
        return _read(texts, region)
    size = max(_CHUNK_MIN, -(-len(texts) // (2 * workers)))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    parts = pool.map(_read, chunks, [region] * len(chunks))
    return [r for part in parts for r in part]


def _finish_reads(texts: list[str], reads: list[_Read], region: str | None) -> list[_Parsed]:
    """:func:`_read`'s results completed as :func:`_parse` would give them."""
    out: list[_Parsed] = [r if isinstance(r, str) else "" for r in reads]
    rows = [j for j, r in enumerate(reads) if not isinstance(r, str)]
    if not rows:
        return out
    found = [r for r in reads if not isinstance(r, str)]
    fb = normalize_keys(pa.array([e164 for e164, _ in found], pa.string()), None)
    for k, (j, (_, extension)) in enumerate(zip(rows, found, strict=True)):
        if not fb.decided[k]:
            out[j] = _parse([texts[j]], region)[0]  # the reference path decides
        elif not fb.valid[k]:
            out[j] = _NOT_VALID
        else:
            r = int(fb.region_id[k])
            out[j] = (
                f"+{int(fb.key[k])}",
                int(fb.country_code[k]),
                fb.region_names[r] if r >= 0 else None,
                _KINDS[int(_PN_KIND[int(fb.number_type[k])])].value,
                fb.zone_sets[int(fb.zones[k])],
                extension,
            )
    return out


def _as_strings(numbers: Sequence[object] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """The inputs as a pyarrow string array: null where an input is not an encodable str."""
    if isinstance(numbers, pa.ChunkedArray):
        numbers = numbers.combine_chunks() if numbers.num_chunks else pa.array([], numbers.type)
    if isinstance(numbers, pa.Array):  # a string array (decide turns others into lists)
        return numbers if pa.types.is_string(numbers.type) else numbers.cast(pa.string())
    strs: list[str | None] = [x if isinstance(x, str) else None for x in numbers]
    try:
        return pa.array(strs, type=pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        for i, s in enumerate(strs):
            if s is not None:
                try:
                    s.encode("utf-8")
                except UnicodeEncodeError:
                    strs[i] = None
        return pa.array(strs, type=pa.string())


def _viable_digits(texts: pa.Array) -> tuple[_Bools, pa.Array]:
    """Well-formed ``texts`` stripped to their digits: which have three digits or more, and
    the digits of those. Fewer digits with formatting around them may not be viable for
    libphonenumber (``2 5``), which then reads those texts itself."""
    digits = _digits(texts)
    enough = _byte_counts(digits, _ASCII_DIGIT) >= 3  # a well-formed text has one "+" at most
    return enough, digits.filter(pa.array(enough))


def _byte_counts(texts: pa.Array, table: npt.NDArray[np.bool_]) -> _IntArray:
    """How many of each text's bytes ``table`` marks (0 for a null)."""
    offsets, data, valid = text_bytes(texts)
    marked = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum(table[data], out=marked[1:])
    return np.where(valid, marked[offsets[1:]] - marked[offsets[:-1]], 0)


def _trimmed(texts: pa.Array) -> pa.Array:
    """Each (ASCII, not null) text from its first ``+`` or digit to its last letter, digit
    or ``#`` (empty without them): what ``^[^+0-9]+`` and then ``[^#0-9A-Za-z]+$`` leave."""
    offsets, data, _ = text_bytes(texts)
    n = len(offsets) - 1
    row = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    start = np.full(n, -1, dtype=np.int64)
    end = np.full(n, -1, dtype=np.int64)
    for table, out, take_last in ((_STARTS, start, False), (_ENDS, end, True)):
        at = np.flatnonzero(table[data])
        rows = row[at]
        edge = np.ones(len(at), dtype=bool)
        if take_last:
            np.not_equal(rows[1:], rows[:-1], out=edge[:-1])
        else:
            np.not_equal(rows[1:], rows[:-1], out=edge[1:])
        out[rows[edge]] = at[edge] + (1 if take_last else 0)
    length = np.where(start >= 0, np.maximum(end - start, 0), 0)
    # The kept bytes: +1 where a kept part starts, -1 where it ends, summed up.
    kept_rows = np.flatnonzero(length > 0)
    first, stop = start[kept_rows], start[kept_rows] + length[kept_rows]
    marks = np.bincount(first, minlength=len(data) + 1) - np.bincount(stop, minlength=len(data) + 1)
    keep = np.cumsum(marks[:-1]) > 0
    ends = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(length, out=ends[1:])
    return pa.StringArray.from_buffers(n, pa.py_buffer(ends), pa.py_buffer(data[keep]))


def _digits(texts: pa.Array, table: npt.NDArray[np.int16] = _KEEP) -> pa.Array:
    """Each text with only its ASCII digits and ``+`` (and, with :data:`_KEEP_KEYPAD`, its
    letters as keypad digits): one pass over the bytes. Those are single bytes that UTF-8
    never uses inside another character, so the result is valid UTF-8 whatever the input.
    Nulls stay null."""
    n = len(texts)
    if n == 0 or texts.buffers()[2] is None:
        return texts
    offsets, data, _ = text_bytes(texts)
    mapped = table[data]
    keep = mapped >= 0
    ends = np.zeros(len(keep) + 1, dtype=np.int32)
    np.cumsum(keep, out=ends[1:])
    return pa.StringArray.from_buffers(
        n,
        pa.py_buffer(ends[offsets]),
        pa.py_buffer(mapped[keep].astype(np.uint8)),
        pc.is_valid(texts).buffers()[1] if texts.null_count else None,
        texts.null_count,
    )


def _plain(texts: pa.Array) -> _Bools:
    """Which texts are plain keys: one or more ASCII digits, with or without one leading
    ``+``, at most :data:`~optout._numbers.MAX_INPUT_LENGTH` long (from the bytes: each
    row's count of digit bytes, by a cumulative sum)."""
    offsets, data, valid = text_bytes(texts)
    keys, _ = key_flags(offsets, data, valid, _byte_counts(texts, _ASCII_DIGIT))
    return keys & (np.diff(offsets) <= MAX_INPUT_LENGTH)


def _well_formed(raw: pa.Array) -> tuple[_IntArray, pa.Array, pa.Array | None]:
    """The rows libphonenumber reads exactly as it reads their digits (with a leading ``+``)
    alone: same number, same extension, same error. Their digits, and their extensions
    (null for a row without one; ``None`` when no row has one).

    Plain keys (digits, with or without one leading ``+``) are their own digits; other
    texts that are only formatting around three digits or more are stripped to their digits
    (libphonenumber strips exactly those characters); what is left, see :func:`_labelled`.
    """
    plain_mask = _plain(raw)
    plain_rows = np.flatnonzero(plain_mask)
    other = np.flatnonzero(~plain_mask)
    others = raw.take(pa.array(other, type=pa.int64()))
    well_other = np.asarray(
        filled(
            pc.and_(
                pc.less_equal(pc.utf8_length(others), MAX_INPUT_LENGTH),
                pc.match_substring_regex(others, _WELL_FORMED),
            ),
            False,
        ).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    enough, cleaned = _viable_digits(others.filter(pa.array(well_other, type=pa.bool_())))
    well_rows = other[well_other][enough]
    labelled, label_digits, label_extensions = _labelled(others, ~well_other)
    digits = pa.concat_arrays(
        [raw.take(pa.array(plain_rows, type=pa.int64())), cleaned, label_digits]
    )
    rows = np.concatenate([plain_rows, well_rows, other[labelled]])
    extensions = None
    if label_extensions is not None:
        extensions = pa.concat_arrays(
            [pa.nulls(len(plain_rows) + len(well_rows), pa.string()), label_extensions]
        )
    return rows.astype(np.int64), digits, extensions


def _fast_reads(
    raw: pa.Array, region: str | None
) -> list[tuple[_IntArray, FastBatch, pa.Array | None]]:
    """What the vectorized normalizer decides of ``raw``: batches, each with the rows it is
    aligned with and their extensions (``None``: none). Plain ``+1`` numbers are read
    straight from the buffers (:func:`optout._fastnum.plain_nanp`); the rest is cleaned up
    (:func:`_well_formed`) and goes through :func:`optout._fastnum.normalize_keys`.

    A decided row is what ``normalize(text, region)`` gives: the number, with the
    extension, when the batch finds it valid; ``normalize``'s "not a valid phone number"
    error when it does not (the texts are read exactly as their digits are)."""
    batches: list[tuple[_IntArray, FastBatch, pa.Array | None]] = []
    lane = plain_nanp(raw)
    if lane is not None:
        batches.append((*lane, None))
        rest = np.ones(len(raw), dtype=bool)
        rest[lane[0]] = False
        rest_rows = np.flatnonzero(rest)
        well_rows, digits, extensions = _well_formed(raw.take(pa.array(rest_rows)))
        well_rows = rest_rows[well_rows]
    else:
        well_rows, digits, extensions = _well_formed(raw)
    if len(well_rows):
        batches.append((well_rows, normalize_keys(digits, region), extensions))
    return batches


def _mask(values: pa.Array) -> _Bools:
    return np.asarray(filled(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _labelled(texts: pa.Array, candidates: _Bools) -> tuple[_IntArray, pa.Array, pa.Array | None]:
    """Rows such as ``tel: +1 202 555 0123``, ``202-555-0123 (mobile)``, ``1-800-FLOWERS``
    or ``+1 202 555 0123 ext. 12``, their digits as libphonenumber reads them, and their
    extensions (null where there is none; ``None`` when no row has one).

    libphonenumber parses what ``_extract_possible_number`` keeps of a text: from its first
    ``+`` or digit to its last letter, digit or ``#`` (nothing is cut at ``;phone-context=``,
    ``;isub=`` or a second number after ``/`` or ``\\`` here: texts with ``;``, ``/`` or
    ``\\`` are left out, as are non-ASCII ones, whose digit and plus signs are wider). That
    part is taken when it is a well-formed number with three digits or more, alone, with a
    lettered label after it (:data:`_LETTERED`), or with an extension (:data:`_EXTENDED`).
    """
    idx = np.flatnonzero(candidates)
    if not len(idx):
        return idx.astype(np.int64), pa.array([], pa.string()), None
    part = texts.take(pa.array(idx, type=pa.int64()))
    offsets, _, valid = text_bytes(part)
    usable = valid & (np.diff(offsets) <= MAX_INPUT_LENGTH) & (_byte_counts(part, _UNUSABLE) == 0)
    kept = _trimmed(part.filter(pa.array(usable)))
    idx = idx[usable]
    pieces: list[tuple[_IntArray, pa.Array, pa.Array | None]] = []
    # Only formatting around the digits.
    well = _mask(pc.match_substring_regex(kept, _WELL_FORMED))
    enough, digits = _viable_digits(kept.filter(pa.array(well)))
    pieces.append((idx[well][enough], digits, None))
    # A lettered label after the number: keypad digits from three letters on.
    lettered = ~well & _mask(pc.match_substring_regex(kept, _LETTERED))
    if lettered.any():
        words = kept.filter(pa.array(lettered))
        many = _byte_counts(words, _LETTER) >= 3
        keyed = pa.concat_arrays(
            [
                _digits(words.filter(pa.array(many)), _KEEP_KEYPAD),
                _digits(words.filter(pa.array(~many))),
            ]
        )
        at = np.concatenate([idx[lettered][many], idx[lettered][~many]])
        pieces.append((at, keyed, None))
    # An extension after the number.
    rest = ~well & ~lettered
    if rest.any():
        found = pc.extract_regex(kept.filter(pa.array(rest)), _EXTENDED)
        hit = _mask(found.is_valid())
        if hit.any():
            found = found.filter(pa.array(hit))
            number = _digits(found.field("number"))
            pieces.append((idx[rest][hit], number, found.field("extension")))
    rows = np.concatenate([p[0] for p in pieces]).astype(np.int64)
    out = pa.concat_arrays([p[1] for p in pieces])
    if all(p[2] is None for p in pieces):
        return rows, out, None
    extensions = pa.concat_arrays(
        [p[2] if p[2] is not None else pa.nulls(len(p[0]), pa.string()) for p in pieces]
    )
    return rows, out, extensions


def _extension_ids(
    extensions: pa.Array, use: _Bools, interner: _Interner[str]
) -> tuple[_IntArray, _IntArray]:
    """The positions of ``extensions`` (aligned with a batch) that ``use`` keeps and that
    hold one, and the run's id of each of those extensions."""
    at = np.flatnonzero(use & _mask(extensions.is_valid()))
    if not len(at):
        return at.astype(np.int64), np.zeros(0, dtype=np.int64)
    encoded = pc.dictionary_encode(extensions.take(pa.array(at, type=pa.int64())))
    ids = np.array([interner.id(x) for x in encoded.dictionary.to_pylist()], dtype=np.int64)
    which = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return at.astype(np.int64), ids[which]


@dataclasses.dataclass(slots=True)
class _Rows:
    """Per-row columns of one chunk (numpy), with the few objects some rows need."""

    state: npt.NDArray[np.int8]
    key: _Keys  # E.164 digits (0 when none)
    country_code: _IntArray
    region: _IntArray  # run region id, -1: none
    kind: _IntArray  # index into _KINDS
    zones: _IntArray  # run zone-set id
    message: _IntArray  # run message id for invalid rows, else -1
    extension: _IntArray  # run extension id, -1: none
    phones: dict[int, PhoneNumber]  # numbers too long for a key: the number


# -- suppressions, consents, registrations, history: which numbers have any ---------------


def _clear_keys(values: list[str]) -> tuple[_Bools, _Keys]:
    """Which stored values are clear E.164 numbers (ASCII digits, no leading zero), and
    their keys."""
    arr = pa.array(values, pa.string())
    ok = _mask(pc.match_substring_regex(arr, r"^\+[1-9][0-9]{0,18}$"))
    keys = np.asarray(
        pc.cast(pc.utf8_slice_codeunits(arr.filter(pa.array(ok)), 1), pa.uint64()).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.uint64,
    )
    return ok, keys


def _keys_of(values: list[str]) -> _Keys:
    """Sorted unique keys of stored clear E.164 values (anything else is skipped)."""
    if not values:
        return np.zeros(0, dtype=np.uint64)
    return distinct(_clear_keys(values)[1])[0]


def _counted_keys(counts: dict[str, int]) -> tuple[_Keys, _IntArray]:
    """The keys of stored clear E.164 values (sorted, unique; anything else is skipped)
    and the count of each: ``counts`` by value."""
    ok, keys = _clear_keys(list(counts))
    unique, _, inverse = distinct(keys)
    total = np.zeros(len(unique), dtype=np.int64)
    np.add.at(total, inverse, np.fromiter(counts.values(), dtype=np.int64, count=len(counts))[ok])
    return unique, total


def _member(sorted_keys: _Keys, keys: _Keys) -> _Bools:
    if len(sorted_keys) == 0 or len(keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.asarray(sorted_keys[pos] == keys)


@dataclasses.dataclass(frozen=True, slots=True)
class _RegistryCodes:
    """A chunk's registry answers: per registry, each distinct number's code into the
    registry's facts (-1: not consulted; the last entry, -1, stands for rows without a
    number), and each row's distinct number."""

    codes: dict[str, npt.NDArray[np.int32]]
    facts: dict[str, list[RegistryFact]]
    number_of: _IntArray

    def code(self, name: str, i: int) -> int:
        """Row ``i``'s code for registry ``name`` (-1: not consulted)."""
        codes = self.codes.get(name)
        return -1 if codes is None else int(codes[self.number_of[i]])


@dataclasses.dataclass(frozen=True, slots=True)
class _Stored:
    """Which numbers (and persons) have stored facts, read at one database version."""

    version: tuple[Any, ...]
    hashed: bool
    # Clear storage: sorted keys, and prefix entries as sorted ints per digit count.
    suppressed: _Keys  # numbers with an entry other than a global, lasting number entry
    simple: _Keys  # numbers whose entries are all global, lasting number entries...
    simple_count: _IntArray  # ...and how many each has
    prefixes: dict[int, _IntArray]
    consents: _Keys
    registrations: _Keys
    attempts: _Keys
    # Hashed storage (and erased numbers' opt-outs in clear storage): stored strings.
    suppressed_hashes: frozenset[str]
    consent_hashes: frozenset[str]
    registration_hashes: frozenset[str]
    attempt_hashes: frozenset[str]
    persons: frozenset[str]


def _version(conn: sa.Connection) -> tuple[Any, ...]:
    """Changes to any of the tables the stored sets come from move this tuple."""
    parts = [sa.select(sa.func.max(t.c.id)).scalar_subquery() for t in (_s, _c, _r, _a, _log_table)]
    return tuple(conn.execute(sa.select(*parts)).one())


def _load_stored(
    conn: sa.Connection, privacy: Privacy, since: dt.datetime | None, version: tuple[Any, ...]
) -> _Stored:
    hashed = privacy.hashed
    numbers: list[str] = []
    simple: dict[str, int] = {}
    hashes: set[str] = set()
    by_length: dict[int, list[int]] = {}
    stmt = sa.select(_s.c.kind, _s.c.value, _s.c.scope, _s.c.expires_at).where(
        _s.c.removed_at.is_(None)
    )
    for kind, value, scope, expires in conn.execute(stmt):
        if value.startswith(HASH_PREFIX):
            hashes.add(value)
        elif kind == "prefix":
            digits = value[1:]
            if digits.isdigit() and len(digits) <= 18:
                by_length.setdefault(len(digits), []).append(int(digits))
        elif kind == "number":
            if scope == "global" and expires is None:
                simple[value] = simple.get(value, 0) + 1
            else:
                numbers.append(value)
        else:  # a marker row (e.g. of erased numbers): the hashes above cover it
            continue
    complex_keys = _keys_of(numbers)
    # A number with any other entry is decided on its own, whatever its simple ones.
    simple_keys, counts = _counted_keys(simple)

    def numbers_in(table: sa.Table, *where: Any) -> list[str]:
        stmt = sa.select(table.c.number).where(*where).distinct()
        return [v for (v,) in conn.execute(stmt) if v is not None]

    consent_values = numbers_in(_c)
    registration_values = numbers_in(_r)
    attempt_values: list[str] = []
    persons: frozenset[str] = frozenset()
    if since is not None:
        attempt_values = numbers_in(_a, _a.c.at > since)
        persons = frozenset(
            v
            for (v,) in conn.execute(
                sa.select(_a.c.person).where(_a.c.at > since, _a.c.person.is_not(None)).distinct()
            )
        )

    def split(values: list[str]) -> tuple[_Keys, frozenset[str]]:
        if hashed:
            return np.zeros(0, dtype=np.uint64), frozenset(values)
        return _keys_of(values), frozenset(v for v in values if v.startswith(HASH_PREFIX))

    consent_keys, consent_hashes = split(consent_values)
    registration_keys, registration_hashes = split(registration_values)
    attempt_keys, attempt_hashes = split(attempt_values)
    return _Stored(
        version=version,
        hashed=hashed,
        suppressed=np.zeros(0, dtype=np.uint64) if hashed else complex_keys,
        simple=np.zeros(0, dtype=np.uint64) if hashed else simple_keys,
        simple_count=np.zeros(0, dtype=np.int64) if hashed else counts,
        prefixes={k: np.unique(np.array(v, dtype=np.int64)) for k, v in by_length.items()},
        consents=consent_keys,
        registrations=registration_keys,
        attempts=attempt_keys,
        suppressed_hashes=frozenset(hashes),
        consent_hashes=consent_hashes,
        registration_hashes=registration_hashes,
        attempt_hashes=attempt_hashes,
        persons=persons,
    )


def _only_new_attempts(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    """Whether only attempts were added between two :func:`_version` readings."""
    _s_id, _c_id, _r_id, attempts, _log_id = range(5)
    same = all(old[i] == new[i] for i in (_s_id, _c_id, _r_id, _log_id))
    return same and old[attempts] is not None and (new[attempts] or 0) > old[attempts]


def _add_attempts(
    conn: sa.Connection, stored: _Stored, since: dt.datetime | None, version: tuple[Any, ...]
) -> _Stored:
    """``stored`` with the numbers and persons of attempts added since it was read."""
    if since is None:
        return dataclasses.replace(stored, version=version)
    newer = (_a.c.id > stored.version[3], _a.c.at > since)
    values = [v for (v,) in conn.execute(sa.select(_a.c.number).where(*newer).distinct()) if v]
    persons = {
        v
        for (v,) in conn.execute(
            sa.select(_a.c.person).where(*newer, _a.c.person.is_not(None)).distinct()
        )
    }
    if stored.hashed:
        keys, hashes = stored.attempts, stored.attempt_hashes | frozenset(values)
    else:
        added = _keys_of(values)
        keys = merge_sorted(stored.attempts, added)
        hashes = stored.attempt_hashes | frozenset(v for v in values if v.startswith(HASH_PREFIX))
    return dataclasses.replace(
        stored,
        version=version,
        attempts=keys,
        attempt_hashes=hashes,
        persons=stored.persons | persons,
    )


# -- registry answers -----------------------------------------------------------------------


def _fallback_codes(
    backend: Any, keys: _Keys, at: dt.datetime
) -> tuple[npt.NDArray[np.int32], list[RegistryFact]]:
    """``fact_codes`` for a backend that only has ``facts`` (one Python call per number)."""
    numbers = [f"+{k}" for k in keys.tolist()]
    facts = backend.facts(numbers, at)
    if len(facts) != len(numbers):
        raise ValueError(f"{len(facts)} answers for {len(numbers)} numbers")
    return codes_of(facts)


def _registry_codes(
    client: Compliance, registry: str, keys: _Keys, at: dt.datetime
) -> tuple[npt.NDArray[np.int32], list[RegistryFact]]:
    """Each key's answer as an index into a list of distinct answers; never raises."""
    backend = client._registries.get(registry)
    zeros = np.zeros(len(keys), dtype=np.int32)
    if backend is None:
        return zeros, [no_backend(registry)]
    try:
        method = getattr(backend, "fact_codes", None)
        codes, facts = method(keys, at) if callable(method) else _fallback_codes(backend, keys, at)
        if len(codes) != len(keys):
            raise ValueError(f"{len(codes)} answers for {len(keys)} numbers")
        if len(codes) and not (int(codes.min()) >= 0 and int(codes.max()) < len(facts)):
            raise ValueError(f"answer codes outside 0..{len(facts) - 1}")
    except Exception as exc:
        return zeros, [backend_failed(registry, exc, fail_open=backend.options.fail_open)]
    return np.asarray(codes, dtype=np.int32), list(facts)


def _registry_facts(
    client: Compliance, registry: str, numbers: list[str], at: dt.datetime
) -> list[RegistryFact]:
    """What the backend says for numbers given as text (the per-number path)."""
    backend = client._registries.get(registry)
    if backend is None:
        return [no_backend(registry)] * len(numbers)
    try:
        facts = backend.facts(numbers, at)
        if len(facts) != len(numbers):
            raise ValueError(f"{len(facts)} answers for {len(numbers)} numbers")
    except Exception as exc:
        return [backend_failed(registry, exc, fail_open=backend.options.fail_open)] * len(numbers)
    return list(facts)


def _book_limits(book: RuleBook) -> tuple[dt.timedelta | None, dict[str, dt.timedelta]]:
    """The longest history window any rule reads, and each registry's longest grace."""
    rules = [r for p in book.packs.values() for r in p.rules]
    rules += [b.rule for policy in book.policies for b in policy.bound_rules()]
    history: dt.timedelta | None = None
    grace: dict[str, dt.timedelta] = {}
    for rule in rules:
        if isinstance(rule, CapRule | CooldownRule):
            span = rule.period if isinstance(rule, CapRule) else rule.duration
            history = span if history is None else max(history, span)
        elif isinstance(rule, RegistryRule):
            value = rule.grace or dt.timedelta(0)
            grace[rule.registry] = max(grace.get(rule.registry, value), value)
    return history, grace


# -- per-row work shared by group and unit decisions ----------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Profile:
    """The rules that may bind calls to one location and line type, and their needs."""

    rules: tuple[BoundRule, ...]
    needs: Needs
    registries: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _Group:
    """One rule evaluation's answer, as the batch columns show it."""

    codes: tuple[str, ...]
    next_text: str | None
    registry_text: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Unit:
    """A number (and person) decided on its own, with every fact read for it."""

    phone: PhoneNumber
    location: Location
    person: str | None
    facts: CallFacts
    loc: int  # location id
    kind: int  # line type code


class BatchRun:
    """One batch: an instant, a call context, and caches shared by every chunk.

    Takes :meth:`Compliance.can_call`'s keyword arguments, with ``at`` required. Use
    :meth:`decide` once per chunk; chunks may be decided from several threads at once.
    """

    def __init__(
        self,
        client: Compliance,
        *,
        at: dt.datetime,
        country: str | None = None,
        campaign: str | None = None,
        brand: str | None = None,
        purpose: Purpose | str = Purpose.MARKETING,
        channel: Channel | str = Channel.VOICE,
        technology: Technology | str = Technology.AUTODIALED,
        debt: str | None = None,
        subject: str | None = None,
        state: str | None = None,
        postal_code: str | None = None,
        time_zone: str | None = None,
        person: str | None = None,
        workers: int | None = None,
        sector: str | None = None,
        caller_id: str | None = None,
    ) -> None:
        when = instant(at)
        region = normalize_region(country) if country is not None else client._region
        the_sector, the_caller = call_context(sector, caller_id, region)
        texts = _optional_texts(
            campaign=campaign,
            brand=brand,
            debt=debt,
            subject=subject,
            state=state,
            postal_code=postal_code,
            time_zone=time_zone,
        )
        self.client = client
        self.at = when
        #: The person every row of the run concerns, unless ``decide`` is given others.
        self.person = _optional_text(person, "person")
        self.template = RuleCall(
            phone=PhoneNumber("+0", 0, None, NumberType.UNKNOWN, frozenset()),
            at=when,
            purpose=coerce(Purpose, purpose, name="purpose"),
            channel=coerce(Channel, channel, name="channel"),
            technology=coerce(Technology, technology, name="technology"),
            sector=the_sector,
            caller_id=the_caller,
            **texts,
        )
        self.region = region
        self.workers = workers or 1
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.book: RuleBook = client._rules
        self.dialect = client.engine.dialect.name
        self.history, self.grace = _book_limits(self.book)
        # Declared blackouts, read once: every row of the run is decided at ``at``.
        with translate_errors(client.engine), client.engine.connect() as conn:
            self.blackouts = client.blackouts.for_call(conn, when)
        self._lock = threading.RLock()
        # Held while a group's answer is worked out (pure Python: two threads working out
        # the same answers at once, as a scrub's first chunks would, only double the work).
        self._answering = threading.Lock()
        self.regions: _Interner[str] = _Interner()
        self.zone_sets: _Interner[tuple[str, ...]] = _Interner()
        self.messages: _Interner[str] = _Interner()
        self.extensions: _Interner[str] = _Interner()
        self.locations: _Interner[Location] = _Interner()
        self._place_loc: dict[int, int] = {}  # location key -> location id
        self._number_loc: dict[int, int] = {}  # key -> location id, for numbers located alone
        self._profiles: dict[tuple[int, int], _Profile] = {}
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self._abandonment: dict[dt.timedelta, tuple[int, int, int]] = {}
        self._stored: _Stored | None = None
        self._type_messages: dict[type, int] = {}
        # A hint that cannot be used is misuse: raise before any I/O (as can_call does). A
        # postal code is checked against each number's country when it is located.
        if texts["state"] is not None or texts["time_zone"] is not None:
            locate(
                PhoneNumber("+0", 0, None, NumberType.UNKNOWN, frozenset()),
                state=texts["state"],
                time_zone=texts["time_zone"],
            )

    # -- normalization ----------------------------------------------------------------------

    def _rows(self, numbers: Sequence[object] | pa.Array | pa.ChunkedArray) -> _Rows:
        raw = _as_strings(numbers)
        n = len(raw)
        state = np.full(n, _INVALID, dtype=np.int8)
        key = np.zeros(n, dtype=np.uint64)
        cc = np.zeros(n, dtype=np.int64)
        region = np.full(n, -1, dtype=np.int64)
        kind = np.zeros(n, dtype=np.int64)
        zones = np.zeros(n, dtype=np.int64)
        message = np.full(n, -1, dtype=np.int64)
        extension = np.full(n, -1, dtype=np.int64)
        phones: dict[int, PhoneNumber] = {}
        fast_ok = np.zeros(n, dtype=bool)
        for at_rows, fb, extensions in _fast_reads(raw, self.region):
            fast_ok[at_rows[fb.decided]] = True
            invalid = at_rows[fb.decided & ~fb.valid]
            if len(invalid):
                with self._lock:
                    message[invalid] = self.messages.id(_NOT_VALID)
            use = fb.decided & fb.valid
            rows = at_rows[use]
            state[rows] = _VALID
            key[rows] = fb.key[use]
            cc[rows] = fb.country_code[use]
            kind[rows] = _PN_KIND[np.clip(fb.number_type[use], 0, 127)]
            with self._lock:
                region_map = np.array(
                    [self.regions.id(r) for r in fb.region_names] + [-1], dtype=np.int64
                )
                zone_map = np.array([self.zone_sets.id(z) for z in fb.zone_sets], dtype=np.int64)
            region[rows] = region_map[fb.region_id[use]]
            zones[rows] = zone_map[fb.zones[use]]
            if extensions is not None:
                # A number with an extension is decided with its group (the extension's
                # reason first), as the numbers libphonenumber reads below.
                with self._lock:
                    at, ids = _extension_ids(extensions, use, self.extensions)
                extension[at_rows[at]] = ids
        # Everything else that is a string: libphonenumber, once per distinct text.
        is_str = np.asarray(pc.is_valid(raw).to_numpy(zero_copy_only=False), dtype=bool)
        slow = np.flatnonzero(is_str & ~fast_ok)
        if len(slow):
            encoded = pc.dictionary_encode(raw.take(pa.array(slow)))
            which = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
            texts_slow: list[str] = encoded.dictionary.to_pylist()
            reads = _read_all(texts_slow, self.region, self._parsers(len(texts_slow)), self.workers)
            parsed = _finish_reads(texts_slow, reads, self.region)
            self._fill_parsed(
                parsed,
                slow,
                which,
                (state, key, cc, region, kind, zones, message, extension),
                phones,
            )
        # Inputs that are not (encodable) strings: a string UTF-8 cannot hold is parsed as
        # typed; anything else gets normalize's message, once per type.
        others = np.flatnonzero(~is_str)
        if len(others):
            listed = not isinstance(numbers, pa.Array | pa.ChunkedArray)
            odd_rows = [i for i in others.tolist() if listed and isinstance(numbers[i], str)]
            if odd_rows:
                odd_texts: list[str] = [numbers[i] for i in odd_rows]  # type: ignore[misc]
                self._fill_parsed(
                    _parse(odd_texts, self.region),
                    np.array(odd_rows, dtype=np.int64),
                    np.arange(len(odd_rows), dtype=np.int64),
                    (state, key, cc, region, kind, zones, message, extension),
                    phones,
                )
            with self._lock:
                for i in sorted(set(others.tolist()) - set(odd_rows)):
                    message[i] = self._type_message(numbers[i] if listed else None)
        return _Rows(state, key, cc, region, kind, zones, message, extension, phones)

    def _type_message(self, raw: object) -> int:
        kind = type(raw)
        found = self._type_messages.get(kind)
        if found is None:
            try:
                normalize(raw, self.region)  # type: ignore[arg-type]
            except InvalidNumberError as exc:
                found = self._type_messages[kind] = self.messages.id(str(exc))
            else:  # pragma: no cover - normalize takes strings only
                raise AssertionError(f"normalize accepted a {kind.__name__}")
        return found

    def _fill_parsed(
        self,
        parsed: list[_Parsed],
        slow: _IntArray,
        which: _IntArray,
        columns: tuple[npt.NDArray[Any], ...],
        phones: dict[int, PhoneNumber],
    ) -> None:
        """Store libphonenumber's reads ``parsed`` (one per distinct text) into the rows
        ``slow`` (row ``slow[k]`` has text ``which[k]``) of the :class:`_Rows` columns."""
        d_state = np.full(len(parsed), _INVALID, dtype=np.int8)
        d_key = np.zeros(len(parsed), dtype=np.uint64)
        d_cc = np.zeros(len(parsed), dtype=np.int64)
        d_region = np.full(len(parsed), -1, dtype=np.int64)
        d_kind = np.zeros(len(parsed), dtype=np.int64)
        d_zones = np.zeros(len(parsed), dtype=np.int64)
        d_message = np.full(len(parsed), -1, dtype=np.int64)
        d_extension = np.full(len(parsed), -1, dtype=np.int64)
        d_phone: dict[int, PhoneNumber] = {}
        with self._lock:
            for j, p in enumerate(parsed):
                if isinstance(p, str):
                    d_message[j] = self.messages.id(p)
                    continue
                e164, code, reg, type_value, zone_names, extension = p
                digits = e164[1:]
                d_cc[j] = code
                d_region[j] = self.regions.id(reg) if reg is not None else -1
                number_type = NumberType(type_value)
                d_kind[j] = _KIND_OF[number_type]
                d_zones[j] = self.zone_sets.id(zone_names)
                fits = digits.isdigit() and len(digits) <= 19
                if fits:
                    d_key[j] = int(digits)
                # A number with an extension is decided with its group (the extension's
                # reason first); one too long for a key is decided on its own.
                d_state[j] = _VALID if fits else _SPECIAL
                if extension is not None:
                    d_extension[j] = self.extensions.id(extension)
                if not fits:
                    d_phone[j] = PhoneNumber(
                        e164, code, reg, number_type, frozenset(zone_names), extension
                    )
        per_text: tuple[npt.NDArray[Any], ...] = (
            d_state,
            d_key,
            d_cc,
            d_region,
            d_kind,
            d_zones,
            d_message,
            d_extension,
        )
        for column, values in zip(columns, per_text, strict=True):
            column[slow] = values[which]
        if d_phone:
            for row, j in zip(slow.tolist(), which.tolist(), strict=True):
                found = d_phone.get(j)
                if found is not None:
                    phones[row] = found

    def phone(self, rows: _Rows, i: int) -> PhoneNumber:
        """Row ``i``'s number (a valid row)."""
        found = rows.phones.get(i)
        if found is not None:
            return found
        r = int(rows.region[i])
        e = int(rows.extension[i])
        return PhoneNumber(
            e164=f"+{int(rows.key[i])}",
            country_code=int(rows.country_code[i]),
            region=self.regions.values[r] if r >= 0 else None,
            number_type=_KINDS[int(rows.kind[i])],
            time_zones=frozenset(self.zone_sets.values[int(rows.zones[i])]),
            extension=self.extensions.values[e] if e >= 0 else None,
        )

    def _parsers(self, count: int) -> concurrent.futures.Executor | None:
        """The run's libphonenumber processes, started when a chunk first has ``count >=
        PARALLEL_MIN`` texts for them and ``workers`` allows (they run outside the GIL)."""
        if self.workers <= 1 or count < PARALLEL_MIN:
            return None
        with self._pool_lock:
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=context
                )
            return self._pool

    def close(self) -> None:
        """Stop the run's parsing processes, if any were started."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- location ---------------------------------------------------------------------------

    def _locate(self, phone: PhoneNumber) -> Location:
        t = self.template
        return locate(phone, state=t.state, postal_code=t.postal_code, time_zone=t.time_zone)

    def _locations(self, rows: _Rows, valid: _IntArray) -> _IntArray:
        """Each valid row's location id."""
        out = np.zeros(len(valid), dtype=np.int64)
        if not len(valid):
            return out
        keys = rows.key[valid]
        region = rows.region[valid]
        kind = rows.kind[valid]
        place = np.zeros(len(valid), dtype=np.int64)
        names = self.regions.values
        digits = key_digits(keys)
        for nanp in ("US", "CA"):
            if nanp not in names:
                continue
            sel = np.flatnonzero(region == names.index(nanp))
            if not len(sel):
                continue
            place[sel] = -1  # located one by one unless geographic (below)
            geo = sel[np.isin(kind[sel], _NANP_GEO) & (keys[sel] // np.uint64(10**10) == 1)]
            if len(geo):
                g_keys, g_digits = keys[geo], digits[geo]
                _readings, index = nanp_states(
                    nanp, g_digits, functools.partial(key_prefix, g_keys, g_digits)
                )
                place[geo] = index
        if "BR" in names:
            sel = np.flatnonzero(region == names.index("BR"))
            place[sel] = key_prefix(keys[sel], digits[sel], 4) % 100
        # Rows that the place says everything about share one locate() call.
        alone = place < 0
        shared = np.flatnonzero(~alone)
        if len(shared):
            loc_key = (
                ((region[shared] + 1) << 40) | (rows.zones[valid][shared] << 20) | place[shared]
            )
            uniq, first, inverse = distinct(loc_key)
            ids = np.empty(len(uniq), dtype=np.int64)
            with self._lock:
                for j, (lk, f) in enumerate(zip(uniq.tolist(), first.tolist(), strict=True)):
                    found = self._place_loc.get(lk)
                    if found is None:
                        where = self._locate(self.phone(rows, int(valid[shared[f]])))
                        found = self._place_loc[lk] = self.locations.id(where)
                    ids[j] = found
            out[shared] = ids[inverse]
        if alone.any():
            with self._lock:
                for j in np.flatnonzero(alone).tolist():
                    i = int(valid[j])
                    k = int(rows.key[i])
                    found = self._number_loc.get(k)
                    if found is None:
                        found = self.locations.id(self._locate(self.phone(rows, i)))
                        if len(self._number_loc) < 1_000_000:
                            self._number_loc[k] = found
                    out[j] = found
        return out

    def prepare_registries(self) -> None:
        """Get the snapshot indexes that numbers of the run's region consult (fixed and
        mobile lines) ready for large look-ups (a scrub of a large list runs this in a
        thread as it starts). Nothing without a region."""
        if self.region is None:
            return
        t = self.template
        here = Location(self.region, frozenset(), frozenset(), "region")
        rules = self.book.rules_for(here, campaign=t.campaign, brand=t.brand)
        names: set[str] = set()
        for kind in (NumberType.FIXED_LINE, NumberType.MOBILE):
            needs = needs_of(
                rules, t.purpose, channel=t.channel, technology=t.technology, number_type=kind
            )
            names.update(needs.registries)
        for name in sorted(names):
            prepare = getattr(self.client._registries.get(name), "prepare", None)
            if callable(prepare):
                prepare()

    def profile(self, loc: int, kind: int) -> _Profile:
        found = self._profiles.get((loc, kind))
        if found is None:
            t = self.template
            rules = self.book.rules_for(
                self.locations.values[loc], campaign=t.campaign, brand=t.brand
            )
            needs = needs_of(
                rules,
                t.purpose,
                channel=t.channel,
                technology=t.technology,
                number_type=_KINDS[kind],
            )
            found = self._profiles[(loc, kind)] = _Profile(
                rules, needs, tuple(sorted(needs.registries))
            )
        return found

    # -- stored facts -----------------------------------------------------------------------

    def _stored_sets(self, conn: sa.Connection) -> _Stored:
        version = _version(conn)
        with self._lock:
            stored = self._stored
            if stored is not None and stored.version == version:
                return stored
            since = None if self.history is None else self.at - self.history
            if stored is not None and _only_new_attempts(stored.version, version):
                # Dialers record attempts all the time; attempts are only ever added (an
                # erasure, which deletes some, moves the change log): read just the new ones.
                stored = self._stored = _add_attempts(conn, stored, since, version)
            else:
                stored = self._stored = _load_stored(conn, self.client.privacy, since, version)
            return stored

    def _abandonment_counts(
        self, conn: sa.Connection, periods: Sequence[dt.timedelta]
    ) -> tuple[tuple[int, int, int], ...]:
        out = []
        for period in periods:
            found = self._abandonment.get(period)
            if found is None:
                found = self._abandonment[period] = self.client._abandonment.counts(
                    conn, self.template.campaign, period, self.at
                )
            out.append(found)
        return tuple(out)

    # -- deciding ---------------------------------------------------------------------------

    def decide(
        self,
        numbers: Sequence[object] | pa.Array | pa.ChunkedArray,
        person: Sequence[str | None] | str | None = None,
    ) -> BatchDecisions:
        """Decide one chunk: row ``i`` is ``can_call(numbers[i], person=person[i])``."""
        persons = _persons(self.person if person is None else person, len(numbers))
        if isinstance(numbers, pa.Array | pa.ChunkedArray) and not (
            pa.types.is_string(numbers.type) or pa.types.is_large_string(numbers.type)
        ):
            numbers = numbers.to_pylist()  # each value gets can_call's answer for its type
        rows = self._rows(numbers)
        n = len(rows.state)
        valid = np.flatnonzero(rows.state != _INVALID)
        with_key = valid[rows.key[valid] != 0]
        # Each distinct number once, in key order: the stored-fact and registry look-ups
        # search these sorted keys (each binary search stays in cache) and their answers go
        # back to the rows; everything those look-ups depend on is the same for every row
        # with the number (its location and line type, so its profile).
        uniq, first, inverse = distinct(rows.key[with_key])
        lead = with_key[first]  # one row per distinct number
        loc_of = np.full(n, -1, dtype=np.int64)
        loc_of[valid] = self._locations(rows, valid)
        # Profiles (location x line type) of the valid rows.
        prof_key = loc_of[valid] * len(_KINDS) + rows.kind[valid]
        prof_uniq, _, prof_inv = distinct(prof_key)
        with self._lock:
            profiles = [
                self.profile(int(pk) // len(_KINDS), int(pk) % len(_KINDS))
                for pk in prof_uniq.tolist()
            ]
        prof_of = np.full(n, -1, dtype=np.int64)
        prof_of[valid] = prof_inv

        def needing(flag: Any) -> _Bools:
            per = np.array([bool(flag(p)) for p in profiles] + [False], dtype=bool)
            return per[prof_of]  # -1 (invalid rows) takes the trailing False

        need_hist = needing(lambda p: p.needs.history is not None)
        need_cons = needing(lambda p: p.needs.consents)
        need_regs = needing(lambda p: p.needs.registrations)

        with translate_errors(self.client.engine), self.client._reading() as conn:
            stored = self._stored_sets(conn)
            periods = sorted({d for p in profiles for d in p.needs.abandonment})
            with self._lock:
                self._abandonment_counts(conn, periods)
            special = rows.state == _SPECIAL
            hit, simple = self._has_stored(
                conn,
                stored,
                rows,
                with_key,
                (uniq, lead, inverse),
                need_hist,
                need_cons,
                need_regs,
                persons,
            )
            special[with_key] |= hit
            suppressed = np.zeros(n, dtype=np.int64)
            suppressed[with_key] = simple
            # Registry answers per registry, for each distinct number that consults it
            # (codes into the registry's facts; the last entry, -1, is for rows without a
            # number): ``number_of`` gives each row its distinct number.
            number_of = np.full(n, len(uniq), dtype=np.int64)
            number_of[with_key] = inverse
            prof_of_lead = prof_of[lead]
            reg_codes: dict[str, npt.NDArray[np.int32]] = {}
            reg_facts: dict[str, list[RegistryFact]] = {}
            for name in sorted({name for p in profiles for name in p.registries}):
                wants = np.array([name in p.registries for p in profiles])[prof_of_lead]
                got, facts = _registry_codes(self.client, name, uniq[wants], self.at)
                codes = np.full(len(uniq) + 1, -1, dtype=np.int32)
                codes[:-1][wants] = got
                reg_codes[name], reg_facts[name] = codes, facts
            registries = _RegistryCodes(reg_codes, reg_facts, number_of)
            units, unit_of = self._units(
                conn, rows, np.flatnonzero(special), loc_of, persons, registries
            )
        ordinary = np.flatnonzero((rows.state == _VALID) & ~special)
        group_of, groups = self._group(
            rows, ordinary, suppressed, loc_of, prof_of, profiles, registries
        )
        return self._result(
            rows,
            persons,
            suppressed,
            loc_of,
            ordinary,
            group_of,
            groups,
            units,
            unit_of,
            registries,
            (with_key, uniq, first, inverse),
        )

    def _has_stored(
        self,
        conn: sa.Connection,
        stored: _Stored,
        rows: _Rows,
        with_key: _IntArray,
        numbers: tuple[_Keys, _IntArray, _IntArray],
        need_hist: _Bools,
        need_cons: _Bools,
        need_regs: _Bools,
        persons: list[str | None] | None,
    ) -> tuple[_Bools, _IntArray]:
        """For the rows in ``with_key``: whether stored facts make them a special case, and
        how many global, lasting number entries suppress each of the others. ``numbers``:
        their distinct keys (sorted), a row of each, and each row's index into them."""
        keys = rows.key[with_key]
        simple = np.zeros(len(keys), dtype=np.int64)
        if not stored.hashed:
            # Sorted queries keep each binary search in cache (several times faster).
            ordered, lead, inverse = numbers
            found = _member(stored.suppressed, ordered)
            if len(stored.simple):
                pos = np.minimum(np.searchsorted(stored.simple, ordered), len(stored.simple) - 1)
                counts = np.where(stored.simple[pos] == ordered, stored.simple_count[pos], 0)
                simple = counts[inverse]
            if stored.prefixes:
                digits = key_digits(ordered)
                for length, values in stored.prefixes.items():
                    heads = key_prefix(ordered, digits, length).astype(np.uint64)
                    found |= (digits >= length) & _member(values.astype(np.uint64), heads)
            found |= need_cons[lead] & _member(stored.consents, ordered)
            found |= need_regs[lead] & _member(stored.registrations, ordered)
            found |= need_hist[lead] & _member(stored.attempts, ordered)
            hit = found[inverse]
        else:
            hit = np.zeros(len(keys), dtype=bool)
        hashes = (
            stored.suppressed_hashes
            or stored.consent_hashes
            or stored.registration_hashes
            or stored.attempt_hashes
        )
        if stored.hashed or hashes:
            hit |= self._hashed_hits(
                conn, stored, keys, need_hist[with_key], need_cons[with_key], need_regs[with_key]
            )
        if persons is not None and stored.persons:
            who = pa.array([persons[i] for i in with_key.tolist()], pa.string())
            has = np.asarray(
                filled(
                    pc.is_in(who, value_set=pa.array(sorted(stored.persons), pa.string())), False
                ).to_numpy(zero_copy_only=False),
                dtype=bool,
            )
            hit |= need_hist[with_key] & has
        return hit, np.where(hit, 0, simple)

    def _hashed_hits(
        self,
        conn: sa.Connection,
        stored: _Stored,
        keys: _Keys,
        need_hist: _Bools,
        need_cons: _Bools,
        need_regs: _Bools,
    ) -> _Bools:
        """Membership by keyed hash: every prefix in hashed storage, the whole number for
        erased numbers' opt-outs in clear storage (one HMAC per candidate: slower)."""
        privacy = self.client.privacy
        hasher = privacy.hasher
        if hasher is None:
            from optout._privacy import erased_number_hasher  # noqa: PLC0415

            hasher = erased_number_hasher(conn, privacy)
            if hasher is None:
                return np.zeros(len(keys), dtype=bool)
        out = np.zeros(len(keys), dtype=bool)
        for j, k in enumerate(keys.tolist()):
            e164 = f"+{k}"
            whole = hasher.hash(e164)
            if whole in stored.suppressed_hashes or (
                (need_cons[j] and whole in stored.consent_hashes)
                or (need_regs[j] and whole in stored.registration_hashes)
                or (need_hist[j] and whole in stored.attempt_hashes)
            ):
                out[j] = True
                continue
            if stored.hashed and any(
                hasher.hash(c) in stored.suppressed_hashes for c in prefix_candidates(e164)[:-1]
            ):
                out[j] = True
        return out

    def _units(
        self,
        conn: sa.Connection,
        rows: _Rows,
        special: _IntArray,
        loc_of: _IntArray,
        persons: list[str | None] | None,
        registries: _RegistryCodes,
    ) -> tuple[list[_Unit], dict[int, int]]:
        """The rows decided on their own: one unit per (number, extension, person)."""
        if not len(special):
            return [], {}
        unit_of: dict[int, int] = {}
        idents: dict[tuple[str, str | None, str | None], int] = {}
        members: list[int] = []
        for i in special.tolist():
            phone = self.phone(rows, i)
            who = persons[i] if persons is not None else None
            ident = (phone.e164, phone.extension, who)
            u = idents.get(ident)
            if u is None:
                u = idents[ident] = len(members)
                members.append(i)
            unit_of[i] = u
        phones = [self.phone(rows, i) for i in members]
        e164s = sorted({p.e164 for p in phones})
        privacy = self.client.privacy
        call = self.template
        stored = self._stored
        batched = stored is not None and not stored.hashed and not stored.suppressed_hashes
        sups = _suppressions(
            conn,
            e164s,
            call,
            privacy,
            self.client.suppressions,
            prefix_lengths=sorted(stored.prefixes) if stored is not None and batched else None,
        )
        profs = [self.profile(int(loc_of[i]), int(rows.kind[i])) for i in members]
        history = [
            p.e164 for p, prof in zip(phones, profs, strict=True) if prof.needs.history is not None
        ]
        who_all: list[str] = []
        if persons is not None:
            who_all = sorted(
                {
                    who
                    for i, prof in zip(members, profs, strict=True)
                    if prof.needs.history is not None and (who := persons[i]) is not None
                }
            )
        longest = max(
            (prof.needs.history for prof in profs if prof.needs.history is not None),
            default=None,
        )
        by_number, by_person = (
            _attempts(conn, sorted(set(history)), who_all, self.at - longest, privacy)
            if longest is not None
            else ({}, {})
        )
        consents = _consents(
            conn,
            sorted({p.e164 for p, f in zip(phones, profs, strict=True) if f.needs.consents}),
            privacy,
        )
        registrations = _registrations(
            conn,
            sorted({p.e164 for p, f in zip(phones, profs, strict=True) if f.needs.registrations}),
            privacy,
        )
        units: list[_Unit] = []
        for i, phone, prof in zip(members, phones, profs, strict=True):
            who = persons[i] if persons is not None else None
            registry: list[RegistryFact] = []
            for name in prof.registries:
                code = registries.code(name, i)
                if code >= 0:
                    registry.append(registries.facts[name][code])
                else:
                    registry.extend(_registry_facts(self.client, name, [phone.e164], self.at))
            unit_consents: tuple[Consent, ...] = ()
            if prof.needs.consents:
                unit_consents = tuple(
                    c
                    for c in consents.get(phone.e164, ())
                    if who is None or c.person is None or c.person == who
                )
            unit_attempts: tuple[AttemptFact, ...] = ()
            if prof.needs.history is not None:
                since = self.at - prof.needs.history
                seen = {
                    a_id: a
                    for a_id, a in [
                        *by_number.get(phone.e164, ()),
                        *(by_person.get(who, ()) if who else ()),
                    ]
                    if a.at > since
                }
                unit_attempts = tuple(seen[k] for k in sorted(seen))
            facts = CallFacts(
                suppressions=sups.get(phone.e164, ()),
                registry=tuple(registry),
                consents=unit_consents,
                registered=registrations.get(phone.e164, ()) if prof.needs.registrations else (),
                attempts=unit_attempts,
                abandonment=tuple(self._abandonment[p] for p in prof.needs.abandonment),
                blackouts=self.blackouts,
            )
            loc = int(loc_of[i])
            units.append(
                _Unit(phone, self.locations.values[loc], who, facts, loc, int(rows.kind[i]))
            )
        return units, unit_of

    def _canon(self, name: str, fact: RegistryFact) -> RegistryFact:
        """``fact`` as the group key sees it: a registration date whose grace period is
        over at ``at`` (so at every later instant too) decides nothing more, whatever day
        it was; a group of numbers registered on many old days then shares one answer."""
        if fact.status == "listed" and fact.registered_at is not None:
            grace = self.grace.get(name, dt.timedelta(0))
            # A day's margin: a date-only registration binds at a local midnight, up to
            # 14 hours after the UTC one (the engine's _binding).
            if fact.registered_at + grace + dt.timedelta(days=1) <= self.at:
                return dataclasses.replace(fact, registered_at=_LONG_AGO)
        return fact

    def _group(
        self,
        rows: _Rows,
        ordinary: _IntArray,
        suppressed: _IntArray,
        loc_of: _IntArray,
        prof_of: _IntArray,
        profiles: list[_Profile],
        registries: _RegistryCodes,
    ) -> tuple[_IntArray, list[_Group]]:
        """Rows without stored facts (but global, lasting number suppressions), grouped by
        everything their rules read."""
        if not len(ordinary):
            return np.zeros(0, dtype=np.int64), []
        count = suppressed[ordinary]
        extension = rows.extension[ordinary] >= 0
        sig = (loc_of[ordinary] * len(_KINDS) + rows.kind[ordinary]) * (int(count.max()) + 1)
        sig = distinct((sig + count) * 2 + extension)[2]
        # Each distinct number's registry answers (as _canon gives them) as one mixed-radix
        # code over the registries it consults: numbers of one location and line type
        # consult the same registries, so within a group the code tells answers apart.
        canon_facts: dict[str, list[RegistryFact]] = {}
        canon_of: dict[str, _IntArray] = {}
        slots = len(next(iter(registries.codes.values()))) if registries.codes else 0
        combo = np.zeros(slots, dtype=np.int64)  # per distinct number
        for name in sorted(registries.codes):
            canon = _Interner[RegistryFact]()
            remap = np.array(
                [canon.id(self._canon(name, f)) for f in registries.facts[name]] + [-1],
                dtype=np.int64,
            )
            canon_facts[name], canon_of[name] = canon.values, remap
            codes = registries.codes[name]
            at = np.flatnonzero(codes >= 0)
            radix = len(canon.values) + 1
            if len(combo) and int(combo.max()) >= (1 << 62) // radix:  # renumber first
                combo = distinct(combo)[2]
            combo[at] = combo[at] * radix + remap[codes[at]] + 1
        if len(combo):
            answers = distinct(combo[registries.number_of[ordinary]])[2]
            sig = sig * (int(answers.max()) + 1) + answers
        _, first, group_of = distinct(sig)
        groups: list[_Group] = []
        for f in first.tolist():
            i = int(ordinary[f])
            prof = profiles[int(prof_of[i])]
            facts = tuple(
                canon_facts[name][int(canon_of[name][registries.code(name, i)])]
                for name in prof.registries
            )
            group = self._group_answer(int(loc_of[i]), int(rows.kind[i]), facts, prof, rows, i)
            fixed: tuple[str, ...] = ("number.extension",) if extension[f] else ()
            fixed += ("suppression.number",) * int(count[f])
            if fixed:
                # An extension and each entry deny for good: their codes first (as
                # fixed_reasons orders them), and no next allowed instant.
                group = _Group(
                    codes=fixed + group.codes,
                    next_text=None,
                    registry_text=group.registry_text,
                )
            groups.append(group)
        return np.asarray(group_of, dtype=np.int64), groups

    def _group_answer(
        self,
        loc: int,
        kind: int,
        facts: tuple[RegistryFact, ...],
        prof: _Profile,
        rows: _Rows | None,
        i: int,
        phone: PhoneNumber | None = None,
    ) -> _Group:
        """The rules' answer for a call with no stored facts (cached for the run):
        ``facts`` are the registry answers as :meth:`_canon` gives them."""
        cache_key = (loc, kind, facts)
        with self._lock:
            group = self._groups.get(cache_key)
        if group is not None:
            return group
        with self._answering:
            return self._new_group_answer(cache_key, prof, rows, i, phone)

    def _new_group_answer(
        self,
        cache_key: tuple[int, int, tuple[RegistryFact, ...]],
        prof: _Profile,
        rows: _Rows | None,
        i: int,
        phone: PhoneNumber | None,
    ) -> _Group:
        with self._lock:
            group = self._groups.get(cache_key)
        if group is not None:  # worked out by another thread meanwhile
            return group
        loc, _, facts = cache_key
        if phone is None:
            assert rows is not None
            phone = self.phone(rows, i)
        call = dataclasses.replace(self.template, phone=dataclasses.replace(phone, extension=None))
        outcome = outcome_of(
            self.book,
            call,
            self.locations.values[loc],
            CallFacts(
                registry=facts,
                abandonment=tuple(self._abandonment[p] for p in prof.needs.abandonment),
                blackouts=self.blackouts,
            ),
        )
        next_text: str | None = None
        if outcome.reasons:
            next_at = outcome.next_allowed(self.at)
            if next_at is not None:
                next_text = next_at.astimezone(self.at.tzinfo).isoformat()
        group = _Group(
            codes=tuple(r.code for r in outcome.reasons),
            next_text=next_text,
            registry_text=";".join(_registry_token(x) for x in facts),
        )
        with self._lock:
            self._groups[cache_key] = group
        return group

    def _unit_answer(self, unit: _Unit) -> _Group:
        sups = unit.facts.suppressions
        fixed_codes = (("number.extension",) if unit.phone.extension else ()) + tuple(
            "suppression.number" if e.kind == "number" else "suppression.prefix" for e in sups
        )
        lasting = bool(unit.phone.extension) or any(e.expires_at is None for e in sups)
        plain = not (unit.facts.consents or unit.facts.attempts or unit.facts.registered)
        if plain and (not fixed_codes or lasting):
            # Only suppressions or an extension set it apart: the rules answer as for its
            # group, and a reason that never lapses leaves no next allowed instant.
            registry = tuple(self._canon(f.registry, f) for f in unit.facts.registry)
            prof = self.profile(unit.loc, unit.kind)
            group = self._group_answer(unit.loc, unit.kind, registry, prof, None, -1, unit.phone)
            if not fixed_codes:
                return group
            return _Group(
                codes=(*fixed_codes, *group.codes),
                next_text=None,
                registry_text=group.registry_text,
            )
        fixed = fixed_reasons(unit.phone, sups)
        call = dataclasses.replace(self.template, phone=unit.phone, person=unit.person)
        outcome = outcome_of(self.book, call, unit.location, unit.facts)
        codes = (*(r.code for r in fixed), *(r.code for r in outcome.reasons))
        next_text: str | None = None
        if codes:
            next_at = outcome.next_allowed(self.at, others=fixed)
            if next_at is not None:
                next_text = next_at.astimezone(self.at.tzinfo).isoformat()
        return _Group(
            codes=codes,
            next_text=next_text,
            registry_text=";".join(_registry_token(f) for f in unit.facts.registry),
        )

    def _result(
        self,
        rows: _Rows,
        persons: list[str | None] | None,
        suppressed: _IntArray,
        loc_of: _IntArray,
        ordinary: _IntArray,
        group_of: _IntArray,
        groups: list[_Group],
        units: list[_Unit],
        unit_of: dict[int, int],
        registries: _RegistryCodes,
        numbers: tuple[_IntArray, _Keys, _IntArray, _IntArray],
    ) -> BatchDecisions:
        n = len(rows.state)
        answers: list[_Group | None] = [*groups, *(self._unit_answer(u) for u in units)]
        slot = np.full(n, -1, dtype=np.int64)
        slot[ordinary] = group_of
        if unit_of:
            idx = np.fromiter(unit_of.keys(), dtype=np.int64, count=len(unit_of))
            slot[idx] = len(groups) + np.fromiter(unit_of.values(), dtype=np.int64, count=len(idx))
        invalid = np.flatnonzero(rows.state == _INVALID)
        messages: list[str] = []
        if len(invalid):
            m_uniq, m_inv = np.unique(rows.message[invalid], return_inverse=True)
            with self._lock:
                messages = [self.messages.values[int(m)] for m in m_uniq.tolist()]
            slot[invalid] = len(answers) + m_inv
            answers.extend([None] * len(messages))
        allowed = [a is not None and not a.codes for a in answers]
        reason = [a.codes[0] if a is not None and a.codes else None for a in answers]
        reasons = [";".join(a.codes) if a is not None else "number.invalid" for a in answers]
        for j in range(len(answers) - len(messages), len(answers)):
            reason[j] = "number.invalid"
        nexts = [a.next_text if a is not None else None for a in answers]
        registry = [a.registry_text if a is not None else None for a in answers]

        # The E.164 column: built from the keys, the few numbers without one from text.
        has_key = (rows.state != _INVALID) & (rows.key != 0)
        no_key = [i for i in unit_of if rows.key[i] == 0]
        if no_key:
            key_rows = np.flatnonzero(has_key)
            pieces = [e164_strings(rows.key[key_rows])]
            number_index = np.full(n, -1, dtype=np.int64)
            number_index[key_rows] = np.arange(len(key_rows))
            pieces.append(pa.array([self.phone(rows, i).e164 for i in no_key], pa.string()))
            number_index[no_key] = len(key_rows) + np.arange(len(no_key))
            number = pa.concat_arrays(pieces).take(
                pa.array(number_index, mask=number_index < 0, type=pa.int64())
            )
        else:
            number = e164_strings(rows.key, ~has_key)
        duplicate, keyed = _duplicates(rows, unit_of, self, numbers)
        return BatchDecisions(
            number=number,
            duplicate=pa.array(duplicate, type=pa.bool_()),
            checked_at=self.at,
            _run=self,
            _rows=rows,
            _persons=persons,
            _suppressed=suppressed,
            _loc_of=loc_of,
            _unit_of=unit_of,
            _units=units,
            _registries=registries,
            _slot=slot,
            _answers=(allowed, reason, reasons, nexts, registry),
            _keyed=keyed,
        )

    def decision(self, result: BatchDecisions, i: int) -> Decision:
        """Row ``i``'s full decision (what ``can_call`` returns for it)."""
        rows = result._rows
        if rows.state[i] == _INVALID:
            with self._lock:
                message = self.messages.values[int(rows.message[i])]
            return invalid_decision(message, self.at)
        loc = int(result._loc_of[i])
        prof = self.profile(loc, int(rows.kind[i]))
        u = result._unit_of.get(i)
        if u is not None:
            unit = result._units[u]
            call = dataclasses.replace(self.template, phone=unit.phone, person=unit.person)
            return assemble(self.book, call, unit.location, prof.needs, unit.facts, self.dialect)
        phone = self.phone(rows, i)
        who = result._persons[i] if result._persons is not None else None
        sups: tuple[Suppression, ...] = ()
        if result._suppressed[i]:
            # The row was decided from the count of its entries; read them back.
            with translate_errors(self.client.engine), self.client._reading() as conn:
                sups = _suppressions(
                    conn,
                    [phone.e164],
                    self.template,
                    self.client.privacy,
                    self.client.suppressions,
                    prefix_lengths=None,
                ).get(phone.e164, ())
        facts = CallFacts(
            suppressions=sups,
            registry=tuple(
                result._registries.facts[name][result._registries.code(name, i)]
                for name in prof.registries
            ),
            abandonment=tuple(self._abandonment[p] for p in prof.needs.abandonment),
            blackouts=self.blackouts,
        )
        call = dataclasses.replace(self.template, phone=phone, person=who)
        return assemble(
            self.book, call, self.locations.values[loc], prof.needs, facts, self.dialect
        )


def _duplicates(
    rows: _Rows,
    unit_of: dict[int, int],
    run: BatchRun,
    numbers: tuple[_IntArray, _Keys, _IntArray, _IntArray],
) -> tuple[_Bools, tuple[_Keys, _IntArray, _IntArray] | None]:
    """True for the second and later rows with the same number and extension; and
    ``distinct`` of the keys of the rows with a plain number (no extension; ``None`` when
    there are none), from ``numbers``: the rows with a key, and ``distinct`` of their keys.
    """
    n = len(rows.state)
    dup = np.zeros(n, dtype=bool)
    extended = rows.extension >= 0
    plain = ~extended[numbers[0]]
    keyed = _plain_keyed(numbers, plain)
    if keyed is not None:
        idx = numbers[0][plain]
        dup[idx] = True
        dup[idx[keyed[1]]] = False
    # Numbers with an extension, and numbers too long for a key (decided on their own).
    long_ones = {i for i in unit_of if rows.key[i] == 0}
    others = sorted(long_ones.union(np.flatnonzero(extended).tolist()))
    seen: set[tuple[int | str, int]] = set()
    for i, k, e in zip(
        others, rows.key[others].tolist(), rows.extension[others].tolist(), strict=True
    ):
        ident = (k if k else run.phone(rows, i).e164, e)
        dup[i] = ident in seen
        seen.add(ident)
    return dup, keyed


def _plain_keyed(
    numbers: tuple[_IntArray, _Keys, _IntArray, _IntArray], plain: _Bools
) -> tuple[_Keys, _IntArray, _IntArray] | None:
    """``distinct`` of the keys of the rows with a key that ``plain`` keeps, from
    ``distinct`` of all of them (no second sort)."""
    rows, uniq, first, inverse = numbers
    if plain.all():
        return (uniq, first, inverse) if len(rows) else None
    inv = inverse[plain]
    if not len(inv):
        return None
    present = np.zeros(len(uniq), dtype=bool)
    present[inv] = True
    renumber = np.cumsum(present) - 1
    inv = renumber[inv]
    firsts = np.full(int(present.sum()), len(inv), dtype=np.int64)
    np.minimum.at(firsts, inv, np.arange(len(inv), dtype=np.int64))
    return uniq[present], firsts, inv


# -- the result -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class BatchDecisions:
    """Decisions for a list of numbers, as columns aligned with the input.

    The columns are pyarrow arrays (``pa.string()`` and ``pa.bool_()``), one value per
    input row:

    - ``number``: the E.164 form, or null for an input that is not a valid number;
    - ``allowed``: whether the call may be placed at ``checked_at``;
    - ``reason``: the primary reason code, or null when allowed;
    - ``reasons``: every reason code, in order, joined with ``";"`` (``""`` when allowed);
    - ``next_allowed_at``: ``Decision.next_allowed_at.isoformat()``, or null;
    - ``registry``: the registry answers consulted, ``"registry:token"`` joined with
      ``";"``, where the token is the snapshot version or consultation reference (other
      proof verbatim) or, for an answer that was never obtained, its status
      (``"us_dnc:unknown"``); ``""`` when no registry was consulted, null for an invalid
      number;
    - ``duplicate``: true for the second and later rows with the same E.164 number and
      extension in this batch.

    :meth:`decision` rebuilds a row's full :class:`optout.Decision` (with messages and
    evidence), and :meth:`to_table` gives the columns as a ``pyarrow.Table``.
    """

    number: pa.Array
    duplicate: pa.Array
    checked_at: dt.datetime
    _run: BatchRun = dataclasses.field(repr=False)
    _rows: _Rows = dataclasses.field(repr=False)
    _persons: list[str | None] | None = dataclasses.field(repr=False)
    _suppressed: _IntArray = dataclasses.field(repr=False)
    _loc_of: _IntArray = dataclasses.field(repr=False)
    _unit_of: dict[int, int] = dataclasses.field(repr=False)
    _units: list[_Unit] = dataclasses.field(repr=False)
    _registries: _RegistryCodes = dataclasses.field(repr=False)
    # Each row's answer: an index into _answers (allowed, reason, reasons, next_allowed_at
    # and registry of each distinct answer), from which the columns were taken.
    _slot: _IntArray = dataclasses.field(repr=False)
    _answers: tuple[list[Any], ...] = dataclasses.field(repr=False)
    # ``distinct(number_keys[number_keys != 0])`` (None when no row has such a key), for
    # follow-up work on the same keys (cross-chunk duplicates).
    _keyed: tuple[_Keys, _IntArray, _IntArray] | None = dataclasses.field(default=None, repr=False)

    COLUMNS = ("number", "allowed", "reason", "reasons", "next_allowed_at", "registry", "duplicate")

    # The answer columns are taken from the distinct answers when first read (a scrub
    # builds its registry column itself).
    def _column(self, field: int, kind: pa.DataType) -> pa.Array:
        return pa.array(self._answers[field], type=kind).take(pa.array(self._slot))

    @functools.cached_property
    def allowed(self) -> pa.Array:
        """Whether each call may be placed at ``checked_at`` (``pa.bool_()``)."""
        return self._column(0, pa.bool_())

    @functools.cached_property
    def reason(self) -> pa.Array:
        """The primary reason code, or null when allowed."""
        return self._column(1, pa.string())

    @functools.cached_property
    def reasons(self) -> pa.Array:
        """Every reason code, in order, joined with ``";"``."""
        return self._column(2, pa.string())

    @functools.cached_property
    def next_allowed_at(self) -> pa.Array:
        """``Decision.next_allowed_at.isoformat()``, or null."""
        return self._column(3, pa.string())

    @functools.cached_property
    def registry(self) -> pa.Array:
        """The registry answers consulted (see the class description)."""
        return self._column(4, pa.string())

    def __len__(self) -> int:
        return len(self._rows.state)

    @property
    def number_keys(self) -> npt.NDArray[np.uint64]:
        """Each row's E.164 digits as an integer; 0 for an invalid number or one with an
        extension (numpy, for vectorized follow-up work such as cross-chunk duplicates)."""
        rows = self._rows
        return np.where((rows.state == _INVALID) | (rows.extension >= 0), np.uint64(0), rows.key)

    def to_table(self) -> pa.Table:
        """The columns as a ``pyarrow.Table``."""
        return pa.table({name: getattr(self, name) for name in self.COLUMNS})

    def decision(self, i: int) -> Decision:
        """The full decision of row ``i`` (what ``can_call`` returns for it)."""
        if not 0 <= i < len(self):
            raise IndexError(f"row {i} of {len(self)}")
        return self._run.decision(self, i)

    def __iter__(self) -> Iterator[Decision]:
        return (self.decision(i) for i in range(len(self)))


# -- facts of the rows decided one by one ---------------------------------------------------


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield list(values[start : start + _IN_CHUNK])


def _suppressions(
    conn: sa.Connection,
    numbers: list[str],
    call: RuleCall,
    privacy: Privacy,
    lists: Any,
    *,
    prefix_lengths: Sequence[int] | None,
) -> dict[str, tuple[Suppression, ...]]:
    """The entries that apply to the call, for each number that has any.

    With ``prefix_lengths`` (clear storage with no erased numbers: the digit counts of the
    prefix entries there are), one ``IN`` query over each number and its prefixes of those
    lengths; otherwise ``SuppressionList.matching`` number by number, which also hashes the
    query for hashed storage and erased numbers' opt-outs.
    """
    found: dict[str, list[Suppression]] = {}
    if prefix_lengths is not None:

        def candidates(e164: str) -> list[str]:
            return [e164, *(e164[: n + 1] for n in prefix_lengths if n + 1 < len(e164))]

        wanted = sorted({c for e164 in numbers for c in candidates(e164)})
        by_value: dict[str, list[Suppression]] = {}
        for part in _chunks(wanted):
            stmt = sa.select(_s).where(_s.c.value.in_(part), _s.c.removed_at.is_(None))
            for row in conn.execute(stmt):
                entry = _row_to_entry(row)
                by_value.setdefault(entry.value, []).append(entry)
        for e164 in numbers:
            found[e164] = [
                e
                for c in candidates(e164)
                for e in by_value.get(c, ())
                if e.kind == "prefix" or c == e164
            ]
    else:
        found = {e164: list(lists.matching(conn, e164)) for e164 in numbers}
    out: dict[str, tuple[Suppression, ...]] = {}
    brand, campaign, channel = call.brand, call.campaign, call.channel.value
    for e164, entries in found.items():
        applying = tuple(
            e
            for e in sorted({e.id: e for e in entries}.values(), key=lambda e: e.id)
            if e.applies(at=call.at, brand=brand, campaign=campaign, channel=channel)
        )
        if applying:
            out[e164] = applying
    return out


def _attempts(
    conn: sa.Connection,
    numbers: list[str],
    persons: list[str],
    since: dt.datetime,
    privacy: Privacy,
) -> tuple[dict[str, list[tuple[int, AttemptFact]]], dict[str, list[tuple[int, AttemptFact]]]]:
    columns = (
        _a.c.id,
        _a.c.at,
        _a.c.outcome,
        _a.c.number,
        _a.c.purpose,
        _a.c.person,
        _a.c.debt,
        _a.c.campaign,
        _a.c.brand,
        _a.c.subject,
        _a.c.channel,
        _a.c.technology,
    )
    by_number: dict[str, list[tuple[int, AttemptFact]]] = {}
    by_person: dict[str, list[tuple[int, AttemptFact]]] = {}
    clear_of = {privacy.stored(n): n for n in numbers}
    for values, column, target in (
        (list(clear_of), _a.c.number, by_number),
        (persons, _a.c.person, by_person),
    ):
        for part in _chunks(values):
            stmt = sa.select(*columns).where(column.in_(part), _a.c.at > since).order_by(_a.c.id)
            for r in conn.execute(stmt):
                fact = AttemptFact(
                    at=r.at,
                    outcome=None if r.outcome is None else Outcome(r.outcome),
                    number=clear_of.get(r.number, r.number),
                    purpose=Purpose(r.purpose),
                    person=r.person,
                    debt=r.debt,
                    campaign=r.campaign,
                    brand=r.brand,
                    subject=r.subject,
                    channel=Channel(r.channel),
                    technology=Technology(r.technology),
                )
                key = fact.number if target is by_number else r.person
                target.setdefault(key, []).append((int(r.id), fact))
    return by_number, by_person


def _consents(
    conn: sa.Connection, numbers: list[str], privacy: Privacy
) -> dict[str, list[Consent]]:
    out: dict[str, list[Consent]] = {}
    clear_of = {privacy.stored(n): n for n in numbers}
    for part in _chunks(list(clear_of)):
        for row in conn.execute(sa.select(_c).where(_c.c.number.in_(part)).order_by(_c.c.id)):
            consent = _consent_row(row)
            out.setdefault(clear_of[consent.number], []).append(consent)
    return out


def _registrations(
    conn: sa.Connection, numbers: list[str], privacy: Privacy
) -> dict[str, tuple[tuple[str, dt.datetime], ...]]:
    found: dict[str, list[tuple[str, dt.datetime]]] = {}
    clear_of = {privacy.stored(n): n for n in numbers}
    for part in _chunks(list(clear_of)):
        stmt = (
            sa.select(
                _r.c.number,
                _r.c.registry,
                sa.func.min(_r.c.registered_at),
                sa.func.max(_r.c.registered_at),
            )
            .where(_r.c.number.in_(part))
            .group_by(_r.c.number, _r.c.registry)
        )
        for number, reg, first, last in conn.execute(stmt):
            found.setdefault(clear_of[number], []).extend(registration_pairs([(reg, first, last)]))
    return {k: tuple(sorted(set(v))) for k, v in found.items()}


# -- the entry point ------------------------------------------------------------------------


def _persons(person: Sequence[str | None] | str | None, n: int) -> list[str | None] | None:
    if person is None:
        return None
    if isinstance(person, str):
        one = _optional_text(person, "person")
        return [one] * n
    if len(person) != n:
        raise ValueError(f"person has {len(person)} values for {n} numbers")
    memo: dict[object, str | None] = {}
    out: list[str | None] = []
    for value in person:
        if value not in memo:
            memo[value] = _optional_text(value, "person")
        out.append(memo[value])
    return out


def decide_many(
    client: Compliance,
    numbers: Sequence[object] | pa.Array | pa.ChunkedArray,
    *,
    at: dt.datetime,
    person: Sequence[str | None] | str | None = None,
    workers: int | None = None,
    **context: Any,
) -> BatchDecisions:
    """Decide every number of a list at one instant; row ``i`` equals ``can_call(numbers[i])``.

    Takes :meth:`Compliance.can_call`'s keyword arguments, with ``at`` required (read once
    by the caller) and ``person`` either one value or a sequence aligned with ``numbers``.
    ``workers`` is how many processes parse inputs that need libphonenumber (default 1:
    this process; a pool pays off only on machines with real spare cores). Inputs that are
    not valid numbers (``None``, integers, text) give ``number.invalid`` rows, never
    exceptions.

    Raises:
        NaiveDatetimeError: ``at`` has no time zone.
        ConfigurationError: an unknown purpose, channel, technology, country or hint.
        DatabaseError: the database cannot be reached (nothing is allowed then).
    """
    single = person if person is None or isinstance(person, str) else None
    run = BatchRun(client, at=at, workers=workers, person=single, **context)
    try:
        return run.decide(numbers, None if single is person else person)
    finally:
        run.close()
