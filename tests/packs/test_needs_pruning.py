"""The facts a call's rules need (``needs_of``) never change the decision.

``Compliance`` reads only the facts that the rules able to bind a call look at: rules
written for other purposes, channels, technologies or number types are skipped. Skipping
must never change a decision (fail closed): the decision on the facts ``needs_of`` asks for
must be the decision on every fact there is.
"""

from __future__ import annotations

import datetime as dt

from _rulecheck import BOOK, REGISTRIES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optout
from optout import normalize
from optout._facts import call_needs, needs_of
from optout._rules._book import RuleBook
from optout._rules._decide import RuleCall, RuleOutcome, check_rules
from optout._rules._engine import AttemptFact, BoundRule, ConsentFact, RegistryFact
from optout._rules._model import AbandonmentRule, ConsentKind
from optout._vocab import Channel, NumberType, Outcome, Purpose, Technology

#: Rules on one channel, technology or number type only, for each kind of fact.
NARROW = optout.Policy.from_dict(
    {
        "policy": {"name": "narrow"},
        "rules": [
            {
                "id": "narrow.sms.cap",
                "kind": "cap",
                "title": "Two texts a week",
                "purposes": ["*"],
                "channels": ["sms"],
                "max_attempts": 2,
                "period": "7d",
                "scope": ["number"],
            },
            {
                "id": "narrow.robot.cooldown",
                "kind": "cooldown",
                "title": "No robot call for 90 days after a refusal",
                "purposes": ["*"],
                "technologies": ["prerecorded", "artificial_voice"],
                "after": ["refused", "dnc_request"],
                "duration": "90d",
                "scope": ["person"],
            },
            {
                "id": "narrow.mobile.consent",
                "kind": "consent",
                "title": "Texts to mobiles need express consent",
                "purposes": ["*"],
                "channels": ["sms"],
                "number_types": ["mobile"],
                "accepted": ["express", "express_written"],
                "voided_by": ["us_rnd"],
            },
            {
                "id": "narrow.abandon",
                "kind": "abandonment",
                "title": "At most 1 percent abandoned per day",
                "purposes": ["*"],
                "technologies": ["autodialed"],
                "max_rate": 0.01,
                "period": "1d",
            },
        ],
    }
)
BOOKS = (BOOK, RuleBook(policies=(NARROW,)))

NUMBERS = [
    "+39 06 1234 5678",  # IT fixed
    "+39 312 345 6789",  # IT mobile
    "+33 1 99 00 12 34",  # FR fixed
    "+33 6 12 34 56 78",  # FR mobile
    "+34 612 345 678",  # ES mobile
    "+49 30 1234 5678",  # DE
    "+44 20 7946 0123",  # GB fixed
    "+44 7911 123456",  # GB mobile
    "+1 212 555 0142",  # US-NY
    "+1 305 555 0142",  # US-FL
    "+1 801 555 0142",  # US-UT
    "+1 800 555 0142",  # toll-free
    "+1 613 555 0142",  # CA-ON
    "+61 491 570 006",  # AU mobile
    "+55 21 91234 5678",  # BR-RJ mobile
]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAY = 86_400
PERIODS = sorted(
    {
        int(rule.period.total_seconds())
        for pack in BOOK.packs.values()
        for rule in pack.rules
        if isinstance(rule, AbandonmentRule)
    }
    | {DAY}  # NARROW's
)
VOIDING = sorted({*REGISTRIES, "us_rnd"})


def _optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


def attempts_near(number: str, at: dt.datetime) -> st.SearchStrategy[list[AttemptFact]]:
    """Attempts to the number or the person, from 400 days before ``at`` to 2 days after
    (half of them in the last 10 days, where caps and cool-downs bite)."""
    one = st.builds(
        AttemptFact,
        at=(st.integers(-10 * DAY, 2 * DAY) | st.integers(-400 * DAY, 2 * DAY)).map(
            lambda s: at + dt.timedelta(seconds=s)
        ),
        outcome=_optional(st.sampled_from(Outcome)),
        number=st.sampled_from([number, "+390600000000"]),
        purpose=st.sampled_from(Purpose),
        person=_optional(st.just("p1")),
        debt=_optional(st.sampled_from(["d1", "d2"])),
        campaign=_optional(st.just("c1")),
        channel=_optional(st.sampled_from(Channel)),
        technology=_optional(st.sampled_from(Technology)),
    )
    return st.lists(one, max_size=8)


def consents_near(at: dt.datetime) -> st.SearchStrategy[list[ConsentFact]]:
    instant = st.integers(-800 * DAY, 30 * DAY).map(lambda s: at + dt.timedelta(seconds=s))
    one = st.builds(
        ConsentFact,
        id=st.just("c"),
        kind=st.sampled_from(ConsentKind),
        given_at=instant,
        purposes=_optional(st.frozensets(st.sampled_from(Purpose), min_size=1)),
        channels=_optional(st.frozensets(st.sampled_from(Channel), min_size=1)),
        revoked_at=_optional(instant),
        expires_at=_optional(instant),
    )
    return st.lists(one, max_size=3)


