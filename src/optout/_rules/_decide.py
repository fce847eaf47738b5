"""One entry point from a call to rule reasons: used by the client and by the pack tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from types import MappingProxyType

from optout._decision import Evidence, Reason
from optout._location import Location, locate
from optout._numbers import PhoneNumber
from optout._rules._book import RuleBook
from optout._rules._engine import (
    AttemptFact,
    BlackoutFact,
    BoundRule,
    ConsentFact,
    RegistryFact,
    Situation,
    evaluate,
    next_allowed_at,
    zones_of,
)
from optout._rules._model import BlackoutRule, Confidence, ConsentRule
from optout._vocab import Channel, Purpose, Sector, Technology

__all__ = ["RuleCall", "RuleOutcome", "check_rules", "with_blackouts"]


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
    sector: Sector | None = None
    caller_id: PhoneNumber | None = None

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
    blackouts: Sequence[BlackoutFact] = (),
) -> RuleOutcome:
    """Evaluate every rule that binds ``call`` at ``call.at``."""
    where = location or call.location()
    rules = book.rules_for(where, campaign=call.campaign, brand=call.brand)
    declared = _matching(blackouts, where, book) if blackouts else []
    if declared:
        rules = with_blackouts(rules, declared)
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
        sector=call.sector,
        reassigned_by=reassignment_registries(rules),
        caller_id=None
        if call.caller_id is None
        else (call.caller_id.e164, call.caller_id.region, call.caller_id.number_type),
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
    evidence.extend(
        Evidence(
            kind="blackout",
            id=b.id,
            source=b.source,
            date=None,
            detail=MappingProxyType(
                {
                    "area": b.area,
                    "kind": b.kind,
                    "first": b.first.isoformat(),
                    "last": b.last.isoformat() if b.last else "",
                }
            ),
        )
        for b in declared
    )
    return RuleOutcome(
        reasons=tuple(reasons), evidence=tuple(evidence), rules=rules, situation=situation
    )


def reassignment_registries(rules: Sequence[BoundRule]) -> frozenset[str]:
    """Registries whose date means the number changed hands (``voided_by``), named by any
    consent rule that may bind a call to the number: a consent given before that date was
    the previous subscriber's, whatever the call (a manual call included)."""
    return frozenset(
        name
        for bound in rules
        if isinstance(bound.rule, ConsentRule)
        for name in bound.rule.voided_by
    )


def _matching(
    blackouts: Sequence[BlackoutFact], where: Location, book: RuleBook
) -> list[BlackoutFact]:
    """The declared blackouts whose area may hold the callee (an unknown subdivision
    holds every one of the country, as for packs, unless ``unknown_subdivision`` says
    otherwise)."""
    out = []
    for b in blackouts:
        country, _, sub = b.area.partition("-")
        if country != where.country:
            continue
        unknown = not where.subdivisions and book.unknown_subdivision == "all"
        if sub and sub not in where.subdivisions and not unknown:
            continue
        out.append(b)
    return out


def with_blackouts(
    rules: tuple[BoundRule, ...], matched: Sequence[BlackoutFact]
) -> tuple[BoundRule, ...]:
    """``rules`` with ``matched``, the declared blackouts that may hold the callee, applied.

    A pack blackout rule whose ``declared`` kinds include a fact's kind, in the fact's own
    jurisdiction, applies it on the rule's terms (purposes, consent exemptions, citation).
    A fact no such rule takes becomes a rule of its own, for every purpose it names (all
    when it names none), cited by the fact's source.
    """
    # Purposes each fact still needs a rule for: all it names, less those of the pack rules
    # that take it (a fact naming no purpose is taken whole by a rule of its kind).
    left: dict[str, frozenset[Purpose]] = {
        b.id: b.purposes if b.purposes is not None else frozenset(Purpose) for b in matched
    }
    out: list[BoundRule] = []
    for bound in rules:
        rule = bound.rule
        if isinstance(rule, BlackoutRule) and rule.declared:
            mine = tuple(b for b in matched if b.area == bound.source and b.kind in rule.declared)
            if mine:
                for b in mine:
                    left[b.id] = frozenset() if b.purposes is None else left[b.id] - rule.purposes
                bound = dataclasses.replace(bound, blackouts=bound.blackouts + mine)
        out.append(bound)
    for b in matched:
        if not left[b.id]:
            continue
        what = "state of emergency" if b.kind == "emergency" else "no-call day"
        rule = BlackoutRule(
            kind="blackout",
            id=f"declared.{b.id}",
            title=f"declared {what} for {b.area}",
            purposes=left[b.id],
            declared=frozenset({b.kind}),
            confidence=Confidence.PRIMARY,
            # Whatever the stored source, the rule stays valid (3 to 400 characters).
            citation=f"declared {what}: {b.source}"[:400],
            note="a blackout declared at run time (Compliance.blackouts)",
        )
        out.append(BoundRule(source="blackout", rule=rule, blackouts=(b,)))
    return tuple(out)
