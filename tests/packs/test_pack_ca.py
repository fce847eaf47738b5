"""Canada: the CRTC curfew and ADAD consent; British Columbia's holidays and 1-call-per-30-days
cap."""

from __future__ import annotations

import datetime as dt

import pytest
from _rulecheck import BOOK, attempt, codes, consent, decide, local, sources

from optout._rules._book import RuleBook

OTTAWA = "+1 613 555 0123"  # Ontario, America/Toronto
VANCOUVER = "+1 604 555 0142"  # British Columbia, America/Vancouver
TORONTO = "America/Toronto"
PACIFIC = "America/Vancouver"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(TORONTO, 2026, 11, 24, 8, 59, 59), ["window.outside_hours"]),  # Tuesday
        (local(TORONTO, 2026, 11, 24, 9, 0), []),  # start inclusive
        (local(TORONTO, 2026, 11, 24, 21, 29, 59), []),
        (local(TORONTO, 2026, 11, 24, 21, 30), ["window.outside_hours"]),  # end exclusive
        (local(TORONTO, 2026, 11, 28, 9, 59, 59), ["window.outside_hours"]),  # Saturday
        (local(TORONTO, 2026, 11, 28, 10, 0), []),
        (local(TORONTO, 2026, 11, 28, 17, 59, 59), []),
        (local(TORONTO, 2026, 11, 28, 18, 0), ["window.outside_hours"]),
        (local(TORONTO, 2026, 11, 29, 10, 0), []),  # Sunday: the weekend hours
        (local(TORONTO, 2026, 11, 29, 18, 0), ["window.outside_hours"]),
        (local(TORONTO, 2026, 11, 29, 20, 0), ["window.outside_hours"]),  # not weekday hours
    ],
)
def test_weekday_and_weekend_hours(when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(OTTAWA, when)) == expected


@pytest.mark.parametrize(
    ("purpose", "denied"),
    [
        ("marketing", True),
        ("sales", True),
        ("charity", True),  # DNCL-exempt, but the Telemarketing Rules still apply
        ("political", True),
        ("survey", False),  # not telemarketing
        ("debt_collection", False),  # not telemarketing
        ("informational", False),
    ],
)
def test_who_the_curfew_binds(purpose: str, denied: bool) -> None:
    out = decide(OTTAWA, local(TORONTO, 2026, 11, 24, 22, 0), purpose=purpose)
    assert (codes(out) == ["window.outside_hours"]) is denied


def test_next_allowed_friday_night_is_saturday_morning() -> None:
    at = local(TORONTO, 2026, 11, 27, 21, 30)  # Friday
    out = decide(OTTAWA, at)
    assert out.next_allowed(at) == local(TORONTO, 2026, 11, 28, 10, 0)
    assert out.reasons[0].until == local(TORONTO, 2026, 11, 28, 10, 0)


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        # Summer time starts Sunday 8 Mar 2026 at 02:00; 10:00 EDT is 14:00 UTC.
        (dt.datetime(2026, 3, 8, 13, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 8, 14, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 3, 8, 21, 59, 59, tzinfo=dt.UTC), True),  # 17:59:59 EDT
        (dt.datetime(2026, 3, 8, 22, 0, tzinfo=dt.UTC), False),
        # The Saturday before, still EST: 10:00 is 15:00 UTC.
        (dt.datetime(2026, 3, 7, 14, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 7, 15, 0, tzinfo=dt.UTC), True),
        # Summer time ends Sunday 1 Nov 2026 at 02:00; 10:00 EST is 15:00 UTC.
        (dt.datetime(2026, 11, 1, 14, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 11, 1, 15, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 11, 1, 22, 59, 59, tzinfo=dt.UTC), True),  # 17:59:59 EST
        (dt.datetime(2026, 11, 1, 23, 0, tzinfo=dt.UTC), False),
    ],
)
def test_dst_changes(when: dt.datetime, allowed: bool) -> None:
    assert (codes(decide(OTTAWA, when)) == []) is allowed


def test_next_allowed_across_spring_forward() -> None:
    at = local(TORONTO, 2026, 3, 7, 18, 0)  # Saturday evening, EST
    out = decide(OTTAWA, at)
    assert out.next_allowed(at) == dt.datetime(2026, 3, 8, 14, 0, tzinfo=dt.UTC)  # 10:00 EDT


