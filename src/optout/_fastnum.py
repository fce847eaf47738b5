"""Vectorized :func:`optout.normalize` for batches of cleaned digit strings.

A *key* is what :mod:`optout._batch` reduces a well-formed input to: ASCII digits with at
most one leading ``+``. :func:`normalize_keys` decides, for every key it can, exactly what
``optout.normalize(key, region, strict=False)`` returns, and marks the rest *deferred*
(the caller parses those with libphonenumber). Everything is derived at first use from
libphonenumber's own metadata, never from hand-written numbering plans:

- the country calling code (``COUNTRY_CODE_TO_REGION_CODE``; first 1-3 digits that are a
  code, as ``_extract_country_code`` does);
- for national keys, the region's international prefix (a key starting with it is
  deferred) and the "starts with the region's own country code" rule of
  ``_maybe_extract_country_code``;
- national-prefix stripping as ``parse`` does it, for regions whose
  ``national_prefix_for_parsing`` is a plain digit string (``0``, ``1``, ``8`` ...); for any
  other pattern a key it matches is deferred;
- the region of the number (``region_code_for_number``: leading digits, else a full type
  check, region by region in libphonenumber's order), the line type
  (``_number_type_helper``'s order of checks, FIXED_LINE_OR_MOBILE included) and validity;
- the time zones (``phonenumbers.timezone``'s prefix map, longest prefix first, matched with
  sorted numpy arrays; country-level zones for non-geographic types).

Patterns run through pyarrow's RE2 (``match_substring_regex`` with anchored patterns). A
pattern RE2 cannot compile defers every key that would need it. Keys longer than 20 digits,
keys libphonenumber would reject, and keys whose national prefix handling is not a plain
digit string are deferred: correctness first.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers.phonenumberutil import is_number_type_geographical
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from optout._numbers import _TYPE_MAP, PhoneNumber
from optout._prefixtable import ALL, MIXED, prefix_table
from optout._tablecache import cached_arrays
from optout._vocab import NumberType

__all__ = [
    "NANP_WIDTH",
    "POW10",
    "FastBatch",
    "dense_nanp",
    "distinct",
    "e164_strings",
    "fast_normalize",
    "key_digits",
    "key_prefix",
    "merge_sorted",
    "normalize_keys",
    "once",
    "plain_nanp",
    "warm_up",
]

_BoolArray = npt.NDArray[np.bool_]
_IntArray = npt.NDArray[np.int64]

#: Longest key (in digits) decided here: a 3-digit country code and a 17-digit number.
_WIDTH = 20
_MAX_NSN = 17  # libphonenumber's _MAX_LENGTH_FOR_NSN
_MIN_NSN = 2  # libphonenumber's _MIN_LENGTH_FOR_NSN
_UNKNOWN = int(PhoneNumberType.UNKNOWN)
_UNKNOWN_ZONE = "Etc/Unknown"
_KEY = r"^\+?[0-9]+$"


_R = TypeVar("_R")
_BUILDING = threading.RLock()


def once(build: Callable[..., _R]) -> Callable[..., _R]:
    """``functools.cache`` for the large tables built on first use, under one lock: a
    thread that needs a table another thread is building waits for it instead of
    building it again."""
    cached = functools.cache(build)

    @functools.wraps(build)
    def get(*args: Any) -> _R:
        with _BUILDING:
            return cached(*args)

    return get


def warm_up() -> None:
    """Build the NANP tables now (a scrub starts this in a thread while it reads)."""
    from optout._location import _nanp_dense  # noqa: PLC0415 - _location imports this module

    _nanp_lane()
    _nanp_zones()
    _nanp_dense("US")
    _nanp_dense("CA")


# -- metadata, compiled once ----------------------------------------------------------------


@functools.cache
def _re2(pattern: str) -> bool:
    """Whether RE2 (pyarrow) compiles ``pattern``."""
    try:
        pc.match_substring_regex(pa.array(["0"], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class _Desc:
    kind: int  # a PhoneNumberType
    pattern: str | None  # anchored full-match pattern; None: never matches
    lengths: tuple[int, ...]  # empty: any length
    raw: str | None = None  # the pattern as the metadata gives it (for prefix tables)


def _desc(kind: int, desc: object) -> _Desc | None:
    """A PhoneNumberDesc as ``_is_number_matching_desc`` reads it (None: cannot be run)."""
    if desc is None:
        return _Desc(kind, None, ())
    pattern = getattr(desc, "national_number_pattern", None)
    lengths = tuple(getattr(desc, "possible_length", ()) or ())
    if not pattern:
        return _Desc(kind, None, lengths)
    full = f"^(?:{pattern})$"
    return _Desc(kind, full, lengths, pattern) if _re2(full) else None


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """What the fast path needs of one region's (or non-geographic code's) metadata."""

    code: str  # region code, or "001"
    country_code: int
    general: _Desc | None
    lengths: frozenset[int]  # general possible lengths
    local_lengths: frozenset[int]
    min_length: int
    max_length: int
    npp_literals: tuple[str, ...]  # national prefix for parsing, when digit strings "a|b"
    npp_pattern: str | None  # anchored prefix pattern of any other one; None: no prefix
    npp_ok: bool  # False: a key this region's national prefix might touch is deferred
    idd_pattern: str | None  # anchored international prefix; None: RE2 cannot run it
    idd_literal: str | None  # the international prefix when it is a plain digit string
    leading_digits: str | None  # anchored; "" when the metadata has none
    leading_ok: bool
    leading_raw: str  # unanchored (for prefix tables)
    types: tuple[_Desc | None, ...]  # premium ... voicemail, in _number_type_helper order
    fixed: _Desc | None
    mobile: _Desc | None
    same_fixed_mobile: bool


_ORDER = (
    (PhoneNumberType.PREMIUM_RATE, "premium_rate"),
    (PhoneNumberType.TOLL_FREE, "toll_free"),
    (PhoneNumberType.SHARED_COST, "shared_cost"),
    (PhoneNumberType.VOIP, "voip"),
    (PhoneNumberType.PERSONAL_NUMBER, "personal_number"),
    (PhoneNumberType.PAGER, "pager"),
    (PhoneNumberType.UAN, "uan"),
    (PhoneNumberType.VOICEMAIL, "voicemail"),
)


def _plan_of(meta: PhoneMetadata, code: str) -> _Plan:
    general = meta.general_desc
    lengths = tuple(general.possible_length or ()) if general is not None else ()
    local = tuple(general.possible_length_local_only or ()) if general is not None else ()
    npp = meta.national_prefix_for_parsing or None
    transform = meta.national_prefix_transform_rule or None
    literals: tuple[str, ...] = ()
    npp_pattern: str | None = None
    npp_ok = True
    if npp is not None:
        if re.fullmatch(r"[0-9]+(?:\|[0-9]+)*", npp) and transform is None:
            literals = tuple(npp.split("|"))
        else:
            npp_pattern = f"^(?:{npp})"
            npp_ok = _re2(npp_pattern)
    idd = meta.international_prefix
    idd_pattern = f"^(?:{idd})" if idd else None
    if idd_pattern is not None and not _re2(idd_pattern):
        idd_pattern = None
    leading = f"^(?:{meta.leading_digits})" if meta.leading_digits else ""
    return _Plan(
        code=code,
        country_code=int(meta.country_code or 0),
        general=_desc(_UNKNOWN, general),
        lengths=frozenset(lengths),
        local_lengths=frozenset(local),
        min_length=min(lengths) if lengths else 0,
        max_length=max(lengths) if lengths else 0,
        npp_literals=literals,
        npp_pattern=npp_pattern,
        npp_ok=npp_ok,
        idd_pattern=idd_pattern,
        idd_literal=idd if idd and idd.isdigit() else None,
        leading_digits=leading,
        leading_ok=leading == "" or _re2(leading),
        leading_raw=meta.leading_digits or "",
        types=tuple(_desc(int(kind), getattr(meta, name)) for kind, name in _ORDER),
        fixed=_desc(int(PhoneNumberType.FIXED_LINE), meta.fixed_line),
        mobile=_desc(int(PhoneNumberType.MOBILE), meta.mobile),
        same_fixed_mobile=bool(meta.same_mobile_and_fixed_line_pattern),
    )


@functools.cache
def _plan(code: str, country_code: int) -> _Plan | None:
    """The plan for a region code (``"001"``: the non-geographic ``country_code``)."""
    if code == "001":
        meta = PhoneMetadata.metadata_for_nongeo_region(country_code, None)
    else:
        meta = PhoneMetadata.metadata_for_region(code, None)
    return None if meta is None else _plan_of(meta, code)


@functools.cache
def _country_codes() -> _BoolArray:
    known = np.zeros(1000, dtype=bool)
    known[[cc for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if 0 < cc < 1000]] = True
    return known


@once
def _zone_tables() -> tuple[list[tuple[str, ...]], dict[int, tuple[_IntArray, _IntArray]]]:
    """TIMEZONE_DATA as, per prefix length, sorted int64 prefixes and indices of zone lists."""
    zones: list[tuple[str, ...]] = []
    seen: dict[tuple[str, ...], int] = {}
    by_length: dict[int, list[tuple[int, int]]] = {}
    for prefix, value in TIMEZONE_DATA.items():
        kept = tuple(sorted({str(z) for z in value if z != _UNKNOWN_ZONE}))
        index = seen.get(kept)
        if index is None:
            index = seen[kept] = len(zones)
            zones.append(kept)
        by_length.setdefault(len(prefix), []).append((int(prefix), index))
    tables: dict[int, tuple[_IntArray, _IntArray]] = {}
    for length, pairs in by_length.items():
        pairs.sort()
        tables[length] = (
            np.array([p for p, _ in pairs], dtype=np.int64),
            np.array([i for _, i in pairs], dtype=np.int64),
        )
    return zones, tables


@functools.cache
def _country_zones(country_code: int) -> tuple[str, ...]:
    """``timezone._country_level_time_zones_for_number``, Etc/Unknown dropped."""
    cc = str(country_code)
    for prefix_len in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        prefix = cc[: 1 + prefix_len]
        if prefix in TIMEZONE_DATA:
            return tuple(sorted({str(z) for z in TIMEZONE_DATA[prefix] if z != _UNKNOWN_ZONE}))
    return ()


@functools.cache
def _geographical(kind: int, country_code: int) -> bool:
    return bool(is_number_type_geographical(kind, country_code))


# -- vectorized helpers ---------------------------------------------------------------------


def _np(values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.generic]:
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _matches(values: pa.Array, pattern: str) -> _BoolArray:
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    out = filled(pc.match_substring_regex(values, pattern), False)
    return np.asarray(_np(out), dtype=bool)


_DIGIT_BYTE = np.zeros(256, dtype=bool)
_DIGIT_BYTE[ord("0") : ord("9") + 1] = True

#: 10**k as uint64, k = 0..19.
POW10 = np.array([10**k for k in range(20)], dtype=np.uint64)
_U32 = np.uint32


def _all_digits(words: npt.NDArray[np.uint32]) -> _BoolArray:
    """Whether each 32-bit word is four ASCII digits: every byte's high nibble is 3, and
    adding 6 does not carry it past 9 (no byte can carry into the next once the first
    test holds)."""
    nibbles = _U32(0xF0F0F0F0)
    digits = _U32(0x30303030)
    return np.asarray(
        ((words & nibbles) == digits) & (((words + _U32(0x06060606)) & nibbles) == digits)
    )


def _four_digits(words: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The value of four ASCII digits held in each word, the first digit in the lowest
    byte (little-endian text): pairs, then the two pairs."""
    v = words - _U32(0x30303030)
    pairs = (v & _U32(0x00FF00FF)) * _U32(10) + ((v >> _U32(8)) & _U32(0x00FF00FF))
    return np.asarray((pairs & _U32(0xFFFF)) * _U32(100) + (pairs >> _U32(16)))


