"""Rule packs and policies as validated data (pydantic v2).

A *pack* is one jurisdiction's rules (``IT``, ``US``, ``US-FL``, ...) in a TOML file. Every
rule carries its legal source, a confidence tag and the dates it is in force. The same rule
shapes serve company *policies*, which may only make things stricter (see ``_policy.py``).

Times of day are written ``"HH:MM-HH:MM"``: the start is inclusive and the end exclusive, so
``"09:00-20:00"`` allows 09:00:00 up to 19:59:59.999999 and ``"20:00-24:00"`` runs to
midnight. Durations are written ``"90s"``, ``"30m"``, ``"72h"``, ``"7d"`` or ``"2w"``.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import re
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from optout._vocab import Channel, NumberType, Outcome, Purpose, Sector, Technology

__all__ = [
    "AbandonmentRule",
    "BlackoutRule",
    "CallerIdRule",
    "CapRule",
    "Confidence",
    "ConsentScope",
    "ConsentKind",
    "ConsentRule",
    "CooldownRule",
    "CountedAttempts",
    "HolidaySpec",
    "Pack",
    "PackInfo",
    "RegistryRule",
    "Rule",
    "ScopeKey",
    "TimeRange",
    "WindowRule",
    "parse_duration",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DURATION_RE = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Confidence(enum.StrEnum):
    """How well a rule's source is established (``rules.md``: P / S / U)."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    UNCONFIRMED = "unconfirmed"


class ConsentKind(enum.StrEnum):
    """What a consent record proves."""

    EXPRESS = "express"
    EXPRESS_WRITTEN = "express_written"
    CONTRACT = "contract"
    EBR_PURCHASE = "ebr_purchase"
    EBR_INQUIRY = "ebr_inquiry"


class ConsentScope(enum.StrEnum):
    """What a consent covers beyond "you may call me" (a consent carries zero or more).

    ``outside_hours``: the callee agreed to calls outside the law's regular days and hours
    (France D.223-9 al. 2 "consentement exprès et préalable" to that; Minas Gerais
    "autorização específica"; New York "express consent to the call at a different time").
    A rule lifted by consent with ``lifted_by_scope`` set is lifted only by a consent that
    carries the scope, not by the consent to be called at all.
    """

    OUTSIDE_HOURS = "outside_hours"


class ScopeKey(enum.StrEnum):
    """What makes two attempts "the same" for a cap or a cool-down."""

    NUMBER = "number"
    PERSON = "person"
    DEBT = "debt"
    CAMPAIGN = "campaign"
    BRAND = "brand"
    SUBJECT = "subject"


class CountedAttempts(enum.StrEnum):
    """Which attempts a cap counts."""

    PLACED = "placed"
    CONNECTED = "connected"
    CONVERSATION = "conversation"


#: Outcomes that mean the call reached the line (something answered).
CONNECTED_OUTCOMES = frozenset(
    {
        Outcome.ANSWERING_MACHINE,
        Outcome.ABANDONED,
        Outcome.CONVERSATION,
        Outcome.REFUSED,
        Outcome.DNC_REQUEST,
        Outcome.WRONG_NUMBER,
        Outcome.CALLBACK_REQUESTED,
    }
)
#: Outcomes that mean a person was spoken to.
CONVERSATION_OUTCOMES = frozenset(
    {
        Outcome.CONVERSATION,
        Outcome.REFUSED,
        Outcome.DNC_REQUEST,
        Outcome.CALLBACK_REQUESTED,
    }
)


def parse_duration(text: object) -> dt.timedelta:
    """Parse ``"72h"``-style durations; raise ``ValueError`` otherwise."""
    if isinstance(text, dt.timedelta):
        return text
    if not isinstance(text, str) or not (m := _DURATION_RE.match(text.strip())):
        raise ValueError(f"{text!r} is not a duration like '30m', '72h', '7d' or '2w'")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    try:
        return dt.timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None


Duration = Annotated[dt.timedelta, pydantic.BeforeValidator(parse_duration)]


class TimeRange(BaseModel):
    """A half-open local time-of-day range, in minutes since midnight: [start, end)."""

    model_config = ConfigDict(frozen=True)

    start: int
    end: int

    @classmethod
    def parse(cls, text: object) -> TimeRange:
        m = _RANGE_RE.match(text.strip()) if isinstance(text, str) else None
        if not m:
            raise ValueError(f"{text!r} is not a time range like '09:00-20:00'")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"{text!r} has an impossible time of day")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ValueError(f"{text!r} is inverted or empty (the end must be after the start)")
        return cls(start=start, end=end)

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


