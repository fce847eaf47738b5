"""United Kingdom: Ofcom abandoned-call and answering-machine rules, PECR reg. 19 consent,
reg. 22 consent for marketing texts, and TPS/CTPS for calls only."""

from __future__ import annotations

import datetime as dt

import pytest
from _rulecheck import attempt, codes, consent, decide, local, sources

from optout._rules._engine import RegistryFact

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


# -- PECR reg. 22: marketing texts ----------------------------------------------------------

MOBILE = "+44 7400 123456"  # libphonenumber's example GB mobile (fictional)
TEXT_AT = local(LONDON, 2026, 11, 24, 12, 0)
GIVEN = local(LONDON, 2025, 6, 2, 9, 0)


def text(at: dt.datetime = TEXT_AT, **kw: object) -> list[str]:
    return codes(decide(MOBILE, at, channel="sms", technology="manual", **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (None, ["consent.missing"]),
        ("express", []),
        ("express_written", []),
        ("ebr_purchase", []),  # the soft opt-in
        ("ebr_inquiry", ["consent.missing"]),  # an inquiry is no sale
        ("contract", ["consent.missing"]),
    ],
)
def test_marketing_texts_need_consent_or_the_soft_opt_in(
    kind: str | None, expected: list[str]
) -> None:
    consents = [] if kind is None else [consent(kind, GIVEN)]
    assert text(consents=consents) == expected
    assert text(consents=consents, purpose="sales") == expected


def test_the_text_rule_cites_regulation_22() -> None:
    out = decide(MOBILE, TEXT_AT, channel="sms", technology="manual")
    (reason,) = out.reasons
    assert reason.source == "GB:gb.pecr.sms.consent"
    assert reason.confidence == "primary"
    assert "reg. 22" in (reason.citation or "")


def test_a_consent_to_calls_does_not_cover_texts() -> None:
    calls_only = consent("express", GIVEN, channels=frozenset({"voice"}))
    assert text(consents=[calls_only]) == ["consent.missing"]
    texts = consent("express", GIVEN, channels=frozenset({"sms"}))
    assert text(consents=[texts]) == []


@pytest.mark.parametrize(
    ("at", "kind", "expected"),
    [
        (local(LONDON, 2026, 2, 4, 23, 59), "ebr_inquiry", ["consent.missing"]),
        (local(LONDON, 2026, 2, 4, 23, 59), "ebr_purchase", ["consent.missing"]),
        (local(LONDON, 2026, 2, 4, 23, 59), "express", []),
        (local(LONDON, 2026, 2, 5, 0, 0), "ebr_inquiry", []),  # SI 2026/82 in force
        (local(LONDON, 2026, 2, 5, 0, 0), "ebr_purchase", []),
        (local(LONDON, 2026, 2, 5, 0, 0), "contract", ["consent.missing"]),
    ],
)
def test_the_charity_soft_opt_in_starts_on_5_february_2026(
    at: dt.datetime, kind: str, expected: list[str]
) -> None:
    out = decide(
        MOBILE,
        at,
        channel="sms",
        technology="manual",
        purpose="charity",
        consents=[consent(kind, GIVEN)],
    )
    assert codes(out) == expected
    before = at < local(LONDON, 2026, 2, 5, 0, 0)
    rule = "gb.pecr.sms.consent.charity.before_duaa" if before else "gb.pecr.sms.consent.charity"
    assert all(s == f"GB:{rule}" for s in sources(out))


def test_political_texts_need_consent() -> None:
    assert text(purpose="political", consents=[consent("ebr_purchase", GIVEN)]) == [
        "consent.missing"
    ]
    assert text(purpose="political", consents=[consent("express", GIVEN)]) == []
    assert text(purpose="survey") == []  # not direct marketing
    assert text(purpose="informational") == []


def test_tps_and_ctps_bind_calls_not_texts() -> None:
    soft = [consent("ebr_purchase", GIVEN)]
    listed = [
        RegistryFact(
            registry=name,
            status="listed",
            checked_at=TEXT_AT - dt.timedelta(days=1),
            evidence="test",
        )
        for name in ("gb_tps", "gb_ctps")
    ]
    # A listed number may get a soft opt-in text, but not a marketing call.
    assert text(consents=soft, registry_facts=listed) == []
    call = decide(MOBILE, TEXT_AT, technology="manual", consents=soft, registry_facts=listed)
    assert sources(call) == ["GB:gb.pecr.tps", "GB:gb.pecr.ctps"]
    # A text does not need the registries consulted at all; a call does.
    assert text(consents=soft, registry_facts=[]) == []
    unchecked = decide(MOBILE, TEXT_AT, technology="manual", registry_facts=[])
    assert codes(unchecked) == ["registry.not_consulted", "registry.not_consulted"]