def _plus_one_digits(text: npt.NDArray[np.uint8]) -> tuple[_BoolArray, npt.NDArray[np.uint64]]:
    """For 12-byte texts (rows of ``text``): which are ``+1`` and ten ASCII digits, the
    first 2-9, and those ten digits as a number, read as three little-endian words."""
    words = np.ascontiguousarray(text).view("<u4")
    w0, w1, w2 = words[:, 0], words[:, 1], words[:, 2]
    third = (w0 >> _U32(16)) & _U32(0xFF)
    ok = (w0 & _U32(0xFFFF)) == _U32(ord("+") | ord("1") << 8)
    ok &= _all_digits((w0 & _U32(0xFFFF0000)) | _U32(0x3030)) & (third >= _U32(ord("2")))
    ok &= _all_digits(w1) & _all_digits(w2)
    # Read every row (wrong values where not ok, dropped below): cheaper than compacting
    # the three words first.
    first_two = (third - _U32(48)) * _U32(10) + ((w0 >> _U32(24)) - _U32(48))
    rest = _four_digits(w1) * _U32(10**4) + _four_digits(w2)
    nsn = first_two.astype(np.uint64) * np.uint64(10**8) + rest
    return ok, nsn[ok]


def key_digits(keys: npt.NDArray[np.uint64]) -> _IntArray:
    """How many decimal digits each (non-zero) key has."""
    return np.searchsorted(POW10, keys, side="right").astype(np.int64)


def key_prefix(keys: npt.NDArray[np.uint64], digits: _IntArray, length: int) -> _IntArray:
    """The first ``length`` digits of each key (keys shorter than that: the whole key)."""
    cut = np.clip(digits - length, 0, 19)
    return (keys // POW10[cut]).astype(np.int64)


#: Digits of a national number that its prefix-table look-up reads (10**5 entries a table).
_HEAD = 5


@dataclasses.dataclass(frozen=True, slots=True)
class _Nsn:
    """A view of some national numbers: their text (taken only when a pattern must run),
    their lengths, and their first ``_HEAD`` digits as an integer (all of a shorter one)."""

    base: pa.Array | None  # None: virtual numbers (only their heads and lengths exist)
    index: _IntArray
    lengths: _IntArray
    heads: _IntArray
    #: Virtual numbers: set for the base rows a pattern could not decide from the head.
    undecided: _BoolArray | None = None

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: _IntArray) -> _Nsn:
        return _Nsn(
            self.base, self.index[rows], self.lengths[rows], self.heads[rows], self.undecided
        )

    def values(self, rows: _IntArray | None = None) -> pa.Array:
        assert self.base is not None
        index = self.index if rows is None else self.index[rows]
        return self.base.take(pa.array(index, type=pa.int64()))

    def run(self, pattern: str, rows: _IntArray) -> _BoolArray:
        """The pattern itself on some rows (virtual rows: marked undecided instead)."""
        if self.undecided is not None:
            self.undecided[self.index[rows]] = True
            return np.zeros(len(rows), dtype=bool)
        return _matches(self.values(rows), pattern)


