"""One entry point from a call to rule reasons: used by the client and by the pack tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from optout._decision import Evidence, Reason
from optout._location import Location, locate
from optout._numbers import PhoneNumber
from optout._rules._book import RuleBook
from optout._rules._engine import (
    AttemptFact,
    BoundRule,
    ConsentFact,
    RegistryFact,
    Situation,
    evaluate,
    next_allowed_at,
    zones_of,
)
from optout._vocab import Channel, Purpose, Technology

__all__ = ["RuleCall", "RuleOutcome", "check_rules"]


@dataclasses.dataclass(frozen=True, slots=True)
class RuleCall:
    """A call as the rules see it, before history and consents are attached."""

    phone: PhoneNumber
    at: dt.datetime
    purpose: Purpose = Purpose.MARKETING
    channel: Channel = Channel.VOICE
    technology: Technology = Technology.AUTODIALED
    campaign: str | None = None
    brand: str | None = None
    person: str | None = None
    debt: str | None = None
    subject: str | None = None
    state: str | None = None
    postal_code: str | None = None
    time_zone: str | None = None

    def location(self) -> Location:
        return locate(
            self.phone, state=self.state, postal_code=self.postal_code, time_zone=self.time_zone
        )


@dataclasses.dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What the rules say: denials, the next allowed instant, and the evidence used."""

    reasons: tuple[Reason, ...]
    evidence: tuple[Evidence, ...]
    rules: tuple[BoundRule, ...]
    situation: Situation

    def next_allowed(self, at: dt.datetime, others: Sequence[Reason] = ()) -> dt.datetime | None:
        """The next instant nothing denies, counting ``others`` (e.g. suppressions) too."""
        return next_allowed_at(self.rules, self.situation, at, [*self.reasons, *others], others)


def check_rules(
    book: RuleBook,
    call: RuleCall,
    *,
    attempts: Sequence[AttemptFact] = (),
    consents: Sequence[ConsentFact] = (),
    registrations: Sequence[tuple[str, dt.datetime]] = (),
    abandonment: Sequence[tuple[int, int, int]] = (),
    registry_facts: Sequence[RegistryFact] = (),
    location: Location | None = None,
) -> RuleOutcome:
    """Evaluate every rule that binds ``call`` at ``call.at``."""
    where = location or call.location()
    rules = book.rules_for(where, campaign=call.campaign, brand=call.brand)
    situation = Situation(
        number=call.phone.e164,
        number_type=call.phone.number_type,
        purpose=call.purpose,
        channel=call.channel,
        technology=call.technology,
        zones=zones_of(where.zones),
        campaign=call.campaign,
        brand=call.brand,
        person=call.person,
        debt=call.debt,
        subject=call.subject,
        attempts=tuple(attempts),
        consents=tuple(consents),
        registrations=tuple(registrations),
        abandonment=tuple(abandonment),
        registry_facts=tuple(registry_facts),
    )
    reasons = evaluate(rules, situation, call.at)
    if book.unsupported == "deny" and not book.packs_for(where):
        country = where.country or "no country"
        reasons.insert(
            0,
            Reason(
                code="jurisdiction.unsupported",
                message=f"no rule pack covers {country}: optout cannot tell what the law allows "
                "there (RuleBook(unsupported='allow') lets such calls through)",
                source="optout.jurisdiction",
            ),
        )
    evidence = book.evidence(where, campaign=call.campaign, brand=call.brand)
    return RuleOutcome(
        reasons=tuple(reasons), evidence=tuple(evidence), rules=rules, situation=situation
    )
