"""Australia: telemarketing and research-call hours, national holidays, zones and consent."""

from __future__ import annotations

import datetime as dt

import pytest
from _rulecheck import codes, consent, decide, local, sources

from optout._rules._book import RuleBook

SYDNEY_LINE = "+61 2 5550 1234"  # fixed line, Australia/Sydney
MOBILE = "+61 491 570 006"  # a mobile: any Australian zone
SYDNEY = "Australia/Sydney"
PERTH = "Australia/Perth"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(SYDNEY, 2026, 11, 24, 8, 59, 59), ["window.outside_hours"]),  # Tuesday
        (local(SYDNEY, 2026, 11, 24, 9, 0), []),  # start inclusive
        (local(SYDNEY, 2026, 11, 24, 19, 59, 59), []),
        (local(SYDNEY, 2026, 11, 24, 20, 0), ["window.outside_hours"]),  # end exclusive
        (local(SYDNEY, 2026, 11, 28, 8, 59, 59), ["window.outside_hours"]),  # Saturday
        (local(SYDNEY, 2026, 11, 28, 9, 0), []),
        (local(SYDNEY, 2026, 11, 28, 16, 59, 59), []),
        (local(SYDNEY, 2026, 11, 28, 17, 0), ["window.outside_hours"]),
        (local(SYDNEY, 2026, 11, 29, 12, 0), ["window.day_banned"]),  # Sunday
    ],
)
def test_telemarketing_hours(when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(SYDNEY_LINE, when)) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(SYDNEY, 2026, 11, 24, 20, 29, 59), []),  # weekdays to 20:30
        (local(SYDNEY, 2026, 11, 24, 20, 30), ["window.outside_hours"]),
        (local(SYDNEY, 2026, 11, 28, 16, 59, 59), []),  # Saturday 9-17
        (local(SYDNEY, 2026, 11, 28, 17, 0), ["window.outside_hours"]),
        (local(SYDNEY, 2026, 11, 29, 8, 59, 59), ["window.outside_hours"]),  # Sunday 9-17
        (local(SYDNEY, 2026, 11, 29, 9, 0), []),
        (local(SYDNEY, 2026, 11, 29, 16, 59, 59), []),
        (local(SYDNEY, 2026, 11, 29, 17, 0), ["window.outside_hours"]),
    ],
)
def test_research_call_hours(when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(SYDNEY_LINE, when, purpose="survey")) == expected


def test_charities_are_bound_and_collections_are_not() -> None:
    sunday = local(SYDNEY, 2026, 11, 29, 12, 0)
    assert codes(decide(SYDNEY_LINE, sunday, purpose="charity")) == ["window.day_banned"]
    assert codes(decide(SYDNEY_LINE, sunday, purpose="debt_collection")) == []


@pytest.mark.parametrize(
    ("purpose", "rule"),
    [("marketing", "AU:au.telemarketing.holidays"), ("survey", "AU:au.research.holidays")],
)
def test_national_public_holidays_are_banned_and_flagged_unconfirmed(
    purpose: str, rule: str
) -> None:
    australia_day = local(SYDNEY, 2026, 1, 26, 12, 0)  # Monday
    out = decide(SYDNEY_LINE, australia_day, purpose=purpose)
    assert codes(out) == ["window.holiday"]
    assert sources(out) == [rule]
    assert out.reasons[0].confidence == "unconfirmed"
    assert "Australia Day" in out.reasons[0].message
    # The day before is ordinary.
    assert codes(decide(SYDNEY_LINE, local(SYDNEY, 2026, 1, 23, 19, 59), purpose=purpose)) == []
    # Leaving unconfirmed rules out lifts the ban (a loosening the caller chooses).
    loose = RuleBook(include_unconfirmed=False)
    assert codes(decide(SYDNEY_LINE, australia_day, purpose=purpose, book=loose)) == []


def test_a_state_only_holiday_is_not_national() -> None:
    labour_day_nsw = local(SYDNEY, 2026, 10, 5, 12, 0)  # Monday, NSW only
    assert codes(decide(SYDNEY_LINE, labour_day_nsw)) == []


def test_consent_lifts_telemarketing_hours_but_not_research_hours() -> None:
    given = consent("express", local(SYDNEY, 2026, 11, 1, 12, 0))
    sunday = local(SYDNEY, 2026, 11, 29, 21, 0)
    assert codes(decide(SYDNEY_LINE, sunday, consents=[given])) == []
    assert (
        codes(decide(SYDNEY_LINE, local(SYDNEY, 2026, 12, 25, 12, 0), consents=[given])) == []
    )  # Christmas Day
    assert codes(decide(SYDNEY_LINE, sunday, consents=[given], purpose="survey")) == [
        "window.outside_hours"
    ]
    # A consent given to another purpose does not lift the rule.
    survey_only = consent(
        "express", local(SYDNEY, 2026, 11, 1, 12, 0), purposes=frozenset({"survey"})
    )
    assert codes(decide(SYDNEY_LINE, sunday, consents=[survey_only])) == ["window.day_banned"]


