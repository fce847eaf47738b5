"""Spain: art. 96.2 hours, holidays by autonomous community, two zones, prior consent and its
two-year renewal (Ley 10/2025)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _rulecheck import BOOK, codes, consent, decide, local, sources

from optout._rules._book import RuleBook

NUMBER = "+34 912 345 678"  # a Madrid fixed line
MOBILE = "+34 612 345 678"  # a mobile: Europe/Madrid or Atlantic/Canary
CANARY = "+34 928 123 456"  # a Las Palmas fixed line
MADRID = "Europe/Madrid"
EXPRESS = consent("express", local(MADRID, 2025, 1, 10, 12, 0))
CONTRACT = consent("contract", local(MADRID, 2025, 1, 10, 12, 0))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(MADRID, 2026, 11, 24, 8, 59, 59), ["window.outside_hours"]),
        (local(MADRID, 2026, 11, 24, 9, 0), []),  # start inclusive
        (local(MADRID, 2026, 11, 24, 20, 59, 59), []),
        (local(MADRID, 2026, 11, 24, 21, 0), ["window.outside_hours"]),  # end exclusive
        (local(MADRID, 2026, 11, 28, 12, 0), ["window.day_banned"]),  # Saturday
        (local(MADRID, 2026, 11, 29, 12, 0), ["window.day_banned"]),  # Sunday
        (local(MADRID, 2026, 12, 24, 12, 0), []),  # Thursday, eve of Christmas
        (local(MADRID, 2026, 12, 25, 12, 0), ["window.holiday"]),  # Christmas, a Friday
        (local(MADRID, 2026, 12, 8, 12, 0), ["window.holiday"]),  # Inmaculada, a Tuesday
    ],
)
def test_hours_days_and_holidays(when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(NUMBER, when, consents=[EXPRESS])) == expected


def test_holiday_ban_is_a_separate_unconfirmed_rule() -> None:
    out = decide(NUMBER, local(MADRID, 2026, 12, 25, 12, 0), consents=[EXPRESS])
    assert sources(out) == ["ES:es.holidays"]
    lenient = RuleBook(include_unconfirmed=False)
    assert (
        codes(decide(NUMBER, local(MADRID, 2026, 12, 25, 12, 0), book=lenient, consents=[EXPRESS]))
        == []
    )
    # The hours still hold without it.
    assert codes(
        decide(NUMBER, local(MADRID, 2026, 12, 26, 12, 0), book=lenient, consents=[EXPRESS])
    ) == ["window.day_banned"]


def test_regional_holidays_follow_the_community() -> None:
    # Monday 7 Dec 2026 is a holiday in Madrid and Andalusia but not in Catalonia.
    at = local(MADRID, 2026, 12, 7, 12, 0)
    assert codes(decide(NUMBER, at, consents=[EXPRESS])) == ["window.holiday"]  # unknown: all
    assert codes(decide(NUMBER, at, consents=[EXPRESS], state="MD")) == ["window.holiday"]
    assert codes(decide(NUMBER, at, consents=[EXPRESS], state="CT")) == []
    national = RuleBook(unknown_subdivision="country")
    assert codes(decide(NUMBER, at, book=national, consents=[EXPRESS])) == []


def test_next_allowed_skips_weekend_and_holidays() -> None:
    at = local(MADRID, 2026, 12, 4, 21, 0)  # Friday, closing time
    out = decide(NUMBER, at, consents=[EXPRESS])
    assert codes(out) == ["window.outside_hours"]
    # Monday 7 Dec is a regional holiday somewhere, Tuesday 8 Dec a national one.
    assert out.next_allowed(at) == local(MADRID, 2026, 12, 9, 9, 0)
    out = decide(NUMBER, at, consents=[EXPRESS], state="CT")
    assert out.next_allowed(at) == local(MADRID, 2026, 12, 7, 9, 0)


def test_a_mobile_must_be_inside_the_hours_in_madrid_and_the_canaries() -> None:
    at = local(MADRID, 2026, 11, 24, 9, 30)  # 08:30 in the Canaries
    assert codes(decide(NUMBER, at, consents=[EXPRESS])) == []
    out = decide(MOBILE, at, consents=[EXPRESS])
    assert codes(out) == ["window.outside_hours"]
    assert "Atlantic/Canary" in out.reasons[0].message
    assert out.next_allowed(at) == local(MADRID, 2026, 11, 24, 10, 0)  # 09:00 in the Canaries
    assert codes(decide(CANARY, at, consents=[EXPRESS])) == ["window.outside_hours"]
    # In the evening Madrid closes first.
    assert codes(decide(MOBILE, local(MADRID, 2026, 11, 24, 20, 59, 59), consents=[EXPRESS])) == []
    assert codes(decide(MOBILE, local(MADRID, 2026, 11, 24, 21, 0), consents=[EXPRESS])) == [
        "window.outside_hours"
    ]


@pytest.mark.parametrize(
    ("number", "when", "allowed"),
    [
        # EU summer time starts Sunday 29 Mar 2026; Monday 9:00 in Madrid is 07:00 UTC.
        (NUMBER, dt.datetime(2026, 3, 30, 6, 59, 59, tzinfo=dt.UTC), False),
        (NUMBER, dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC), True),
        # 9:00 in the Canaries is 08:00 UTC.
        (MOBILE, dt.datetime(2026, 3, 30, 7, 59, 59, tzinfo=dt.UTC), False),
        (MOBILE, dt.datetime(2026, 3, 30, 8, 0, tzinfo=dt.UTC), True),
        # It ends Sunday 25 Oct 2026; Monday 9:00 in Madrid is 08:00 UTC again.
        (NUMBER, dt.datetime(2026, 10, 26, 7, 59, 59, tzinfo=dt.UTC), False),
        (NUMBER, dt.datetime(2026, 10, 26, 8, 0, tzinfo=dt.UTC), True),
        (MOBILE, dt.datetime(2026, 10, 26, 8, 59, 59, tzinfo=dt.UTC), False),
        (MOBILE, dt.datetime(2026, 10, 26, 9, 0, tzinfo=dt.UTC), True),
    ],
)
def test_dst_changes(number: str, when: dt.datetime, allowed: bool) -> None:
    assert (codes(decide(number, when, consents=[EXPRESS])) == []) is allowed


def test_consent_needed_from_29_june_2023() -> None:
    # state="MD": 29 June 2023 was a holiday in Ceuta and Melilla.
    assert codes(decide(NUMBER, local(MADRID, 2023, 6, 28, 12, 0), state="MD")) == []
    out = decide(NUMBER, local(MADRID, 2023, 6, 29, 12, 0), state="MD")
    assert codes(out) == ["consent.missing"]
    assert sources(out) == ["ES:es.consent.before_ley10"]


def test_consent_before_after_and_revoked() -> None:
    at = local(MADRID, 2026, 11, 24, 12, 0)
    later = consent("express", at + dt.timedelta(hours=1))
    revoked = consent("express", local(MADRID, 2025, 1, 10, 12, 0), revoked_at=at)
    assert codes(decide(NUMBER, at, consents=[EXPRESS])) == []
    assert codes(decide(NUMBER, at, consents=[CONTRACT])) == []  # legitimate interest
    out = decide(NUMBER, at, consents=[later])
    assert codes(out) == ["consent.missing"]
    assert out.next_allowed(at) == at + dt.timedelta(hours=1)
    out = decide(NUMBER, at, consents=[revoked])
    assert codes(out) == ["consent.revoked"]
    assert out.next_allowed(at) is None
    assert codes(decide(NUMBER, at - dt.timedelta(seconds=1), consents=[revoked])) == []


def test_automated_calls_need_consent_not_just_a_relationship() -> None:
    at = local(MADRID, 2026, 11, 24, 12, 0)
    out = decide(NUMBER, at, technology="prerecorded", consents=[CONTRACT])
    assert codes(out) == ["consent.missing"]
    assert sources(out) == ["ES:es.automated.consent"]
    assert codes(decide(NUMBER, at, technology="artificial_voice", consents=[CONTRACT])) == [
        "consent.missing"
    ]
    assert codes(decide(NUMBER, at, technology="prerecorded", consents=[EXPRESS])) == []
    # A live agent behind a dialer may rely on the relationship.
    assert codes(decide(NUMBER, at, technology="autodialed", consents=[CONTRACT])) == []
    assert sources(decide(NUMBER, at, technology="prerecorded")) == [
        "ES:es.consent",
        "ES:es.automated.consent",
    ]


def test_every_reason_cites_its_source() -> None:
    out = decide(NUMBER, local(MADRID, 2026, 12, 25, 22, 0))
    assert sources(out) == ["ES:es.hours", "ES:es.holidays", "ES:es.consent"]
    assert [r.confidence for r in out.reasons] == ["secondary", "unconfirmed", "secondary"]
    for reason in out.reasons:
        assert reason.citation is not None
        assert reason.url is not None
    assert "96.2" in (out.reasons[0].citation or "")
    assert "96.2" in (out.reasons[1].citation or "")
    assert "Ley 11/2022" in (out.reasons[2].citation or "")


# -- Ley 10/2025: consents renewed every two years (from 28 Dec 2025) ------------------------


def test_consent_renewal_starts_on_28_december_2025() -> None:
    # Given 1 Jul 2023: 730 days ran out on 30 Jun 2025, before the law; the strict reading
    # (the transitional rule is unconfirmed) ages it all the same from 28 Dec 2025.
    old = consent("express", local(MADRID, 2023, 7, 1, 12, 0))
    tuesday = local(MADRID, 2025, 12, 23, 12, 0)
    assert codes(decide(NUMBER, tuesday, consents=[old])) == []
    # 27 and 28 Dec 2025 are a weekend: the hours rule denies both days, and the renewal
    # rule joins it on the 28th, the day of entry into force.
    saturday = decide(NUMBER, local(MADRID, 2025, 12, 27, 12, 0), consents=[old])
    assert sources(saturday) == ["ES:es.hours"]
    sunday = decide(NUMBER, local(MADRID, 2025, 12, 28, 12, 0), consents=[old])
    assert sources(sunday) == ["ES:es.hours", "ES:es.consent"]
    assert codes(sunday) == ["window.day_banned", "consent.expired"]
    monday = decide(NUMBER, local(MADRID, 2025, 12, 29, 12, 0), consents=[old])
    assert codes(monday) == ["consent.expired"]
    assert monday.next_allowed(local(MADRID, 2025, 12, 29, 12, 0)) is None


@pytest.mark.parametrize("kind", ["express", "express_written"])
def test_an_express_consent_lasts_730_days(kind: str) -> None:
    given = local(MADRID, 2024, 3, 4, 12, 0)
    record = consent(kind, given)
    last = local(MADRID, 2026, 3, 4, 11, 59, 59)  # a Wednesday, 730 days less one second
    assert codes(decide(NUMBER, last, consents=[record])) == []
    out = decide(NUMBER, local(MADRID, 2026, 3, 4, 12, 0), consents=[record])
    assert codes(out) == ["consent.expired"]
    assert "Ley 10/2025" in (out.reasons[0].citation or "")
    # A renewal is a new consent and starts the two years again.
    renewed = consent(kind, local(MADRID, 2026, 3, 3, 12, 0))
    assert codes(decide(NUMBER, local(MADRID, 2026, 3, 4, 12, 0), consents=[record, renewed])) == []


def test_a_customer_relationship_is_not_aged_by_the_renewal_rule() -> None:
    contract = consent("contract", local(MADRID, 2021, 5, 3, 12, 0))
    assert codes(decide(NUMBER, local(MADRID, 2026, 11, 24, 12, 0), consents=[contract])) == []


def test_automated_consent_is_renewed_too() -> None:
    record = consent("express", local(MADRID, 2024, 3, 4, 12, 0))
    at = local(MADRID, 2026, 3, 4, 12, 0)
    out = decide(NUMBER, at, technology="prerecorded", consents=[record])
    assert sources(out) == ["ES:es.consent", "ES:es.automated.consent"]
    assert codes(out) == ["consent.expired", "consent.expired"]
    before = local(MADRID, 2025, 12, 23, 12, 0)  # the rule before Ley 10/2025 did not age it
    old = consent("express", local(MADRID, 2023, 7, 1, 12, 0))
    assert codes(decide(NUMBER, before, technology="prerecorded", consents=[old])) == []


def test_the_renewal_rule_says_the_transition_is_unconfirmed() -> None:
    rules: dict[str, Any] = {r.id: r for r in BOOK.packs["ES"].rules}
    assert rules["es.consent"].effective_from == dt.date(2025, 12, 28)
    assert rules["es.consent.before_ley10"].effective_to == dt.date(2025, 12, 28)
    for rule_id in ("es.consent", "es.automated.consent"):
        assert "UNCONFIRMED" in (rules[rule_id].note or "")
