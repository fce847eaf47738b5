"""Reading the stored facts a call's rules need: history, consents, registrations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import threading
import time
from collections.abc import Sequence

import sqlalchemy as sa

from optout._errors import ConfigurationError
from optout._location import Location
from optout._privacy import CLEAR, Privacy
from optout._rules._book import RuleBook
from optout._rules._decide import RuleCall, reassignment_registries
from optout._rules._engine import AttemptFact, BoundRule, covers_kind
from optout._rules._model import (
    LIVE_OUTCOMES,
    AbandonmentRule,
    CapRule,
    ConsentRule,
    CooldownRule,
    RegistryRule,
)
from optout._schema import attempts as _a
from optout._vocab import Channel, NumberType, Outcome, Purpose, Technology

__all__ = [
    "AbandonmentCache",
    "Needs",
    "call_needs",
    "count_abandonment",
    "load_attempts",
    "needs_of",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Needs:
    """Which facts the rules that may bind a call will look at."""

    history: dt.timedelta | None  # how far back attempts matter; None: not at all
    consents: bool
    registrations: bool  # stored registration dates (consent voiding)
    abandonment: tuple[dt.timedelta, ...]
    registries: frozenset[str]  # registries whose answers the rules need


def needs_of(
    rules: Sequence[BoundRule],
    purpose: Purpose,
    *,
    channel: Channel | None = None,
    technology: Technology | None = None,
    number_type: NumberType | None = None,
) -> Needs:
    """The facts worth loading for ``rules`` when deciding a call of this kind.

    A rule written for other purposes, channels, technologies or number types never binds
    the call (:func:`optout._rules._engine.covers_kind`, the same test ``applies()``
    makes), so its facts are not read. ``None`` for ``channel``, ``technology`` or
    ``number_type`` means the value is not known yet: every rule is kept for it.
    """
    history: dt.timedelta | None = None
    consents = registrations = False
    abandonment: set[dt.timedelta] = set()
    registries: set[str] = set()
    for bound in rules:
        rule = bound.rule
        if not covers_kind(rule, purpose, channel, technology, number_type):
            continue
        if rule.lifted_by_consent:
            consents = True
        if isinstance(rule, CapRule | CooldownRule):
            span = rule.period if isinstance(rule, CapRule) else rule.duration
            history = span if history is None else max(history, span)
        elif isinstance(rule, ConsentRule):
            consents = True
            named = ({rule.registry} if rule.registry else set()) | set(rule.voided_by)
            registrations = registrations or bool(named)
            registries |= named
        elif isinstance(rule, AbandonmentRule):
            abandonment.add(rule.period)
        elif isinstance(rule, RegistryRule):
            registries.add(rule.registry)
            consents = consents or bool(rule.exempt)
            # A stored registration date feeds the grace period and the exemption's
            # registration test (consents given before it).
            registrations = (
                registrations
                or rule.grace is not None
                or bool(rule.exempt and rule.survives_registration is not None)
            )
    # A consent is read only through rules; when any is, the registries that date a
    # change of subscriber (voided_by) decide whether it still belongs to the callee.
    if consents:
        voiders = reassignment_registries(rules)
        if voiders:
            registries |= voiders
            registrations = True
    return Needs(
        history=history,
        consents=consents,
        registrations=registrations,
        abandonment=tuple(sorted(abandonment)),
        registries=frozenset(registries),
    )


def call_needs(
    book: RuleBook, call: RuleCall, location: Location
) -> tuple[tuple[BoundRule, ...], Needs]:
    """The rules that may bind ``call`` at ``location``, and the facts they need."""
    rules = book.rules_for(location, campaign=call.campaign, brand=call.brand)
    needs = needs_of(
        rules,
        call.purpose,
        channel=call.channel,
        technology=call.technology,
        number_type=call.phone.number_type,
    )
    return rules, needs


def load_attempts(
    conn: sa.Connection,
    number: str,
    person: str | None,
    since: dt.datetime,
    privacy: Privacy = CLEAR,
) -> list[AttemptFact]:
    """Attempts to ``number`` (or to ``person`` on any number) after ``since``.

    With hashed storage the query hashes ``number``; attempts to it come back with the
    clear ``number`` (the rules compare it with the call's), attempts to the person's other
    numbers with their stored hash (which never equals a clear number).
    """
    key = privacy.stored(number)
    cond = _a.c.number == key
    if person is not None:
        cond = sa.or_(cond, _a.c.person == person)
    stmt = sa.select(
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
    ).where(cond, _a.c.at > since)
    return [
        AttemptFact(
            at=r.at,
            outcome=None if r.outcome is None else Outcome(r.outcome),
            number=number if r.number == key else r.number,
            purpose=Purpose(r.purpose),
            person=r.person,
            debt=r.debt,
            campaign=r.campaign,
            brand=r.brand,
            subject=r.subject,
            channel=Channel(r.channel),
            technology=Technology(r.technology),
        )
        for r in conn.execute(stmt)
    ]


def count_abandonment(
    conn: sa.Connection, campaign: str | None, period: dt.timedelta, at: dt.datetime
) -> tuple[int, int]:
    """``(abandoned, answered_live)`` over the attempts stamped in ``(at - period, at]``.

    For one campaign (``ix_attempts_campaign_at_outcome`` covers the query), or for every
    campaign when ``campaign`` is ``None``. For one campaign, an abandoned call recorded
    without a campaign counts as that campaign's (it may have been); live answers count only
    when they name it. Attempts stamped after ``at`` are left out on purpose, unlike the
    caps' history, and so are attempts whose outcome is not recorded yet (see
    docs/rules.md, "Abandonment rate").
    """
    live = [o.value for o in LIVE_OUTCOMES]
    is_abandoned = _a.c.outcome == Outcome.ABANDONED.value
    is_live: sa.ColumnElement[bool] = _a.c.outcome.in_(live)
    where = [_a.c.at > at - period, _a.c.at <= at]
    if campaign is not None:
        # An abandoned call recorded without its campaign may have been this campaign's: it
        # counts as abandoned here (live answers count only when they name the campaign).
        named = _a.c.campaign == campaign
        is_live = sa.and_(named, is_live)
        where.append(sa.or_(named, sa.and_(_a.c.campaign.is_(None), is_abandoned)))
    stmt = sa.select(
        sa.func.coalesce(sa.func.sum(sa.case((is_abandoned, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((is_live, 1), else_=0)), 0),
    ).where(*where)
    abandoned, answered = conn.execute(stmt).one()
    return int(abandoned), int(answered)


#: The cache's clock (monotonic: wall-clock changes do not age or refresh entries).
_clock = time.monotonic


@dataclasses.dataclass(frozen=True, slots=True)
class _Counted:
    """Counts over the period ending at ``at`` (a POSIX time), read at ``read`` (monotonic)."""

    at: float
    read: float
    abandoned: int
    answered: int


class AbandonmentCache:
    """Campaign abandonment counts, reused for up to ``ttl`` seconds.

    The count reads a campaign's attempts over the whole period (30 days under the TCPA):
    far too much to repeat on every dial. Entries are kept per (campaign, period). A count
    taken for a period ending at ``t0`` serves a decision at ``at`` only while both hold:

    - it was read less than ``ttl`` seconds ago (monotonic clock): outcomes recorded since
      by other processes or hosts are missed for at most ``ttl`` seconds;
    - ``|at - t0| <= ttl``: the period it covers is shifted by at most ``ttl`` seconds from
      the decision's own. A replay or a decision about another day reads its own counts.

    A dialer deciding at ``at=now`` therefore reads each campaign's counts once per ``ttl``
    and never uses a count more than ``ttl`` seconds out of date. :meth:`clear` (called
    when this client records an ``abandoned`` outcome) forgets every count at once; other
    outcomes only add live answers, which lower the rate, so a count that misses them is
    stricter, not looser. ``ttl=0`` disables the cache.
    """

    #: Counts kept per (campaign, period): one per distinct instant decided within a TTL.
    MAX_PER_KEY = 64
    #: Number of (campaign, period) keys above which expired entries are swept.
    SWEEP_ABOVE = 1024

    def __init__(self, ttl: float = 5.0) -> None:
        given: object = ttl
        seconds = (
            float(given)
            if isinstance(given, int | float) and not isinstance(given, bool)
            else math.nan
        )
        if not math.isfinite(seconds) or seconds < 0:
            # An endless or nonsensical reuse would stop the rate from ever being re-read.
            raise ConfigurationError(
                f"abandonment_cache_seconds must be a finite number of seconds >= 0, got {ttl!r}"
            )
        self.ttl = seconds
        self._lock = threading.Lock()
        self._cache: dict[tuple[str | None, int], list[_Counted]] = {}
        self._generation = 0

    def clear(self) -> None:
        """Forget every count (an abandoned outcome was just recorded)."""
        with self._lock:
            self._cache.clear()
            self._generation += 1

    def counts(
        self, conn: sa.Connection, campaign: str | None, period: dt.timedelta, at: dt.datetime
    ) -> tuple[int, int, int]:
        """``(period_seconds, abandoned, answered_live)`` for the campaign (or all)."""
        seconds = int(period.total_seconds())
        key = (campaign, seconds)
        stamp = at.timestamp()
        now = _clock()
        with self._lock:
            hit = self._lookup(key, stamp, now)
            generation = self._generation
        if hit is not None:
            return seconds, hit.abandoned, hit.answered
        abandoned, answered = count_abandonment(conn, campaign, period, at)
        if self.ttl > 0:
            with self._lock:
                # A clear() while the count ran may have been for an outcome the count
                # did not see: keep nothing then.
                if generation == self._generation:
                    self._store(key, _Counted(stamp, now, abandoned, answered), now)
        return seconds, abandoned, answered

    def for_periods(
        self,
        conn: sa.Connection,
        campaign: str | None,
        periods: Sequence[dt.timedelta],
        at: dt.datetime,
    ) -> list[tuple[int, int, int]]:
        """:meth:`counts` for each period (a decision's ``Needs.abandonment``)."""
        return [self.counts(conn, campaign, period, at) for period in periods]

    def _lookup(self, key: tuple[str | None, int], stamp: float, now: float) -> _Counted | None:
        entries = self._cache.get(key)
        if not entries:
            return None
        fresh = [e for e in entries if now - e.read < self.ttl]
        if len(fresh) != len(entries):
            self._cache[key] = fresh
        near = [e for e in fresh if abs(stamp - e.at) <= self.ttl]
        # The count whose period is closest to the decision's; of equals, the newest.
        return min(near, key=lambda e: (abs(stamp - e.at), -e.read)) if near else None

    def _store(self, key: tuple[str | None, int], entry: _Counted, now: float) -> None:
        if key not in self._cache and len(self._cache) >= self.SWEEP_ABOVE:
            for k in list(self._cache):
                kept = [e for e in self._cache[k] if now - e.read < self.ttl]
                if kept:
                    self._cache[k] = kept
                else:
                    del self._cache[k]
        entries = self._cache.setdefault(key, [])
        entries.append(entry)
        if len(entries) > self.MAX_PER_KEY:
            del entries[: len(entries) - self.MAX_PER_KEY]