def test_no_federal_holiday_ban_but_bc_statutory_holidays() -> None:
    canada_day = local(TORONTO, 2026, 7, 1, 12, 0)  # Wednesday
    assert codes(decide(OTTAWA, canada_day)) == []
    bc_day = local(PACIFIC, 2026, 8, 3, 12, 0)  # Monday, a BC statutory holiday
    out = decide(VANCOUVER, bc_day)
    assert codes(out) == ["window.holiday"]
    assert sources(out) == ["CA-BC:ca-bc.hours"]
    assert "British Columbia Day" in out.reasons[0].message
    # Ontario does not keep BC Day, and the national pack has no holidays.
    assert codes(decide(OTTAWA, local(TORONTO, 2026, 8, 3, 12, 0))) == []


def test_bc_holiday_next_allowed_and_its_eve() -> None:
    eve = local(PACIFIC, 2026, 6, 30, 21, 29, 59)  # no special hours on the eve
    assert codes(decide(VANCOUVER, eve)) == []
    at = local(PACIFIC, 2026, 6, 30, 21, 30)
    out = decide(VANCOUVER, at)
    assert codes(out) == ["window.outside_hours", "window.outside_hours"]
    assert sources(out) == ["CA:ca.crtc.hours", "CA-BC:ca-bc.hours"]
    # Canada Day (Wednesday) is skipped: the next opening is Thursday 9:00.
    assert out.next_allowed(at) == local(PACIFIC, 2026, 7, 2, 9, 0)


def test_bc_rules_bind_telemarketing_of_goods_and_services_only() -> None:
    bc_day = local(PACIFIC, 2026, 8, 3, 12, 0)
    assert codes(decide(VANCOUVER, bc_day, purpose="charity")) == []
    assert codes(decide(VANCOUVER, bc_day, purpose="survey")) == []


def test_a_bc_postal_code_adds_the_bc_pack() -> None:
    bc_day = local(PACIFIC, 2026, 8, 3, 12, 0)
    out = decide(OTTAWA, bc_day, postal_code="V6B 1A1")
    assert sources(out) == ["CA-BC:ca-bc.hours"]


def test_bc_one_call_per_30_days_about_the_same_offer() -> None:
    first = local(PACIFIC, 2026, 11, 3, 10, 0)  # Tuesday
    history = [attempt(VANCOUVER, first, subject="solar-panels")]
    # N = 1: the first call is fine, the second within 30 days is not.
    assert codes(decide(VANCOUVER, first, subject="solar-panels")) == []
    at = local(PACIFIC, 2026, 11, 4, 10, 0)
    out = decide(VANCOUVER, at, attempts=history, subject="solar-panels")
    assert codes(out) == ["cap.reached"]
    assert sources(out) == ["CA-BC:ca-bc.same-offer.cap"]
    assert out.reasons[0].confidence == "secondary"
    thirty_days = first + dt.timedelta(days=30)
    assert thirty_days == local(PACIFIC, 2026, 12, 3, 10, 0)
    assert out.next_allowed(at) == thirty_days
    # Half-open period: denied one second before, allowed at exactly 30 days.
    before = thirty_days - dt.timedelta(seconds=1)
    assert codes(decide(VANCOUVER, before, attempts=history, subject="solar-panels")) == [
        "cap.reached"
    ]
    assert codes(decide(VANCOUVER, thirty_days, attempts=history, subject="solar-panels")) == []


def test_bc_cap_is_per_offer_unanswered_calls_count_and_permission_lifts_it() -> None:
    first = local(PACIFIC, 2026, 11, 3, 10, 0)
    at = local(PACIFIC, 2026, 11, 10, 10, 0)
    history = [attempt(VANCOUVER, first, outcome="no_answer", subject="solar-panels")]
    assert codes(decide(VANCOUVER, at, attempts=history, subject="solar-panels")) == ["cap.reached"]
    assert codes(decide(VANCOUVER, at, attempts=history, subject="windows")) == []
    # A call that names no subject is counted against every earlier call (strict).
    assert codes(decide(VANCOUVER, at, attempts=history)) == ["cap.reached"]
    permission = consent("express", local(PACIFIC, 2026, 11, 5, 12, 0))
    assert (
        codes(
            decide(VANCOUVER, at, attempts=history, subject="solar-panels", consents=[permission])
        )
        == []
    )
    # Ontario has no such cap.
    ontario = [attempt(OTTAWA, first, subject="solar-panels")]
    assert (
        codes(
            decide(
                OTTAWA,
                local(TORONTO, 2026, 11, 10, 13, 0),
                attempts=ontario,
                subject="solar-panels",
            )
        )
        == []
    )


