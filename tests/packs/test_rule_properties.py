"""Properties of the engine over every built-in pack.

- ``next_allowed`` is really allowed, and no instant between ``at`` and it is;
- adding a rule (a policy), an attempt or a registration never turns a denial into an
  allowance.
"""

from __future__ import annotations

import datetime as dt

from _rulecheck import BOOK, all_clear, attempt, decide
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optout
from optout._rules._book import RuleBook

NUMBERS = [
    "+39 06 1234 5678",  # IT
    "+33 1 99 00 12 34",  # FR
    "+34 912 345 678",  # ES
    "+34 612 345 678",  # ES mobile: Madrid and the Canaries
    "+49 30 1234 5678",  # DE
    "+44 20 7946 0123",  # GB
    "+1 212 555 0142",  # US-NY
    "+1 305 555 0142",  # US-FL
    "+1 208 555 0142",  # US-ID, two zones
    "+1 800 555 0142",  # toll-free: every state
    "+1 613 555 0142",  # CA-ON
    "+1 604 555 0142",  # CA-BC
    "+61 491 570 006",  # AU mobile: every zone
    "+55 21 91234 5678",  # BR-RJ
]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

instants = st.integers(min_value=0, max_value=2 * 365 * 24 * 3600).map(
    lambda s: START + dt.timedelta(seconds=s)
)
purposes = st.sampled_from(["marketing", "sales", "debt_collection", "survey", "charity"])
technologies = st.sampled_from(["manual", "autodialed"])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    number=st.sampled_from(NUMBERS),
    at=instants,
    purpose=purposes,
    technology=technologies,
    probes=st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6),
)
def test_next_allowed_is_allowed_and_nothing_before_it_is(
    number: str,
    at: dt.datetime,
    purpose: str,
    technology: str,
    probes: list[float],
) -> None:
    facts = all_clear(at)  # fixed facts: consulted the day before ``at``
    out = decide(number, at, purpose=purpose, technology=technology, registry_facts=facts)
    nxt = out.next_allowed(at)
    if not out.reasons:
        assert nxt is None
        return
    if nxt is None:
        return  # a reason that never lapses by itself (consent, ...)
    assert nxt > at
    assert (
        decide(number, nxt, purpose=purpose, technology=technology, registry_facts=facts).reasons
        == ()
    )
    span = nxt - at
    for fraction in [*probes, 0.0]:
        t = at + span * fraction
        if t < nxt:
            assert decide(
                number, t, purpose=purpose, technology=technology, registry_facts=facts
            ).reasons, t
    just_before = nxt - dt.timedelta(seconds=1)
    if just_before > at:
        assert decide(
            number, just_before, purpose=purpose, technology=technology, registry_facts=facts
        ).reasons


_extra_rules = st.one_of(
    st.builds(
        lambda start, length: {
            "id": "x.hours",
            "kind": "window",
            "title": "extra window",
            "schedule": {"mon-sun": [f"{start:02d}:00-{min(start + length, 24):02d}:00"]},
        },
        st.integers(0, 22),
        st.integers(1, 12),
    ),
    st.builds(
        lambda n, hours: {
            "id": "x.cap",
            "kind": "cap",
            "title": "extra cap",
            "max_attempts": n,
            "period": f"{hours}h",
            "scope": ["number"],
        },
        st.integers(1, 3),
        st.integers(1, 72),
    ),
    st.builds(
        lambda hours: {
            "id": "x.cool",
            "kind": "cooldown",
            "title": "extra cool-down",
            "after": ["no_answer", "busy"],
            "duration": f"{hours}h",
            "scope": ["number"],
        },
        st.integers(1, 72),
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    number=st.sampled_from(NUMBERS),
    at=instants,
    purpose=purposes,
    technology=technologies,
    rule=_extra_rules,
    history=st.lists(st.integers(1, 96), max_size=4),
)
def test_more_rules_or_facts_never_turn_a_denial_into_an_allowance(
    number: str,
    at: dt.datetime,
    purpose: str,
    technology: str,
    rule: dict[str, object],
    history: list[int],
) -> None:
    past = [attempt(number, at - dt.timedelta(hours=h), purpose=purpose) for h in history]
    base = decide(number, at, purpose=purpose, technology=technology, attempts=past)
    policy = optout.Policy.from_dict({"policy": {"name": "extra"}, "rules": [rule]})
    stricter = RuleBook(packs=BOOK.packs, policies=(policy,))
    with_rule = decide(
        number, at, book=stricter, purpose=purpose, technology=technology, attempts=past
    )
    one_more = [*past, attempt(number, at - dt.timedelta(minutes=5), purpose=purpose)]
    with_attempt = decide(number, at, purpose=purpose, technology=technology, attempts=one_more)
    registered = decide(
        number,
        at,
        purpose=purpose,
        technology=technology,
        attempts=past,
        registrations=[("it_rpo", at - dt.timedelta(days=1))],
    )
    if base.reasons:
        assert with_rule.reasons
        assert with_attempt.reasons
        assert registered.reasons
    base_codes = {r.source for r in base.reasons}
    assert base_codes <= {r.source for r in with_rule.reasons}
    assert base_codes <= {r.source for r in with_attempt.reasons}
