"""Oregon (HB 3865, from 1 Jan 2026): calls and texts 8:00-20:00, at most 3 per 24 hours, both
lifted by an established business relationship; 8:00-21:00 before 2026."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _rulecheck import attempt, codes, consent, decide, local, sources

from optout._rules._decide import RuleOutcome

PORTLAND = "+1 503 555 0100"  # a 555-01xx number: fictional, Pacific time only
PT = "America/Los_Angeles"
EBR = consent("ebr_purchase", local(PT, 2025, 10, 1, 12, 0))


def live(at: dt.datetime, **kw: Any) -> RuleOutcome:
    """A hand-dialled call (or a text sent by a person): no federal robocall consent rule."""
    kw.setdefault("technology", "manual")
    return decide(PORTLAND, at, **kw)


@pytest.mark.parametrize("channel", ["voice", "sms"])
@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # One minute before open: the federal window opens at 8:00 too.
        (local(PT, 2026, 11, 24, 7, 59), ["US:us.telemarketing.hours", "US-OR:or.hours"]),
        (local(PT, 2026, 11, 24, 8, 0), []),  # at open
        (local(PT, 2026, 11, 24, 19, 59), []),  # last minute
        (local(PT, 2026, 11, 24, 20, 0), ["US-OR:or.hours"]),  # at close
        (local(PT, 2026, 11, 28, 8, 0), []),  # Saturday: every day alike
        (local(PT, 2026, 11, 29, 19, 59, 59), []),  # Sunday
        (local(PT, 2026, 11, 26, 12, 0), []),  # Thanksgiving: no holiday ban
    ],
)
def test_hours_for_calls_and_texts(channel: str, when: dt.datetime, expected: list[str]) -> None:
    out = live(when, channel=channel)
    assert sources(out) == expected
    assert all(r.code == "window.outside_hours" for r in out.reasons)


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        # Spring forward, Sunday 8 Mar 2026: 8:00 PDT is 15:00 UTC.
        (dt.datetime(2026, 3, 8, 14, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 8, 15, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 3, 9, 2, 59, 59, tzinfo=dt.UTC), True),  # 19:59:59 PDT
        (dt.datetime(2026, 3, 9, 3, 0, tzinfo=dt.UTC), False),  # 20:00 PDT
        # Fall back, Sunday 1 Nov 2026: 8:00 PST is 16:00 UTC.
        (dt.datetime(2026, 11, 1, 15, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 11, 1, 16, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 11, 2, 3, 59, 59, tzinfo=dt.UTC), True),  # 19:59:59 PST
        (dt.datetime(2026, 11, 2, 4, 0, tzinfo=dt.UTC), False),
    ],
)
def test_dst_changes(when: dt.datetime, allowed: bool) -> None:
    assert (codes(live(when, channel="sms")) == []) is allowed


def test_next_allowed_after_the_8pm_stop() -> None:
    at = local(PT, 2026, 11, 24, 20, 0)
    assert live(at).next_allowed(at) == local(PT, 2026, 11, 25, 8, 0)


@pytest.mark.parametrize(
    ("when", "voice", "sms"),
    [
        # 31 Dec 2025: the old 21:00 end for calls; texts had only the federal window.
        (local(PT, 2025, 12, 31, 20, 30), [], []),
        (local(PT, 2025, 12, 31, 20, 59), [], []),
        (
            local(PT, 2025, 12, 31, 21, 0),
            ["US:us.telemarketing.hours", "US-OR:or.hours.before_2026"],
            ["US:us.telemarketing.hours"],
        ),
        # 1 Jan 2026: HB 3865 in force, for calls and texts.
        (local(PT, 2026, 1, 1, 19, 59), [], []),
        (local(PT, 2026, 1, 1, 20, 0), ["US-OR:or.hours"], ["US-OR:or.hours"]),
    ],
)
def test_hb_3865_starts_on_1_january_2026(
    when: dt.datetime, voice: list[str], sms: list[str]
) -> None:
    assert sources(live(when)) == voice
    assert sources(live(when, channel="sms")) == sms


def test_an_established_business_relationship_lifts_the_hours() -> None:
    evening = local(PT, 2026, 11, 24, 20, 30)
    assert codes(live(evening, consents=[EBR])) == []
    assert codes(live(evening, channel="sms", consents=[EBR])) == []
    # The federal window still ends at 21:00.
    assert sources(live(local(PT, 2026, 11, 24, 21, 0), consents=[EBR])) == [
        "US:us.telemarketing.hours"
    ]
    # The 18 months are the caller's to record as the expiry: an expired EBR lifts nothing.
    lapsed = consent("ebr_purchase", local(PT, 2024, 4, 1, 12, 0), expires_at=evening)
    assert sources(live(evening, consents=[lapsed])) == ["US-OR:or.hours"]
    # Other consents are not an EBR.
    for kind in ("express", "express_written", "ebr_inquiry", "contract"):
        other = consent(kind, local(PT, 2025, 10, 1, 12, 0))
        assert sources(live(evening, consents=[other])) == ["US-OR:or.hours"], kind


def test_collections_surveys_and_charity_are_outside_the_law() -> None:
    evening = local(PT, 2026, 11, 24, 20, 30)
    for purpose in ("debt_collection", "survey", "informational", "charity", "political"):
        assert not any(s.startswith("US-OR") for s in sources(live(evening, purpose=purpose)))


# -- at most 3 solicitations per 24 hours ---------------------------------------------------

NOON = local(PT, 2026, 11, 24, 12, 0)


def history(*hours_ago: float, channel: str = "voice", **kw: Any) -> list[Any]:
    return [
        attempt(PORTLAND, NOON - dt.timedelta(hours=h), "no_answer", channel=channel, **kw)
        for h in hours_ago
    ]


def test_the_third_solicitation_is_allowed_the_fourth_is_not() -> None:
    assert codes(live(NOON, attempts=history(5, 3))) == []  # the third
    out = live(NOON, attempts=history(20, 3, 1))  # the fourth
    assert codes(out) == ["cap.reached"]
    assert sources(out) == ["US-OR:or.cap"]
    assert out.next_allowed(NOON) == NOON + dt.timedelta(hours=4)  # 24 h after the first
    # When that instant falls outside the hours, the next call waits for 8:00.
    early = live(NOON, attempts=history(5, 3, 1))
    assert early.next_allowed(NOON) == local(PT, 2026, 11, 25, 8, 0)


def test_calls_and_texts_count_together() -> None:
    mixed = history(5, 3) + history(1, channel="sms")
    assert sources(live(NOON, attempts=mixed)) == ["US-OR:or.cap"]
    assert sources(live(NOON, channel="sms", attempts=mixed)) == ["US-OR:or.cap"]
    # Marketing and sales count together too.
    sales = history(5, 3, purpose="sales") + history(1)
    assert sources(live(NOON, attempts=sales)) == ["US-OR:or.cap"]


def test_the_24_hours_roll() -> None:
    # The first of three attempts exactly 24 hours ago no longer counts.
    assert codes(live(NOON, attempts=history(24, 3, 1))) == []
    assert codes(live(NOON, attempts=history(23.99, 3, 1))) == ["cap.reached"]


def test_other_purposes_do_not_count_or_bind() -> None:
    collections = history(5, 3, 1, purpose="debt_collection")
    assert codes(live(NOON, attempts=collections)) == []
    assert codes(live(NOON, purpose="survey", attempts=history(5, 3, 1))) == []


def test_an_established_business_relationship_lifts_the_cap() -> None:
    assert codes(live(NOON, attempts=history(5, 3, 1), consents=[EBR])) == []


def test_no_cap_before_2026() -> None:
    at = local(PT, 2025, 12, 31, 12, 0)
    tries = [attempt(PORTLAND, at - dt.timedelta(hours=h), "no_answer") for h in (5, 3, 1)]
    assert codes(live(at, attempts=tries)) == []
    first_day = local(PT, 2026, 1, 1, 12, 0)
    tries = [attempt(PORTLAND, first_day - dt.timedelta(hours=h), "no_answer") for h in (5, 3, 1)]
    assert codes(live(first_day, attempts=tries)) == ["cap.reached"]


def test_the_rules_are_secondary_and_cited() -> None:
    out = live(NOON - dt.timedelta(hours=5), attempts=history(6, 7, 8))  # 7:00: both deny
    assert sources(out) == ["US:us.telemarketing.hours", "US-OR:or.hours", "US-OR:or.cap"]
    for reason in out.reasons[1:]:
        assert reason.confidence == "secondary"
        assert "HB 3865" in (reason.citation or "")
        assert (reason.url or "").startswith("https://")