def test_consent_lifts_neither_curfew() -> None:
    permission = consent("express_written", local(TORONTO, 2026, 1, 5, 12, 0))
    out = decide(OTTAWA, local(TORONTO, 2026, 11, 24, 22, 0), consents=[permission])
    assert codes(out) == ["window.outside_hours"]


def test_switching_the_bc_rules_off_is_possible() -> None:
    book = RuleBook(disabled=frozenset({"CA-BC:ca-bc.hours"}))
    assert codes(decide(VANCOUVER, local(PACIFIC, 2026, 8, 3, 12, 0), book=book)) == []
    assert codes(decide(VANCOUVER, local(PACIFIC, 2026, 8, 3, 12, 0), book=BOOK)) == [
        "window.holiday"
    ]


def test_every_reason_cites_its_source() -> None:
    out = decide(OTTAWA, local(TORONTO, 2026, 11, 24, 22, 0))
    (reason,) = out.reasons
    assert reason.source == "CA:ca.crtc.hours"
    assert reason.citation is not None
    assert "CRTC" in reason.citation
    assert reason.url == "https://crtc.gc.ca/eng/phone/telemarketing/tobligations/rules-regles.htm"
    assert reason.confidence == "primary"
    out = decide(VANCOUVER, local(PACIFIC, 2026, 8, 3, 12, 0))
    (reason,) = out.reasons
    assert reason.citation is not None
    assert "Telemarketer Licensing Regulation" in reason.citation
    assert reason.confidence == "secondary"


# -- ADAD Rules (UTR Part IV): recorded solicitation needs express consent --------------------

NOON = local(TORONTO, 2026, 11, 24, 12, 0)
GIVEN = local(TORONTO, 2025, 3, 3, 12, 0)


@pytest.mark.parametrize("technology", ["prerecorded", "artificial_voice"])
@pytest.mark.parametrize("purpose", ["marketing", "sales", "charity"])
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (None, ["consent.missing"]),
        ("express", []),
        ("express_written", []),
        ("ebr_purchase", ["consent.missing"]),  # no business-relationship exception
        ("ebr_inquiry", ["consent.missing"]),
        ("contract", ["consent.missing"]),
    ],
)
def test_adad_solicitation_needs_express_consent(
    technology: str, purpose: str, kind: str | None, expected: list[str]
) -> None:
    consents = [] if kind is None else [consent(kind, GIVEN)]
    out = decide(OTTAWA, NOON, technology=technology, purpose=purpose, consents=consents)
    assert codes(out) == expected
    assert all(s == "CA:ca.crtc.adad.consent" for s in sources(out))


@pytest.mark.parametrize(
    ("technology", "purpose"),
    [
        ("manual", "marketing"),  # a live agent
        ("autodialed", "marketing"),  # a dialer that connects to a live agent
        ("prerecorded", "survey"),  # no solicitation
        ("prerecorded", "political"),
        ("prerecorded", "informational"),
    ],
)
def test_adad_consent_binds_recorded_solicitation_only(technology: str, purpose: str) -> None:
    assert codes(decide(OTTAWA, NOON, technology=technology, purpose=purpose)) == []


def test_adad_consent_is_primary_and_stacks_with_the_curfew() -> None:
    out = decide(OTTAWA, local(TORONTO, 2026, 11, 24, 21, 30), technology="prerecorded")
    assert sources(out) == ["CA:ca.crtc.hours", "CA:ca.crtc.adad.consent"]
    adad = out.reasons[1]
    assert adad.confidence == "primary"
    assert "Part IV" in (adad.citation or "")
    # Consent lets the recorded call through, but not after 21:30.
    late = decide(
        OTTAWA,
        local(TORONTO, 2026, 11, 24, 21, 30),
        technology="prerecorded",
        consents=[consent("express", GIVEN)],
    )
    assert sources(late) == ["CA:ca.crtc.hours"]
