"""Evaluating rules at an instant, and finding the next instant every rule allows.

Each rule answers two questions about a call, given facts that do not change (history,
consents, registrations): does it deny the call at instant ``t``, and if so, what is the
earliest instant after ``t`` at which it alone would allow it (``None``: never by itself)?
:func:`next_allowed_at` then jumps to the latest of those instants and asks again, until
every rule allows at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Literal

from optout._decision import Reason
from optout._rules._calendar import HolidayCalendar, first_instant_at, zone
from optout._rules._model import (
    CONNECTED_OUTCOMES,
    CONVERSATION_OUTCOMES,
    AbandonmentRule,
    BlackoutRule,
    CallerIdRule,
    CapRule,
    ConsentKind,
    ConsentRule,
    CooldownRule,
    CountedAttempts,
    RegistryRule,
    Rule,
    ScopeKey,
    TimeRange,
    WindowRule,
)
from optout._vocab import Channel, NumberType, Outcome, Purpose, Sector, Technology

__all__ = [
    "AttemptFact",
    "BlackoutFact",
    "BoundRule",
    "ConsentFact",
    "RegistryFact",
    "Situation",
    "covers_kind",
    "evaluate",
    "next_allowed_at",
]

#: How far ahead the search for an allowed instant looks before calling a denial permanent.
HORIZON = dt.timedelta(days=400)
_FULL_DAY = (TimeRange(start=0, end=1440),)
_DAY = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptFact:
    """A past (or in-flight, ``outcome=None``) attempt, as the rules see it."""

    at: dt.datetime
    outcome: Outcome | None
    number: str
    purpose: Purpose
    person: str | None = None
    debt: str | None = None
    campaign: str | None = None
    brand: str | None = None
    subject: str | None = None
    channel: Channel | None = None  # None: unknown, counted by every rule
    technology: Technology | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ConsentFact:
    """A consent or relationship record, as the rules see it."""

    id: str
    kind: ConsentKind
    given_at: dt.datetime
    purposes: frozenset[Purpose] | None = None  # None: every purpose
    channels: frozenset[Channel] | None = None  # None: every channel
    brand: str | None = None  # None: the whole company
    revoked_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    #: What the consent covers beyond the call itself (``ConsentScope`` values).
    scopes: frozenset[str] = frozenset()
    #: The product sectors the consent names (``None``: not specific, every sector).
    sectors: frozenset[Sector] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class BlackoutFact:
    """A declared no-call period (a state of emergency, an ad-hoc no-call day), as stored.

    ``area`` is a jurisdiction id (``"US-NY"``, ``"US"``, ``"IT"``); ``first`` and ``last``
    are local dates, both included (``last=None``: until it is ended). ``purposes=None``
    covers every purpose.
    """

    id: str
    area: str
    kind: Literal["emergency", "no_call_day"]
    first: dt.date
    last: dt.date | None
    source: str
    purposes: frozenset[Purpose] | None = None

    def covers(self, day: dt.date) -> bool:
        return self.first <= day and (self.last is None or day <= self.last)


@dataclasses.dataclass(frozen=True, slots=True)
class RegistryFact:
    """What a national registry says about a number, and how that answer was obtained.

    ``status`` is ``"listed"``, ``"clear"`` (consulted, not listed), ``"unknown"`` (never
    consulted, or no backend for the registry) or ``"unavailable"`` (the registry could not
    be reached). ``checked_at`` is the snapshot date or the consultation instant;
    ``valid_until`` an expiry the registry itself gave, if any. ``fail_open`` is the
    explicit per-registry setting that lets calls through when the answer is missing,
    stale or unavailable.
    """

    registry: str
    status: Literal["listed", "clear", "unknown", "unavailable"]
    checked_at: dt.datetime | None = None
    registered_at: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    evidence: str | None = None
    source: str | None = None
    detail: str | None = None
    fail_open: bool = False
    #: An explicit per-registry validity (RegistryOptions.validity) replacing the pack's.
    validity: dt.timedelta | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Situation:
    """Everything the rules need to know about one call."""

    number: str
    number_type: NumberType
    purpose: Purpose
    channel: Channel
    technology: Technology
    zones: tuple[zoneinfo.ZoneInfo, ...]
    campaign: str | None = None
    brand: str | None = None
    person: str | None = None
    debt: str | None = None
    subject: str | None = None
    attempts: tuple[AttemptFact, ...] = ()
    consents: tuple[ConsentFact, ...] = ()
    registrations: tuple[tuple[str, dt.datetime], ...] = ()  # (registry, registered_at)
    #: Campaign abandonment counts: (period in seconds, abandoned, answered live).
    abandonment: tuple[tuple[int, int, int], ...] = ()
    registry_facts: tuple[RegistryFact, ...] = ()
    #: What the call sells (sector rules bind only calls that name their sector).
    sector: Sector | None = None
    #: The caller ID the call presents, when named: (E.164, region, line type).
    caller_id: tuple[str, str | None, NumberType] | None = None
    #: Registries whose date for the number means it changed hands (the rules' voided_by):
    #: a consent given before that date came from someone else, for every rule.
    reassigned_by: frozenset[str] = frozenset()

    def registry_fact(self, registry: str) -> RegistryFact:
        for fact in self.registry_facts:
            if fact.registry == registry:
                return fact
        return RegistryFact(registry=registry, status="unknown")

    def registered(self, registry: str) -> dt.datetime | None:
        """The latest known registration date (the strict one for voiding consents)."""
        dates = [since for name, since in self.registrations if name == registry]
        return max(dates) if dates else None

    def first_registered(self, registry: str) -> dt.datetime | None:
        """The earliest known registration date (the strict one for a grace period)."""
        dates = [since for name, since in self.registrations if name == registry]
        return min(dates) if dates else None

    def local(self, t: dt.datetime) -> dt.datetime:
        """``t`` on the callee's wall clock (their first candidate zone; UTC without one)."""
        return t.astimezone(self.zones[0] if self.zones else dt.UTC)

    def local_date(self, t: dt.datetime) -> str:
        """``t``'s date on the callee's wall clock, for messages. A UTC midnight is a
        date-only value (a registry that gives dates, stored as that day's start in UTC):
        it reads as that date, not as the evening before in a western zone."""
        utc = t.astimezone(dt.UTC)
        if utc.time() == dt.time(0):
            return f"{utc:%Y-%m-%d}"
        return f"{self.local(t):%Y-%m-%d}"