def _by_table(
    pattern: str, raw: str | None, nsn: _Nsn, rows: _IntArray, prefix_match: bool
) -> _BoolArray:
    """``pattern`` over the ``rows`` of ``nsn``: a prefix-table look-up where the first
    digits decide (:mod:`optout._prefixtable`), the pattern itself (RE2) elsewhere."""
    out = np.zeros(len(rows), dtype=bool)
    if not len(rows):
        return out
    lengths = nsn.lengths[rows]
    first = int(lengths[0])
    same = bool((lengths == first).all())
    for length in [first] if same else np.unique(lengths).tolist():
        part = np.arange(len(rows)) if same else np.flatnonzero(lengths == length)
        table = (
            prefix_table(raw, int(length), min(int(length), _HEAD), prefix_match)
            if raw and length > 0
            else None
        )
        if table is None:
            out[part] = nsn.run(pattern, rows[part])
            continue
        verdict = table[nsn.heads[rows[part]]]
        out[part] = verdict == ALL
        mixed = part[verdict == MIXED]
        if len(mixed):
            out[mixed] = nsn.run(pattern, rows[mixed])
    return out


def _desc_matches(desc: _Desc, nsn: _Nsn) -> _BoolArray:
    """``_is_number_matching_desc`` over ``nsn`` (lengths first, then the pattern)."""
    n = len(nsn)
    if desc.pattern is None:
        return np.zeros(n, dtype=bool)
    ok = np.ones(n, dtype=bool)
    if desc.lengths:
        ok = np.isin(nsn.lengths, np.array(desc.lengths, dtype=np.int64))
    if not ok.any():
        return ok
    idx = np.flatnonzero(ok)
    out = np.zeros(n, dtype=bool)
    out[idx] = _by_table(desc.pattern, desc.raw, nsn, idx, prefix_match=False)
    return out


def _types(plan: _Plan, nsn: _Nsn) -> tuple[_IntArray, _BoolArray]:
    """``_number_type_helper`` over ``nsn``: (type codes, deferred mask)."""
    n = len(nsn)
    kinds = np.full(n, _UNKNOWN, dtype=np.int64)
    deferred = np.zeros(n, dtype=bool)
    if plan.general is None:
        return kinds, ~deferred
    open_ = _desc_matches(plan.general, nsn)

    def test(desc: _Desc | None, rows: _IntArray) -> _BoolArray:
        if desc is None:  # RE2 cannot run it: every row that reaches it is deferred
            deferred[rows] = True
            return np.zeros(len(rows), dtype=bool)
        return _desc_matches(desc, nsn.take(rows))

    for desc in plan.types:
        rows = np.flatnonzero(open_ & ~deferred)
        if not len(rows):
            break
        hit = rows[test(desc, rows)]
        kinds[hit] = desc.kind if desc is not None else _UNKNOWN
        open_[hit] = False
    rows = np.flatnonzero(open_ & ~deferred)
    if len(rows):
        fixed = rows[test(plan.fixed, rows)]
        if plan.same_fixed_mobile:
            kinds[fixed] = int(PhoneNumberType.FIXED_LINE_OR_MOBILE)
        elif len(fixed):
            both = test(plan.mobile, fixed)
            kinds[fixed] = np.where(
                both, int(PhoneNumberType.FIXED_LINE_OR_MOBILE), int(PhoneNumberType.FIXED_LINE)
            )
        open_[fixed] = False
        rest = np.flatnonzero(open_ & ~deferred)
        if len(rest) and not plan.same_fixed_mobile:
            kinds[rest[test(plan.mobile, rest)]] = int(PhoneNumberType.MOBILE)
    return kinds, deferred


def _length_ok(plan: _Plan, lengths: _IntArray) -> _BoolArray:
    """``_test_number_length`` is not TOO_SHORT, IS_POSSIBLE_LOCAL_ONLY or INVALID_LENGTH."""
    possible = np.isin(lengths, np.array(sorted(plan.lengths), dtype=np.int64))
    local = np.isin(lengths, np.array(sorted(plan.local_lengths), dtype=np.int64))
    return ~local & (possible | (lengths > plan.max_length))


def _general(plan: _Plan, values: pa.Array) -> tuple[_BoolArray, _BoolArray]:
    """``_match_national_number(v, general_desc)`` (pattern only): (matches, deferred)."""
    if plan.general is None:
        return np.zeros(len(values), dtype=bool), np.ones(len(values), dtype=bool)
    if plan.general.pattern is None:
        return np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=bool)
    return _matches(values, plan.general.pattern), np.zeros(len(values), dtype=bool)


# -- the batch ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class FastBatch:
    """What :func:`normalize_keys` decided, aligned with its keys (numpy columns).

    ``decided[i]`` is false for a deferred key; the other fields of a deferred key are
    placeholders. ``key[i]`` is the E.164 number's digits as an integer (``+390612345678``
    is ``390612345678``; an E.164 number never starts with 0, so the two forms map one to
    one). ``region_id[i]`` indexes ``region_names`` (-1: the number belongs to no region);
    ``zones[i]`` indexes ``zone_sets`` (sorted, without ``Etc/Unknown``).
    """

    decided: _BoolArray
    key: npt.NDArray[np.uint64]
    country_code: _IntArray
    region_id: _IntArray
    region_names: tuple[str, ...]
    number_type: _IntArray  # phonenumbers.PhoneNumberType codes
    zones: _IntArray
    zone_sets: list[tuple[str, ...]]
    valid: _BoolArray

    def phone(self, i: int) -> PhoneNumber | None:
        """Key ``i`` as the :class:`PhoneNumber` ``normalize(key, region, strict=False)`` gives."""
        if not self.decided[i]:
            return None
        r = int(self.region_id[i])
        return PhoneNumber(
            e164=f"+{int(self.key[i])}",
            country_code=int(self.country_code[i]),
            region=self.region_names[r] if r >= 0 else None,
            number_type=_TYPE_MAP.get(int(self.number_type[i]), NumberType.UNKNOWN),
            time_zones=frozenset(self.zone_sets[int(self.zones[i])]),
            extension=None,
            valid=bool(self.valid[i]),
        )


_G = TypeVar("_G", bound=np.generic)


def filled(values: Any, value: object) -> Any:
    """``pc.fill_null(values, value)``, without the copy when there is no null."""
    return values if values.null_count == 0 else pc.fill_null(values, value)


