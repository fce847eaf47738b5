"""Batch decisions: :func:`decide_many` runs ``can_call()``'s pipeline over columns.

The answer for every row equals ``client.can_call(numbers[i], at=at, ...)`` (allowed, reason
codes in order, number, ``next_allowed_at``); the work is arranged so that per-row Python
work is a few dictionary look-ups:

1. **Normalize per distinct input.** The raw strings are dictionary-encoded with pyarrow.
   Well-formed ones (ASCII digits, one leading ``+``, spaces, dashes, dots, parentheses, at
   most :data:`~optout._numbers.MAX_INPUT_LENGTH` characters) are reduced to their digits
   (vectorized) and each distinct reduced key is parsed once; libphonenumber strips exactly
   those characters itself, so the parse is the same (a reduced key that does not parse is
   parsed again from the raw text, so a denial keeps ``normalize``'s own message). Anything
   else goes through :func:`optout.normalize` as typed. Large batches parse in a process
   pool. Each distinct number is located (:func:`optout._location.locate`) once.
2. **Deduplicate.** Rows with the same E.164 number and extension (and person, when a
   ``person`` column is given) share one decision.
3. **Load facts in bulk.** One scan of the active suppression values, matched vectorized
   against the distinct numbers (whole numbers and every prefix length in use), then the
   full entries of the hits only, filtered with :meth:`Suppression.applies`; attempts,
   consents and registration dates with chunked ``IN (...)`` queries, and only for the
   numbers whose binding rules need them (:func:`optout._facts.needs_of`); registry facts
   with one ``backend.facts(numbers, at)`` call per registry.
4. **Evaluate rules per group.** ``check_rules`` reads the location (country, subdivisions,
   zones), the number type, the registry facts, consents, registration dates and history;
   the number itself only to match history. Numbers that agree on all of those (and have
   no history) share one evaluation; numbers with history are evaluated alone.

:meth:`BatchDecisions.decision` rebuilds the full :class:`optout.Decision` of a row (reasons
with messages, evidence) by the exact per-number path over the facts the batch loaded.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import logging
import multiprocessing
from collections.abc import Iterator, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from optout._client import _NUMBERING_PLAN, _optional_text
from optout._consents import Consent
from optout._consents import _row as _consent_row
from optout._db import translate_errors
from optout._decision import Decision, Evidence, Reason
from optout._errors import InvalidNumberError
from optout._facts import Needs, needs_of
from optout._fastnum import FastBatch, digit_prefixes, normalize_keys
from optout._location import Location, locate, nanp_states
from optout._numbers import _TYPE_MAP, MAX_INPUT_LENGTH, PhoneNumber, normalize, normalize_region
from optout._privacy import Privacy
from optout._rules._decide import RuleCall, RuleOutcome, check_rules
from optout._rules._engine import AttemptFact, BoundRule, RegistryFact
from optout._schema import attempts as _a
from optout._schema import consents as _c
from optout._schema import registrations as _r
from optout._schema import suppressions as _s
from optout._suppressions import Suppression, _row_to_entry, prefix_candidates
from optout._timeutil import instant
from optout._vocab import Channel, NumberType, Outcome, Purpose, Scope, Technology, coerce

if TYPE_CHECKING:
    from optout._client import Compliance

__all__ = ["BatchDecisions", "decide_many"]

_log = logging.getLogger("optout")

#: This module hashes its queries under ``Compliance(hash_numbers=...)`` (the client
#: refuses the batch path otherwise, see ``Compliance._reading``).

#: A raw string that is only formatting around digits; its digits parse the same.
_WELL_FORMED = r"^[ \t\r\n]*\+?[0-9 ().\-]*[0-9][0-9 ().\-]*[ \t\r\n]*$"
#: Distinct strings to parse from which a process pool is used (when ``workers`` allows).
PARALLEL_MIN = 50_000
_CHUNK = 20_000
#: Bind parameters per ``IN (...)`` query (SQLite allows 32766, PostgreSQL 65535).
_IN_CHUNK = 5_000

# A resolved string: an error message, or the fields of a PhoneNumber and its Location.
_Resolved = str | tuple[Any, ...]
_Hints = tuple[str | None, str | None, str | None]
_IntArray = npt.NDArray[np.int64]
#: libphonenumber types the geocoder treats as geographic for +1 numbers.
_NANP_GEOGRAPHIC = (
    int(phonenumbers.PhoneNumberType.FIXED_LINE),
    int(phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE),
)


# -- normalization --------------------------------------------------------------------------


def _resolve(texts: Sequence[str], region: str | None, hints: _Hints) -> list[_Resolved]:
    """Parse and locate each text (runs in worker processes too: plain tuples out)."""
    state, postal_code, time_zone = hints
    out: list[_Resolved] = []
    for text in texts:
        try:
            p = normalize(text, region)
        except InvalidNumberError as exc:
            out.append(str(exc))
            continue
        where = locate(p, state=state, postal_code=postal_code, time_zone=time_zone)
        out.append(
            (
                p.e164,
                p.country_code,
                p.region,
                p.number_type.value,
                tuple(sorted(p.time_zones)),
                p.extension,
                p.valid,
                where.country,
                tuple(sorted(where.subdivisions)),
                tuple(sorted(where.zones)),
                where.basis,
            )
        )
    return out


def _resolve_all(
    texts: list[str], region: str | None, hints: _Hints, workers: int
) -> list[_Resolved]:
    if workers <= 1 or len(texts) < PARALLEL_MIN:
        return _resolve(texts, region, hints)
    chunks = [texts[i : i + _CHUNK] for i in range(0, len(texts), _CHUNK)]
    context = multiprocessing.get_context("forkserver")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        parts = pool.map(_resolve, chunks, [region] * len(chunks), [hints] * len(chunks))
        return [r for part in parts for r in part]


def _resolve_fast(fast: FastBatch, keys: _IntArray, hints: _Hints) -> list[_Resolved]:
    """The resolved tuples of keys the vectorized path decided (valid numbers only).

    Numbers that :func:`locate` cannot tell apart (same region, zones and area-code state,
    from :func:`optout._location.nanp_states`) share one ``locate`` call.
    """
    state, postal_code, time_zone = hints
    n = len(keys)
    e164s = [fast.e164[i] for i in keys.tolist()]
    regions = [fast.region[i] for i in keys.tolist()]
    codes = fast.country_code[keys].tolist()
    type_codes = fast.number_type[keys]
    zones = fast.zones[keys].tolist()
    kinds = {code: _TYPE_MAP.get(code, NumberType.UNKNOWN) for code in _TYPE_MAP}
    # Per number, what locate reads besides region and zones (-1: the number itself).
    place = np.zeros(n, dtype=np.int64)
    region_arr = np.array(regions, dtype=object)
    geographic = np.isin(type_codes, list(_NANP_GEOGRAPHIC))
    for nanp in ("US", "CA"):
        rows = np.flatnonzero(region_arr == nanp)
        if not len(rows):
            continue
        geo = rows[geographic[rows]]
        place[rows] = -1
        if len(geo):
            digits = pa.array([e164s[i][1:] for i in geo.tolist()], type=pa.string())
            lengths, prefixes = digit_prefixes(digits, 18)
            _readings, index = nanp_states(nanp, lengths, prefixes.__getitem__)
            place[geo] = index
    for i in np.flatnonzero(region_arr == "BR").tolist():
        place[i] = int(e164s[i][3:5]) if e164s[i][3:5].isdigit() else -1
    places: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    out: list[_Resolved] = []
    for i, p in enumerate(place.tolist()):
        e164, region, z = e164s[i], regions[i], zones[i]
        kind = kinds.get(int(type_codes[i]), NumberType.UNKNOWN)
        ident = (region, z, p)
        where = places.get(ident) if p >= 0 else None
        if where is None:
            phone = PhoneNumber(e164, codes[i], region, kind, frozenset(fast.zone_sets[z]))
            found = locate(phone, state=state, postal_code=postal_code, time_zone=time_zone)
            where = (
                found.country,
                tuple(sorted(found.subdivisions)),
                tuple(sorted(found.zones)),
                found.basis,
            )
            if p >= 0:
                places[ident] = where
        out.append((e164, codes[i], region, kind.value, fast.zone_sets[z], None, True, *where))
    return out


class _Builder:
    """Turns resolved tuples into shared PhoneNumber and Location objects."""

    def __init__(self) -> None:
        self.sets: dict[tuple[str, ...], frozenset[str]] = {}
        self.locations: dict[tuple[Any, ...], Location] = {}

    def _set(self, items: tuple[str, ...]) -> frozenset[str]:
        found = self.sets.get(items)
        if found is None:
            found = self.sets[items] = frozenset(items)
        return found

    def build(self, r: tuple[Any, ...]) -> tuple[PhoneNumber, Location]:
        phone = PhoneNumber(
            e164=r[0],
            country_code=r[1],
            region=r[2],
            number_type=NumberType(r[3]),
            time_zones=self._set(r[4]),
            extension=r[5],
            valid=r[6],
        )
        key = r[7:]
        where = self.locations.get(key)
        if where is None:
            where = self.locations[key] = Location(r[7], self._set(r[8]), self._set(r[9]), r[10])
        return phone, where


def _to_arrow(strs: list[str | None]) -> tuple[pa.Array, list[int]]:
    """The strings as an Arrow array; strings UTF-8 cannot hold become nulls (listed)."""
    try:
        return pa.array(strs, type=pa.string()), []
    except (UnicodeEncodeError, pa.ArrowException):
        bad: list[int] = []
        for i, s in enumerate(strs):
            if s is not None:
                try:
                    s.encode("utf-8")
                except UnicodeEncodeError:
                    bad.append(i)
                    strs[i] = None
        return pa.array(strs, type=pa.string()), bad


@dataclasses.dataclass(slots=True)
class _Parsed:
    row_result: _IntArray  # row -> index into results
    results: list[_Resolved]


def _parse_rows(  # noqa: PLR0915 - one stage, kept in order
    numbers: Sequence[object], region: str | None, hints: _Hints, workers: int
) -> _Parsed:
    n = len(numbers)
    strs: list[str | None] = [x if isinstance(x, str) else None for x in numbers]
    arr, unencodable = _to_arrow(strs)
    encoded = pc.dictionary_encode(arr)
    row_distinct = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(), dtype=np.int64)
    distinct = encoded.dictionary
    count = len(distinct)
    well = np.asarray(
        pc.fill_null(
            pc.and_(
                pc.less_equal(pc.utf8_length(distinct), MAX_INPUT_LENGTH),
                pc.match_substring_regex(distinct, _WELL_FORMED),
            ),
            False,
        ).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    fast = np.flatnonzero(well)
    slow = np.flatnonzero(~well)
    keys = pc.dictionary_encode(
        pc.replace_substring_regex(distinct.take(pa.array(fast)), r"[^0-9+]", "")
    )
    key_of_fast = np.asarray(keys.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    # Keys the vectorized normalizer decides (valid numbers); libphonenumber for the rest.
    fast_keys = normalize_keys(keys.dictionary, region)
    use = fast_keys.decided & fast_keys.valid
    by_fast = np.flatnonzero(use)
    by_parse = np.flatnonzero(~use)
    parse_texts: list[str] = keys.dictionary.take(pa.array(by_parse, type=pa.int64())).to_pylist()
    slow_texts: list[str] = distinct.take(pa.array(slow)).to_pylist()
    parsed = _resolve_all(parse_texts + slow_texts, region, hints, workers)
    results: list[_Resolved] = [""] * len(keys.dictionary)
    for i, r in zip(by_fast.tolist(), _resolve_fast(fast_keys, by_fast, hints), strict=True):
        results[i] = r
    for i, r in zip(by_parse.tolist(), parsed, strict=False):
        results[i] = r
    results.extend(parsed[len(by_parse) :])
    result_of = np.empty(count, dtype=np.int64)
    result_of[fast] = key_of_fast
    result_of[slow] = len(keys.dictionary) + np.arange(len(slow), dtype=np.int64)
    # A reduced key that did not parse: parse each raw text itself (exact message).
    failed = [u for u in fast.tolist() if isinstance(results[int(result_of[u])], str)]
    if failed:
        raws: list[str] = distinct.take(pa.array(failed)).to_pylist()
        for u, resolved in zip(failed, _resolve(raws, region, hints), strict=True):
            result_of[u] = len(results)
            results.append(resolved)
    # Index only where a row has a distinct key: with no string rows ``result_of`` is empty
    # and an eager ``np.where`` would index it anyway (found by fuzzing).
    row_result = np.full(len(row_distinct), -1, dtype=np.int64)
    hit = row_distinct >= 0
    row_result[hit] = result_of[row_distinct[hit]]
    # Rows that are not (encodable) strings: normalize them one by one, memoized by type.
    by_type: dict[type, int] = {}
    for i in np.flatnonzero(row_distinct < 0).tolist():
        raw = numbers[i]
        if isinstance(raw, str):
            row_result[i] = len(results)
            results.extend(_resolve([raw], region, hints))
            continue
        kind = type(raw)
        if kind not in by_type:
            try:
                normalize(raw, region)  # type: ignore[arg-type]
            except InvalidNumberError as exc:
                by_type[kind] = len(results)
                results.append(str(exc))
            else:  # pragma: no cover - normalize takes strings only
                raise AssertionError(f"normalize accepted a {kind.__name__}")
        row_result[i] = by_type[kind]
    del unencodable, n
    return _Parsed(row_result=row_result, results=results)


# -- the result -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Context:
    """What every decision of the batch shares."""

    book: Any  # RuleBook
    call: RuleCall  # the call-level arguments (phone: a placeholder)
    dialect: str
    needs: dict[Location, tuple[tuple[BoundRule, ...], Needs, tuple[str, ...]]]
    abandonment: dict[dt.timedelta, tuple[int, int, int]]


@dataclasses.dataclass(frozen=True, slots=True)
class _Unit:
    """One decision: a distinct number (and person), with the facts loaded for it."""

    phone: PhoneNumber
    location: Location
    person: str | None
    suppressions: tuple[Suppression, ...]
    facts: tuple[RegistryFact, ...]
    consents: tuple[Consent, ...]
    registered: tuple[tuple[str, dt.datetime], ...]  # from the registrations table
    attempts: tuple[AttemptFact, ...]


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
    allowed: pa.Array
    reason: pa.Array
    reasons: pa.Array
    next_allowed_at: pa.Array
    registry: pa.Array
    duplicate: pa.Array
    checked_at: dt.datetime
    _row_slot: _IntArray = dataclasses.field(repr=False)
    _slots: list[_Unit | Decision] = dataclasses.field(repr=False)
    _context: _Context = dataclasses.field(repr=False)

    COLUMNS = ("number", "allowed", "reason", "reasons", "next_allowed_at", "registry", "duplicate")

    def __len__(self) -> int:
        return len(self._row_slot)

    def to_table(self) -> pa.Table:
        """The columns as a ``pyarrow.Table``."""
        return pa.table({name: getattr(self, name) for name in self.COLUMNS})

    def decision(self, i: int) -> Decision:
        """The full decision of row ``i`` (what ``can_call`` returns for it)."""
        slot = self._slots[int(self._row_slot[i])]
        if isinstance(slot, Decision):
            return slot
        return _assemble(self._context, slot)

    def __iter__(self) -> Iterator[Decision]:
        return (self.decision(i) for i in range(len(self)))


def _extension_reason(phone: PhoneNumber) -> Reason:
    return Reason(
        code="number.extension",
        message=f"the number has extension {phone.extension!r}; a dialer cannot reach "
        "the extension's owner, so the line cannot be cleared on its own",
        source="optout.normalize",
    )


def _suppression_reason(entry: Suppression) -> Reason:
    scope = (
        "all calls"
        if entry.scope is Scope.GLOBAL
        else (f"{entry.scope.value} {entry.scope_value!r}")
    )
    what = "number" if entry.kind == "number" else f"prefix {entry.value}"
    return Reason(
        code="suppression.number" if entry.kind == "number" else "suppression.prefix",
        message=f"suppressed ({what}, {scope}) since {entry.created_at:%Y-%m-%d}: {entry.reason}",
        source=f"suppression:{entry.id}",
        until=entry.expires_at,
    )


def _suppression_evidence(entry: Suppression) -> Evidence:
    return Evidence(
        kind="suppression",
        id=str(entry.id),
        source=entry.source,
        date=entry.created_at,
        detail=MappingProxyType(
            {
                "kind": entry.kind,
                "value": entry.value,
                "scope": entry.scope.value,
                "scope_value": entry.scope_value,
                "reason": entry.reason,
                "actor": entry.actor or "",
            }
        ),
    )


def _registered(unit: _Unit) -> list[tuple[str, dt.datetime]]:
    return list(unit.registered) + [
        (f.registry, f.registered_at)
        for f in unit.facts
        if f.status == "listed" and f.registered_at is not None
    ]


def _outcome(ctx: _Context, unit: _Unit) -> RuleOutcome:
    """``check_rules`` for one unit, exactly as ``Compliance._decide`` calls it."""
    _rules, needs, _names = ctx.needs[unit.location]
    call = dataclasses.replace(ctx.call, phone=unit.phone, person=unit.person)
    return check_rules(
        ctx.book,
        call,
        attempts=unit.attempts,
        consents=[c.fact() for c in unit.consents],
        registrations=_registered(unit),
        abandonment=[ctx.abandonment[p] for p in needs.abandonment],
        registry_facts=unit.facts,
        location=unit.location,
    )


def _fixed(unit: _Unit) -> list[Reason]:
    out = [_extension_reason(unit.phone)] if unit.phone.extension else []
    out.extend(_suppression_reason(e) for e in unit.suppressions)
    return out


def _assemble(ctx: _Context, unit: _Unit) -> Decision:
    """The full decision for a unit (mirrors ``Compliance._decide`` step by step)."""
    when = ctx.call.at
    _rules, needs, _names = ctx.needs[unit.location]
    reasons = _fixed(unit)
    evidence: list[Evidence] = [_NUMBERING_PLAN]
    evidence.extend(_suppression_evidence(e) for e in unit.suppressions)
    evidence.append(
        Evidence(
            kind="suppression_list",
            id="lookup",
            source=ctx.dialect,
            date=when,
            detail=MappingProxyType({"matched": str(len(unit.suppressions))}),
        )
    )
    outcome = _outcome(ctx, unit)
    fixed = tuple(reasons)
    reasons.extend(outcome.reasons)
    evidence.extend(outcome.evidence)
    evidence.extend(
        Evidence(
            kind="consent",
            id=str(c.id),
            source=c.source,
            date=c.given_at,
            detail=MappingProxyType(
                {
                    "kind": c.kind.value,
                    "proof": c.proof or "",
                    "brand": c.brand or "",
                    "revoked_at": c.revoked_at.isoformat() if c.revoked_at else "",
                }
            ),
        )
        for c in unit.consents
    )
    evidence.extend(
        Evidence(kind="registration", id=reg, source="registrations", date=since)
        for reg, since in _registered(unit)
    )
    evidence.extend(
        Evidence(
            kind="registry",
            id=f.registry,
            source=f.source or f.status,
            date=f.checked_at,
            version=f.evidence,
            detail=MappingProxyType(
                {
                    "status": f.status,
                    "registered_at": f.registered_at.isoformat() if f.registered_at else "",
                    "fail_open": str(f.fail_open),
                    "detail": f.detail or "",
                }
            ),
        )
        for f in unit.facts
    )
    if needs.history is not None:
        evidence.append(
            Evidence(
                kind="attempt_history",
                id="window",
                source=ctx.dialect,
                date=when - needs.history,
                detail=MappingProxyType({"attempts": str(len(unit.attempts))}),
            )
        )
    next_at = outcome.next_allowed(when, others=fixed) if reasons else None
    if next_at is not None and when.tzinfo is not None:
        next_at = next_at.astimezone(when.tzinfo)
    return Decision(
        allowed=not reasons,
        number=unit.phone.e164,
        reasons=tuple(reasons),
        next_allowed_at=next_at,
        evidence=tuple(evidence),
        checked_at=when,
        phone=unit.phone,
    )


def _registry_token(fact: RegistryFact) -> str:
    if fact.status in ("unknown", "unavailable") or not fact.evidence:
        return f"{fact.registry}:{fact.status}"
    words = fact.evidence.split()
    if len(words) >= 3 and words[0] == fact.registry and words[1] in ("snapshot", "consultation"):
        return f"{fact.registry}:{words[2]}"
    return f"{fact.registry}:{fact.evidence}"


# -- bulk facts -----------------------------------------------------------------------------


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield list(values[start : start + _IN_CHUNK])


def _suppressions(
    conn: sa.Connection, numbers: list[str], call: RuleCall, privacy: Privacy
) -> dict[str, tuple[Suppression, ...]]:
    """The entries that apply to the call, for each number that has any."""
    if privacy.hashed:
        return _hashed_suppressions(conn, numbers, call, privacy)
    kinds: dict[str, list[str]] = {"number": [], "prefix": []}
    for kind, value in conn.execute(
        sa.select(_s.c.kind, _s.c.value).where(_s.c.removed_at.is_(None))
    ):
        kinds.setdefault(kind, []).append(value)
    if not numbers or not (kinds["number"] or kinds["prefix"]):
        return {}
    column = pa.array(numbers, type=pa.string())
    hit = pc.is_in(column, value_set=pa.array(kinds["number"], type=pa.string()))
    by_length: dict[int, list[str]] = {}
    for value in kinds["prefix"]:
        by_length.setdefault(len(value), []).append(value)
    for length, values in by_length.items():
        heads = pc.utf8_slice_codeunits(column, 0, length)
        hit = pc.or_(hit, pc.is_in(heads, value_set=pa.array(values, type=pa.string())))
    found = [numbers[i] for i in np.flatnonzero(hit.to_numpy(zero_copy_only=False)).tolist()]
    if not found:
        return {}
    wanted = sorted({c for e164 in found for c in prefix_candidates(e164)})
    by_value: dict[str, list[Suppression]] = {}
    for part in _chunks(wanted):
        stmt = sa.select(_s).where(_s.c.value.in_(part), _s.c.removed_at.is_(None))
        for row in conn.execute(stmt):
            entry = _row_to_entry(row)
            by_value.setdefault(entry.value, []).append(entry)
    out: dict[str, tuple[Suppression, ...]] = {}
    brand, campaign, channel = call.brand, call.campaign, call.channel.value
    for e164 in found:
        entries = {
            e.id: e
            for c in prefix_candidates(e164)
            for e in by_value.get(c, ())
            if e.kind == "prefix" or c == e164
        }
        applying = tuple(
            entries[k]
            for k in sorted(entries)
            if entries[k].applies(at=call.at, brand=brand, campaign=campaign, channel=channel)
        )
        if applying:
            out[e164] = applying
    return out


def _hashed_suppressions(
    conn: sa.Connection, numbers: list[str], call: RuleCall, privacy: Privacy
) -> dict[str, tuple[Suppression, ...]]:
    """:func:`_suppressions` for hashed values: hash every prefix of every number and look
    the hashes up (a hash cannot be sliced, so the vectorized prefix scan cannot apply)."""
    clear_of: dict[str, str] = {}  # stored hash -> clear candidate
    seen: set[str] = set()
    for e164 in numbers:
        for c in prefix_candidates(e164):
            if c not in seen:
                seen.add(c)
                clear_of[privacy.stored(c)] = c
    by_value: dict[str, list[Suppression]] = {}
    for part in _chunks(sorted(clear_of)):
        stmt = sa.select(_s).where(_s.c.value.in_(part), _s.c.removed_at.is_(None))
        for row in conn.execute(stmt):
            entry = _row_to_entry(row)
            by_value.setdefault(clear_of[entry.value], []).append(entry)
    out: dict[str, tuple[Suppression, ...]] = {}
    brand, campaign, channel = call.brand, call.campaign, call.channel.value
    for e164 in numbers:
        entries = {
            e.id: e
            for c in prefix_candidates(e164)
            for e in by_value.get(c, ())
            if e.kind == "prefix" or c == e164
        }
        applying = tuple(
            entries[k]
            for k in sorted(entries)
            if entries[k].applies(at=call.at, brand=brand, campaign=campaign, channel=channel)
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
            sa.select(_r.c.number, _r.c.registry, sa.func.max(_r.c.registered_at))
            .where(_r.c.number.in_(part))
            .group_by(_r.c.number, _r.c.registry)
        )
        for number, reg, when in conn.execute(stmt):
            since = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
            found.setdefault(clear_of[number], []).append((reg, since))
    return {k: tuple(sorted(v)) for k, v in found.items()}


def _registry_facts(
    client: Compliance, registry: str, numbers: list[str], at: dt.datetime
) -> list[RegistryFact]:
    """What the backend says for a batch; never an exception (fail closed)."""
    backend = client._registries.get(registry)
    if backend is None:
        fact = RegistryFact(registry=registry, status="unknown", detail="no backend configured")
        return [fact] * len(numbers)
    try:
        facts = backend.facts(numbers, at)
        if len(facts) != len(numbers):
            raise ValueError(f"{len(facts)} answers for {len(numbers)} numbers")
    except Exception as exc:
        _log.warning("registry %s failed: %s", registry, type(exc).__name__)
        fact = RegistryFact(
            registry=registry,
            status="unavailable",
            detail=f"backend error: {type(exc).__name__}: {exc}",
            fail_open=backend.options.fail_open,
        )
        return [fact] * len(numbers)
    return facts


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


def decide_many(  # noqa: PLR0915 - one pipeline, kept in order
    client: Compliance,
    numbers: Sequence[object],
    *,
    at: dt.datetime,
    country: str | None = None,
    campaign: str | None = None,
    brand: str | None = None,
    purpose: Purpose | str = Purpose.MARKETING,
    channel: Channel | str = Channel.VOICE,
    technology: Technology | str = Technology.AUTODIALED,
    person: Sequence[str | None] | str | None = None,
    debt: str | None = None,
    subject: str | None = None,
    state: str | None = None,
    postal_code: str | None = None,
    time_zone: str | None = None,
    workers: int | None = None,
) -> BatchDecisions:
    """Decide every number of a list at one instant; row ``i`` equals ``can_call(numbers[i])``.

    Takes :meth:`Compliance.can_call`'s keyword arguments, with ``at`` required (read once
    by the caller) and ``person`` either one value or a sequence aligned with ``numbers``.
    ``workers`` is how many processes parse large batches (default 1: this process; a
    pool pays off only on machines with real spare cores). Inputs that are not valid
    numbers (``None``, integers, text) give ``number.invalid`` rows, never exceptions.

    Raises:
        NaiveDatetimeError: ``at`` has no time zone.
        ConfigurationError: an unknown purpose, channel, technology, country or hint.
        DatabaseError: the database cannot be reached (nothing is allowed then).
    """
    when = instant(at)
    texts = {
        name: _optional_text(value, name)
        for name, value in (
            ("campaign", campaign),
            ("brand", brand),
            ("debt", debt),
            ("subject", subject),
            ("state", state),
            ("postal_code", postal_code),
            ("time_zone", time_zone),
        )
    }
    template = RuleCall(
        phone=PhoneNumber("+0", 0, None, NumberType.UNKNOWN, frozenset()),
        at=when,
        purpose=coerce(Purpose, purpose, name="purpose"),
        channel=coerce(Channel, channel, name="channel"),
        technology=coerce(Technology, technology, name="technology"),
        **texts,
    )
    region = normalize_region(country) if country is not None else client._region
    persons = _persons(person, len(numbers))
    hints: _Hints = (texts["state"], texts["postal_code"], texts["time_zone"])
    parsed = _parse_rows(numbers, region, hints, workers or 1)

    # Distinct numbers (E.164 + extension) and the rows' decision units.
    builder = _Builder()
    slots: list[_Unit | Decision] = []
    invalid_slot: dict[int, int] = {}  # result index -> slot of its denial
    key_of_result = np.full(len(parsed.results), -1, dtype=np.int64)
    keys: dict[tuple[str, str | None], int] = {}
    phones: list[PhoneNumber] = []
    places: list[Location] = []
    for j, resolved in enumerate(parsed.results):
        if isinstance(resolved, str):
            continue
        ident = (resolved[0], resolved[5])
        k = keys.get(ident)
        if k is None:
            k = keys[ident] = len(phones)
            phone, where = builder.build(resolved)
            phones.append(phone)
            places.append(where)
        key_of_result[j] = k
    rows = parsed.row_result
    row_key = np.where(rows >= 0, key_of_result[np.maximum(rows, 0)], -1)
    n = len(rows)
    duplicate = np.zeros(n, dtype=bool)
    valid_rows = np.flatnonzero(row_key >= 0)
    if len(valid_rows):
        _, first = np.unique(row_key[valid_rows], return_index=True)
        duplicate[valid_rows] = True
        duplicate[valid_rows[first]] = False
    # Units: one per distinct number, or per (number, person) with a person column.
    if persons is None:
        unit_key = np.arange(len(phones), dtype=np.int64)
        unit_person: list[str | None] = [None] * len(phones)
        row_unit = row_key
    else:
        pairs: dict[tuple[int, str | None], int] = {}
        unit_list: list[int] = []
        unit_person = []
        row_unit = np.full(n, -1, dtype=np.int64)
        for i in valid_rows.tolist():
            pair = (int(row_key[i]), persons[i])
            u = pairs.get(pair)
            if u is None:
                u = pairs[pair] = len(unit_list)
                unit_list.append(pair[0])
                unit_person.append(pair[1])
            row_unit[i] = u
        unit_key = np.asarray(unit_list, dtype=np.int64)

    # Rules and the facts they need, per location.
    ctx = _Context(
        book=client._rules,
        call=template,
        dialect=client.engine.dialect.name,
        needs={},
        abandonment={},
    )
    for where in builder.locations.values():
        rules = client._rules.rules_for(where, campaign=template.campaign, brand=template.brand)
        needs = needs_of(rules, template.purpose)
        ctx.needs[where] = (rules, needs, tuple(sorted(needs.registries)))
    e164s = [p.e164 for p in phones]
    number_needs: dict[str, set[str]] = {}  # registry -> numbers
    history: dict[str, None] = {}
    history_persons: dict[str, None] = {}
    consent_numbers: dict[str, None] = {}
    registration_numbers: dict[str, None] = {}
    longest: dt.timedelta | None = None
    for u in range(len(unit_key)):
        k = int(unit_key[u])
        _rules, needs, names = ctx.needs[places[k]]
        e164 = e164s[k]
        for name in names:
            number_needs.setdefault(name, set()).add(e164)
        if needs.history is not None:
            history[e164] = None
            if unit_person[u] is not None:
                history_persons[unit_person[u]] = None  # type: ignore[index]
            longest = needs.history if longest is None else max(longest, needs.history)
        if needs.consents:
            consent_numbers[e164] = None
        if needs.registrations:
            registration_numbers[e164] = None
        for period in needs.abandonment:
            ctx.abandonment.setdefault(period, (0, 0, 0))

    facts: dict[str, dict[str, RegistryFact]] = {}
    for name in sorted(number_needs):
        wanted = sorted(number_needs[name])
        facts[name] = dict(zip(wanted, _registry_facts(client, name, wanted, when), strict=True))

    with translate_errors(client.engine), client._reading() as conn:
        privacy = client.privacy
        sups = _suppressions(conn, sorted(set(e164s)), template, privacy)
        by_number, by_person = (
            _attempts(conn, list(history), list(history_persons), when - longest, privacy)
            if longest is not None
            else ({}, {})
        )
        consents = _consents(conn, list(consent_numbers), privacy)
        registrations = _registrations(conn, list(registration_numbers), privacy)
        for period in list(ctx.abandonment):
            ctx.abandonment[period] = client._abandonment.counts(
                conn, template.campaign, period, when
            )

    # Decide each unit; units that agree on every fact the rules read share one evaluation.
    groups: dict[tuple[Any, ...], tuple[RuleOutcome, tuple[str, ...], str | None]] = {}
    nexts: dict[tuple[Any, ...], str | None] = {}
    registry_text: dict[tuple[RegistryFact, ...], str] = {}
    col_allowed: list[bool] = []
    col_reason: list[str | None] = []
    col_reasons: list[str] = []
    col_next: list[str | None] = []
    col_registry: list[str | None] = []
    col_number: list[str | None] = []
    for u in range(len(unit_key)):
        k = int(unit_key[u])
        phone, where, who = phones[k], places[k], unit_person[u]
        e164 = phone.e164
        _rules, needs, names = ctx.needs[where]
        unit_facts = tuple(facts[name][e164] for name in names)
        unit_consents: tuple[Consent, ...] = ()
        if needs.consents:
            unit_consents = tuple(
                c
                for c in consents.get(e164, ())
                if who is None or c.person is None or c.person == who
            )
        unit_attempts: tuple[AttemptFact, ...] = ()
        if needs.history is not None:
            since = when - needs.history
            seen = {
                i: a
                for i, a in [*by_number.get(e164, ()), *(by_person.get(who, ()) if who else ())]
                if a.at > since
            }
            unit_attempts = tuple(seen[i] for i in sorted(seen))
        unit = _Unit(
            phone=phone,
            location=where,
            person=who,
            suppressions=sups.get(e164, ()),
            facts=unit_facts,
            consents=unit_consents,
            registered=registrations.get(e164, ()) if needs.registrations else (),
            attempts=unit_attempts,
        )
        slots.append(unit)
        key = (
            where,
            phone.number_type,
            unit_facts,
            unit_consents,
            unit.registered,
            (e164, who, unit_attempts) if unit_attempts else (),
        )
        group = groups.get(key)
        if group is None:
            outcome = _outcome(ctx, unit)
            text = registry_text.get(unit_facts)
            if text is None:
                text = registry_text[unit_facts] = ";".join(_registry_token(f) for f in unit_facts)
            next_text: str | None = None
            if outcome.reasons:
                next_at = outcome.next_allowed(when)
                if next_at is not None:
                    next_text = next_at.astimezone(when.tzinfo).isoformat()
            group = groups[key] = (outcome, tuple(r.code for r in outcome.reasons), next_text)
            nexts[(key, ())] = next_text
        outcome, codes, next_text = group
        if phone.extension or unit.suppressions:
            fixed = _fixed(unit)
            codes = (*(r.code for r in fixed), *codes)
            if any(r.until is None for r in fixed) or any(r.until is None for r in outcome.reasons):
                next_text = None
            else:
                untils = (key, tuple(r.until for r in fixed))
                if untils not in nexts:
                    next_at = outcome.next_allowed(when, others=tuple(fixed))
                    nexts[untils] = (
                        None if next_at is None else next_at.astimezone(when.tzinfo).isoformat()
                    )
                next_text = nexts[untils]
        col_number.append(e164)
        col_allowed.append(not codes)
        col_reason.append(codes[0] if codes else None)
        col_reasons.append(";".join(codes))
        col_next.append(next_text)
        col_registry.append(registry_text[unit_facts])

    # Invalid inputs: one denial per distinct message.
    row_slot = row_unit.copy()
    invalid_rows = np.flatnonzero(row_key < 0)
    for i in invalid_rows.tolist():
        j = int(rows[i])
        s = invalid_slot.get(j)
        if s is None:
            message = parsed.results[j]
            assert isinstance(message, str)
            s = invalid_slot[j] = len(slots)
            slots.append(
                Decision(
                    allowed=False,
                    number=None,
                    reasons=(
                        Reason(code="number.invalid", message=message, source="optout.normalize"),
                    ),
                    next_allowed_at=None,
                    evidence=(_NUMBERING_PLAN,),
                    checked_at=when,
                )
            )
            col_number.append(None)
            col_allowed.append(False)
            col_reason.append("number.invalid")
            col_reasons.append("number.invalid")
            col_next.append(None)
            col_registry.append(None)
        row_slot[i] = s
    take = pa.array(row_slot, type=pa.int64())

    def column(values: list[Any], kind: pa.DataType) -> pa.Array:
        return pa.array(values, type=kind).take(take)

    return BatchDecisions(
        number=column(col_number, pa.string()),
        allowed=column(col_allowed, pa.bool_()),
        reason=column(col_reason, pa.string()),
        reasons=column(col_reasons, pa.string()),
        next_allowed_at=column(col_next, pa.string()),
        registry=column(col_registry, pa.string()),
        duplicate=pa.array(duplicate, type=pa.bool_()),
        checked_at=when,
        _row_slot=row_slot,
        _slots=slots,
        _context=ctx,
    )