def _parse_ranges(value: object, where: str) -> tuple[TimeRange, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of 'HH:MM-HH:MM' ranges")
    ranges = sorted((TimeRange.parse(v) for v in value), key=lambda r: r.start)
    for a, b in itertools.pairwise(ranges):
        if b.start < a.end:
            raise ValueError(f"{where}: ranges {a} and {b} overlap")
    return tuple(ranges)


def _expand_days(key: str) -> list[str]:
    if key in WEEKDAYS:
        return [key]
    if "-" in key:
        first, _, last = key.partition("-")
        if first in WEEKDAYS and last in WEEKDAYS:
            i, j = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if i <= j:
                return list(WEEKDAYS[i : j + 1])
    raise ValueError(
        f"unknown day {key!r}: use mon..sun, a range like 'mon-fri', 'holiday' or 'pre_holiday'"
    )


class Schedule(BaseModel):
    """Allowed local-time ranges per weekday, plus optional holiday and pre-holiday classes.

    A day's allowed ranges are its weekday's ranges, intersected with the ``holiday`` ranges
    when it is a public holiday and with the ``pre_holiday`` ranges when the next day is one.
    An empty list bans the day.
    """

    model_config = ConfigDict(frozen=True)

    weekdays: tuple[tuple[TimeRange, ...], ...]
    holiday: tuple[TimeRange, ...] | None = None
    pre_holiday: tuple[TimeRange, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_table(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "weekdays" in data:
            return data
        days: dict[str, tuple[TimeRange, ...]] = {}
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("holiday", "pre_holiday"):
                out[key] = _parse_ranges(value, key)
                continue
            for day in _expand_days(str(key)):
                if day in days:
                    raise ValueError(f"{day} is given twice in the schedule")
                days[day] = _parse_ranges(value, str(key))
        missing = [d for d in WEEKDAYS if d not in days]
        if missing:
            raise ValueError(
                f"the schedule does not say what happens on {', '.join(missing)} "
                "(give [] to ban a day)"
            )
        out["weekdays"] = tuple(days[d] for d in WEEKDAYS)
        return out


def _star(value: Any) -> Any:
    """``["*"]`` stands for every member (so purposes added later are covered too)."""
    if isinstance(value, list | tuple | set | frozenset) and "*" in value:
        if len(value) != 1:
            raise ValueError("'*' stands for every member and cannot be combined with others")
        return None
    return value


class _RuleBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _expand_star(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key, kind in (
                ("purposes", Purpose),
                ("technologies", Technology),
                ("channels", Channel),
                ("number_types", NumberType),
            ):
                if key in data and _star(data[key]) is None:
                    data[key] = [m.value for m in kind]
        return data

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", max_length=100)
    title: str = Field(min_length=3, max_length=200)
    purposes: frozenset[Purpose] = Field(min_length=1)
    technologies: frozenset[Technology] = frozenset(Technology)
    channels: frozenset[Channel] = frozenset(Channel)
    number_types: frozenset[NumberType] = frozenset(NumberType)
    #: When set, the rule binds only calls that name one of these sectors (a sector ban).
    sectors: frozenset[Sector] | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None  # exclusive: the first day it no longer applies
    confidence: Confidence
    citation: str = Field(min_length=3, max_length=400)
    url: str | None = None
    note: str | None = None
    #: Consent kinds that lift this rule where the law says so (French hours, Utah days).
    lifted_by_consent: frozenset[ConsentKind] = frozenset()
    #: With ``lifted_by_consent``: only a consent that carries this scope lifts the rule
    #: (French hours need consent to calls outside them, not the consent every call needs).
    lifted_by_scope: ConsentScope | None = None
    #: With ``lifted_by_consent``: how old a lifting consent of a kind may be (an
    #: established business relationship lasts 18 months after a purchase).
    lifted_max_age: dict[ConsentKind, Duration] = Field(default_factory=dict)
    #: Opt-in only: a proposed rule (a bill, a draft) that binds no call unless the
    #: RuleBook names it in ``opt_in``.
    proposed: bool = False

    @model_validator(mode="after")
    def _dates(self) -> _RuleBase:
        if self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        if self.lifted_by_scope is not None and not self.lifted_by_consent:
            raise ValueError("lifted_by_scope needs lifted_by_consent (the consent kinds)")
        return self

    def in_force(self, day: dt.date) -> bool:
        """Whether the rule is in force on ``day`` (the callee's local date)."""
        if self.effective_from is not None and day < self.effective_from:
            return False
        return self.effective_to is None or day < self.effective_to


class WindowRule(_RuleBase):
    """Calls only inside local-time ranges; days with no range are banned."""

    kind: Literal["window"]
    schedule: Schedule


class BlackoutRule(_RuleBase):
    """No calls on listed local dates (declared emergencies, governor-declared days).

    ``declared`` names the kinds of runtime blackouts (``Compliance.blackouts``) this rule
    applies for its own jurisdiction: a declared emergency in New York is stored as a fact
    with its source and dates, and the pack's rule says whom it binds and who is exempt.
    """

    kind: Literal["blackout"]
    dates: tuple[dt.date, ...] = ()
    ranges: tuple[tuple[dt.date, dt.date], ...] = ()  # inclusive date ranges
    declared: frozenset[Literal["emergency", "no_call_day"]] = frozenset()

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, value: tuple[tuple[dt.date, dt.date], ...]) -> Any:
        for first, last in value:
            if last < first:
                raise ValueError(f"blackout range {first}..{last} is inverted")
        return value

    @model_validator(mode="after")
    def _some(self) -> BlackoutRule:
        if not self.dates and not self.ranges and not self.declared:
            raise ValueError("a blackout rule needs dates, ranges or declared kinds")
        return self


class CapRule(_RuleBase):
    """At most ``max_attempts`` attempts in any rolling ``period`` for the same scope."""

    kind: Literal["cap"]
    max_attempts: int = Field(ge=1, le=10_000)
    period: Duration
    scope: frozenset[ScopeKey] = Field(min_length=1)
    counts: CountedAttempts = CountedAttempts.PLACED


class CooldownRule(_RuleBase):
    """No call for ``duration`` after an attempt ended with one of the ``after`` outcomes."""

    kind: Literal["cooldown"]
    after: frozenset[Outcome] = Field(min_length=1)
    duration: Duration
    scope: frozenset[ScopeKey] = Field(min_length=1)


class ConsentRule(_RuleBase):
    """A call needs a valid consent of an accepted kind, for this purpose and channel.

    ``max_age`` limits how old a consent of a kind may be (an EBR purchase counts for 18
    months). With ``registry``, a consent given before the number's registration in that
    registry is void unless its kind is in ``survives_registration`` (Italy's RPO); the rule
    then only binds numbers registered there.
    """

    kind: Literal["consent"]
    accepted: frozenset[ConsentKind] = Field(min_length=1)
    max_age: dict[ConsentKind, Duration] = Field(default_factory=dict)
    registry: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")
    survives_registration: frozenset[ConsentKind] = frozenset()
    #: Registries whose date for the number voids consents given before it (the US
    #: Reassigned Numbers Database: a consent given before the number was disconnected
    #: came from someone else).
    voided_by: frozenset[str] = frozenset()
    #: From this date one revocation ends every consent of the caller (brand) for calls of
    #: the rule's technologies, given before it, whatever its purpose (the FCC's
    #: "revoke-all" rule, 47 CFR 64.1200(a)(10)); ``RuleBook(revoke_all=False)`` turns it
    #: off, recorded as a loosening.
    revoke_all_from: dt.date | None = None
    #: Only a consent that names the call's product sector counts (an "omnibus" consent
    #: covering every product does not: the Garante on the RPO, 2025).
    needs_specific_sector: bool = False


class RegistryRule(_RuleBase):
    """The number must have been checked against a national registry, recently enough.

    The call is denied when the registry lists the number (once its registration is older
    than ``grace``, when the registration date is known), when the registry was never
    consulted for it, when the consultation or snapshot is older than ``validity``, or when
    the registry could not be reached. A consent of a kind in ``exempt`` (within its
    ``exempt_max_age``) exempts the call from a listing, as the law allows (the US
    established business relationship).
    """

    kind: Literal["registry"]
    registry: str = Field(pattern=r"^[a-z0-9_]+$")
    validity: Duration
    #: How the law counts ``validity`` (see docs/rules.md, "Registry freshness"):
    #: ``elapsed``: the answer lapses ``validity`` after it was obtained (24-hour days);
    #: ``days_before_call``: obtained no more than N days before the date of the call (US
    #: 16 CFR 310.4(b)(3)(iv), Canada UTR Part II), dates in the callee's local time;
    #: ``period_ending_on_call_day``: obtained within the N-day period ending on the day of
    #: the call, that day included (Australia DNCR Act s.11(3)).
    validity_counts: Literal["elapsed", "days_before_call", "period_ending_on_call_day"] = "elapsed"
    grace: Duration | None = None
    exempt: frozenset[ConsentKind] = frozenset()
    exempt_max_age: dict[ConsentKind, Duration] = Field(default_factory=dict)
    #: When set, an exempting consent given before the number's registration (or when
    #: that date is unknown) counts only if its kind is listed here (Italy: a registration
    #: voids earlier consents but contracts). ``None``: the date does not matter (the US
    #: established business relationship exempts whenever it began).
    survives_registration: frozenset[ConsentKind] | None = None
    #: ``False``: the rule only requires a fresh answer; a listing does not deny by itself
    #: (Maine's duty to check the Reassigned Numbers Database, whose answer voids
    #: consents through consent rules' ``voided_by``).
    listing_denies: bool = True


class CallerIdRule(_RuleBase):
    """The caller ID (CLI) a call presents must be of a permitted kind.

    A CLI of one of ``countries`` (all when empty) is refused when its line type is in
    ``forbidden_types`` (Spain: no mobile numbers for commercial calls), or when
    ``allowed_prefixes`` is set and it starts with none of them (France: automated
    canvassing only from ARCEP's dedicated ranges). The rule checks the ``caller_id``
    the call names; a call that names none is not checked (the CLI is a dialer setting).
    """

    kind: Literal["caller_id"]
    countries: frozenset[str] = frozenset()
    forbidden_types: frozenset[NumberType] = frozenset()
    allowed_prefixes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> CallerIdRule:
        if not self.forbidden_types and not self.allowed_prefixes:
            raise ValueError("a caller_id rule needs forbidden_types or allowed_prefixes")
        for prefix in self.allowed_prefixes:
            if not re.fullmatch(r"\+\d{1,15}", prefix):
                raise ValueError(f"allowed prefix {prefix!r} is not E.164 digits like '+33162'")
        return self


class AbandonmentRule(_RuleBase):
    """Stop automated calls of a campaign whose abandoned-call rate is above ``max_rate``.

    The rate is abandoned calls over calls answered by a live person (outcomes
    ``abandoned``, ``conversation``, ``refused``, ``dnc_request``, ``callback_requested``,
    ``wrong_number``) in the last ``period``, for the call's campaign (all campaigns when
    the call names none). Machine-answered and unanswered calls are not counted.
    """

    kind: Literal["abandonment"]
    max_rate: float = Field(gt=0, lt=1)
    period: Duration


Rule = Annotated[
    WindowRule
    | BlackoutRule
    | CapRule
    | CooldownRule
    | ConsentRule
    | AbandonmentRule
    | RegistryRule
    | CallerIdRule,
    Field(discriminator="kind"),
]

#: Outcomes that mean a live person answered (the abandonment-rate denominator).
LIVE_OUTCOMES = frozenset(
    {
        Outcome.ABANDONED,
        Outcome.CONVERSATION,
        Outcome.REFUSED,
        Outcome.DNC_REQUEST,
        Outcome.CALLBACK_REQUESTED,
        Outcome.WRONG_NUMBER,
    }
)


class HolidaySpec(BaseModel):
    """Which public holidays count, from the ``holidays`` package plus listed extra dates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str = Field(pattern=r"^[A-Z]{2}$")
    subdiv: str | None = None
    observed: bool = True
    categories: tuple[str, ...] = ("public",)
    extra: tuple[dt.date, ...] = ()
    exclude: tuple[dt.date, ...] = ()
    source: str | None = None
    #: Use the holidays of the callee's state/province/community (their union when several
    #: are possible) instead of ``subdiv``.
    by_location: bool = False


class PackInfo(BaseModel):
    """The header of a pack file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
    name: str = Field(min_length=2)
    version: str = Field(min_length=1)
    holidays: HolidaySpec | None = None
    summary: str | None = None


class Pack(BaseModel):
    """One jurisdiction's rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pack: PackInfo
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Pack:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
            uses_holidays = isinstance(rule, WindowRule) and (
                rule.schedule.holiday is not None or rule.schedule.pre_holiday is not None
            )
            if uses_holidays and self.pack.holidays is None:
                raise ValueError(
                    f"rule {rule.id!r} uses holidays but the pack has no [pack.holidays] calendar"
                )
        return self

    @property
    def id(self) -> str:
        return self.pack.id

    @property
    def country(self) -> str:
        return self.pack.id[:2]

    @property
    def subdivision(self) -> str | None:
        return self.pack.id[3:] or None
