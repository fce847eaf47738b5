"""Reading the stored facts a call's rules need: history, consents, registrations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Sequence

import sqlalchemy as sa

from optout._location import Location
from optout._privacy import CLEAR, Privacy
from optout._rules._book import RuleBook
from optout._rules._decide import RuleCall
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


class AbandonmentCache:
    """Campaign abandonment counts, cached for ``ttl`` seconds per (campaign, period).

    The count scans a campaign's attempts over the period (30 days under the TCPA), far too
    much to repeat on every dial; a rate a few seconds old is the documented trade-off.
    ``ttl=0`` disables the cache.
    """

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[str | None, int, int], tuple[float, int, int]] = {}

    def clear(self) -> None:
        """Forget every count (an outcome was just recorded)."""
        with self._lock:
            self._cache.clear()

    def counts(
        self, conn: sa.Connection, campaign: str | None, period: dt.timedelta, at: dt.datetime
    ) -> tuple[int, int, int]:
        """``(period_seconds, abandoned, answered_live)`` for the campaign (or all)."""
        seconds = int(period.total_seconds())
        # The decided instant is part of the key (to the cache's own resolution), so a
        # decision for another instant (a replay, scrub --at) never reuses these counts.
        key = (campaign, seconds, int(at.timestamp() // max(self.ttl, 1.0)))
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return seconds, hit[1], hit[2]
        live = [o.value for o in LIVE_OUTCOMES]
        stmt = sa.select(
            sa.func.coalesce(
                sa.func.sum(sa.case((_a.c.outcome == Outcome.ABANDONED.value, 1), else_=0)), 0
            ),
            sa.func.coalesce(sa.func.sum(sa.case((_a.c.outcome.in_(live), 1), else_=0)), 0),
        ).where(_a.c.at > at - period, _a.c.at <= at)
        if campaign is not None:
            stmt = stmt.where(_a.c.campaign == campaign)
        abandoned, answered = conn.execute(stmt).one()
        with self._lock:
            self._cache[key] = (now, int(abandoned), int(answered))
        return seconds, int(abandoned), int(answered)
