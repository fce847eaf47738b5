"""United Kingdom: Ofcom abandoned-call and answering-machine rules, PECR reg. 19 consent."""

from __future__ import annotations

import datetime as dt

import pytest
from _rulecheck import attempt, codes, consent, decide, local, sources

NUMBER = "+44 20 7946 0123"
OTHER = "+44 20 7946 0456"
LONDON = "Europe/London"
DAY = 86400


@pytest.mark.parametrize(
    "when",
    [
        local(LONDON, 2026, 11, 29, 3, 0),  # a Sunday night
        local(LONDON, 2026, 12, 24, 21, 0),  # Christmas Eve
        local(LONDON, 2026, 12, 25, 12, 0),  # Christmas Day
    ],
)
def test_no_statutory_hours_days_or_holidays(when: dt.datetime) -> None:
    assert codes(decide(NUMBER, when)) == []
    assert codes(decide(NUMBER, when, technology="manual")) == []


def test_72_hours_after_an_abandoned_call() -> None:
    abandoned = local(LONDON, 2026, 11, 24, 10, 0)
    history = [attempt(NUMBER, abandoned, "abandoned")]
    at = abandoned + dt.timedelta(hours=1)
    out = decide(NUMBER, at, attempts=history)
    assert codes(out) == ["cooldown.active"]
    assert sources(out) == ["GB:gb.ofcom.abandoned.72h"]
    end = local(LONDON, 2026, 11, 27, 10, 0)
    assert out.next_allowed(at) == end
    assert codes(decide(NUMBER, end - dt.timedelta(seconds=1), attempts=history)) == [
        "cooldown.active"
    ]
    assert codes(decide(NUMBER, end, attempts=history)) == []
    # A guaranteed live operator (a manual call) may call back at once; other numbers are free.
    assert codes(decide(NUMBER, at, attempts=history, technology="manual")) == []
    assert codes(decide(OTHER, at, attempts=history)) == []
    # Persistent misuse is not limited to marketing.
    assert codes(decide(NUMBER, at, attempts=history, purpose="debt_collection")) == [
        "cooldown.active"
    ]


@pytest.mark.parametrize(
    ("abandoned", "when", "allowed"),
    [
        # UK summer time starts Sunday 29 Mar 2026: 72 h are counted in real time, so the
        # cool-down ends at 10:00 UTC (11:00 BST), not at 10:00 on the wall clock.
        (
            dt.datetime(2026, 3, 27, 10, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 3, 30, 9, 59, 59, tzinfo=dt.UTC),
            False,
        ),
        (
            dt.datetime(2026, 3, 27, 10, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 3, 30, 10, 0, tzinfo=dt.UTC),
            True,
        ),
        # It ends Sunday 25 Oct 2026: from 10:00 BST (09:00 UTC) to 09:00 GMT.
        (
            dt.datetime(2026, 10, 23, 9, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 26, 8, 59, 59, tzinfo=dt.UTC),
            False,
        ),
        (
            dt.datetime(2026, 10, 23, 9, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 26, 9, 0, tzinfo=dt.UTC),
            True,
        ),
    ],
)
def test_dst_changes(abandoned: dt.datetime, when: dt.datetime, allowed: bool) -> None:
    history = [attempt(NUMBER, abandoned, "abandoned")]
    assert (codes(decide(NUMBER, when, attempts=history)) == []) is allowed


def test_no_automated_repeat_within_24_hours_of_an_answering_machine() -> None:
    machine = local(LONDON, 2026, 11, 24, 18, 30)
    history = [attempt(NUMBER, machine, "answering_machine")]
    at = local(LONDON, 2026, 11, 24, 19, 0)
    out = decide(NUMBER, at, attempts=history)
    assert codes(out) == ["cooldown.active"]
    assert sources(out) == ["GB:gb.ofcom.amd.24h"]
    end = local(LONDON, 2026, 11, 25, 18, 30)
    assert out.next_allowed(at) == end
    assert codes(decide(NUMBER, end - dt.timedelta(seconds=1), attempts=history)) == [
        "cooldown.active"
    ]
    assert codes(decide(NUMBER, end, attempts=history)) == []
    assert codes(decide(NUMBER, at, attempts=history, technology="manual")) == []
    # A no-answer is not an answering machine.
    quiet = [attempt(NUMBER, machine, "no_answer")]
    assert codes(decide(NUMBER, at, attempts=quiet)) == []