@dataclasses.dataclass(frozen=True, slots=True)
class BoundRule:
    """A rule with the pack (or policy) it comes from and its holiday calendar."""

    source: str  # "US-FL" or "policy:acme"
    rule: Rule
    calendar: HolidayCalendar | None = None
    #: Declared blackouts this (blackout) rule applies, matched to its jurisdiction.
    blackouts: tuple[BlackoutFact, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.source}:{self.rule.id}"


def _local_days(at: dt.datetime, zones: Sequence[zoneinfo.ZoneInfo]) -> set[dt.date]:
    return {at.astimezone(z).date() for z in zones} or {at.astimezone(dt.UTC).date()}


def covers_kind(
    rule: Rule,
    purpose: Purpose,
    channel: Channel | None = None,
    technology: Technology | None = None,
    number_type: NumberType | None = None,
) -> bool:
    """Whether the rule is written for calls of this kind (``None``: any value may come).

    The part of :func:`applies` that depends on the call alone, not on an instant or on
    stored facts: a rule this says no to never binds the call, whatever the facts.
    """
    return (
        purpose in rule.purposes
        and (channel is None or channel in rule.channels)
        and (technology is None or technology in rule.technologies)
        and (number_type is None or number_type in rule.number_types)
    )


def applies(bound: BoundRule, s: Situation, at: dt.datetime) -> bool:
    """Whether the rule covers this call at all (purpose, channel, dates, consent lifts)."""
    rule = bound.rule
    if not covers_kind(rule, s.purpose, s.channel, s.technology, s.number_type):
        return False
    if rule.sectors is not None and s.sector not in rule.sectors:
        return False
    if not any(rule.in_force(day) for day in _local_days(at, s.zones)):
        return False
    if rule.lifted_by_consent:
        lift = _valid_consents(s, at, rule.lifted_by_consent, dict(rule.lifted_max_age), None, None)
        if rule.lifted_by_scope is not None:
            lift = [c for c in lift if rule.lifted_by_scope.value in c.scopes]
        if lift:
            return False
    return True


# -- calendar rules (windows and blackouts) -------------------------------------------------


