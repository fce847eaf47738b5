"""The one place a :class:`~optout.Decision` is put together from the facts of a call.

``Compliance.can_call`` (one number, facts read with a query each) and the batch path
(``optout._batch``: facts read in bulk for a whole list) both end here, so the two cannot
drift apart: given the same :class:`CallFacts`, they return the same decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from types import MappingProxyType

import phonenumbers

from optout._consents import Consent
from optout._decision import Decision, Evidence, Reason
from optout._facts import Needs
from optout._location import Location
from optout._numbers import PhoneNumber
from optout._rules._book import RuleBook
from optout._rules._decide import RuleCall, RuleOutcome, check_rules
from optout._rules._engine import AttemptFact, BlackoutFact, RegistryFact
from optout._suppressions import Suppression
from optout._vocab import Scope

__all__ = [
    "NUMBERING_PLAN",
    "CallFacts",
    "assemble",
    "backend_failed",
    "fixed_reasons",
    "invalid_decision",
    "no_backend",
    "outcome_of",
    "registry_token",
]

_log = logging.getLogger("optout")

#: Evidence every decision carries: the numbering plan the number was read with.
NUMBERING_PLAN = Evidence(
    kind="numbering_plan",
    id="libphonenumber",
    source="phonenumbers",
    version=phonenumbers.__version__,
)


@dataclasses.dataclass(frozen=True, slots=True)
class CallFacts:
    """Everything read about one call before the rules run.

    ``suppressions`` are the entries that apply to the call (scope and dates already
    checked), in id order; ``registry`` one answer per registry the rules need, sorted by
    registry id; ``registered`` the registration dates stored in the ``registrations``
    table; ``attempts`` the history inside the longest window a rule looks at;
    ``abandonment`` the campaign counts per period the rules need.
    """

    suppressions: tuple[Suppression, ...] = ()
    registry: tuple[RegistryFact, ...] = ()
    consents: tuple[Consent, ...] = ()
    registered: tuple[tuple[str, dt.datetime], ...] = ()
    attempts: tuple[AttemptFact, ...] = ()
    abandonment: tuple[tuple[int, int, int], ...] = ()
    #: Declared blackouts not over before the call (``Compliance.blackouts``).
    blackouts: tuple[BlackoutFact, ...] = ()


def no_backend(registry: str) -> RegistryFact:
    """The answer for a registry the rules name but no backend serves (fail closed)."""
    return RegistryFact(registry=registry, status="unknown", detail="no backend configured")


def backend_failed(registry: str, exc: BaseException, *, fail_open: bool) -> RegistryFact:
    """The answer when a backend raised: ``unavailable``, never an allowance (logged)."""
    _log.warning("registry %s failed: %s", registry, type(exc).__name__)
    return RegistryFact(
        registry=registry,
        status="unavailable",
        detail=f"backend error: {type(exc).__name__}: {exc}",
        fail_open=fail_open,
    )


def invalid_decision(message: str, at: dt.datetime) -> Decision:
    """The denial of an input that is not a usable phone number."""
    return Decision(
        allowed=False,
        number=None,
        reasons=(Reason(code="number.invalid", message=message, source="optout.normalize"),),
        next_allowed_at=None,
        evidence=(NUMBERING_PLAN,),
        checked_at=at,
    )


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


def fixed_reasons(phone: PhoneNumber, suppressions: Sequence[Suppression]) -> list[Reason]:
    """The denials no rule re-derives: an extension, and each applying suppression."""
    out = [_extension_reason(phone)] if phone.extension else []
    out.extend(_suppression_reason(e) for e in suppressions)
    return out


def _registered(facts: CallFacts) -> list[tuple[str, dt.datetime]]:
    """Registration dates: the stored ones, then those the registry answers carry."""
    return list(facts.registered) + [
        (f.registry, f.registered_at)
        for f in facts.registry
        if f.status == "listed" and f.registered_at is not None
    ]


def outcome_of(book: RuleBook, call: RuleCall, location: Location, facts: CallFacts) -> RuleOutcome:
    """What the rules say about ``call`` given ``facts``."""
    return check_rules(
        book,
        call,
        attempts=facts.attempts,
        consents=[c.fact() for c in facts.consents],
        registrations=_registered(facts),
        abandonment=facts.abandonment,
        registry_facts=facts.registry,
        location=location,
        blackouts=facts.blackouts,
    )


def _consent_evidence(c: Consent) -> Evidence:
    return Evidence(
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


def _registry_evidence(f: RegistryFact) -> Evidence:
    return Evidence(
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


def assemble(
    book: RuleBook,
    call: RuleCall,
    location: Location,
    needs: Needs,
    facts: CallFacts,
    dialect: str,
) -> Decision:
    """The full decision for ``call``: reasons in order, ``next_allowed_at``, evidence."""
    when = call.at
    reasons = fixed_reasons(call.phone, facts.suppressions)
    evidence: list[Evidence] = [NUMBERING_PLAN]
    evidence.extend(_suppression_evidence(e) for e in facts.suppressions)
    evidence.append(
        Evidence(
            kind="suppression_list",
            id="lookup",
            source=dialect,
            date=when,
            detail=MappingProxyType({"matched": str(len(facts.suppressions))}),
        )
    )
    outcome = outcome_of(book, call, location, facts)
    fixed = tuple(reasons)
    reasons.extend(outcome.reasons)
    evidence.extend(outcome.evidence)
    evidence.extend(_consent_evidence(c) for c in facts.consents)
    evidence.extend(
        Evidence(kind="registration", id=reg, source="registrations", date=since)
        for reg, since in _registered(facts)
    )
    evidence.extend(_registry_evidence(f) for f in facts.registry)
    if needs.history is not None:
        evidence.append(
            Evidence(
                kind="attempt_history",
                id="window",
                source=dialect,
                date=when - needs.history,
                detail=MappingProxyType({"attempts": str(len(facts.attempts))}),
            )
        )
    next_at = outcome.next_allowed(when, others=fixed) if reasons else None
    if next_at is not None and when.tzinfo is not None:
        next_at = next_at.astimezone(when.tzinfo)
    return Decision(
        allowed=not reasons,
        number=call.phone.e164,
        reasons=tuple(reasons),
        next_allowed_at=next_at,
        evidence=tuple(evidence),
        checked_at=when,
        phone=call.phone,
    )


def registry_token(fact: RegistryFact) -> str:
    """A registry answer in a few characters, for the batch ``registry`` column.

    ``registry:status@version`` with the snapshot version or the consultation reference
    (``us_dnc:listed@20261120T000000Z-20261121093015000123``, ``it_rpo:clear@RPO-2026-42``),
    other proof as given (shortened to 80 characters, its ``;`` written ``,`` so that the
    column splits on ``;``), or ``registry:status`` for an answer never obtained
    (``us_dnc:unknown``, ``it_rpo:unavailable``)."""
    if fact.status in ("unknown", "unavailable") or not fact.evidence:
        return f"{fact.registry}:{fact.status}"
    text = " ".join(fact.evidence.split())
    head = f"{fact.registry} snapshot "
    if text.startswith(head):
        token = text[len(head) :].split(" ", 1)[0]
    elif text.startswith(f"{fact.registry} consultation "):
        token = text[len(f"{fact.registry} consultation ") :].rsplit(" of ", 1)[0]
    else:
        token = text
    return f"{fact.registry}:{fact.status}@{token.replace(';', ',')[:80]}"
