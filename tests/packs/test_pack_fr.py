"""France: D.223-9 hours, holidays, the 4-in-30-days cap, the refusal cool-down, opt-in."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from _rulecheck import attempt, codes, consent, decide, local, sources

from optout._rules._book import RuleBook
from optout._rules._decide import RuleOutcome
from optout._rules._engine import AttemptFact

NUMBER = "+33 1 99 00 12 34"
OTHER = "+33 1 99 00 56 78"
PARIS = "Europe/Paris"
# A contract satisfies the opt-in rule from 11 Aug 2026 but does not lift the hours.
CONTRACT = consent("contract", local(PARIS, 2025, 1, 10, 12, 0))
EXPRESS = consent("express", local(PARIS, 2025, 1, 10, 12, 0))
OUTSIDE = dataclasses.replace(EXPRESS, scopes=frozenset({"outside_hours"}))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(PARIS, 2026, 6, 16, 9, 59, 59), ["window.outside_hours"]),
        (local(PARIS, 2026, 6, 16, 10, 0), []),  # start inclusive
        (local(PARIS, 2026, 6, 16, 12, 59, 59), []),
        (local(PARIS, 2026, 6, 16, 13, 0), ["window.outside_hours"]),  # lunch break
        (local(PARIS, 2026, 6, 16, 13, 59, 59), ["window.outside_hours"]),
        (local(PARIS, 2026, 6, 16, 14, 0), []),
        (local(PARIS, 2026, 6, 16, 19, 59, 59), []),
        (local(PARIS, 2026, 6, 16, 20, 0), ["window.outside_hours"]),  # end exclusive
        (local(PARIS, 2026, 6, 20, 12, 0), ["window.day_banned"]),  # Saturday
        (local(PARIS, 2026, 6, 21, 12, 0), ["window.day_banned"]),  # Sunday
        (local(PARIS, 2026, 7, 13, 12, 0), []),  # Monday, eve of the 14 July holiday
        (local(PARIS, 2026, 7, 14, 12, 0), ["window.holiday"]),  # Fête nationale, a Tuesday
    ],
)
def test_hours_days_and_holidays(when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(NUMBER, when)) == expected


def test_hours_took_effect_on_1_march_2023() -> None:
    assert codes(decide(NUMBER, local(PARIS, 2023, 2, 28, 9, 0))) == []  # a Tuesday, before
    assert codes(decide(NUMBER, local(PARIS, 2023, 3, 1, 9, 0))) == ["window.outside_hours"]


def test_express_consent_lifts_the_hours() -> None:
    saturday = local(PARIS, 2026, 6, 20, 12, 0)
    revoked = consent(
        "express", local(PARIS, 2025, 1, 10, 12, 0), revoked_at=local(PARIS, 2026, 6, 1, 0, 0)
    )
    # D.223-9 al. 2: consent to calls outside the days and hours, not any consent.
    assert codes(decide(NUMBER, saturday, consents=[EXPRESS])) == ["window.day_banned"]
    assert codes(decide(NUMBER, saturday, consents=[OUTSIDE])) == []
    revoked = dataclasses.replace(revoked, scopes=OUTSIDE.scopes)
    assert codes(decide(NUMBER, saturday, consents=[revoked])) == ["window.day_banned"]
    assert codes(decide(NUMBER, saturday, consents=[CONTRACT])) == ["window.day_banned"]


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        # EU summer time starts Sunday 29 Mar 2026; Monday 10:00 is 08:00 UTC.
        (dt.datetime(2026, 3, 30, 7, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 30, 8, 0, tzinfo=dt.UTC), True),
        # It ends Sunday 25 Oct 2026; Monday 10:00 is 09:00 UTC again.
        (dt.datetime(2026, 10, 26, 8, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 10, 26, 9, 0, tzinfo=dt.UTC), True),
    ],
)
def test_dst_changes(when: dt.datetime, allowed: bool) -> None:
    assert (codes(decide(NUMBER, when, consents=[CONTRACT])) == []) is allowed


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Friday 20:05 waits for Monday 10:00 (here across the spring DST change) ...
        (local(PARIS, 2026, 3, 27, 20, 5), local(PARIS, 2026, 3, 30, 10, 0)),
        # ... or Tuesday 10:00 when that Monday is Easter Monday.
        (local(PARIS, 2026, 4, 3, 20, 5), local(PARIS, 2026, 4, 7, 10, 0)),
        (local(PARIS, 2026, 6, 16, 13, 30), local(PARIS, 2026, 6, 16, 14, 0)),
        # After 11 Aug 2026, with a contract on record.
        (local(PARIS, 2026, 9, 4, 20, 5), local(PARIS, 2026, 9, 7, 10, 0)),
        (local(PARIS, 2027, 3, 26, 20, 5), local(PARIS, 2027, 3, 30, 10, 0)),  # Easter Monday
        (local(PARIS, 2027, 5, 14, 20, 5), local(PARIS, 2027, 5, 18, 10, 0)),  # Whit Monday
    ],
)
def test_next_allowed_after_friday_evening(at: dt.datetime, expected: dt.datetime) -> None:
    out = decide(NUMBER, at, consents=[CONTRACT])
    assert sources(out) == ["FR:fr.hours"]
    assert out.next_allowed(at) == expected


def test_france_before_and_after_11_august_2026() -> None:
    before = local(PARIS, 2026, 8, 10, 12, 0)  # Monday: opt-out regime, no consent needed
    after = local(PARIS, 2026, 8, 11, 12, 0)  # Tuesday: opt-in regime
    assert codes(decide(NUMBER, before)) == []
    out = decide(NUMBER, after)
    assert codes(out) == ["consent.missing"]
    assert sources(out) == ["FR:fr.optin.consent"]
    assert out.next_allowed(after) is None
    assert codes(decide(NUMBER, after, consents=[CONTRACT])) == []
    assert codes(decide(NUMBER, after, consents=[EXPRESS])) == []
    # The hours stay: a contract satisfies the opt-in but does not lift them ...
    saturday = local(PARIS, 2026, 8, 22, 12, 0)
    assert codes(decide(NUMBER, saturday, consents=[CONTRACT])) == ["window.day_banned"]
    # ... and so does a consent to be canvassed: only consent to calls outside the days and
    # hours lifts them (every call now needs the first).
    assert codes(decide(NUMBER, saturday, consents=[EXPRESS])) == ["window.day_banned"]
    assert codes(decide(NUMBER, saturday, consents=[OUTSIDE])) == []


def test_opt_in_consent_given_later_and_revoked() -> None:
    given = local(PARIS, 2026, 9, 1, 12, 0)
    revoked = local(PARIS, 2026, 10, 1, 12, 0)
    record = consent("express", given, revoked_at=revoked)
    early = given - dt.timedelta(seconds=1)
    out = decide(NUMBER, early, consents=[record])
    assert codes(out) == ["consent.missing"]
    assert out.next_allowed(early) == given
    assert codes(decide(NUMBER, given, consents=[record])) == []
    assert codes(decide(NUMBER, revoked - dt.timedelta(seconds=1), consents=[record])) == []
    out = decide(NUMBER, revoked, consents=[record])
    assert codes(out) == ["consent.revoked"]
    assert out.next_allowed(revoked) is None


def _four_attempts(brand: str = "acme") -> list[AttemptFact]:
    return [
        attempt(NUMBER, local(PARIS, 2026, 11, day, 11, 0), brand=brand) for day in (2, 3, 4, 5)
    ]


def _acme(at: dt.datetime, tries: list[AttemptFact]) -> RuleOutcome:
    return decide(NUMBER, at, attempts=tries, consents=[CONTRACT], brand="acme")


def test_cap_of_four_attempts_in_thirty_days() -> None:
    at = local(PARIS, 2026, 11, 6, 11, 0)
    tries = _four_attempts()
    assert codes(_acme(at, tries[1:])) == []  # the 4th attempt
    out = _acme(at, tries)  # the 5th
    assert codes(out) == ["cap.reached"]
    # The oldest attempt (2 Nov 11:00) leaves the window exactly 30 days later.
    clears = local(PARIS, 2026, 12, 2, 11, 0)
    assert out.next_allowed(at) == clears
    assert codes(_acme(clears - dt.timedelta(seconds=1), tries)) == ["cap.reached"]
    assert codes(_acme(clears, tries)) == []


def test_cap_counts_per_professional_and_number() -> None:
    at = local(PARIS, 2026, 11, 6, 11, 0)
    tries = _four_attempts(brand="other")
    assert codes(decide(NUMBER, at, attempts=tries, consents=[CONTRACT], brand="acme")) == []
    assert codes(decide(OTHER, at, attempts=tries, consents=[CONTRACT], brand="other")) == []
    # A call that names no brand counts every professional's attempts.
    assert codes(decide(NUMBER, at, attempts=tries, consents=[CONTRACT])) == ["cap.reached"]


def test_refusal_cool_down_of_sixty_full_days() -> None:
    refused = [attempt(NUMBER, local(PARIS, 2026, 6, 4, 11, 0), "refused", brand="acme")]
    at = local(PARIS, 2026, 6, 5, 11, 0)
    end = local(PARIS, 2026, 8, 4, 11, 0)  # 61 x 24 h: 60 whole days after the refusal day
    # Without the Bloctel rule (a consultation lapses in 30 days), only the cool-down
    # decides; an answer dated after the call would count as no consultation at all.
    book = RuleBook(disabled=frozenset({"FR:fr.bloctel.registry"}))
    out = decide(NUMBER, at, attempts=refused, brand="acme", book=book)
    assert codes(out) == ["cooldown.active"]
    assert out.next_allowed(at) == end
    # 3 Aug is only the 60th day after 4 June: still inside the cool-down.
    assert codes(
        decide(NUMBER, local(PARIS, 2026, 8, 3, 11, 0), attempts=refused, brand="acme")
    ) == ["cooldown.active"]
    assert codes(decide(NUMBER, end - dt.timedelta(seconds=1), attempts=refused, brand="acme")) == [
        "cooldown.active"
    ]
    assert codes(decide(NUMBER, end, attempts=refused, brand="acme")) == []
    # Another professional may call.
    assert codes(decide(NUMBER, at, attempts=refused, brand="other")) == []


def test_surveys_are_not_canvassing() -> None:
    assert codes(decide(NUMBER, local(PARIS, 2026, 11, 28, 12, 0), purpose="survey")) == []


def test_every_reason_cites_its_source() -> None:
    out = decide(NUMBER, local(PARIS, 2026, 6, 20, 12, 0))
    (reason,) = out.reasons
    assert reason.source == "FR:fr.hours"
    assert reason.citation is not None
    assert "D.223-9" in reason.citation
    assert reason.url is not None
    assert reason.confidence == "primary"
    out = decide(NUMBER, local(PARIS, 2026, 11, 24, 12, 0))
    (reason,) = out.reasons
    assert reason.source == "FR:fr.optin.consent"
    assert reason.citation is not None
    assert "2025" in reason.citation
    assert reason.confidence == "secondary"
    refused = [attempt(NUMBER, local(PARIS, 2026, 6, 4, 11, 0), "refused")]
    out = decide(NUMBER, local(PARIS, 2026, 6, 5, 11, 0), attempts=refused)
    (reason,) = out.reasons
    assert reason.source == "FR:fr.refusal.cooldown"
    assert reason.confidence == "primary"