def distinct(values: npt.NDArray[_G]) -> tuple[npt.NDArray[_G], _IntArray, _IntArray]:
    """Sorted distinct values, the index of each one's first occurrence, and each value's
    index among them (``np.unique(values, return_inverse=True)`` plus first positions)."""
    values = np.asarray(values).reshape(-1)
    n = len(values)
    if n == 0:
        return values[:0].copy(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        if high - low <= 8 * n + 4096:
            return _distinct_in_range(values, low, high - low + 1)
    # numpy's default argsort (vectorized) is several times faster than the stable sort
    # np.unique uses for return_inverse; ties are settled below, not by the sort.
    order = np.argsort(values)
    ordered = values[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    uniq = ordered[starts]
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    # Each value's first position: the smallest index among its equal run.
    first = np.minimum.reduceat(order, np.flatnonzero(starts)).astype(np.int64, copy=False)
    return uniq, first, inverse


def _distinct_in_range(
    values: npt.NDArray[_G], low: int, span: int
) -> tuple[npt.NDArray[_G], _IntArray, _IntArray]:
    """:func:`distinct` of integers within ``span`` of ``low`` (a few per value): marked in
    a table of the span instead of sorted."""
    at = np.subtract(values, np.asarray(low, dtype=values.dtype)).astype(np.intp)
    present = np.zeros(span, dtype=bool)
    present[at] = True
    inverse = (np.cumsum(present) - 1)[at].astype(np.int64, copy=False)
    uniq = np.add(np.flatnonzero(present).astype(values.dtype), np.asarray(low, values.dtype))
    first = np.full(len(uniq), len(values), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(values), dtype=np.int64))
    return uniq, first, inverse


def merge_sorted(a: npt.NDArray[_G], b: npt.NDArray[_G]) -> npt.NDArray[_G]:
    """The union of two sorted arrays of distinct values (a stable sort merges the two runs
    in linear time; ``np.union1d`` would hash everything again)."""
    if not len(b):
        return a
    both = np.sort(np.concatenate([a, b]), kind="stable")
    keep = np.empty(len(both), dtype=bool)
    keep[0] = True
    np.not_equal(both[1:], both[:-1], out=keep[1:])
    return both[keep]


def e164_strings(keys: npt.NDArray[np.uint64], missing: _BoolArray | None = None) -> pa.Array:
    """``"+" + digits`` of each key, as a pyarrow string array (vectorized); null where
    ``missing`` is true."""
    keys = np.asarray(keys, dtype=np.uint64)
    if len(keys) == 0:
        return pa.array([], pa.string())
    if int(keys.max()) >= 1 << 63 or not keys.all():  # not E.164 keys: the general way
        digits = pc.cast(pa.array(keys, mask=missing), pa.string())
        return pc.binary_join_element_wise("+", digits, "")
    # Cast the negated keys ("-12025550123") and turn each minus sign into a plus: one pass
    # of pyarrow's integer formatting instead of formatting and then joining.
    signed = pc.cast(pa.array(-keys.astype(np.int64), mask=missing), pa.string())
    offsets, data, valid = text_bytes(signed)
    data = data.copy()
    data[offsets[:-1][valid]] = ord("+")
    return pa.StringArray.from_buffers(
        len(keys),
        pa.py_buffer(offsets.astype(np.int32)),
        pa.py_buffer(data),
        signed.buffers()[0],
        signed.null_count,
    )


def fast_normalize(key: str, region: str | None = None) -> PhoneNumber | None:
    """One key through the fast path (``None``: deferred to libphonenumber)."""
    return normalize_keys([key], region).phone(0)


#: Batches from this size on use the NANP lane (its table takes about a second to build).
LANE_FROM = 20_000


def normalize_keys(keys: Sequence[str] | pa.Array, region: str | None) -> FastBatch:
    """Decide ``normalize(key, region, strict=False)`` for every key the fast path can.

    ``region`` must already be checked (:func:`optout._numbers.normalize_region`).
    """
    arr = keys if isinstance(keys, pa.Array) else pa.array(list(keys), type=pa.string())
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    if region is not None and len(arr):
        arr = _strip_idd(arr, region)
    if len(arr) < LANE_FROM:
        return _normalize_keys(arr, region)
    lane_rows, nsn = _nanp_rows(arr, region)
    if not len(lane_rows):
        return _normalize_keys(arr, region)
    rest = np.ones(len(arr), dtype=bool)
    rest[lane_rows] = False
    general = _normalize_keys(arr.filter(pa.array(rest)), region)
    return _merge_lane(general, np.flatnonzero(rest), lane_rows, nsn)


def text_bytes(arr: pa.Array) -> tuple[_IntArray, npt.NDArray[np.uint8], _BoolArray]:
    """A string array's offsets (from 0; row ``i`` is ``data[offsets[i]:offsets[i + 1]]``),
    its bytes and which rows are not null (a null row's bytes mean nothing)."""
    n = len(arr)
    if n == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=bool)
    offsets = np.frombuffer(
        arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4
    ).astype(np.int64)
    start = int(offsets[0])
    offsets -= start
    data_buffer = arr.buffers()[2]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8, count=int(offsets[-1]), offset=start)
        if data_buffer is not None
        else np.zeros(0, dtype=np.uint8)
    )
    if arr.null_count:
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    else:
        valid = np.ones(n, dtype=bool)
    return offsets, data, valid


def key_flags(
    offsets: _IntArray, data: npt.NDArray[np.uint8], valid: _BoolArray, digits: _IntArray
) -> tuple[_BoolArray, _BoolArray]:
    """Of texts given by :func:`text_bytes` and their counts of ASCII digits: which are keys
    (:data:`_KEY`: one or more ASCII digits after an optional ``+``) and which start with
    ``+``."""
    lens = np.diff(offsets)
    present = valid & (lens > 0)
    first = np.zeros(len(lens), dtype=np.uint8)
    first[present] = data[offsets[:-1][present]]
    plus = present & (first == ord("+"))
    return present & (digits > 0) & (digits == lens - plus), plus


