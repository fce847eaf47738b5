"""Virginia (VTPPA): calls 8:00-21:00, texts the same since 1 Jul 2020 (SB 812, restated by SB
1339 from 1 Jan 2026); the 10-year opt-out needs no rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _rulecheck import BOOK, codes, consent, decide, local, sources

from optout._rules._decide import RuleOutcome

RICHMOND = "+1 804 555 0100"  # a 555-01xx number: fictional, Eastern time
ET = "America/New_York"
FEDERAL = "US:us.telemarketing.hours"


def live(at: dt.datetime, **kw: Any) -> RuleOutcome:
    kw.setdefault("technology", "manual")
    return decide(RICHMOND, at, **kw)


@pytest.mark.parametrize(
    ("channel", "rule"), [("voice", "US-VA:va.hours"), ("sms", "US-VA:va.hours.texts")]
)
@pytest.mark.parametrize(
    ("when", "denied"),
    [
        (local(ET, 2026, 11, 24, 7, 59), True),  # one minute before open
        (local(ET, 2026, 11, 24, 8, 0), False),
        (local(ET, 2026, 11, 24, 20, 59), False),  # last minute
        (local(ET, 2026, 11, 24, 21, 0), True),
        (local(ET, 2026, 11, 29, 12, 0), False),  # Sunday
        (local(ET, 2026, 12, 25, 12, 0), False),  # no holiday ban
    ],
)
def test_hours_for_calls_and_texts(
    channel: str, rule: str, when: dt.datetime, denied: bool
) -> None:
    expected = [FEDERAL, rule] if denied else []
    assert sources(live(when, channel=channel)) == expected


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        # Spring forward, Sunday 8 Mar 2026: 8:00 EDT is 12:00 UTC.
        (dt.datetime(2026, 3, 8, 11, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC), True),
        # Fall back, Sunday 1 Nov 2026: 21:00 EST is 02:00 UTC the next day.
        (dt.datetime(2026, 11, 2, 1, 59, 59, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC), False),
    ],
)
def test_dst_changes(when: dt.datetime, allowed: bool) -> None:
    assert (codes(live(when, channel="sms")) == []) is allowed


def test_texts_are_covered_from_1_july_2020() -> None:
    assert sources(live(local(ET, 2020, 6, 30, 21, 0), channel="sms")) == [FEDERAL]
    assert sources(live(local(ET, 2020, 7, 1, 21, 0), channel="sms")) == [
        FEDERAL,
        "US-VA:va.hours.texts",
    ]


def test_consent_does_not_lift_the_hours() -> None:
    late = local(ET, 2026, 11, 24, 21, 30)
    written = consent("express_written", local(ET, 2025, 5, 1, 12, 0))
    assert "US-VA:va.hours" in sources(live(late, consents=[written]))


def test_collections_are_outside_the_act() -> None:
    assert not any(
        s.startswith("US-VA")
        for s in sources(live(local(ET, 2026, 11, 24, 21, 30), purpose="debt_collection"))
    )


def test_the_pack_notes_the_ten_year_opt_out() -> None:
    pack = BOOK.packs["US-VA"]
    assert "10 years" in (pack.pack.summary or "")
    (texts,) = [r for r in pack.rules if r.id == "va.hours.texts"]
    assert texts.effective_from == dt.date(2020, 7, 1)
    assert "SB 1339" in texts.citation
    assert all(r.confidence == "secondary" for r in pack.rules)
