"""Italy: code-of-conduct hours, holidays and their eves, RPO voiding earlier consents."""

from __future__ import annotations

import datetime as dt

import pytest
from _rulecheck import codes, consent, decide, local

NUMBER = "+39 06 1234 5678"
ROME = "Europe/Rome"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(ROME, 2026, 11, 24, 8, 59, 59), ["window.outside_hours"]),
        (local(ROME, 2026, 11, 24, 9, 0), []),  # start inclusive
        (local(ROME, 2026, 11, 24, 19, 59, 59), []),
        (local(ROME, 2026, 11, 24, 20, 0), ["window.outside_hours"]),  # end exclusive
        (local(ROME, 2026, 11, 28, 9, 30), ["window.outside_hours"]),  # Saturday 10-19
        (local(ROME, 2026, 11, 28, 10, 0), []),
        (local(ROME, 2026, 11, 28, 19, 0), ["window.outside_hours"]),
        (local(ROME, 2026, 11, 29, 12, 0), ["window.day_banned"]),  # Sunday
        (local(ROME, 2026, 12, 8, 12, 0), ["window.holiday"]),  # Immacolata, a Tuesday
        (local(ROME, 2026, 12, 7, 9, 30), ["window.outside_hours"]),  # its eve: 10-19
        (local(ROME, 2026, 12, 7, 18, 59), []),
        (local(ROME, 2026, 12, 7, 19, 0), ["window.outside_hours"]),
    ],
)
def test_hours_days_holidays_and_eves(when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(NUMBER, when)) == expected


def test_not_before_the_code_took_effect() -> None:
    assert codes(decide(NUMBER, local(ROME, 2024, 9, 22, 12, 0))) == []  # a Sunday, before
    assert codes(decide(NUMBER, local(ROME, 2024, 9, 29, 12, 0))) == ["window.day_banned"]


def test_next_allowed_skips_holidays_and_the_weekend() -> None:
    at = local(ROME, 2026, 12, 24, 19, 30)  # eve of Christmas, after 19:00
    out = decide(NUMBER, at)
    assert out.next_allowed(at) == local(ROME, 2026, 12, 28, 9, 0)


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        # EU summer time starts Sunday 29 Mar 2026; Monday 9:00 is 07:00 UTC.
        (dt.datetime(2026, 3, 30, 6, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC), True),
        # It ends Sunday 25 Oct 2026; Monday 9:00 is 08:00 UTC again.
        (dt.datetime(2026, 10, 26, 7, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 10, 26, 8, 0, tzinfo=dt.UTC), True),
    ],
)
def test_dst_changes(when: dt.datetime, allowed: bool) -> None:
    assert (codes(decide(NUMBER, when)) == []) is allowed


def test_rpo_registration_voids_earlier_consent_only() -> None:
    at = local(ROME, 2026, 11, 24, 10, 0)
    registered = local(ROME, 2025, 6, 1, 0, 0)
    rpo = [("it_rpo", registered)]
    before = consent("express", local(ROME, 2025, 1, 10, 12, 0))
    after = consent("express", local(ROME, 2025, 7, 1, 12, 0))
    contract = consent("contract", local(ROME, 2024, 1, 1, 12, 0))
    assert codes(decide(NUMBER, at, registrations=rpo)) == ["consent.voided_by_registry"]
    assert codes(decide(NUMBER, at, registrations=rpo, consents=[before])) == [
        "consent.voided_by_registry"
    ]
    assert codes(decide(NUMBER, at, registrations=rpo, consents=[after])) == []
    assert codes(decide(NUMBER, at, registrations=rpo, consents=[contract])) == []
    # Not registered: the opt-out model applies and no consent is needed.
    assert codes(decide(NUMBER, at)) == []


def test_surveys_are_outside_the_code() -> None:
    assert codes(decide(NUMBER, local(ROME, 2026, 11, 29, 12, 0), purpose="survey")) == []


def test_every_reason_cites_its_source() -> None:
    out = decide(NUMBER, local(ROME, 2026, 11, 29, 12, 0))
    (reason,) = out.reasons
    assert reason.source == "IT:it.code.hours"
    assert reason.citation is not None
    assert "Garante" in reason.citation
    assert reason.confidence == "secondary"
