"""Helpers for the per-jurisdiction pack tests: evaluate the built-in packs at an instant.

These go straight to the rules engine (no database), so a pack's boundaries can be probed
fast and exactly. End-to-end behaviour through ``Compliance.can_call`` is tested elsewhere.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence

from optout import normalize
from optout._rules._book import RuleBook
from optout._rules._decide import RuleCall, RuleOutcome, check_rules
from optout._rules._engine import AttemptFact, ConsentFact, RegistryFact
from optout._rules._model import ConsentKind, RegistryRule
from optout._vocab import Channel, Outcome, Purpose, Technology

BOOK = RuleBook()


def local(zone: str, *args: int) -> dt.datetime:
    """A wall-clock instant: ``local("Europe/Rome", 2026, 11, 24, 9, 0)``."""
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone))  # type: ignore[misc, arg-type]


#: The call ids and location hints a RuleCall takes as text.
CALL_TEXTS = ("campaign", "brand", "person", "debt", "subject", "state", "postal_code", "time_zone")


def rule_call(
    number: str,
    at: dt.datetime,
    purpose: Purpose | str,
    channel: Channel | str,
    technology: Technology | str,
    texts: Mapping[str, str | None],
) -> RuleCall:
    """The call to ``number`` at ``at`` with ``texts`` (keys of :data:`CALL_TEXTS`)."""
    unknown = set(texts) - set(CALL_TEXTS)
    if unknown:
        raise TypeError(f"unknown call ids or hints: {sorted(unknown)}")
    return RuleCall(
        phone=normalize(number),
        at=at,
        purpose=Purpose(purpose),
        channel=Channel(channel),
        technology=Technology(technology),
        campaign=texts.get("campaign"),
        brand=texts.get("brand"),
        person=texts.get("person"),
        debt=texts.get("debt"),
        subject=texts.get("subject"),
        state=texts.get("state"),
        postal_code=texts.get("postal_code"),
        time_zone=texts.get("time_zone"),
    )


def decide(
    number: str,
    at: dt.datetime,
    *,
    book: RuleBook = BOOK,
    purpose: Purpose | str = Purpose.MARKETING,
    channel: Channel | str = Channel.VOICE,
    technology: Technology | str = Technology.AUTODIALED,
    attempts: Sequence[AttemptFact] = (),
    consents: Sequence[ConsentFact] = (),
    registrations: Sequence[tuple[str, dt.datetime]] = (),
    abandonment: Sequence[tuple[int, int, int]] = (),
    registry_facts: Sequence[RegistryFact] | None = None,
    **hints: str | None,
) -> RuleOutcome:
    """Evaluate the rules for ``number`` at ``at`` (hints: campaign, brand, person, debt,
    subject, state, postal_code, time_zone). ``abandonment`` holds campaign counts as
    ``(period_seconds, abandoned, answered_live)``. ``registry_facts`` default to "every
    registry consulted the day before, number not listed", so that pack tests see the
    rules other than the registry checks; pass facts to test those."""
    call = rule_call(number, at, purpose, channel, technology, hints)
    return check_rules(
        book,
        call,
        attempts=attempts,
        consents=consents,
        registrations=registrations,
        abandonment=abandonment,
        registry_facts=all_clear(at) if registry_facts is None else registry_facts,
    )


REGISTRIES = sorted(
    {r.registry for p in BOOK.packs.values() for r in p.rules if isinstance(r, RegistryRule)}
)


def all_clear(at: dt.datetime) -> list[RegistryFact]:
    """Every registry the packs name, consulted a day before ``at``: not listed."""
    return [
        RegistryFact(
            registry=name, status="clear", checked_at=at - dt.timedelta(days=1), evidence="test"
        )
        for name in REGISTRIES
    ]


def codes(outcome: RuleOutcome) -> list[str]:
    """The reason codes, in order."""
    return [r.code for r in outcome.reasons]


def sources(outcome: RuleOutcome) -> list[str]:
    """The rule references (``"FR:fr.hours"``) that denied."""
    return [r.source for r in outcome.reasons]


def attempt(
    number: str,
    at: dt.datetime,
    outcome: Outcome | str | None = Outcome.NO_ANSWER,
    purpose: Purpose | str = Purpose.MARKETING,
    channel: Channel | str | None = None,
    technology: Technology | str | None = None,
    **keys: str | None,
) -> AttemptFact:
    """A past attempt (keys: person, debt, campaign, brand, subject)."""
    return AttemptFact(
        at=at,
        outcome=None if outcome is None else Outcome(outcome),
        number=normalize(number).e164,
        purpose=Purpose(purpose),
        channel=None if channel is None else Channel(channel),
        technology=None if technology is None else Technology(technology),
        person=keys.get("person"),
        debt=keys.get("debt"),
        campaign=keys.get("campaign"),
        brand=keys.get("brand"),
        subject=keys.get("subject"),
    )


def consent(kind: ConsentKind | str, given_at: dt.datetime, **fields: object) -> ConsentFact:
    """A consent record (fields: purposes, channels, brand, revoked_at, expires_at)."""
    return ConsentFact(id="c1", kind=ConsentKind(kind), given_at=given_at, **fields)  # type: ignore[arg-type]