def _nanp_rows(arr: pa.Array, region: str | None) -> tuple[_IntArray, npt.NDArray[np.uint64]]:
    """The keys that are 10-digit NANP national numbers whose first digits decide their
    region and type (``+1NXXNXXXXXX``; or ``NXXNXXXXXX`` read in a region whose national
    prefix is a plain ``1``, which such a number does not start with), and those numbers
    (read from the bytes: a national one as if written with ``+1``)."""
    offsets, data, valid = text_bytes(arr)
    lengths = np.diff(offsets)
    twelve = np.flatnonzero(valid & (lengths == 12))
    home = _plan(region, 0) if region is not None else None
    if home is not None and home.country_code == 1 and home.npp_literals == ("1",):
        ten = np.flatnonzero(valid & (lengths == 10))
    else:
        ten = np.zeros(0, dtype=np.int64)
    text = np.empty((len(twelve) + len(ten), 12), dtype=np.uint8)
    text[: len(twelve)] = data[offsets[twelve][:, None] + np.arange(12)]
    text[len(twelve) :, 0] = ord("+")
    text[len(twelve) :, 1] = ord("1")
    text[len(twelve) :, 2:] = data[offsets[ten][:, None] + np.arange(10)]
    ok, nsn = _plus_one_digits(text)
    rows = np.concatenate([twelve, ten])[ok]
    if len(ten) and len(twelve):
        order = np.argsort(rows)
        rows, nsn = rows[order], nsn[order]
    decided = _nanp_lane().decided[(nsn // POW10[10 - _HEAD]).astype(np.int64)]
    return rows[decided].astype(np.int64), nsn[decided]


def plain_nanp(arr: pa.Array) -> tuple[_IntArray, FastBatch] | None:
    """The rows whose texts are exactly ``+1`` and ten digits, the first 2-9 (what a CRM
    export usually holds), read from the string buffers with numpy, with the lane's batch
    for them; ``None`` when there are none. ``_nanp_rows`` (inside ``normalize_keys``)
    picks the same texts among the keys the rest of a batch is cleaned up to."""
    n = len(arr)
    if n < LANE_FROM or arr.type != pa.string():
        return None
    offsets, data, valid = text_bytes(arr)
    if not len(data):  # only empty strings and nulls
        return None
    candidates = valid & (np.diff(offsets) == 12)
    rows = np.flatnonzero(candidates)
    if not len(rows):
        return None
    # The 12-byte texts side by side: one row of a matrix each (pyarrow copies them).
    fixed = arr.filter(pa.array(candidates)).cast(pa.binary(12))
    text = np.frombuffer(
        fixed.buffers()[1], dtype=np.uint8, count=len(rows) * 12, offset=fixed.offset * 12
    ).reshape(-1, 12)
    ok, nsn = _plus_one_digits(text)
    rows = rows[ok]
    heads = (nsn // POW10[10 - _HEAD]).astype(np.int64)
    decided = _nanp_lane().decided[heads]
    rows, nsn, heads = rows[decided], nsn[decided], heads[decided]
    if not len(rows):
        return None
    empty = _normalize_keys(pa.array([], pa.string()), None)
    batch = _merge_lane(empty, np.zeros(0, dtype=np.int64), np.arange(len(rows)), nsn, heads)
    return rows.astype(np.int64), batch


def _merge_lane(
    general: FastBatch,
    rest: _IntArray,
    lane_rows: _IntArray,
    nsn: npt.NDArray[np.uint64],
    heads: _IntArray | None = None,
) -> FastBatch:
    """``general`` (the keys at ``rest``) and the NANP lane's keys (``nsn``; ``heads``:
    their first :data:`_HEAD` digits, when known), as one batch."""
    lane = _nanp_lane()
    n = len(rest) + len(lane_rows)
    if heads is None:
        heads = (nsn // POW10[10 - _HEAD]).astype(np.int64)
    found, kind = lane.region[heads], lane.kind[heads]
    names = tuple(sorted(set(general.region_names) | {r for r in lane.regions if r.isalpha()}))
    to_new = np.array([names.index(r) for r in general.region_names] + [-1], dtype=np.int64)
    lane_map = np.array(
        [names.index(r) if r.isalpha() else -1 for r in lane.regions] + [-1], dtype=np.int64
    )
    zone_sets = general.zone_sets

    def zone_id(zones: tuple[str, ...]) -> int:
        if zones not in zone_sets:
            zone_sets.append(zones)
        return zone_sets.index(zones)

    keys = np.zeros(n, dtype=np.uint64)
    zones = np.zeros(n, dtype=np.int64)
    kinds = np.full(n, _UNKNOWN, dtype=np.int64)
    region = np.full(n, -1, dtype=np.int64)
    for target, values in (
        (keys, general.key),
        (zones, general.zones),
        (kinds, general.number_type),
    ):
        target[rest] = values
    region[rest] = to_new[general.region_id]
    decided = np.zeros(n, dtype=bool)
    decided[rest] = general.decided
    valid = np.zeros(n, dtype=bool)
    valid[rest] = general.valid
    country = np.zeros(n, dtype=np.int64)
    country[rest] = general.country_code
    lane_keys = nsn + np.uint64(10**10)
    keys[lane_rows] = lane_keys
    country[lane_rows] = 1
    decided[lane_rows] = True
    kinds[lane_rows] = kind
    region[lane_rows] = lane_map[found]
    valid[lane_rows] = (found >= 0) & (kind != _UNKNOWN)
    lane_zones = np.full(len(lane_rows), zone_id(()), dtype=np.int64)
    present = np.flatnonzero(np.bincount(kind)) if len(kind) else np.zeros(0, dtype=np.int64)
    for k in present.tolist():
        if k == _UNKNOWN:
            continue
        sel = np.flatnonzero(kind == k)
        if _geographical(int(k), 1):
            dense = _nanp_zones()
            if dense is None:  # pragma: no cover - libphonenumber's +1 prefixes are short
                raise AssertionError("no dense NANP zone table")
            got = dense[(lane_keys[sel] // POW10[11 - NANP_WIDTH]).astype(np.int64) - 10**6]
            lane_zones[sel] = np.where(got >= 0, got, zone_id(()))
        else:
            lane_zones[sel] = zone_id(_country_zones(1))
    zones[lane_rows] = lane_zones
    return FastBatch(decided, keys, country, region, names, kinds, zones, zone_sets, valid)


def _key_parts(
    arr: pa.Array,
) -> tuple[_BoolArray, _IntArray, _BoolArray, pa.Array, npt.NDArray[np.uint8]]:
    """From the bytes of ``arr``: which texts are keys (:data:`_KEY`: ASCII digits after
    an optional ``+``), their lengths and ``+`` signs, their digits (``"0"`` for a text
    that is not a key) and the first three digits of each (zero-padded), as numbers."""
    n = len(arr)
    offsets, data, valid = text_bytes(arr)
    lens = np.diff(offsets)
    is_digit = _DIGIT_BYTE[data]
    ends = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(is_digit, out=ends[1:])
    counts = ends[offsets[1:]] - ends[offsets[:-1]]
    ok, plus = key_flags(offsets, data, valid, counts)
    kept = data[is_digit]
    digits = pa.StringArray.from_buffers(
        n, pa.py_buffer(ends[offsets].astype(np.int32)), pa.py_buffer(kept), None, 0
    )
    starts = ends[offsets[:-1]]
    if not ok.all():
        digits = pc.if_else(pa.array(ok), digits, pa.scalar("0", pa.string()))
        offsets, kept, _ = text_bytes(digits)
        starts = offsets[:-1]
        counts = np.diff(offsets)
    head = np.zeros((n, 3), dtype=np.uint8)
    for k in range(3):
        has = counts > k
        head[has, k] = kept[starts[has] + k] - np.uint8(48)
    return ok, lens, plus, digits, head


def _normalize_keys(arr: pa.Array, region: str | None) -> FastBatch:
    n = len(arr)
    ok, lens, plus, digits, mat = _key_parts(arr)
    ndig = lens - plus
    ok &= (ndig >= _MIN_NSN) & (ndig <= _WIDTH)

    country = np.zeros(n, dtype=np.int64)
    start = np.zeros(n, dtype=np.int64)  # where the national number starts in the digits
    meta = np.full(n, -1, dtype=np.int64)  # index into plans: whose national prefix applies
    plans: list[_Plan] = []
    plan_index: dict[tuple[str, int], int] = {}

    def plan_id(code: str, cc: int) -> int:
        k = plan_index.get((code, cc))
        if k is None:
            p = _plan(code, cc)
            if p is None:
                return -1
            k = plan_index[(code, cc)] = len(plans)
            plans.append(p)
        return k

    def main_plan(cc: int) -> int:
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
        return plan_id(regions[0], cc) if regions else -1

    # Keys with '+': the country code is the first 1-3 digits that are one.
    intl = ok & plus & (ndig > _MIN_NSN) & (mat[:, 0] != 0)
    known = _country_codes()
    c1 = mat[:, 0].astype(np.int64)
    c2 = c1 * 10 + mat[:, 1]
    c3 = c2 * 10 + mat[:, 2]
    cclen = np.where(known[c1], 1, np.where(known[c2], 2, np.where(known[c3], 3, 0)))
    intl &= cclen > 0
    cc_value = np.where(cclen == 1, c1, np.where(cclen == 2, c2, c3))
    country[intl] = cc_value[intl]
    start[intl] = cclen[intl]
    ok &= ~plus | intl
    for cc in np.unique(country[intl]).tolist():
        meta[intl & (country == cc)] = main_plan(int(cc))

    # National keys, read as dialled in ``region``.
    national = ok & ~plus
    if national.any():
        home = plan_id(region, 0) if region is not None else -1
        if home < 0:
            ok &= ~national
        else:
            _national(arr, digits, national, ok, country, start, meta, plans[home], home, main_plan)

    ok &= meta >= 0
    return _finish(digits, ok, ndig, country, start, meta, plans, n)


def _strip_idd(arr: pa.Array, region: str) -> pa.Array:
    """Keys dialled with ``region``'s international prefix, written with ``+`` instead.

    ``parse`` reads ``011 44 20 ...`` dialled from the US exactly as ``+44 20 ...``: it
    strips a leading international prefix unless the next digit is 0 (no country code
    starts with 0), then extracts the country code as for ``+``. Only plain-digit prefixes
    (``00``, ``011``) are rewritten here; any other key is left as it is.
    """
    home = _plan(region, 0)
    idd = home.idd_literal if home is not None else None
    if not idd:
        return arr
    # From the bytes: the prefix is ASCII, so its characters are its bytes.
    m = len(idd)
    offsets, data, valid = text_bytes(arr)
    longer = np.flatnonzero(valid & (np.diff(offsets) > m))
    head = data[offsets[longer][:, None] + np.arange(m + 1)]
    dialled = longer[
        (head[:, :m] == np.frombuffer(idd.encode("ascii"), dtype=np.uint8)).all(axis=1)
        & (head[:, m] != ord("0"))
    ]
    if not len(dialled):
        return arr
    # Each such key: its prefix's last byte becomes "+", the bytes before it go.
    data = data.copy()
    data[offsets[dialled] + (m - 1)] = ord("+")
    keep = np.ones(len(data), dtype=bool)
    for k in range(m - 1):
        keep[offsets[dialled] + k] = False
    ends = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum(keep, out=ends[1:])
    return pa.StringArray.from_buffers(
        len(arr),
        pa.py_buffer(ends[offsets]),
        pa.py_buffer(data[keep]),
        pc.is_valid(arr).buffers()[1] if arr.null_count else None,
        arr.null_count,
    )


def _national(
    arr: pa.Array,
    digits: pa.Array,
    national: _BoolArray,
    ok: _BoolArray,
    country: _IntArray,
    start: _IntArray,
    meta: _IntArray,
    home: _Plan,
    home_id: int,
    main_plan: object,
) -> None:
    """``_maybe_extract_country_code`` for national keys (updates the arrays in place)."""
    assert callable(main_plan)
    rows = np.flatnonzero(national)
    values = digits.take(pa.array(rows))
    if home.idd_pattern is None:
        ok[rows] = False
        return
    dialled_out = _matches(values, home.idd_pattern)
    ok[rows[dialled_out]] = False
    keep = ~dialled_out
    country[rows] = home.country_code
    meta[rows] = home_id
    prefix = str(home.country_code)
    own = keep & np.asarray(_np(pc.starts_with(values, prefix)), dtype=bool)
    if not own.any():
        return
    idx = np.flatnonzero(own)
    full = values.take(pa.array(idx))
    rest = pc.utf8_slice_codeunits(full, len(prefix))
    # The rest with the region's national prefix stripped: defer when one could be.
    touched = np.zeros(len(idx), dtype=bool)
    if home.npp_literals:
        for literal in home.npp_literals:
            touched |= np.asarray(_np(pc.starts_with(rest, literal)), dtype=bool)
    elif home.npp_pattern is not None:
        touched = _matches(rest, home.npp_pattern) if home.npp_ok else ~touched
    full_gen, d1 = _general(home, full)
    rest_gen, d2 = _general(home, rest)
    full_len = np.asarray(_np(pc.utf8_length(full)), dtype=np.int64)
    too_long = (
        ~np.isin(full_len, np.array(sorted(home.local_lengths), dtype=np.int64))
        & (full_len > home.min_length)
        & (full_len > home.max_length)
    )
    extract = (~full_gen & rest_gen) | too_long
    ok[rows[idx[touched | d1 | d2]]] = False
    hit = rows[idx[extract & ~touched]]
    if len(hit):
        start[hit] = len(prefix)
        meta[hit] = main_plan(home.country_code)


def _finish(  # noqa: PLR0915 - one pass over the stages, kept in order
    digits: pa.Array,
    ok: _BoolArray,
    ndig: _IntArray,
    country: _IntArray,
    start: _IntArray,
    meta: _IntArray,
    plans: list[_Plan],
    n: int,
) -> FastBatch:
    # National numbers, grouped by the plan whose national prefix applies.
    nsn_of: list[tuple[_IntArray, pa.Array]] = []
    for k in np.unique(meta[ok]).tolist():
        plan = plans[int(k)]
        for s in np.unique(start[ok & (meta == k)]).tolist():
            rows = np.flatnonzero(ok & (meta == k) & (start == s))
            values = pc.utf8_slice_codeunits(digits.take(pa.array(rows)), int(s))
            lengths = ndig[rows] - int(s)
            short = lengths < _MIN_NSN
            values, lengths, bad = _strip_national_prefix(plan, values, lengths)
            bad |= short | (lengths > _MAX_NSN) | (lengths < _MIN_NSN)
            ok[rows[bad]] = False
            good = ~bad
            nsn_of.append((rows[good], values.filter(pa.array(good))))

    kinds = np.full(n, _UNKNOWN, dtype=np.int64)
    region_id = np.full(n, -1, dtype=np.int64)
    zone_index = np.zeros(n, dtype=np.int64)
    zone_sets, tables = _zone_tables()
    zone_sets = list(zone_sets)
    extra: dict[tuple[str, ...], int] = {}
    keys = np.zeros(n, dtype=np.uint64)
    if not nsn_of:
        return FastBatch(ok, keys, country, region_id, (), kinds, zone_index, zone_sets, ok.copy())
    all_rows = np.concatenate([r for r, _ in nsn_of])
    all_nsn = pa.concat_arrays([v for _, v in nsn_of])
    nsn_len = np.asarray(_np(pc.utf8_length(all_nsn)), dtype=np.int64)
    cc_of = country[all_rows]
    # The E.164 digits as one integer: the country code, then the national number. More
    # than 19 digits do not fit (no valid number is that long): deferred.
    cc_len = np.where(cc_of >= 100, 3, np.where(cc_of >= 10, 2, 1))
    fits = cc_len + nsn_len <= 19
    if not fits.all():
        ok[all_rows[~fits]] = False
        all_rows, all_nsn = all_rows[fits], all_nsn.filter(pa.array(fits))
        nsn_len, cc_of, cc_len = nsn_len[fits], cc_of[fits], cc_len[fits]
    nsn_value = np.asarray(_np(pc.cast(all_nsn, pa.uint64())), dtype=np.uint64)
    heads = (nsn_value // POW10[np.maximum(nsn_len - _HEAD, 0)]).astype(np.int64)
    every = _Nsn(all_nsn, np.arange(len(all_nsn), dtype=np.int64), nsn_len, heads)
    all_keys = cc_of.astype(np.uint64) * POW10[nsn_len] + nsn_value
    keys[all_rows] = all_keys
    valid = np.zeros(n, dtype=bool)
    region_codes = np.full(len(all_rows), -1, dtype=np.int64)
    names: list[str] = []

    for cc in np.unique(cc_of).tolist():
        sel = np.flatnonzero(cc_of == cc)
        found, found_kind, defer = _classify_laned(int(cc), every.take(sel), len(names))
        names.extend(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(cc), ()))
        rows = all_rows[sel]
        ok[rows[defer]] = False
        region_codes[sel] = found
        kinds[rows] = found_kind
        valid[rows] = (found >= 0) & (found_kind != _UNKNOWN)

    # Region ids (regions whose code is not alphabetic, "001", have none).
    region_names = tuple(sorted({c for c in names if c.isalpha()}))
    remap = np.array(
        [region_names.index(c) if c.isalpha() else -1 for c in names] + [-1], dtype=np.int64
    )
    region_id[all_rows] = remap[region_codes]  # -1 indexes the trailing -1
    kinds_sel = kinds[all_rows]
    geo = np.zeros(len(all_rows), dtype=bool)
    for kind in np.unique(kinds_sel).tolist():
        for cc in np.unique(cc_of[kinds_sel == kind]).tolist():
            sel = (kinds_sel == kind) & (cc_of == cc)
            if kind == _UNKNOWN:
                zone_index[all_rows[sel]] = _zone_set(zone_sets, extra, ())
            elif _geographical(int(kind), int(cc)):
                geo |= sel
            else:
                zone_index[all_rows[sel]] = _zone_set(zone_sets, extra, _country_zones(int(cc)))
    if geo.any():
        geo_rows = np.flatnonzero(geo)
        _prefix_zones(
            all_keys[geo_rows],
            all_rows[geo_rows],
            zone_index,
            tables,
            _zone_set(zone_sets, extra, ()),
        )
    return FastBatch(
        ok, keys, country, region_id, region_names, kinds, zone_index, zone_sets, valid & ok
    )


def _classify(cc: int, nsn: _Nsn, base: int) -> tuple[_IntArray, _IntArray, _BoolArray]:
    """The region and line type of national numbers of country code ``cc``, as
    ``region_code_for_number`` and ``_number_type_helper`` find them: (``base`` + index of
    the region among the code's regions, or -1; type code; deferred)."""
    n = len(nsn)
    found = np.full(n, -1, dtype=np.int64)
    found_kind = np.full(n, _UNKNOWN, dtype=np.int64)
    defer = np.zeros(n, dtype=bool)
    candidates = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
    for position, code in enumerate(candidates):
        open_rows = np.flatnonzero((found < 0) & ~defer)
        if not len(open_rows):
            break
        rplan = _plan(code, cc)
        if rplan is None:
            continue
        sub = nsn.take(open_rows)
        if len(candidates) > 1 and rplan.leading_digits:
            if not rplan.leading_ok:
                defer[open_rows] = True
                break
            picked = _by_table(
                rplan.leading_digits,
                rplan.leading_raw,
                sub,
                np.arange(len(sub), dtype=np.int64),
                prefix_match=True,
            )
            kinds_sub, def_sub = _types(rplan, sub.take(np.flatnonzero(picked)))
            chosen = open_rows[picked]
            found[chosen] = base + position
            found_kind[chosen] = kinds_sub
            defer[chosen[def_sub]] = True
        else:
            kinds_sub, def_sub = _types(rplan, sub)
            defer[open_rows[def_sub]] = True
            picked = ~def_sub
            if len(candidates) > 1:
                picked &= kinds_sub != _UNKNOWN
            chosen = open_rows[picked]
            found[chosen] = base + position
            found_kind[chosen] = kinds_sub[picked]
    return found, found_kind, defer


#: A batch's national numbers of one country code and length are classified from a table of
#: their first digits (:func:`_country_lane`, as the +1 lane) from this many on.
COUNTRY_LANE_FROM = 2_000


def _classify_laned(cc: int, nsn: _Nsn, base: int) -> tuple[_IntArray, _IntArray, _BoolArray]:
    """:func:`_classify`, with the numbers of each length that has
    :data:`COUNTRY_LANE_FROM` of them or more looked up in the country's lane for that
    length; what a lane leaves undecided (and every other number) is classified here."""
    n = len(nsn)
    if n < COUNTRY_LANE_FROM:
        return _classify(cc, nsn, base)
    found = np.full(n, -1, dtype=np.int64)
    found_kind = np.full(n, _UNKNOWN, dtype=np.int64)
    defer = np.zeros(n, dtype=bool)
    rest = np.ones(n, dtype=bool)
    lengths, counts = np.unique(nsn.lengths, return_counts=True)
    for length, count in zip(lengths.tolist(), counts.tolist(), strict=True):
        if count < COUNTRY_LANE_FROM or not _MIN_NSN <= length <= _MAX_NSN:
            continue
        lane = _country_lane(cc, int(length))
        rows = np.flatnonzero(nsn.lengths == length)
        heads = nsn.heads[rows]
        decided = lane.decided[heads]
        rows, heads = rows[decided], heads[decided]
        position = lane.region[heads]
        found[rows] = np.where(position >= 0, base + position, -1)
        found_kind[rows] = lane.kind[heads]
        rest[rows] = False
    if rest.any():
        rows = np.flatnonzero(rest)
        found[rows], found_kind[rows], defer[rows] = _classify(cc, nsn.take(rows), base)
    return found, found_kind, defer


@dataclasses.dataclass(frozen=True, slots=True)
class _Lane:
    """Every 10-digit NANP national number classified by its first digits at once."""

    regions: tuple[str, ...]  # the +1 regions, in libphonenumber's order
    region: _IntArray  # per head: index into regions, or -1
    kind: _IntArray  # per head: type code
    decided: _BoolArray  # per head: the first digits decide region and type


@once
def _nanp_lane() -> _Lane:
    """:func:`_classify` of every possible head of a 10-digit +1 national number, with the
    prefix tables only: a head a pattern cannot decide from is left undecided (kept in the
    table cache, :mod:`optout._tablecache`)."""
    return _lane(1, 10, "nanp-lane")


@once
def _country_lane(cc: int, length: int) -> _Lane:
    """:func:`_classify` of every possible head of a ``length``-digit national number of
    country code ``cc``, as :func:`_nanp_lane` (also kept in the table cache)."""
    return _lane(cc, length, f"lane-{cc}-{length}")


def _lane(cc: int, length: int, name: str) -> _Lane:
    arrays = cached_arrays(
        name,
        functools.partial(_build_lane, cc, length),
        functools.partial(_lane_ok, size=10 ** min(_HEAD, length)),
    )
    regions = tuple(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ()))
    return _Lane(
        regions,
        np.asarray(arrays["region"], dtype=np.int64),
        np.asarray(arrays["kind"], dtype=np.int64),
        np.asarray(arrays["decided"], dtype=bool),
    )


def _lane_ok(arrays: Mapping[str, npt.NDArray[np.generic]], size: int = 10**_HEAD) -> bool:
    types = {"region": np.int64, "kind": np.int64, "decided": np.bool_}
    return set(arrays) == set(types) and all(
        arrays[k].shape == (size,) and arrays[k].dtype == t for k, t in types.items()
    )


def _build_nanp_lane() -> dict[str, npt.NDArray[np.generic]]:
    return _build_lane(1, 10)


def _build_lane(cc: int, length: int) -> dict[str, npt.NDArray[np.generic]]:
    """Every head (first :data:`_HEAD` digits, or every digit of a shorter number) of a
    ``length``-digit national number of ``cc``, classified with the prefix tables only:
    a head that a pattern cannot decide from is left undecided."""
    n = 10 ** min(_HEAD, length)
    heads = np.arange(n, dtype=np.int64)
    virtual = _Nsn(None, heads, np.full(n, length, dtype=np.int64), heads, np.zeros(n, dtype=bool))
    found, kind, defer = _classify(cc, virtual, 0)
    assert virtual.undecided is not None
    return {"region": found, "kind": kind, "decided": ~defer & ~virtual.undecided}


def _zone_set(
    zone_sets: list[tuple[str, ...]], extra: dict[tuple[str, ...], int], zones: tuple[str, ...]
) -> int:
    k = extra.get(zones)
    if k is None:
        k = extra[zones] = len(zone_sets)
        zone_sets.append(zones)
    return k


#: NANP numbers are looked up in a dense table of their first seven digits (1NPANXX).
NANP_WIDTH = 7


def dense_nanp(tables: dict[int, tuple[_IntArray, _IntArray]], missing: int) -> _IntArray:
    """A longest-prefix table as a dense array over the 7-digit prefixes ``1000000 ..
    1999999`` (index: prefix - 1,000,000): each entry the value of the longest prefix of
    at most seven digits that it starts with, else ``missing``. ``tables`` maps a prefix
    length to sorted prefixes and their values; prefixes of ``+1`` numbers must be at most
    seven digits long (libphonenumber's time-zone and geocoder data are)."""
    dense = np.full(10**6, missing, dtype=np.int64)
    for length in sorted(tables):
        if length > NANP_WIDTH:
            continue
        prefixes, values = tables[length]
        span = 10 ** (NANP_WIDTH - length)
        lo, hi = 10 ** (length - 1), 2 * 10 ** (length - 1)
        sel = (prefixes >= lo) & (prefixes < hi)
        for prefix, value in zip(prefixes[sel].tolist(), values[sel].tolist(), strict=True):
            start = prefix * span - 10**6
            dense[start : start + span] = value
    return dense


@once
def _nanp_zones() -> _IntArray | None:
    """:func:`dense_nanp` of ``TIMEZONE_DATA`` (None if a +1 prefix is longer)."""
    _zones, tables = _zone_tables()
    longer = [
        length
        for length, (prefixes, _) in tables.items()
        if length > NANP_WIDTH
        and bool(((prefixes >= 10 ** (length - 1)) & (prefixes < 2 * 10 ** (length - 1))).any())
    ]
    return None if longer else dense_nanp(tables, -1)


def _prefix_zones(
    keys: npt.NDArray[np.uint64],
    rows: _IntArray,
    zone_index: _IntArray,
    tables: dict[int, tuple[_IntArray, _IntArray]],
    unknown: int,
) -> None:
    """Longest-prefix match of the E.164 digits in ``TIMEZONE_DATA``: one look-up in a
    dense table for NANP numbers, sorted arrays per prefix length for the others."""
    digits = key_digits(keys)
    result = np.full(len(rows), -1, dtype=np.int64)
    dense = _nanp_zones()
    if dense is not None:
        nanp = np.flatnonzero((digits == 11) & (keys // np.uint64(10**10) == 1))
        if len(nanp):
            head = key_prefix(keys[nanp], digits[nanp], NANP_WIDTH)
            result[nanp] = dense[head - 10**6]
            # A NANP number no prefix matches keeps -1 and is not looked up again: every
            # prefix of at most seven digits was in the dense table.
            digits = digits.copy()
            digits[nanp] = 0
    for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        table = tables.get(length)
        if table is None:
            continue
        prefixes, found = table
        # A number shorter than ``length`` was matched at its own length already.
        open_ = np.flatnonzero((result < 0) & (digits >= length))
        if not len(open_):
            continue
        probe = key_prefix(keys[open_], digits[open_], length)
        at = np.minimum(np.searchsorted(prefixes, probe), len(prefixes) - 1)
        hit = prefixes[at] == probe
        result[open_[hit]] = found[at[hit]]
    zone_index[rows] = np.where(result >= 0, result, unknown)


def _strip_national_prefix(
    plan: _Plan, values: pa.Array, lengths: _IntArray
) -> tuple[pa.Array, _IntArray, _BoolArray]:
    """``parse``'s national-prefix step: (national numbers, lengths, deferred mask)."""
    bad = np.zeros(len(values), dtype=bool)
    if not plan.npp_literals:
        if plan.npp_pattern is not None:
            bad = _matches(values, plan.npp_pattern) if plan.npp_ok else ~bad
        return values, lengths, bad
    # The first alternative that is a prefix is the match (Python's leftmost-first).
    which = np.full(len(values), -1, dtype=np.int64)
    for j, literal in enumerate(plan.npp_literals):
        starts = np.asarray(_np(pc.starts_with(values, literal)), dtype=bool)
        which[(which < 0) & starts] = j
    cut = np.zeros(len(values), dtype=np.int64)
    for j, literal in enumerate(plan.npp_literals):
        idx = np.flatnonzero(which == j)
        if not len(idx):
            continue
        original = values.take(pa.array(idx))
        stripped = pc.utf8_slice_codeunits(original, len(literal))
        viable, d1 = _general(plan, original)
        still, d2 = _general(plan, stripped)
        new_len = lengths[idx] - len(literal)
        take = ~(viable & ~still) & _length_ok(plan, new_len) & (new_len > 0)
        bad[idx[d1 | d2]] = True
        cut[idx[take]] = len(literal)
    if not cut.any():
        return values, lengths, bad
    pieces: list[pa.Array] = []
    order: list[_IntArray] = []
    for c in np.unique(cut).tolist():
        idx = np.flatnonzero(cut == c)
        order.append(idx)
        pieces.append(pc.utf8_slice_codeunits(values.take(pa.array(idx)), int(c)))
    perm = np.concatenate(order)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    out = pa.concat_arrays(pieces).take(pa.array(inverse))
    return out, lengths - cut, bad
