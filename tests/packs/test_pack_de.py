"""Germany: prior express consent for phone advertising (UWG § 7(2)); no calling hours."""

from __future__ import annotations

import datetime as dt

import pytest
from _rulecheck import codes, consent, decide, local, sources

NUMBER = "+49 30 1234 5678"
BERLIN = "Europe/Berlin"
EXPRESS = consent("express", local(BERLIN, 2025, 1, 10, 12, 0))


def test_advertising_needs_prior_express_consent() -> None:
    at = local(BERLIN, 2026, 11, 24, 12, 0)
    out = decide(NUMBER, at)
    assert codes(out) == ["consent.missing"]
    assert sources(out) == ["DE:de.uwg.consent"]
    assert out.next_allowed(at) is None
    assert codes(decide(NUMBER, at, consents=[EXPRESS])) == []
    written = consent("express_written", local(BERLIN, 2025, 1, 10, 12, 0))
    assert codes(decide(NUMBER, at, consents=[written])) == []
    # A customer contract is not consent.
    contract = consent("contract", local(BERLIN, 2025, 1, 10, 12, 0))
    assert codes(decide(NUMBER, at, consents=[contract])) == ["consent.missing"]


def test_consent_given_later_and_revoked() -> None:
    at = local(BERLIN, 2026, 11, 24, 12, 0)
    later = consent("express", at + dt.timedelta(minutes=30))
    out = decide(NUMBER, at, consents=[later])
    assert codes(out) == ["consent.missing"]
    assert out.next_allowed(at) == at + dt.timedelta(minutes=30)
    assert codes(decide(NUMBER, at + dt.timedelta(minutes=30), consents=[later])) == []
    revoked = consent("express", local(BERLIN, 2025, 1, 10, 12, 0), revoked_at=at)
    assert codes(decide(NUMBER, at - dt.timedelta(seconds=1), consents=[revoked])) == []
    out = decide(NUMBER, at, consents=[revoked])
    assert codes(out) == ["consent.revoked"]
    assert out.next_allowed(at) is None


def test_consent_for_another_brand_does_not_cover() -> None:
    at = local(BERLIN, 2026, 11, 24, 12, 0)
    acme = consent("express", local(BERLIN, 2025, 1, 10, 12, 0), brand="acme")
    assert codes(decide(NUMBER, at, consents=[acme], brand="acme")) == []
    assert codes(decide(NUMBER, at, consents=[acme], brand="other")) == ["consent.missing"]


@pytest.mark.parametrize(
    "when",
    [
        local(BERLIN, 2026, 11, 29, 3, 0),  # a Sunday night
        local(BERLIN, 2026, 12, 24, 23, 0),  # Christmas Eve
        local(BERLIN, 2026, 12, 25, 12, 0),  # Christmas Day
    ],
)
def test_no_calling_hours_days_or_holidays(when: dt.datetime) -> None:
    assert codes(decide(NUMBER, when, consents=[EXPRESS])) == []


@pytest.mark.parametrize(
    ("given", "when", "allowed"),
    [
        # EU summer time starts Sunday 29 Mar 2026 at 01:00 UTC (02:00 -> 03:00 in Berlin).
        (
            local(BERLIN, 2026, 3, 29, 3, 0),
            dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=dt.UTC),
            False,
        ),
        (local(BERLIN, 2026, 3, 29, 3, 0), dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC), True),
        # It ends Sunday 25 Oct 2026 at 01:00 UTC: 02:30 happens twice. Consent given at the
        # first 02:30 (00:30 UTC) covers the second 02:29:59 (01:29:59 UTC), an hour later.
        (
            local(BERLIN, 2026, 10, 25, 2, 30),
            dt.datetime(2026, 10, 25, 0, 29, 59, tzinfo=dt.UTC),
            False,
        ),
        (
            local(BERLIN, 2026, 10, 25, 2, 30),
            dt.datetime(2026, 10, 25, 1, 29, 59, tzinfo=dt.UTC),
            True,
        ),
    ],
)
def test_dst_changes(given: dt.datetime, when: dt.datetime, allowed: bool) -> None:
    assert (codes(decide(NUMBER, when, consents=[consent("express", given)])) == []) is allowed


@pytest.mark.parametrize("purpose", ["survey", "debt_collection", "informational"])
def test_calls_that_are_not_advertising(purpose: str) -> None:
    assert codes(decide(NUMBER, local(BERLIN, 2026, 11, 24, 12, 0), purpose=purpose)) == []


def test_fold_picks_the_first_0230() -> None:
    # (Compared in UTC: Python never finds an ambiguous local time equal to another zone's.)
    first = local(BERLIN, 2026, 10, 25, 2, 30).astimezone(dt.UTC)
    assert first == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)


def test_every_reason_cites_its_source() -> None:
    out = decide(NUMBER, local(BERLIN, 2026, 11, 24, 12, 0))
    (reason,) = out.reasons
    assert reason.source == "DE:de.uwg.consent"
    assert reason.citation is not None
    assert "UWG § 7(2)" in reason.citation
    assert reason.url is not None
    assert reason.confidence == "secondary"