def test_next_allowed_skips_sunday_easter_monday_and_the_dst_change() -> None:
    at = local(SYDNEY, 2026, 4, 4, 17, 0)  # Saturday, AEDT (UTC+11)
    out = decide(SYDNEY_LINE, at)
    # Summer time ends on Sunday 5 Apr; Monday 6 Apr is Easter Monday.
    assert out.next_allowed(at) == local(SYDNEY, 2026, 4, 7, 9, 0)
    assert out.next_allowed(at) == dt.datetime(2026, 4, 6, 23, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("number", "state", "when", "allowed"),
    [
        # Thursday 2 Apr 2026: Sydney on summer time (UTC+11), Brisbane UTC+10.
        (SYDNEY_LINE, None, dt.datetime(2026, 4, 1, 21, 59, 59, tzinfo=dt.UTC), False),
        (SYDNEY_LINE, None, dt.datetime(2026, 4, 1, 22, 0, tzinfo=dt.UTC), True),
        (MOBILE, "QLD", dt.datetime(2026, 4, 1, 22, 0, tzinfo=dt.UTC), False),
        (MOBILE, "QLD", dt.datetime(2026, 4, 1, 23, 0, tzinfo=dt.UTC), True),
        # Tuesday 7 Apr 2026: summer time has ended, Sydney and Brisbane agree.
        (SYDNEY_LINE, None, dt.datetime(2026, 4, 6, 22, 59, 59, tzinfo=dt.UTC), False),
        (SYDNEY_LINE, None, dt.datetime(2026, 4, 6, 23, 0, tzinfo=dt.UTC), True),
        (MOBILE, "QLD", dt.datetime(2026, 4, 6, 23, 0, tzinfo=dt.UTC), True),
        # Friday 2 Oct 2026, before summer time starts on Sunday 4 Oct.
        (SYDNEY_LINE, None, dt.datetime(2026, 10, 1, 22, 59, 59, tzinfo=dt.UTC), False),
        (SYDNEY_LINE, None, dt.datetime(2026, 10, 1, 23, 0, tzinfo=dt.UTC), True),
        # Monday 5 Oct 2026: Sydney opens an hour before Brisbane.
        (SYDNEY_LINE, None, dt.datetime(2026, 10, 4, 21, 59, 59, tzinfo=dt.UTC), False),
        (SYDNEY_LINE, None, dt.datetime(2026, 10, 4, 22, 0, tzinfo=dt.UTC), True),
        (MOBILE, "QLD", dt.datetime(2026, 10, 4, 22, 0, tzinfo=dt.UTC), False),
        (MOBILE, "QLD", dt.datetime(2026, 10, 4, 23, 0, tzinfo=dt.UTC), True),
    ],
)
def test_dst_changes_sydney_and_brisbane(
    number: str, state: str | None, when: dt.datetime, allowed: bool
) -> None:
    assert (codes(decide(number, when, state=state)) == []) is allowed


def test_research_calls_on_the_sunday_summer_time_ends() -> None:
    # 5 Apr 2026: clocks go back at 03:00 AEDT, so 9:00 AEST is 23:00 UTC the day before.
    before = dt.datetime(2026, 4, 4, 22, 59, 59, tzinfo=dt.UTC)
    assert codes(decide(SYDNEY_LINE, before, purpose="survey")) == ["window.outside_hours"]
    opens = dt.datetime(2026, 4, 4, 23, 0, tzinfo=dt.UTC)
    assert codes(decide(SYDNEY_LINE, opens, purpose="survey")) == []


def test_a_mobile_must_be_inside_the_hours_in_every_zone() -> None:
    # Tuesday 13 Jan 2026, 9:00 in Sydney (UTC+11): 8:00 in Brisbane, 6:00 in Perth.
    at = local(SYDNEY, 2026, 1, 13, 9, 0)
    out = decide(MOBILE, at)
    assert codes(out) == ["window.outside_hours"]
    assert out.next_allowed(at) == local(PERTH, 2026, 1, 13, 9, 0)  # 12:00 in Sydney
    assert codes(decide(MOBILE, local(PERTH, 2026, 1, 13, 8, 59, 59))) == ["window.outside_hours"]
    assert codes(decide(MOBILE, local(PERTH, 2026, 1, 13, 9, 0))) == []
    # The window closes at 20:00 on the east coast (Sydney and Lord Howe are both UTC+11).
    assert codes(decide(MOBILE, local(SYDNEY, 2026, 1, 13, 19, 59, 59))) == []
    assert codes(decide(MOBILE, local(SYDNEY, 2026, 1, 13, 20, 0))) == ["window.outside_hours"]


def test_a_mobile_in_winter() -> None:
    # Tuesday 16 Jun 2026, 9:00 in Sydney and Brisbane (UTC+10), 7:00 in Perth.
    at = local(SYDNEY, 2026, 6, 16, 9, 0)
    out = decide(MOBILE, at)
    assert codes(out) == ["window.outside_hours"]
    assert out.next_allowed(at) == local(PERTH, 2026, 6, 16, 9, 0)  # 11:00 in Sydney


@pytest.mark.parametrize(
    ("state", "opens"),
    [
        ("QLD", local("Australia/Brisbane", 2026, 1, 13, 9, 0)),  # 10:00 in Sydney
        ("NSW", local(SYDNEY, 2026, 1, 13, 9, 0)),
        ("WA", local(PERTH, 2026, 1, 13, 9, 0)),
    ],
)
def test_a_state_hint_narrows_the_zones(state: str, opens: dt.datetime) -> None:
    early = local(SYDNEY, 2026, 1, 13, 8, 0)
    out = decide(MOBILE, early, state=state)
    assert codes(out) == ["window.outside_hours"]
    assert out.next_allowed(early) == opens
    assert codes(decide(MOBILE, opens, state=state)) == []


def test_every_reason_cites_its_source() -> None:
    out = decide(SYDNEY_LINE, local(SYDNEY, 2026, 11, 29, 12, 0))
    (reason,) = out.reasons
    assert reason.source == "AU:au.telemarketing.hours"
    assert reason.citation is not None
    assert "Industry Standard 2017" in reason.citation
    assert (
        reason.url == "https://www.donotcall.gov.au/consumers/consumer-overview/industry-standards/"
    )
    assert reason.confidence == "primary"