@pytest.mark.parametrize(
    ("counts", "technology", "expected"),
    [
        ((DAY, 3, 100), "autodialed", []),  # exactly 3 %
        ((DAY, 4, 100), "autodialed", ["abandonment.rate_exceeded"]),
        ((DAY, 4, 100), "prerecorded", ["abandonment.rate_exceeded", "consent.missing"]),
        ((DAY, 4, 100), "manual", []),
        ((30 * DAY, 40, 100), "autodialed", []),  # only the 24-hour counts matter
    ],
)
def test_abandonment_rate_per_campaign(
    counts: tuple[int, int, int], technology: str, expected: list[str]
) -> None:
    at = local(LONDON, 2026, 11, 24, 12, 0)
    out = decide(NUMBER, at, technology=technology, abandonment=[counts], campaign="spring")
    assert codes(out) == expected
    if expected:
        assert out.next_allowed(at) is None


def test_recorded_message_calls_need_prior_consent() -> None:
    at = local(LONDON, 2026, 11, 24, 12, 0)
    express = consent("express", local(LONDON, 2025, 1, 10, 12, 0))
    contract = consent("contract", local(LONDON, 2025, 1, 10, 12, 0))
    out = decide(NUMBER, at, technology="prerecorded")
    assert codes(out) == ["consent.missing"]
    assert sources(out) == ["GB:gb.pecr.automated.consent"]
    assert codes(decide(NUMBER, at, technology="artificial_voice")) == ["consent.missing"]
    assert codes(decide(NUMBER, at, technology="prerecorded", consents=[express])) == []
    assert codes(decide(NUMBER, at, technology="prerecorded", consents=[contract])) == [
        "consent.missing"
    ]
    # Live calls need none; charities are direct marketers too; surveys are not marketing.
    assert codes(decide(NUMBER, at)) == []
    assert codes(decide(NUMBER, at, technology="prerecorded", purpose="charity")) == [
        "consent.missing"
    ]
    assert codes(decide(NUMBER, at, technology="prerecorded", purpose="survey")) == []


def test_consent_given_later_and_revoked() -> None:
    at = local(LONDON, 2026, 11, 24, 12, 0)
    later = consent("express", at + dt.timedelta(hours=2))
    out = decide(NUMBER, at, technology="prerecorded", consents=[later])
    assert codes(out) == ["consent.missing"]
    assert out.next_allowed(at) == at + dt.timedelta(hours=2)
    revoked = consent("express", local(LONDON, 2025, 1, 10, 12, 0), revoked_at=at)
    assert (
        codes(
            decide(
                NUMBER, at - dt.timedelta(seconds=1), technology="prerecorded", consents=[revoked]
            )
        )
        == []
    )
    assert codes(decide(NUMBER, at, technology="prerecorded", consents=[revoked])) == [
        "consent.revoked"
    ]


def test_every_reason_cites_its_source() -> None:
    at = local(LONDON, 2026, 11, 24, 12, 0)
    history = [
        attempt(NUMBER, at - dt.timedelta(hours=1), "abandoned"),
        attempt(NUMBER, at - dt.timedelta(hours=2), "answering_machine"),
    ]
    out = decide(
        NUMBER, at, technology="prerecorded", attempts=history, abandonment=[(DAY, 10, 100)]
    )
    assert sources(out) == [
        "GB:gb.ofcom.abandoned.72h",
        "GB:gb.ofcom.amd.24h",
        "GB:gb.ofcom.abandonment",
        "GB:gb.pecr.automated.consent",
    ]
    for reason in out.reasons:
        assert reason.citation is not None
        assert reason.url is not None
        assert reason.confidence == "secondary"
    assert "Communications Act 2003" in (out.reasons[0].citation or "")
    assert "reg. 19" in (out.reasons[3].citation or "")