def registry_facts_near(at: dt.datetime) -> st.SearchStrategy[list[RegistryFact]]:
    def fact(name: str) -> st.SearchStrategy[RegistryFact]:
        return st.builds(
            RegistryFact,
            registry=st.just(name),
            status=st.sampled_from(["listed", "clear", "unknown", "unavailable"]),
            checked_at=_optional(
                st.integers(-60 * DAY, 0).map(lambda s: at + dt.timedelta(seconds=s))
            ),
            registered_at=_optional(
                st.integers(-900 * DAY, 0).map(lambda s: at + dt.timedelta(seconds=s))
            ),
            fail_open=st.booleans(),
        )

    return st.tuples(*(fact(name) for name in VOIDING)).map(list)


def _decide(
    book: RuleBook,
    call: RuleCall,
    *,
    attempts: list[AttemptFact],
    consents: list[ConsentFact],
    stored: list[tuple[str, dt.datetime]],
    abandonment: list[tuple[int, int, int]],
    facts: list[RegistryFact],
) -> RuleOutcome:
    # Registrations as Compliance._decide assembles them: the stored ones, then the dates
    # the registries consulted give.
    registered = stored + [
        (f.registry, f.registered_at)
        for f in facts
        if f.status == "listed" and f.registered_at is not None
    ]
    return check_rules(
        book,
        call,
        attempts=attempts,
        consents=consents,
        registrations=registered,
        abandonment=abandonment,
        registry_facts=facts,
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_facts_needs_of_asks_for_give_the_decision_all_facts_give(
    data: st.DataObject,
) -> None:
    book = BOOKS[data.draw(st.integers(0, len(BOOKS) - 1), label="book (0: packs, 1: +NARROW)")]
    number = data.draw(st.sampled_from(NUMBERS), label="number")
    at = data.draw(
        st.integers(0, 2 * 365 * DAY).map(lambda s: START + dt.timedelta(seconds=s)), label="at"
    )
    call = RuleCall(
        phone=normalize(number),
        at=at,
        purpose=data.draw(st.sampled_from(Purpose), label="purpose"),
        channel=data.draw(st.sampled_from(Channel), label="channel"),
        technology=data.draw(st.sampled_from(Technology), label="technology"),
        campaign=data.draw(_optional(st.just("c1")), label="campaign"),  # type: ignore[arg-type]
        person=data.draw(_optional(st.just("p1")), label="person"),  # type: ignore[arg-type]
    )
    attempts = data.draw(attempts_near(call.phone.e164, at), label="attempts")
    consents = data.draw(consents_near(at), label="consents")
    stored = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(VOIDING),
                st.integers(-900 * DAY, DAY).map(lambda s: at + dt.timedelta(seconds=s)),
            ),
            max_size=2,
        ),
        label="registrations",
    )
    abandonment = [
        (period, *data.draw(st.tuples(st.integers(0, 20), st.integers(0, 200)), label="counts"))
        for period in PERIODS
    ]
    facts = data.draw(registry_facts_near(at), label="registry facts")

    everything = _decide(
        book,
        call,
        attempts=attempts,
        consents=consents,
        stored=stored,
        abandonment=abandonment,
        facts=facts,
    )

    _, needs = call_needs(book, call, call.location())
    seconds = {int(p.total_seconds()) for p in needs.abandonment}
    pruned = _decide(
        book,
        call,
        attempts=[]
        if needs.history is None
        else [a for a in attempts if a.at > at - needs.history],  # load_attempts' bound
        consents=consents if needs.consents else [],
        stored=stored if needs.registrations else [],
        abandonment=[c for c in abandonment if c[0] in seconds],
        facts=[f for f in facts if f.registry in needs.registries],
    )

    assert pruned.reasons == everything.reasons
    assert pruned.next_allowed(at) == everything.next_allowed(at)


def _us_rules() -> tuple[BoundRule, ...]:
    call = RuleCall(phone=normalize("+1 212 555 0142"), at=START)
    return BOOK.rules_for(call.location(), campaign=None, brand=None)


def test_calls_the_abandonment_rule_cannot_bind_skip_the_campaign_count() -> None:
    rules = _us_rules()
    month = dt.timedelta(days=30)
    # The US 3% rule binds autodialed, prerecorded and AI-voice calls.
    assert needs_of(rules, Purpose.MARKETING, technology=Technology.AUTODIALED).abandonment == (
        month,
    )
    assert needs_of(rules, Purpose.MARKETING, technology=Technology.MANUAL).abandonment == ()
    # Without the technology (the batch path's call) every rule is kept: fail closed.
    assert needs_of(rules, Purpose.MARKETING).abandonment == (month,)


def test_texts_and_number_types_prune_the_rules_written_for_others() -> None:
    call = RuleCall(phone=normalize("+44 20 7946 0123"), at=START)
    rules = RuleBook(packs={}, policies=(NARROW,)).rules_for(
        call.location(), campaign=None, brand=None
    )
    sms = needs_of(rules, Purpose.MARKETING, channel=Channel.SMS, technology=Technology.MANUAL)
    assert sms.history == dt.timedelta(days=7)
    assert sms.consents  # the mobile consent rule: the number type is not known here
    assert not needs_of(
        rules,
        Purpose.MARKETING,
        channel=Channel.SMS,
        technology=Technology.MANUAL,
        number_type=NumberType.FIXED_LINE,
    ).consents
    voice = needs_of(rules, Purpose.MARKETING, channel=Channel.VOICE, technology=Technology.MANUAL)
    assert voice.history is None
    assert voice.abandonment == ()
    assert voice.registries == frozenset()
