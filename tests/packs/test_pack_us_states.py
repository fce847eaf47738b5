"""US states stricter than the federal rules: hours, Sunday and holiday bans, same-subject
caps, automated-call rules, effective dates and the strict overlay when no state is known."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _rulecheck import BOOK, all_clear, attempt, codes, consent, decide, local, sources

from optout import normalize
from optout._rules._book import RuleBook
from optout._rules._decide import RuleCall, RuleOutcome, check_rules
from optout._rules._engine import BlackoutFact
from optout._vocab import Purpose, Technology

ET = "America/New_York"
CT_ = "America/Chicago"
MT = "America/Denver"
PT = "America/Los_Angeles"

ALABAMA = "+1 205 555 0100"
CONNECTICUT = "+1 860 555 0100"
FLORIDA = "+1 305 555 0100"
ILLINOIS = "+1 312 555 0100"
KENTUCKY = "+1 502 555 0100"
LOUISIANA = "+1 225 555 0100"
MAINE = "+1 207 555 0100"
MARYLAND = "+1 410 555 0100"
MASSACHUSETTS = "+1 617 555 0100"
MICHIGAN = "+1 313 555 0100"
MINNESOTA = "+1 612 555 0100"
MISSISSIPPI = "+1 601 555 0100"
NEBRASKA = "+1 402 555 0100"
NEVADA = "+1 702 555 0100"
NEW_MEXICO = "+1 505 555 0100"
OKLAHOMA = "+1 405 555 0100"
PENNSYLVANIA = "+1 215 555 0100"
RHODE_ISLAND = "+1 401 555 0100"
TEXAS = "+1 214 555 0101"
UTAH = "+1 801 555 0100"
WASHINGTON = "+1 206 555 0100"
WYOMING = "+1 307 555 0100"
TOLL_FREE = "+1 800 555 0100"
FEDERAL = "US:us.telemarketing.hours"

PEWC = consent("express_written", dt.datetime(2019, 1, 5, 12, 0, tzinfo=dt.UTC))


def live(number: str, at: dt.datetime, **kw: Any) -> RuleOutcome:
    """A call dialled by hand: the federal robocall consent rules are not involved."""
    return decide(number, at, technology="manual", **kw)


def auto(number: str, at: dt.datetime, **kw: Any) -> RuleOutcome:
    """An autodialed call with prior express written consent on record."""
    return decide(number, at, technology="autodialed", consents=[PEWC], **kw)


# -- Florida ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ET, 2026, 11, 24, 7, 59, 59), ["US:us.telemarketing.hours", "US-FL:fl.hours"]),
        (local(ET, 2026, 11, 24, 8, 0), []),
        (local(ET, 2026, 11, 24, 19, 59, 59), []),
        (local(ET, 2026, 11, 24, 20, 0), ["US-FL:fl.hours"]),
        (local(ET, 2026, 11, 29, 12, 0), []),  # no Sunday ban
    ],
)
def test_florida_hours(when: dt.datetime, expected: list[str]) -> None:
    assert sources(live(FLORIDA, when)) == expected


def test_florida_8pm_stop_starts_1_july_2021() -> None:
    assert codes(live(FLORIDA, local(ET, 2021, 6, 30, 20, 30))) == []
    out = live(FLORIDA, local(ET, 2021, 7, 1, 20, 30))
    assert sources(out) == ["US-FL:fl.hours"]
    assert out.reasons[0].confidence == "primary"
    assert out.reasons[0].citation is not None
    assert "501.616(6)(a)" in out.reasons[0].citation
    assert sources(live(FLORIDA, local(ET, 2021, 6, 30, 21, 0))) == [
        "US:us.telemarketing.hours",
        "US-FL:fl.hours.until_2021",
    ]


SUBJECT_CALL = local(ET, 2026, 11, 24, 15, 0)


def _same_subject(number: str, n: int, *, first: dt.datetime, subject: str = "roof") -> list[Any]:
    return [attempt(number, first + dt.timedelta(hours=i), subject=subject) for i in range(n)]


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        (FLORIDA, "US-FL:fl.same_subject_cap"),
        (OKLAHOMA, "US-OK:ok.same_subject_cap"),
        (MARYLAND, "US-MD:md.same_subject_cap"),
    ],
)
def test_three_calls_per_24h_on_the_same_subject(number: str, rule: str) -> None:
    first = SUBJECT_CALL - dt.timedelta(hours=6)
    assert (
        codes(
            live(
                number, SUBJECT_CALL, attempts=_same_subject(number, 2, first=first), subject="roof"
            )
        )
        == []
    )
    history = _same_subject(number, 3, first=first)
    out = live(number, SUBJECT_CALL, attempts=history, subject="roof")
    assert sources(out) == [rule]
    assert codes(out) == ["cap.reached"]
    # Another subject is not counted; a call naming no subject counts them all.
    assert codes(live(number, SUBJECT_CALL, attempts=history, subject="solar")) == []
    assert codes(live(number, SUBJECT_CALL, attempts=history)) == ["cap.reached"]


def test_florida_cap_clears_exactly_24h_after_the_first_call() -> None:
    first = SUBJECT_CALL - dt.timedelta(hours=6)
    history = _same_subject(FLORIDA, 3, first=first)
    cleared = first + dt.timedelta(hours=24)
    out = live(FLORIDA, cleared - dt.timedelta(seconds=1), attempts=history, subject="roof")
    assert codes(out) == ["cap.reached"]
    assert out.reasons[0].until == cleared
    assert codes(live(FLORIDA, cleared, attempts=history, subject="roof")) == []


def test_florida_ftsa_consent_for_automated_calls() -> None:
    at = local(ET, 2026, 11, 24, 12, 0)
    out = decide(FLORIDA, at)
    assert sources(out) == ["US:us.tcpa.pewc.wireless", "US-FL:fl.ftsa.consent"]
    assert codes(auto(FLORIDA, at)) == []


# -- Connecticut ----------------------------------------------------------------------------


def test_connecticut_8pm_stop_starts_1_october_2023() -> None:
    saturday = local(ET, 2023, 9, 30, 20, 30)
    sunday = local(ET, 2023, 10, 1, 20, 30)
    assert codes(live(CONNECTICUT, saturday)) == []
    assert sources(live(CONNECTICUT, saturday + dt.timedelta(minutes=30))) == [
        "US:us.telemarketing.hours",
        "US-CT:ct.hours.until_2023",
    ]
    assert sources(live(CONNECTICUT, sunday, consents=[PEWC])) == ["US-CT:ct.hours"]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ET, 2026, 11, 24, 8, 59, 59), ["window.outside_hours"]),
        (local(ET, 2026, 11, 24, 9, 0), []),
        (local(ET, 2026, 11, 24, 19, 59, 59), []),
        (local(ET, 2026, 11, 24, 20, 0), ["window.outside_hours"]),
    ],
)
def test_connecticut_hours(when: dt.datetime, expected: list[str]) -> None:
    assert codes(live(CONNECTICUT, when, consents=[PEWC])) == expected


def test_connecticut_sales_calls_need_written_consent_or_a_contract() -> None:
    at = local(ET, 2026, 11, 24, 12, 0)
    assert sources(live(CONNECTICUT, at)) == ["US-CT:ct.consent"]
    contract = consent("contract", local(ET, 2025, 1, 1, 12, 0))
    assert codes(live(CONNECTICUT, at, consents=[contract])) == []
    assert codes(live(CONNECTICUT, at, purpose="debt_collection")) == []
    assert codes(live(CONNECTICUT, local(ET, 2023, 9, 29, 12, 0))) == []  # before PA 23-98


# -- Alabama ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(CT_, 2026, 7, 2, 19, 59, 59), []),  # eve of the observed holiday: ordinary
        (local(CT_, 2026, 7, 2, 20, 0), ["window.outside_hours"]),
        (local(CT_, 2026, 7, 3, 12, 0), ["window.holiday"]),  # 4 July on a Saturday, observed
        (local(CT_, 2026, 7, 4, 12, 0), ["window.holiday"]),  # the day itself
        (local(CT_, 2026, 7, 5, 12, 0), ["window.day_banned"]),  # Sunday
        (local(CT_, 2026, 7, 11, 8, 0), []),  # an ordinary Saturday
        (local(CT_, 2026, 7, 11, 7, 59, 59), ["window.outside_hours"] * 2),  # US and AL
        (local(CT_, 2026, 4, 27, 12, 0), ["window.holiday"]),  # Confederate Memorial Day
        (local(CT_, 2026, 6, 1, 12, 0), ["window.holiday"]),  # Jefferson Davis' birthday
        (local(CT_, 2026, 2, 17, 12, 0), ["window.holiday"]),  # Mardi Gras (two counties)
        (local(CT_, 2026, 2, 16, 12, 0), ["window.holiday"]),  # Washington & Jefferson
    ],
)
def test_alabama_hours_sundays_and_holidays(when: dt.datetime, expected: list[str]) -> None:
    assert codes(auto(ALABAMA, when)) == expected


def test_alabama_next_allowed_skips_the_holiday_weekend() -> None:
    at = local(CT_, 2026, 7, 3, 9, 0)
    out = auto(ALABAMA, at)
    assert out.next_allowed(at) == local(CT_, 2026, 7, 6, 8, 0)


def test_alabama_rule_text_binds_automated_calls_live_calls_unconfirmed() -> None:
    sunday = local(CT_, 2026, 7, 5, 12, 0)
    (automated,) = auto(ALABAMA, sunday).reasons
    assert automated.source == "US-AL:al.hours.automated"
    assert automated.confidence == "primary"
    (manual,) = live(ALABAMA, sunday).reasons
    assert manual.source == "US-AL:al.hours.live"
    assert manual.confidence == "unconfirmed"
    assert codes(live(ALABAMA, sunday, purpose="debt_collection")) == []


# -- Louisiana, Mississippi, Rhode Island, Texas --------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(CT_, 2026, 11, 28, 19, 59, 59), []),  # Saturday
        (local(CT_, 2026, 11, 28, 20, 0), ["window.outside_hours"]),
        (local(CT_, 2026, 11, 29, 12, 0), ["window.day_banned"]),
        (local(CT_, 2023, 12, 26, 12, 0), ["blackout.declared"]),  # Governor-declared
        (local(CT_, 2023, 7, 3, 12, 0), ["blackout.declared"]),
        (local(CT_, 2023, 7, 5, 12, 0), []),
        # Every year's Louisiana holidays, not 2023's declared days only (2026.12.1).
        (local(CT_, 2024, 2, 13, 12, 0), ["window.holiday"]),  # Mardi Gras
        (local(CT_, 2025, 3, 3, 19, 59), []),  # the eve of Mardi Gras 2025
        (local(CT_, 2025, 3, 4, 8, 0), ["window.holiday"]),
        (local(CT_, 2025, 4, 18, 12, 0), ["window.holiday"]),  # Good Friday
        (local(CT_, 2026, 7, 3, 12, 0), ["window.holiday"]),  # Independence Day observed
        (local(CT_, 2026, 11, 3, 12, 0), ["window.holiday"]),  # Election Day
        (local(CT_, 2026, 12, 24, 19, 59), []),  # Christmas Eve: not a holiday
        (local(CT_, 2026, 12, 25, 12, 0), ["window.holiday"]),
        (local(CT_, 2027, 1, 8, 12, 0), ["window.holiday"]),  # Battle of New Orleans
        (local(CT_, 2027, 1, 19, 12, 0), ["window.holiday"]),  # Robert E. Lee Day
        (local(CT_, 2027, 12, 24, 12, 0), ["window.holiday"]),  # Christmas observed
        (local(CT_, 2027, 12, 27, 12, 0), []),
    ],
)
def test_louisiana(when: dt.datetime, expected: list[str]) -> None:
    assert codes(live(LOUISIANA, when)) == expected


def test_louisiana_covers_polls_and_cites_the_declared_day() -> None:
    out = live(LOUISIANA, local(CT_, 2023, 12, 26, 12, 0), purpose="survey")
    (reason,) = out.reasons
    assert reason.source == "US-LA:la.declared_days"  # was la.holidays before 2026.12.1
    assert reason.confidence == "secondary"
    assert reason.until == local(CT_, 2023, 12, 27, 0, 0)


def test_louisiana_holiday_ban_is_cited_and_switchable() -> None:
    christmas = local(CT_, 2026, 12, 25, 12, 0)
    (reason,) = live(LOUISIANA, christmas, purpose="survey").reasons
    assert reason.source == "US-LA:la.holidays"
    assert reason.confidence == "secondary"
    assert "R-29617" in (reason.citation or "")
    assert reason.until == local(CT_, 2026, 12, 26, 0, 0)  # the holiday's end
    out = live(LOUISIANA, christmas)
    assert out.next_allowed(christmas) == local(CT_, 2026, 12, 26, 8, 0)  # Saturday 8:00
    assert codes(live(LOUISIANA, christmas, purpose="debt_collection")) == []
    book = RuleBook(disabled=frozenset({"US-LA:la.holidays"}))
    assert codes(live(LOUISIANA, christmas, book=book)) == []


def test_louisiana_governor_days_can_be_declared_at_call_time() -> None:
    day = local(CT_, 2026, 12, 31, 12, 0)  # a Thursday, no holiday
    proclaimed = BlackoutFact(
        id="la-2026-12-31",
        area="US-LA",
        kind="no_call_day",
        first=dt.date(2026, 12, 31),
        last=dt.date(2026, 12, 31),
        source="Governor's proclamation (test)",
    )
    call = RuleCall(
        phone=normalize(LOUISIANA), at=day, purpose=Purpose.MARKETING, technology=Technology.MANUAL
    )
    facts = all_clear(day)
    assert codes(check_rules(BOOK, call, registry_facts=facts)) == []
    out = check_rules(BOOK, call, registry_facts=facts, blackouts=[proclaimed])
    assert codes(out) == ["blackout.declared"]
    assert sources(out) == ["US-LA:la.declared_days"]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(CT_, 2026, 11, 28, 20, 59, 59), []),
        (local(CT_, 2026, 11, 28, 21, 0), ["window.outside_hours"] * 2),  # US and MS
        (local(CT_, 2026, 11, 29, 12, 0), ["window.day_banned"]),
        (local(CT_, 2026, 12, 25, 12, 0), []),  # the holiday ban was lifted in 2024
    ],
)
def test_mississippi(when: dt.datetime, expected: list[str]) -> None:
    assert codes(live(MISSISSIPPI, when)) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ET, 2026, 11, 24, 8, 59, 59), ["window.outside_hours"]),
        (local(ET, 2026, 11, 24, 9, 0), []),
        (local(ET, 2026, 11, 24, 17, 59, 59), []),
        (local(ET, 2026, 11, 24, 18, 0), ["window.outside_hours"]),
        (local(ET, 2026, 11, 28, 9, 59, 59), ["window.outside_hours"]),  # Saturday 10-17
        (local(ET, 2026, 11, 28, 10, 0), []),
        (local(ET, 2026, 11, 28, 17, 0), ["window.outside_hours"]),
        (local(ET, 2026, 11, 29, 12, 0), ["window.day_banned"]),
        (local(ET, 2026, 8, 10, 12, 0), ["window.holiday"]),  # Victory Day
        (local(ET, 2026, 5, 4, 12, 0), ["window.holiday"]),  # RI Independence Day
        (local(ET, 2026, 11, 11, 12, 0), ["window.holiday"]),  # Veterans Day (federal)
    ],
)
def test_rhode_island(when: dt.datetime, expected: list[str]) -> None:
    assert codes(live(RHODE_ISLAND, when)) == expected


def test_rhode_island_statute_is_primary() -> None:
    (reason,) = live(RHODE_ISLAND, local(ET, 2026, 11, 29, 12, 0)).reasons
    assert reason.confidence == "primary"
    assert reason.citation == "R.I. Gen. Laws 5-61-2 (hours of operation), 5-61-3.6"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(CT_, 2026, 11, 28, 8, 59, 59), ["window.outside_hours"]),
        (local(CT_, 2026, 11, 28, 9, 0), []),
        (local(CT_, 2026, 11, 29, 11, 59, 59), ["window.outside_hours"]),  # Sunday noon
        (local(CT_, 2026, 11, 29, 12, 0), []),
        (local(CT_, 2026, 11, 29, 20, 59, 59), []),
        (local(CT_, 2026, 11, 29, 21, 0), ["window.outside_hours"] * 2),  # US and TX
    ],
)
def test_texas(when: dt.datetime, expected: list[str]) -> None:
    out = live(TEXAS, when)
    assert codes(out) == expected
    # Secondary since 2026.12.1 (SB 140 summaries confirm the Sunday noon start).
    assert all(r.confidence == "secondary" for r in out.reasons if r.source.startswith("US-TX"))


@pytest.mark.parametrize(
    ("when", "voice", "sms"),
    [
        (local(CT_, 2026, 11, 24, 8, 59), ["US-TX:tx.hours"], ["US-TX:tx.hours.texts"]),
        (local(CT_, 2026, 11, 24, 9, 0), [], []),
        (local(CT_, 2026, 11, 29, 11, 59), ["US-TX:tx.hours"], ["US-TX:tx.hours.texts"]),
        (local(CT_, 2026, 11, 29, 12, 0), [], []),
        # SB 140 in force on 1 Sep 2025 (a Monday): texts before it had the federal
        # window only.
        (local(CT_, 2025, 8, 31, 11, 0), ["US-TX:tx.hours"], []),  # Sunday before
        (local(CT_, 2025, 9, 1, 8, 30), ["US-TX:tx.hours"], ["US-TX:tx.hours.texts"]),
        # Spring forward, Sunday 8 Mar 2026: noon is 17:00 UTC.
        (
            dt.datetime(2026, 3, 8, 16, 59, 59, tzinfo=dt.UTC),
            ["US-TX:tx.hours"],
            ["US-TX:tx.hours.texts"],
        ),
        (dt.datetime(2026, 3, 8, 17, 0, tzinfo=dt.UTC), [], []),
    ],
)
def test_texas_texts_since_sb_140(when: dt.datetime, voice: list[str], sms: list[str]) -> None:
    assert sources(live(TEXAS, when)) == voice
    assert sources(live(TEXAS, when, channel="sms")) == sms


def test_texas_text_rule_cites_sb_140_and_the_registration_duty() -> None:
    (reason,) = live(TEXAS, local(CT_, 2026, 11, 24, 8, 0), channel="sms").reasons
    assert reason.source == "US-TX:tx.hours.texts"
    assert "SB 140" in (reason.citation or "")
    (rule,) = [r for r in BOOK.packs["US-TX"].rules if r.id == "tx.hours.texts"]
    assert rule.effective_from == dt.date(2025, 9, 1)
    assert "$10,000 security" in (rule.note or "")


# -- Pennsylvania ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ET, 2026, 11, 26, 12, 0), ["US-PA:pa.holidays"]),  # Thanksgiving
        (local(ET, 2026, 4, 3, 12, 0), ["US-PA:pa.holidays"]),  # Good Friday
        (local(ET, 2026, 6, 15, 12, 0), []),  # Flag Day falls on Sunday 14 June
        (local(ET, 2026, 11, 3, 12, 0), ["US-PA:pa.holidays"]),  # Election Day
        (local(ET, 2026, 11, 2, 12, 0), []),  # its eve
        (local(ET, 2019, 11, 28, 12, 0), []),  # Thanksgiving before the ban (3 Dec 2019)
        (local(ET, 2019, 12, 25, 12, 0), ["US-PA:pa.holidays"]),
    ],
)
def test_pennsylvania_holidays(when: dt.datetime, expected: list[str]) -> None:
    assert sources(live(PENNSYLVANIA, when)) == expected


def test_pennsylvania_holiday_ban_spares_collections() -> None:
    assert (
        codes(live(PENNSYLVANIA, local(ET, 2026, 11, 26, 12, 0), purpose="debt_collection")) == []
    )


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ET, 2026, 11, 24, 7, 59), [FEDERAL, "US-PA:pa.hours"]),
        (local(ET, 2026, 11, 24, 8, 0), []),
        (local(ET, 2026, 11, 24, 20, 59), []),
        (local(ET, 2026, 11, 24, 21, 0), [FEDERAL, "US-PA:pa.hours"]),
        # Fall back, Sunday 1 Nov 2026: 8:00 EST is 13:00 UTC.
        (dt.datetime(2026, 11, 1, 12, 59, 59, tzinfo=dt.UTC), [FEDERAL, "US-PA:pa.hours"]),
        (dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.UTC), []),
    ],
)
def test_pennsylvania_hours_8_to_21(when: dt.datetime, expected: list[str]) -> None:
    assert sources(live(PENNSYLVANIA, when)) == expected


OPT_IN_SB_992 = RuleBook(opt_in=frozenset({"US-PA:pa.sb992.hours"}))


def test_pennsylvania_sb_992_is_a_bill_and_binds_only_when_opted_in() -> None:
    # By default (since 2026.12.1) the law in force decides: Sundays and 19:00-21:00 open.
    assert codes(live(PENNSYLVANIA, local(ET, 2026, 10, 18, 12, 0))) == []
    assert codes(live(PENNSYLVANIA, local(ET, 2026, 11, 24, 19, 0))) == []
    assert codes(live(PENNSYLVANIA, local(ET, 2026, 11, 24, 20, 59))) == []
    (rule,) = [r for r in BOOK.packs["US-PA"].rules if r.id == "pa.sb992.hours"]
    assert rule.proposed
    assert rule.confidence.value == "unconfirmed"
    # Opted in, it applies from its claimed date.
    book = OPT_IN_SB_992
    assert codes(live(PENNSYLVANIA, local(ET, 2026, 10, 11, 12, 0), book=book)) == []
    (reason,) = live(PENNSYLVANIA, local(ET, 2026, 10, 18, 12, 0), book=book).reasons
    assert reason.source == "US-PA:pa.sb992.hours"
    assert reason.code == "window.day_banned"
    assert reason.confidence == "unconfirmed"
    assert codes(live(PENNSYLVANIA, local(ET, 2026, 11, 24, 18, 59, 59), book=book)) == []
    assert codes(live(PENNSYLVANIA, local(ET, 2026, 11, 24, 19, 0), book=book)) == [
        "window.outside_hours"
    ]
    assert codes(live(PENNSYLVANIA, local(ET, 2026, 10, 16, 19, 30), book=book)) == []  # before


# -- Utah -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(MT, 2026, 11, 24, 7, 59, 59), ["window.outside_hours", "window.outside_hours"]),
        (local(MT, 2026, 11, 24, 8, 0), []),
        (local(MT, 2026, 11, 24, 20, 59, 59), []),
        (local(MT, 2026, 11, 29, 12, 0), ["window.day_banned"]),
        (local(MT, 2026, 7, 24, 12, 0), ["window.holiday"]),  # Pioneer Day
    ],
)
def test_utah_hours_sundays_and_holidays(when: dt.datetime, expected: list[str]) -> None:
    assert codes(live(UTAH, when)) == expected


def test_utah_express_consent_lifts_the_sunday_ban_but_not_federal_hours() -> None:
    sunday = local(MT, 2026, 11, 29, 12, 0)
    express = consent("express", local(MT, 2026, 1, 5, 12, 0))
    assert codes(live(UTAH, sunday, consents=[express])) == []
    # A consent given after the call does not lift it.
    later = consent("express", local(MT, 2026, 12, 1, 12, 0))
    assert sources(live(UTAH, sunday, consents=[later])) == ["US-UT:ut.hours"]
    night = local(MT, 2026, 11, 24, 21, 30)
    assert sources(live(UTAH, night, consents=[express])) == ["US:us.telemarketing.hours"]


def test_utah_automated_solicitation_needs_consent_or_a_recent_ebr() -> None:
    at = local(MT, 2026, 11, 24, 12, 0)
    assert "US-UT:ut.atds.consent" in sources(decide(UTAH, at))
    recent = consent("ebr_purchase", at - dt.timedelta(days=545))
    stale = consent("ebr_purchase", at - dt.timedelta(days=546))
    assert "US-UT:ut.atds.consent" not in sources(decide(UTAH, at, consents=[recent]))
    assert "US-UT:ut.atds.consent" in sources(decide(UTAH, at, consents=[stale]))


# -- Maine, Nevada, Kentucky, Oklahoma, Illinois, Nebraska (automated calls) -----------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ET, 2026, 11, 24, 8, 59, 59), ["US-ME:me.adad.hours"]),
        (local(ET, 2026, 11, 24, 9, 0), []),
        (local(ET, 2026, 11, 24, 16, 59, 59), []),
        (local(ET, 2026, 11, 24, 17, 0), ["US-ME:me.adad.hours"]),
        (local(ET, 2026, 11, 28, 12, 0), ["US-ME:me.adad.hours"]),  # Saturday
    ],
)
def test_maine_automated_calls_weekdays_9_to_5(when: dt.datetime, expected: list[str]) -> None:
    assert sources(auto(MAINE, when)) == expected
    assert codes(live(MAINE, when)) == []


def test_maine_one_completed_automated_call_per_8_hours() -> None:
    at = local(ET, 2026, 11, 24, 16, 0)
    reached = [
        attempt(MAINE, at - dt.timedelta(hours=7, minutes=59, seconds=59), "answering_machine")
    ]
    out = auto(MAINE, at, attempts=reached)
    assert sources(out) == ["US-ME:me.adad.completed_cap"]
    assert out.reasons[0].until == reached[0].at + dt.timedelta(hours=8)
    assert codes(auto(MAINE, reached[0].at + dt.timedelta(hours=8), attempts=reached)) == []
    unanswered = [attempt(MAINE, at - dt.timedelta(hours=1), "no_answer")]
    assert codes(auto(MAINE, at, attempts=unanswered)) == []


def test_nevada() -> None:
    assert sources(live(NEVADA, local(PT, 2026, 11, 24, 8, 59, 59))) == ["US-NV:nv.hours"]
    assert codes(live(NEVADA, local(PT, 2026, 11, 24, 9, 0))) == []
    assert sources(live(NEVADA, local(PT, 2026, 11, 24, 20, 0))) == ["US-NV:nv.hours"]
    assert sources(auto(NEVADA, local(PT, 2026, 11, 24, 8, 30))) == [
        "US-NV:nv.adad.hours",
        "US-NV:nv.hours",
    ]
    assert sources(auto(NEVADA, local(PT, 2026, 11, 24, 20, 30))) == ["US-NV:nv.hours"]
    (reason,) = live(NEVADA, local(PT, 2026, 11, 24, 20, 0)).reasons
    assert reason.confidence == "unconfirmed"


def test_nevada_no_second_automated_call_after_the_person_ended_one() -> None:
    at = local(PT, 2026, 11, 24, 12, 0)
    ended = [attempt(NEVADA, local(PT, 2025, 3, 2, 12, 0), "refused")]
    out = auto(NEVADA, at, attempts=ended)
    assert sources(out) == ["US-NV:nv.adad.no_second_call"]
    assert out.next_allowed(at) is None  # beyond the search horizon: never
    assert codes(live(NEVADA, at, attempts=ended)) == []


def test_kentucky() -> None:
    (reason,) = live(KENTUCKY, local(ET, 2026, 11, 24, 9, 59, 59)).reasons
    assert reason.source == "US-KY:ky.hours"
    assert reason.confidence == "unconfirmed"
    assert codes(live(KENTUCKY, local(ET, 2026, 11, 24, 10, 0))) == []
    assert sources(auto(KENTUCKY, local(ET, 2026, 11, 24, 21, 0))) == [
        "US:us.telemarketing.hours",
        "US-KY:ky.adad.hours",
        "US-KY:ky.hours",
    ]


def test_oklahoma() -> None:
    assert sources(live(OKLAHOMA, local(CT_, 2026, 11, 24, 20, 0))) == ["US-OK:ok.hours"]
    assert codes(live(OKLAHOMA, local(CT_, 2022, 10, 31, 20, 30))) == []  # before the Act
    assert codes(live(OKLAHOMA, local(CT_, 2022, 11, 1, 20, 30))) == ["window.outside_hours"]
    assert sources(auto(OKLAHOMA, local(CT_, 2026, 11, 24, 8, 30))) == ["US-OK:ok.adad.hours"]
    out = decide(OKLAHOMA, local(CT_, 2026, 11, 24, 12, 0))
    assert sources(out) == ["US:us.tcpa.pewc.wireless", "US-OK:ok.consent"]


def test_illinois_automated_calls_from_9() -> None:
    at = local(CT_, 2026, 11, 24, 8, 30)
    assert sources(auto(ILLINOIS, at)) == ["US-IL:il.adad.hours"]
    assert codes(live(ILLINOIS, at)) == []


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(CT_, 2026, 11, 29, 12, 59, 59), ["window.outside_hours"]),  # Sunday
        (local(CT_, 2026, 11, 29, 13, 0), []),
        (local(CT_, 2026, 11, 26, 12, 0), ["window.holiday"]),  # Thanksgiving
        (local(CT_, 2026, 11, 26, 13, 0), []),
        (local(CT_, 2026, 11, 24, 8, 0), []),  # weekdays: the federal window only
    ],
)
def test_nebraska_prerecorded_sundays_and_holidays(when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(NEBRASKA, when, technology="prerecorded", consents=[PEWC])) == expected
    assert codes(live(NEBRASKA, when)) == []


# -- Maryland, Massachusetts, Washington, the 9:00 starts, Wyoming --------------------------


def test_maryland_8pm_stop_from_2024() -> None:
    assert codes(live(MARYLAND, local(ET, 2023, 12, 29, 20, 30))) == []
    assert sources(live(MARYLAND, local(ET, 2024, 1, 2, 20, 30))) == ["US-MD:md.hours"]
    assert codes(live(MARYLAND, local(ET, 2026, 11, 24, 19, 59, 59))) == []


def test_massachusetts_sales_hours() -> None:
    assert sources(live(MASSACHUSETTS, local(ET, 2026, 11, 24, 20, 0))) == ["US-MA:ma.hours"]
    assert (
        codes(live(MASSACHUSETTS, local(ET, 2026, 11, 24, 20, 0), purpose="debt_collection")) == []
    )


def test_massachusetts_two_collection_calls_per_debt_in_7_days() -> None:
    at = local(ET, 2026, 11, 24, 12, 0)
    first = at - dt.timedelta(days=5)
    history = [
        attempt(
            MASSACHUSETTS, first + dt.timedelta(days=i), "no_answer", "debt_collection", debt="d1"
        )
        for i in range(2)
    ]

    def collect(when: dt.datetime, debt: str = "d1") -> RuleOutcome:
        return live(MASSACHUSETTS, when, purpose="debt_collection", attempts=history, debt=debt)

    assert (
        codes(live(MASSACHUSETTS, at, purpose="debt_collection", attempts=history[:1], debt="d1"))
        == []
    )
    out = collect(at)
    assert sources(out) == ["US-MA:ma.debt.cap_7d"]
    assert out.reasons[0].until == first + dt.timedelta(days=7)
    assert codes(collect(first + dt.timedelta(days=7))) == []
    assert codes(collect(at, debt="d2")) == []


def test_washington_hours_with_a_state_hint() -> None:
    assert codes(live(WASHINGTON, local(PT, 2026, 11, 24, 19, 59, 59), state="WA")) == []
    out = live(WASHINGTON, local(PT, 2026, 11, 24, 20, 0), state="WA")
    assert sources(out) == ["US-WA:wa.hours"]
    # Without the hint the Washington rules still bind (directly or through the overlay).
    assert "US-WA:wa.hours" in sources(live(WASHINGTON, local(PT, 2026, 11, 24, 20, 0)))


def test_washington_one_year_after_a_removal_request_any_number() -> None:
    asked = local(PT, 2025, 11, 24, 12, 0)
    history = [attempt(WASHINGTON, asked, "dnc_request", person="p1")]
    other_number = "+1 206 555 0101"
    end = asked + dt.timedelta(days=366)
    out = live(
        other_number, end - dt.timedelta(seconds=1), attempts=history, person="p1", state="WA"
    )
    assert sources(out) == ["US-WA:wa.removal"]
    assert out.reasons[0].until == end
    assert codes(live(other_number, end, attempts=history, person="p1", state="WA")) == []


@pytest.mark.parametrize(
    ("number", "zone", "rule"),
    [
        (MICHIGAN, ET, "US-MI:mi.hours"),
        (MINNESOTA, CT_, "US-MN:mn.hours"),
        (NEW_MEXICO, MT, "US-NM:nm.hours"),
    ],
)
def test_unconfirmed_9am_starts(number: str, zone: str, rule: str) -> None:
    (reason,) = live(number, local(zone, 2026, 11, 24, 8, 59, 59)).reasons
    assert reason.source == rule
    assert reason.confidence == "unconfirmed"
    assert codes(live(number, local(zone, 2026, 11, 24, 9, 0))) == []


def test_wyoming_unconfirmed_8pm_stop() -> None:
    assert codes(live(WYOMING, local(MT, 2026, 11, 24, 19, 59, 59))) == []
    (reason,) = live(WYOMING, local(MT, 2026, 11, 24, 20, 0)).reasons
    assert reason.source == "US-WY:wy.hours"
    assert reason.confidence == "unconfirmed"


# -- no state known: every state pack applies ------------------------------------------------


def test_toll_free_number_gets_the_strict_overlay() -> None:
    at = local(ET, 2026, 11, 24, 20, 30)
    out = live(TOLL_FREE, at, consents=[PEWC])
    assert "window.outside_hours" in codes(out)
    assert "US-FL:fl.hours" in sources(out)
    assert "US-MD:md.hours" in sources(out)
    # The same call with a state hint is judged by that state alone.
    assert codes(live(TOLL_FREE, at, state="NY")) == []
    assert sources(live(TOLL_FREE, at, state="FL")) == ["US-FL:fl.hours"]


def test_toll_free_number_on_a_sunday_is_banned_by_several_states() -> None:
    out = live(TOLL_FREE, local(ET, 2026, 11, 29, 15, 0), consents=[PEWC])
    banned = {r.source for r in out.reasons if r.code == "window.day_banned"}
    assert {
        "US-AL:al.hours.live",
        "US-LA:la.hours",
        "US-MS:ms.hours",
        "US-RI:ri.hours",
    } <= banned
    # Pennsylvania's SB 992 is a bill: opt-in only since 2026.12.1.
    assert "US-PA:pa.sb992.hours" not in banned
    # Written consent is prior express consent, which lifts Utah's Sunday ban.
    assert "US-UT:ut.hours" not in banned
    assert "US-UT:ut.hours" in {
        r.source for r in live(TOLL_FREE, local(ET, 2026, 11, 29, 15, 0)).reasons
    }


def test_every_state_reason_cites_its_source() -> None:
    out = live(TOLL_FREE, local(ET, 2026, 11, 29, 3, 0), consents=[PEWC])
    assert out.reasons
    for reason in out.reasons:
        assert reason.citation
        assert reason.url is not None
        assert reason.url.startswith("http")
        assert reason.confidence in ("primary", "secondary", "unconfirmed")
