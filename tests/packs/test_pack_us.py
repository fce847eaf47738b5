"""United States, federal: TCPA/TSR and FDCPA hours, Reg F caps and cool-downs, abandonment,
robocall consent, TRACED caps on exempted prerecorded calls, and time-zone ambiguity."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _rulecheck import attempt, codes, consent, decide, local, sources

from optout._rules._decide import RuleOutcome

DC = "+1 202 555 0100"  # Washington DC: no pack of its own, so only the federal rules bind
IDAHO = "+1 208 555 0101"  # spans America/Boise and America/Los_Angeles
TOLL_FREE = "+1 800 555 0100"
ET = "America/New_York"
MT = "America/Boise"
PT = "America/Los_Angeles"
PEWC = consent("express_written", local(ET, 2026, 1, 5, 12, 0))
EXPRESS = consent("express", local(ET, 2026, 1, 5, 12, 0))


def live(number: str, at: dt.datetime, **kw: Any) -> RuleOutcome:
    """A call dialled by hand: no robocall consent rule is involved."""
    return decide(number, at, technology="manual", **kw)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ET, 2026, 11, 24, 7, 59, 59), ["window.outside_hours"]),
        (local(ET, 2026, 11, 24, 8, 0), []),  # start inclusive
        (local(ET, 2026, 11, 24, 20, 59, 59), []),
        (local(ET, 2026, 11, 24, 21, 0), ["window.outside_hours"]),  # end exclusive
        (local(ET, 2026, 11, 29, 12, 0), []),  # no federal Sunday ban
        (local(ET, 2026, 11, 26, 12, 0), []),  # nor a holiday ban (Thanksgiving)
    ],
)
def test_telemarketing_hours(when: dt.datetime, expected: list[str]) -> None:
    assert codes(live(DC, when)) == expected


@pytest.mark.parametrize("purpose", ["marketing", "sales", "charity"])
def test_telemarketing_hours_cover_charity(purpose: str) -> None:
    out = live(DC, local(ET, 2026, 11, 24, 21, 0), purpose=purpose)
    assert sources(out) == ["US:us.telemarketing.hours"]


@pytest.mark.parametrize("purpose", ["survey", "political", "informational"])
def test_no_federal_hours_for_other_purposes(purpose: str) -> None:
    assert codes(live(DC, local(ET, 2026, 11, 24, 22, 0), purpose=purpose)) == []


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ET, 2026, 11, 24, 7, 59, 59), ["US:us.fdcpa.hours"]),
        (local(ET, 2026, 11, 24, 8, 0), []),
        (local(ET, 2026, 11, 24, 20, 59, 59), []),
        (local(ET, 2026, 11, 24, 21, 0), ["US:us.fdcpa.hours"]),
    ],
)
def test_collection_hours(when: dt.datetime, expected: list[str]) -> None:
    assert sources(live(DC, when, purpose="debt_collection")) == expected


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        # US daylight time starts Sunday 8 Mar 2026 at 2:00: 8:00 EDT is 12:00 UTC.
        (dt.datetime(2026, 3, 8, 11, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC), True),
        # The day before, 8:00 EST is 13:00 UTC.
        (dt.datetime(2026, 3, 7, 12, 30, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 7, 13, 0, tzinfo=dt.UTC), True),
        # 21:00 EDT on Saturday 31 Oct is 01:00 UTC on 1 Nov.
        (dt.datetime(2026, 11, 1, 0, 59, 59, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.UTC), False),
        # It ends Sunday 1 Nov 2026 at 2:00: 8:00 EST is 13:00 UTC again.
        (dt.datetime(2026, 11, 1, 12, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 11, 2, 1, 59, 59, tzinfo=dt.UTC), True),  # 20:59:59 EST
        (dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC), False),  # 21:00 EST
    ],
)
def test_dst_changes(when: dt.datetime, allowed: bool) -> None:
    assert (codes(live(DC, when)) == []) is allowed


def test_next_allowed_across_the_spring_change() -> None:
    at = local(ET, 2026, 3, 7, 21, 30)  # Saturday night, EST
    out = live(DC, at)
    assert out.next_allowed(at) == dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC)


def test_area_code_spanning_two_zones_needs_both_open() -> None:
    at = local(MT, 2026, 11, 24, 8, 30)  # 7:30 in Pacific time
    out = live(IDAHO, at)
    (reason,) = out.reasons
    assert reason.code == "window.outside_hours"
    assert PT in reason.message
    assert out.next_allowed(at) == local(PT, 2026, 11, 24, 8, 0)
    assert reason.until == local(PT, 2026, 11, 24, 8, 0)
    # At night the Mountain zone closes first: 20:30 Pacific is 21:30 Mountain.
    assert codes(live(IDAHO, local(PT, 2026, 11, 24, 20, 30))) == ["window.outside_hours"]
    assert codes(live(IDAHO, local(PT, 2026, 11, 24, 19, 59))) == []


def test_time_zone_hint_narrows_an_ambiguous_area_code() -> None:
    at = local(MT, 2026, 11, 24, 8, 30)
    assert codes(live(IDAHO, at, time_zone=MT)) == []
    assert codes(live(IDAHO, at, time_zone=PT)) == ["window.outside_hours"]


def test_state_hint_narrows_a_toll_free_number() -> None:
    at = local(ET, 2026, 11, 24, 8, 30)  # 5:30 Pacific, 3:30 in Hawaii
    assert codes(live(TOLL_FREE, at, state="DC")) == []
    assert "window.outside_hours" in codes(live(TOLL_FREE, at))


# -- Reg F --------------------------------------------------------------------------------

DEBT_CALL = local(ET, 2026, 11, 24, 12, 0)


def _collection_attempts(
    n: int, *, first: dt.datetime, debt: str = "d1", outcome: str = "no_answer"
) -> list[Any]:
    return [
        attempt(
            DC,
            first + dt.timedelta(hours=12 * i),
            outcome,
            "debt_collection",
            person="p1",
            debt=debt,
        )
        for i in range(n)
    ]


def _collect(at: dt.datetime, attempts: list[Any], debt: str | None = "d1") -> RuleOutcome:
    return live(DC, at, purpose="debt_collection", attempts=attempts, person="p1", debt=debt)


def test_reg_f_seventh_call_allowed_eighth_denied() -> None:
    first = DEBT_CALL - dt.timedelta(days=6)
    assert codes(_collect(DEBT_CALL, _collection_attempts(6, first=first))) == []
    out = _collect(DEBT_CALL, _collection_attempts(7, first=first))
    assert codes(out) == ["cap.reached"]
    (reason,) = out.reasons
    assert reason.source == "US:us.regf.call_frequency"
    assert reason.confidence == "primary"
    assert reason.citation == "12 CFR 1006.14(b)(2)(i)(A)"


def test_reg_f_cap_clears_at_the_exact_instant() -> None:
    first = DEBT_CALL - dt.timedelta(days=6)
    history = _collection_attempts(7, first=first)
    cleared = first + dt.timedelta(days=7)
    out = _collect(cleared - dt.timedelta(seconds=1), history)
    assert out.reasons[0].until == cleared
    assert codes(out) == ["cap.reached"]
    assert codes(_collect(cleared, history)) == []  # the period is half-open


def test_reg_f_counts_per_debt_and_unnamed_debts_count_all() -> None:
    first = DEBT_CALL - dt.timedelta(days=6)
    other = _collection_attempts(7, first=first, debt="d2")
    assert codes(_collect(DEBT_CALL, other)) == []  # another debt
    assert codes(_collect(DEBT_CALL, other, debt=None)) == ["cap.reached"]


def test_reg_f_conversation_cooldown_ends_exactly_after_7_days() -> None:
    talked = local(ET, 2026, 11, 17, 12, 0)
    history = [attempt(DC, talked, "conversation", "debt_collection", person="p1", debt="d1")]
    end = talked + dt.timedelta(days=7)
    out = _collect(end - dt.timedelta(seconds=1), history)
    assert sources(out) == ["US:us.regf.after_conversation"]
    assert out.reasons[0].until == end
    assert codes(_collect(end, history)) == []
    assert codes(_collect(end - dt.timedelta(seconds=1), history, debt="d2")) == []


@pytest.mark.parametrize("outcome", ["refused", "callback_requested", "dnc_request"])
def test_reg_f_other_conversations_start_the_clock(outcome: str) -> None:
    history = [
        attempt(
            DC, DEBT_CALL - dt.timedelta(days=1), outcome, "debt_collection", person="p1", debt="d1"
        )
    ]
    assert codes(_collect(DEBT_CALL, history)) == ["cooldown.active"]


def test_reg_f_unanswered_calls_do_not_start_the_clock() -> None:
    history = [
        attempt(
            DC,
            DEBT_CALL - dt.timedelta(days=1),
            "answering_machine",
            "debt_collection",
            person="p1",
            debt="d1",
        )
    ]
    assert codes(_collect(DEBT_CALL, history)) == []


# -- abandonment and consent ----------------------------------------------------------------

MONTH = 30 * 86400


def test_abandonment_rate_above_three_percent_stops_automated_calls() -> None:
    at = local(ET, 2026, 11, 24, 12, 0)
    assert codes(decide(DC, at, consents=[PEWC], abandonment=[(MONTH, 3, 100)])) == []
    out = decide(DC, at, consents=[PEWC], abandonment=[(MONTH, 4, 100)], campaign="c1")
    assert sources(out) == ["US:us.telemarketing.abandonment"]
    assert codes(out) == ["abandonment.rate_exceeded"]
    assert codes(live(DC, at, abandonment=[(MONTH, 4, 100)])) == []


def test_automated_telemarketing_to_wireless_needs_written_consent() -> None:
    at = local(ET, 2026, 11, 24, 12, 0)
    out = decide(DC, at)
    assert codes(out) == ["consent.missing"]
    assert sources(out) == ["US:us.tcpa.pewc.wireless"]
    assert codes(decide(DC, at, consents=[EXPRESS])) == ["consent.missing"]
    assert codes(decide(DC, at, consents=[PEWC])) == []
    assert codes(live(DC, at)) == []


def test_prerecorded_and_ai_telemarketing_cite_both_grounds() -> None:
    at = local(ET, 2026, 11, 24, 12, 0)
    for technology in ("prerecorded", "artificial_voice"):
        out = decide(DC, at, technology=technology)
        assert sources(out) == [
            "US:us.tcpa.pewc.wireless",
            "US:us.tcpa.pewc.prerecorded_residential",
        ]
        assert codes(decide(DC, at, technology=technology, consents=[PEWC])) == []


@pytest.mark.parametrize("purpose", ["informational", "debt_collection", "political"])
def test_automated_non_marketing_calls_to_wireless_need_express_consent(purpose: str) -> None:
    at = local(ET, 2026, 11, 24, 12, 0)
    out = decide(DC, at, purpose=purpose)
    assert sources(out) == ["US:us.tcpa.consent.wireless"]
    assert codes(decide(DC, at, purpose=purpose, consents=[EXPRESS])) == []


def test_toll_free_numbers_are_not_wireless() -> None:
    at = local(ET, 2026, 11, 24, 14, 0)  # 9:00 in Hawaii, inside every window
    out = decide(TOLL_FREE, at, purpose="informational")
    assert "US:us.tcpa.consent.wireless" not in sources(out)


def test_traced_cap_on_exempted_prerecorded_calls() -> None:
    at = local(ET, 2026, 11, 24, 12, 0)
    first = at - dt.timedelta(days=29)

    def history(n: int) -> list[Any]:
        return [
            attempt(DC, first + dt.timedelta(days=i), "answering_machine", "informational")
            for i in range(n)
        ]

    kw: dict[str, Any] = {
        "purpose": "informational",
        "technology": "prerecorded",
        "consents": [EXPRESS],
    }
    assert codes(decide(DC, at, attempts=history(2), **kw)) == []
    out = decide(DC, at, attempts=history(3), **kw)
    assert sources(out) == ["US:us.traced.exempt_cap.commercial"]
    assert out.reasons[0].until == first + dt.timedelta(days=30)
    assert codes(decide(DC, first + dt.timedelta(days=30), attempts=history(3), **kw)) == []
    # Before the TRACED rules took effect there was no cap.
    old = local(ET, 2023, 7, 19, 12, 0)
    old_history = [
        attempt(DC, old - dt.timedelta(days=i + 1), "answering_machine", "informational")
        for i in range(3)
    ]
    kw["consents"] = [consent("express", local(ET, 2023, 1, 5, 12, 0))]
    assert codes(decide(DC, old, attempts=old_history, **kw)) == []
    assert codes(decide(DC, old + dt.timedelta(days=1), attempts=old_history, **kw)) == [
        "cap.reached"
    ]


def test_every_reason_cites_its_source() -> None:
    out = live(DC, local(ET, 2026, 11, 24, 21, 0))
    (reason,) = out.reasons
    assert reason.source == "US:us.telemarketing.hours"
    assert reason.citation is not None
    assert "47 CFR 64.1200(c)(1)" in reason.citation
    assert reason.url is not None
    assert reason.url.startswith("https://")
    assert reason.confidence == "secondary"