def _day_ranges(bound: BoundRule, day: dt.date) -> tuple[tuple[TimeRange, ...], str]:
    """The allowed ranges on a local date and a word for the kind of day."""
    rule = bound.rule
    if not rule.in_force(day):
        return _FULL_DAY, "ordinary"
    if isinstance(rule, BlackoutRule):
        banned = (
            day in rule.dates
            or any(a <= day <= b for a, b in rule.ranges)
            or any(b.covers(day) for b in bound.blackouts)
        )
        return ((), "blackout") if banned else (_FULL_DAY, "ordinary")
    assert isinstance(rule, WindowRule)
    schedule = rule.schedule
    ranges = schedule.weekdays[day.weekday()]
    kind = "ordinary" if ranges else "banned_day"
    calendar = bound.calendar
    if calendar is not None and schedule.holiday is not None and calendar.is_holiday(day):
        ranges, kind = _intersect(ranges, schedule.holiday), "holiday"
    if (
        calendar is not None
        and schedule.pre_holiday is not None
        and calendar.is_holiday(day + _DAY)
        and kind != "holiday"
    ):
        ranges = _intersect(ranges, schedule.pre_holiday)
        kind = "pre_holiday" if ranges or kind == "ordinary" else kind
    return ranges, kind


def _intersect(a: tuple[TimeRange, ...], b: tuple[TimeRange, ...]) -> tuple[TimeRange, ...]:
    out: list[TimeRange] = []
    for x in a:
        for y in b:
            start, end = max(x.start, y.start), min(x.end, y.end)
            if start < end:
                out.append(TimeRange(start=start, end=end))
    return tuple(sorted(out, key=lambda r: r.start))


def _open_in_zone(bound: BoundRule, at: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    local = at.astimezone(tz)
    ranges, _ = _day_ranges(bound, local.date())
    second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return any(r.start * 60 <= second < r.end * 60 for r in ranges)


def _next_open_in_zone(
    bound: BoundRule, at: dt.datetime, tz: zoneinfo.ZoneInfo
) -> dt.datetime | None:
    day = at.astimezone(tz).date() - _DAY  # a window of the previous day may still be open
    last = day + HORIZON
    while day <= last:
        ranges, _ = _day_ranges(bound, day)
        for r in ranges:
            start = first_instant_at(day, r.start, tz)
            end = first_instant_at(day, r.end, tz)
            candidate = max(start, at)
            if candidate < end and _open_in_zone(bound, candidate, tz):
                return candidate
        day += _DAY
    return None


def _calendar_reason(bound: BoundRule, s: Situation, at: dt.datetime) -> Reason | None:
    if not s.zones:
        # Without a time zone no local time can be checked: fail closed.
        return _reason(
            bound,
            "location.unknown_time_zone",
            f"the callee's time zone is unknown, so local calling hours cannot be "
            f"checked: {bound.rule.title}",
            None,
        )
    closed = [tz for tz in s.zones if not _open_in_zone(bound, at, tz)]
    if not closed:
        return None
    tz = closed[0]
    local = at.astimezone(tz)
    ranges, kind = _day_ranges(bound, local.date())
    until = _next_open_all(bound, s.zones, at)
    where = f"{local:%a %Y-%m-%d %H:%M} in {tz.key}"
    rule = bound.rule
    if kind == "blackout":
        code, message = "blackout.declared", f"{where} is a declared no-call day"
        declared = [b for b in bound.blackouts if b.covers(local.date())]
        if declared:
            b = declared[0]
            what = "state of emergency" if b.kind == "emergency" else "no-call day"
            span = f"{b.first}..{b.last}" if b.last else f"from {b.first}, until ended"
            message = (
                f"{where} falls in a declared {what} for {b.area} ({span}; "
                f"source: {b.source}; blackout {b.id})"
            )
    elif kind == "holiday":
        name = bound.calendar.name(local.date()) if bound.calendar else None
        code, message = "window.holiday", f"{where} is a public holiday ({name})"
    elif kind == "banned_day":
        code, message = "window.day_banned", f"{where}: no calls on {local:%A}s"
    else:
        allowed = ", ".join(str(r) for r in ranges) or "none"
        extra = " (eve of a public holiday)" if kind == "pre_holiday" else ""
        code = "window.outside_hours"
        message = f"{where} is outside the calling hours {allowed}{extra}"
    return _reason(bound, code, f"{message}: {rule.title}", until)


def _next_open_all(
    bound: BoundRule, zones: Sequence[zoneinfo.ZoneInfo], at: dt.datetime
) -> dt.datetime | None:
    t = at
    for _ in range(64):
        opens = [_next_open_in_zone(bound, t, tz) for tz in zones]
        if any(o is None for o in opens):
            return None
        latest = max(o for o in opens if o is not None)
        if all(_open_in_zone(bound, latest, tz) for tz in zones):
            return latest
        t = latest
    return None  # pragma: no cover - zones whose windows never overlap


# -- history rules (caps and cool-downs) ----------------------------------------------------


def _same_scope(a: AttemptFact, s: Situation, scope: frozenset[ScopeKey]) -> bool:
    """Whether attempt ``a`` counts as "the same" as the call for these keys.

    Missing ids always count against the call (fail closed): a call that names no person
    is matched by number; an attempt recorded without a person counts if it went to the
    same number; a call or an attempt without a debt, campaign, brand or subject matches
    any value of it.
    """
    for key in scope:
        if key is ScopeKey.PERSON:
            same_line = a.number == s.number
            if s.person is None or a.person is None:
                if not same_line:
                    return False
            elif a.person != s.person:
                return False
            continue
        if key is ScopeKey.NUMBER:
            if a.number != s.number:
                return False
            continue
        wanted, had = getattr(s, key.value), getattr(a, key.value)
        if wanted is not None and had is not None and had != wanted:
            return False
    return True


def _same_kind(rule: CapRule | CooldownRule, a: AttemptFact) -> bool:
    """An attempt counts for a rule only on the rule's channels and technologies (an SMS
    does not count towards a voice cap); an attempt of unknown kind always counts."""
    return (
        a.purpose in rule.purposes
        and (a.channel is None or a.channel in rule.channels)
        and (a.technology is None or a.technology in rule.technologies)
    )


def _counts(rule: CapRule, a: AttemptFact) -> bool:
    if a.outcome is None or rule.counts is CountedAttempts.PLACED:
        return True  # an attempt still in flight counts until its outcome is known
    if rule.counts is CountedAttempts.CONNECTED:
        return a.outcome in CONNECTED_OUTCOMES
    return a.outcome in CONVERSATION_OUTCOMES


def _cap_reason(bound: BoundRule, s: Situation, at: dt.datetime) -> Reason | None:
    rule = bound.rule
    assert isinstance(rule, CapRule)
    since = at - rule.period
    # Attempts stamped after ``at`` count too: another host's clock may run ahead, and a
    # reservation made "later" is still an attempt this call must not add to.
    times = sorted(
        a.at
        for a in s.attempts
        if since < a.at
        and a.purpose in rule.purposes
        and _same_scope(a, s, rule.scope)
        and _counts(rule, a)
    )
    if len(times) < rule.max_attempts:
        return None
    until = times[len(times) - rule.max_attempts] + rule.period
    scope = "+".join(sorted(k.value for k in rule.scope))
    message = (
        f"{len(times)} {rule.counts.value} attempts in the last {_human(rule.period)} "
        f"(at most {rule.max_attempts} per {scope}): {rule.title}"
    )
    return _reason(bound, "cap.reached", message, until)


def _cooldown_reason(bound: BoundRule, s: Situation, at: dt.datetime) -> Reason | None:
    rule = bound.rule
    assert isinstance(rule, CooldownRule)
    triggers = [
        a
        for a in s.attempts
        # An attempt whose outcome is not recorded yet (reserved, in flight) may have ended
        # in any of them: it starts the cool-down until its outcome says otherwise.
        if (a.outcome is None or a.outcome in rule.after)
        # An attempt stamped after ``at`` (another host's clock runs ahead) counts as if it
        # had just happened, as it does for caps.
        and at < a.at + rule.duration
        and _same_kind(rule, a)
        and _same_scope(a, s, rule.scope)
    ]
    if not triggers:
        return None
    last = max(triggers, key=lambda a: a.at)
    until = last.at + rule.duration
    what = (
        f"a {last.outcome} outcome"
        if last.outcome is not None
        else "an attempt whose outcome is not recorded yet (it may have been "
        + " or ".join(sorted(o.value for o in rule.after))
        + "; record it with record_outcome)"
    )
    message = (
        f"{_human(rule.duration)} cool-down after {what} at {last.at.isoformat()}: {rule.title}"
    )
    # Only pending attempts: say so, so that a dialer records the outcome rather than
    # dropping the lead (``until`` is the latest the cool-down could last).
    pending = all(a.outcome is None for a in triggers)
    return _reason(
        bound, "cooldown.outcome_pending" if pending else "cooldown.active", message, until
    )


# -- consent --------------------------------------------------------------------------------


#: A registration whose date is not known: treated as later than every consent.
UNKNOWN_DATE = dt.datetime.max.replace(tzinfo=dt.UTC)


def _valid_consents(
    s: Situation,
    at: dt.datetime,
    kinds: Iterable[ConsentKind],
    max_age: dict[ConsentKind, dt.timedelta],
    registered: dt.datetime | None,
    survives: frozenset[ConsentKind] | None,
    revoke_all_from: dt.date | None = None,
) -> list[ConsentFact]:
    """Consents of ``kinds`` that cover the call and hold at ``at``.

    ``registered`` (:data:`UNKNOWN_DATE` when the number is listed on a date nobody
    knows) voids consents given before it unless their kind is in ``survives``. With
    ``revoke_all_from``, a revocation at or after that date ends every consent of the same
    brand given before it, whatever its purpose or channel.
    """
    wanted = frozenset(kinds)
    cutoff = _revoked_all(s, at, revoke_all_from) if revoke_all_from is not None else None
    # A consent given before the number changed hands was the previous subscriber's: it
    # lifts, exempts and satisfies nothing (a date not on record: every consent is older).
    changed = [d for name in s.reassigned_by if (d := _registration(s, name)) is not None]
    handover = max(changed) if changed else None
    # A revocation also ends the records of the same kind given before it that cover the
    # call (the person withdrew that consent, whichever record holds it).
    withdrawn: dict[ConsentKind, dt.datetime] = {}
    for c in s.consents:
        r = c.revoked_at
        if r is not None and r <= at and c.kind in wanted and _covers(c, s):
            withdrawn[c.kind] = max(withdrawn.get(c.kind, r), r)
    out = []
    for c in s.consents:
        if c.kind not in wanted or not _covers(c, s):
            continue
        if not (
            c.given_at <= at
            and (c.revoked_at is None or at < c.revoked_at)
            and (c.expires_at is None or at < c.expires_at)
        ):
            continue
        limit = max_age.get(c.kind)
        if limit is not None and at >= c.given_at + limit:
            continue
        if (
            registered is not None
            and survives is not None
            and (c.given_at < registered and c.kind not in survives)
        ):
            continue
        if cutoff is not None and c.given_at < cutoff.get(c.brand, cutoff.get(None, _NEVER)):
            continue
        if c.kind in withdrawn and c.given_at < withdrawn[c.kind]:
            continue
        if handover is not None and c.given_at < handover:
            continue
        out.append(c)
    return out


_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def _revoked_all(
    s: Situation, at: dt.datetime, since: dt.date
) -> dict[str | None, dt.datetime] | None:
    """Per brand (``None``: the whole company), the latest revocation at or before ``at``
    made on or after ``since`` (UTC date): consents of that brand given before it end."""
    out: dict[str | None, dt.datetime] = {}
    for c in s.consents:
        r = c.revoked_at
        if r is not None and r <= at and r.astimezone(dt.UTC).date() >= since:
            out[c.brand] = max(out.get(c.brand, r), r)
    if None in out:  # a company-wide revocation ends the brands' consents too
        for brand in {c.brand for c in s.consents}:
            out[brand] = max(out.get(brand, out[None]), out[None])
    return out or None


def _covers(c: ConsentFact, s: Situation) -> bool:
    if c.purposes is not None and s.purpose not in c.purposes:
        return False
    if c.channels is not None and s.channel not in c.channels:
        return False
    # A consent given to one brand does not cover a call that does not say its brand.
    return c.brand is None or c.brand == s.brand


def _registration(s: Situation, registry: str) -> dt.datetime | None:
    """When the number was registered in ``registry``, for voiding consents: the latest
    known date, :data:`UNKNOWN_DATE` when the registry lists it but no date is known (a
    returned RPO list never carries one), ``None`` when it is not known to be listed."""
    fact = s.registry_fact(registry)
    known = [d for d in (s.registered(registry), fact.registered_at) if d is not None]
    if known:
        return max(known)
    return UNKNOWN_DATE if fact.status == "listed" else None


def _revoke_from(rule: ConsentRule, s: Situation) -> dt.date | None:
    """The revoke-all date of ``rule`` when the call is of a kind it covers."""
    if rule.revoke_all_from is None or s.technology not in rule.technologies:
        return None
    return rule.revoke_all_from


def _consent_reason(bound: BoundRule, s: Situation, at: dt.datetime) -> Reason | None:
    rule = bound.rule
    assert isinstance(rule, ConsentRule)
    registered = _registration(s, rule.registry) if rule.registry else None
    if rule.registry is not None and registered is None:
        return None  # the rule binds registered numbers only
    survives = rule.survives_registration if rule.registry else None
    valid = _valid_consents(
        s, at, rule.accepted, rule.max_age, registered, survives, _revoke_from(rule, s)
    )
    if rule.needs_specific_sector and valid:
        # Only a consent naming the call's product sector counts; a call that names no
        # sector cannot be shown to be covered by one.
        specific = [c for c in valid if c.sectors is not None and s.sector in c.sectors]
        if not specific:
            sector = s.sector.value if s.sector else "not named by the call"
            return _reason(
                bound,
                "consent.missing",
                f"no consent specific to the call's sector ({sector}) is on record; a "
                f"consent for every product does not count: {rule.title}",
                None,
            )
        valid = specific
    voids = [since for name in rule.voided_by if (since := _registration(s, name)) is not None]
    if voids:
        valid = [c for c in valid if c.given_at >= max(voids)]
    down = [
        name
        for name in sorted(rule.voided_by)
        if (f := s.registry_fact(name)).status == "unavailable" and not f.fail_open
    ]
    if valid and down:
        # The consent may belong to a previous subscriber and the registry that would tell
        # could not be asked: fail closed until it can.
        return _reason(
            bound,
            "registry.unavailable",
            f"{', '.join(down)} could not be consulted to confirm the consent still "
            f"belongs to this subscriber: {rule.title}",
            None,
        )
    if valid:
        return None
    relevant = [c for c in s.consents if c.kind in rule.accepted and _covers(c, s)]
    future = [c.given_at for c in relevant if c.given_at > at]
    until = min(future) if future else None
    kinds = ", ".join(sorted(k.value for k in rule.accepted))
    if voids and any(c.given_at < max(voids) for c in relevant):
        code = "consent.voided_by_registry"
        when = (
            "on a date not on record"
            if max(voids) is UNKNOWN_DATE
            else (f"on {s.local_date(max(voids))}")
        )
        message = (
            f"the number changed hands {when} "
            f"({', '.join(sorted(rule.voided_by))}); consents ({kinds}) given before "
            "that came from its previous subscriber"
        )
    elif registered is UNKNOWN_DATE:
        code = "consent.voided_by_registry"
        keeps = ", ".join(sorted(k.value for k in survives or ())) or "none"
        message = (
            f"listed in {rule.registry} on a date that is not on record, so no consent "
            f"({kinds}) can be shown to postdate the registration (kinds that survive it: "
            f"{keeps}); record the date with Compliance.registrations.record("
            f"{rule.registry!r}, number, registered_at=..., source=...)"
        )
    elif registered is not None:
        code = "consent.voided_by_registry"
        message = (
            f"registered in {rule.registry} since {s.local_date(registered)}; no consent "
            f"({kinds}) given after that date"
        )
    elif _revoke_from(rule, s) is not None and any(
        c.given_at <= at and c.revoked_at is None for c in relevant
    ):
        code = "consent.revoked"
        message = (
            f"a revocation of another consent of this caller ends this one too "
            f"(revoke-all, from {_revoke_from(rule, s)})"
        )
    elif any(c.revoked_at is not None and c.revoked_at <= at for c in relevant):
        code, message = "consent.revoked", f"the consent ({kinds}) was revoked"
    elif relevant and any(c.given_at <= at for c in relevant):
        code, message = "consent.expired", f"the consent ({kinds}) has expired"
    else:
        code, message = "consent.missing", f"no consent on record ({kinds})"
    return _reason(bound, code, f"{message}: {rule.title}", until)


# -- evaluation -----------------------------------------------------------------------------


def _reason(bound: BoundRule, code: str, message: str, until: dt.datetime | None) -> Reason:
    rule = bound.rule
    return Reason(
        code=code,
        message=message,
        source=bound.ref,
        citation=rule.citation,
        until=until,
        url=rule.url,
        confidence=rule.confidence.value,
    )


def _abandonment_reason(bound: BoundRule, s: Situation, at: dt.datetime) -> Reason | None:
    rule = bound.rule
    assert isinstance(rule, AbandonmentRule)
    seconds = int(rule.period.total_seconds())
    counts = next(((a, live) for p, a, live in s.abandonment if p == seconds), (0, 0))
    abandoned, live = counts
    if live == 0 or abandoned / live <= rule.max_rate:
        return None
    which = f"campaign {s.campaign!r}" if s.campaign else "all campaigns"
    message = (
        f"abandoned-call rate {abandoned}/{live} = {abandoned / live:.1%} over the last "
        f"{_human(rule.period)} for {which} is above {rule.max_rate:.0%}; automated "
        f"calls stop until it is back under: {rule.title}"
    )
    return _reason(bound, "abandonment.rate_exceeded", message, None)


def _expiry(rule: RegistryRule, fact: RegistryFact, s: Situation) -> dt.datetime:
    """The first instant at which ``fact`` no longer shows the number was checked.

    ``elapsed``: ``validity`` after the check. The day-counting modes count dates on the
    callee's wall clock, in every candidate zone (the earliest lapse wins): an answer
    obtained on local day D lapses at the local midnight that starts day D + N + 1
    (``days_before_call``: no more than N days before the call's date) or D + N
    (``period_ending_on_call_day``: inside the N-day period ending on the call's day).
    """
    assert fact.checked_at is not None
    validity = fact.validity or rule.validity
    if rule.validity_counts == "elapsed" or fact.validity is not None:
        expires = fact.checked_at + validity
    else:
        days = validity.days + (1 if rule.validity_counts == "days_before_call" else 0)
        zones = s.zones or (zone("UTC"),)
        utc = fact.checked_at.astimezone(dt.UTC)
        date_only = utc.time() == dt.time(0)  # a registry that gives dates: that day
        expires = min(
            first_instant_at(
                (utc.date() if date_only else fact.checked_at.astimezone(tz).date())
                + dt.timedelta(days),
                0,
                tz,
            )
            for tz in zones
        )
    if fact.valid_until is not None:
        expires = min(expires, fact.valid_until)
    return expires


def _binding(since: dt.datetime, rule: RegistryRule, s: Situation) -> dt.datetime:
    """When a registration of ``since`` binds: ``grace`` later, or, for a date-only value
    (a UTC midnight), at the first local midnight ``grace`` days after that date in any
    candidate zone (the strict one), as day-counted validities are read."""
    assert rule.grace is not None
    utc = since.astimezone(dt.UTC)
    if utc.time() != dt.time(0) or rule.grace.seconds:
        return since + rule.grace
    zones = s.zones or (zone("UTC"),)
    return min(first_instant_at(utc.date() + rule.grace, 0, tz) for tz in zones)


def _registry_reason(bound: BoundRule, s: Situation, at: dt.datetime) -> Reason | None:
    rule = bound.rule
    assert isinstance(rule, RegistryRule)
    fact = s.registry_fact(rule.registry)
    name = rule.registry
    if fact.status in ("unknown", "unavailable") or fact.checked_at is None:
        if fact.fail_open:
            return None
        if fact.status == "unavailable":
            detail = f": {fact.detail}" if fact.detail else ""
            return _reason(
                bound,
                "registry.unavailable",
                f"{name} could not be consulted{detail}; calls wait until it can be: {rule.title}",
                None,
            )
        return _reason(
            bound,
            "registry.not_consulted",
            f"the number was never checked against {name}: {rule.title}",
            None,
        )
    if fact.checked_at > at:
        # An answer obtained after the call cannot show what the registry said at the
        # call (a replay of an earlier instant, or a clock running behind): not consulted.
        if fact.fail_open:
            return None
        return _reason(
            bound,
            "registry.not_consulted",
            f"the {name} answer is dated {s.local(fact.checked_at):%Y-%m-%d %H:%M %Z}, after "
            f"the call; it cannot show the number was checked before it: {rule.title}",
            None,
        )
    expires = _expiry(rule, fact, s)
    if at >= expires:
        if fact.fail_open:
            return None
        return _reason(
            bound,
            "registry.expired",
            f"the {name} answer from {s.local_date(fact.checked_at)} expired on "
            f"{s.local(expires):%Y-%m-%d %H:%M %Z}; consult it again: {rule.title}",
            None,
        )
    if fact.status != "listed" or not rule.listing_denies:
        return None
    # The registration date: the answer's own, else a stored one (the earliest known,
    # the strict choice for a grace period). Unknown: no grace, and no consent given
    # before it can be shown to survive it.
    # Stored dates are read for the rules that use them (the facts a call needs): a grace
    # period, or an exemption that depends on the registration.
    stored = rule.grace is not None or (rule.exempt and rule.survives_registration is not None)
    first = s.first_registered(name) if stored else None
    if first is not None and first > fact.checked_at:
        # A registration "later" than the answer that lists it contradicts the answer: the
        # number was listed by then. Such a date opens no grace period.
        first = None
    own = fact.registered_at
    if own is not None and own > fact.checked_at:
        own = None  # a registration dated after the answer that lists it: no grace
    known = [d for d in (own, first) if d is not None]
    since_at = min(known) if known else None
    if since_at is not None and rule.grace is not None and at < _binding(since_at, rule, s):
        return None  # the registration is not binding yet (the law's grace period)
    if rule.exempt:
        registered: dt.datetime | None = None
        if rule.survives_registration is not None:
            latest = [d for d in (fact.registered_at, s.registered(name)) if d is not None]
            registered = max(latest) if latest else UNKNOWN_DATE
        if _valid_consents(
            s, at, rule.exempt, rule.exempt_max_age, registered, rule.survives_registration
        ):
            return None
    since = f" since {s.local_date(since_at)}" if since_at else " (registration date unknown)"
    return _reason(
        bound,
        "registry.listed",
        f"registered in {name}{since} (checked {s.local_date(fact.checked_at)}): {rule.title}",
        None,
    )


def _caller_reason(bound: BoundRule, s: Situation) -> Reason | None:
    rule = bound.rule
    assert isinstance(rule, CallerIdRule)
    if s.caller_id is None:
        return None  # not named: the dialer's setting is not known here
    e164, region, kind = s.caller_id
    if rule.countries and region not in rule.countries:
        return None
    if kind in rule.forbidden_types:
        why = f"a {kind.value.replace('_', ' ')} number may not be presented"
    elif rule.allowed_prefixes and not e164.startswith(rule.allowed_prefixes):
        why = f"it is not in the permitted ranges ({', '.join(rule.allowed_prefixes)})"
    else:
        return None
    return _reason(bound, "cli.not_permitted", f"caller ID {e164}: {why}: {rule.title}", None)


def _check(bound: BoundRule, s: Situation, at: dt.datetime) -> Reason | None:
    rule = bound.rule
    if isinstance(rule, CallerIdRule):
        return _caller_reason(bound, s)
    if isinstance(rule, RegistryRule):
        return _registry_reason(bound, s, at)
    if isinstance(rule, AbandonmentRule):
        return _abandonment_reason(bound, s, at)
    if isinstance(rule, WindowRule | BlackoutRule):
        return _calendar_reason(bound, s, at)
    if isinstance(rule, CapRule):
        return _cap_reason(bound, s, at)
    if isinstance(rule, CooldownRule):
        return _cooldown_reason(bound, s, at)
    return _consent_reason(bound, s, at)


def evaluate(rules: Sequence[BoundRule], s: Situation, at: dt.datetime) -> list[Reason]:
    """Every denial the rules give for the call at ``at``, in rule order."""
    reasons = []
    for bound in rules:
        if applies(bound, s, at) and (reason := _check(bound, s, at)) is not None:
            reasons.append(reason)
    return reasons


def next_allowed_at(
    rules: Sequence[BoundRule],
    s: Situation,
    at: dt.datetime,
    reasons: Sequence[Reason],
    others: Sequence[Reason] = (),
) -> dt.datetime | None:
    """The earliest instant at which nothing denies, or ``None`` if there is none in reach.

    ``reasons`` are all the denials at ``at``, and ``others`` those among them that no rule
    re-derives (suppressions: they hold until their ``until``). A reason that never lapses
    makes the answer ``None`` at once. Otherwise the search jumps to the latest ``until``
    and re-checks every rule there (a window may have closed meanwhile), for at most
    :data:`HORIZON`.
    """
    if not reasons or any(r.until is None for r in reasons):
        return None
    t = max(r.until for r in reasons if r.until is not None)
    limit = at + HORIZON
    while t <= limit:
        found = evaluate(rules, s, t) + [r for r in others if r.until is None or r.until > t]
        if not found:
            return t
        if any(r.until is None for r in found):
            return None
        t = max(r.until for r in found if r.until is not None)
    return None


def _human(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds % size == 0 and seconds >= size:
            value = seconds // size
            return f"{value} {unit[:-1] if value == 1 else unit}"
    return f"{seconds} seconds"


def zones_of(names: Iterable[str]) -> tuple[zoneinfo.ZoneInfo, ...]:
    """``ZoneInfo`` objects for zone names, sorted by name for stable messages."""
    return tuple(zone(n) for n in sorted(set(names)))
