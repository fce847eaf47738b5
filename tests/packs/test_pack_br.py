"""Brazil: no federal hours; state laws on telemarketing and collection calls (AM, MG and RJ
upheld or read, the others unconfirmed)."""

from __future__ import annotations

import datetime as dt

import pytest
from _rulecheck import BOOK, codes, consent, decide, local, sources

from optout._rules._book import RuleBook

RIO = "+55 21 98765 4321"  # RJ (DDD 21)
SAO_PAULO = "+55 11 98765 4321"  # SP (DDD 11)
FORTALEZA = "+55 85 98765 4321"  # CE (DDD 85)
VITORIA = "+55 27 98765 4321"  # ES (DDD 27)
CAMPO_GRANDE = "+55 67 98765 4321"  # MS (DDD 67), UTC-4
MANAUS = "+55 92 98765 4321"  # AM (DDD 92), UTC-4
MACEIO = "+55 82 98765 4321"  # AL (DDD 82)
BELO_HORIZONTE = "+55 31 98765 4321"  # MG (DDD 31)
BRT = "America/Sao_Paulo"
AMT = "America/Manaus"


def test_the_federal_pack_has_no_per_call_rules() -> None:
    pack = BOOK.packs["BR"]
    # Only the Não Me Perturbe registry check; no hours, days or caps.
    assert [r.kind for r in pack.rules] == ["registry"]
    assert pack.pack.summary is not None
    assert "No federal rule on calling hours" in pack.pack.summary
    assert "LGPD" in pack.pack.summary
    # A purpose no state law covers: nothing denies, even at 3 in the morning on a Sunday.
    assert codes(decide(RIO, local(BRT, 2026, 11, 29, 3, 0), purpose="survey")) == []


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(BRT, 2026, 11, 23, 7, 59, 59), ["window.outside_hours"]),  # Monday
        (local(BRT, 2026, 11, 23, 8, 0), []),
        (local(BRT, 2026, 11, 23, 17, 59, 59), []),
        (local(BRT, 2026, 11, 23, 18, 0), ["window.outside_hours"]),
        (local(BRT, 2026, 11, 28, 10, 0), ["window.day_banned"]),  # Saturday
        (local(BRT, 2026, 11, 29, 10, 0), ["window.day_banned"]),  # Sunday
        (local(BRT, 2026, 4, 23, 10, 0), ["window.holiday"]),  # Saint George's Day (RJ)
        (local(BRT, 2026, 4, 21, 10, 0), ["window.holiday"]),  # Tiradentes (national)
    ],
)
def test_rio_telemarketing(when: dt.datetime, expected: list[str]) -> None:
    out = decide(RIO, when)
    assert codes(out) == expected
    assert all(s == "BR-RJ:br-rj.telemarketing.hours" for s in sources(out))


def test_rio_holidays_are_not_sao_paulo_holidays() -> None:
    saint_george = local(BRT, 2026, 4, 23, 10, 0)  # a Thursday
    assert codes(decide(SAO_PAULO, saint_george)) == []  # no SP telemarketing hours
    assert codes(decide(SAO_PAULO, saint_george, purpose="debt_collection")) == []
    out = decide(RIO, saint_george)
    assert "Saint George" in out.reasons[0].message


@pytest.mark.parametrize(
    ("when", "rio", "sao_paulo"),
    [
        (local(BRT, 2026, 11, 23, 8, 30), ["window.outside_hours"], []),  # RJ opens at 9
        (local(BRT, 2026, 11, 23, 9, 0), [], []),
        (local(BRT, 2026, 11, 23, 18, 59, 59), [], []),
        (local(BRT, 2026, 11, 23, 19, 0), ["window.outside_hours"], []),  # SP runs to 20
        (local(BRT, 2026, 11, 23, 19, 59, 59), ["window.outside_hours"], []),
        (local(BRT, 2026, 11, 23, 20, 0), ["window.outside_hours"], ["window.outside_hours"]),
        (local(BRT, 2026, 11, 28, 10, 0), ["window.day_banned"], []),  # Saturday
        (local(BRT, 2026, 11, 28, 13, 59, 59), ["window.day_banned"], []),
        (local(BRT, 2026, 11, 28, 14, 0), ["window.day_banned"], ["window.outside_hours"]),
        (local(BRT, 2026, 11, 29, 10, 0), ["window.day_banned"], ["window.day_banned"]),
        # 9 Jul: Constitutionalist Revolution, a SP holiday; the RJ collections law has no
        # holiday ban.
        (local(BRT, 2026, 7, 9, 10, 0), [], ["window.holiday"]),
        # 23 Apr: a RJ holiday, but only the RJ telemarketing law bans holidays.
        (local(BRT, 2026, 4, 23, 10, 0), [], []),
    ],
)
def test_collections_rio_versus_sao_paulo(
    when: dt.datetime, rio: list[str], sao_paulo: list[str]
) -> None:
    assert codes(decide(RIO, when, purpose="debt_collection")) == rio
    assert codes(decide(SAO_PAULO, when, purpose="debt_collection")) == sao_paulo


def test_collections_next_allowed() -> None:
    friday = local(BRT, 2026, 11, 27, 19, 0)
    assert decide(RIO, friday, purpose="debt_collection").next_allowed(friday) == local(
        BRT, 2026, 11, 30, 9, 0
    )
    saturday = local(BRT, 2026, 11, 28, 14, 0)
    assert decide(SAO_PAULO, saturday, purpose="debt_collection").next_allowed(saturday) == local(
        BRT, 2026, 11, 30, 8, 0
    )
    # Wednesday 8 Jul, after hours: Thursday 9 Jul is a SP holiday.
    evening = local(BRT, 2026, 7, 8, 20, 0)
    assert decide(SAO_PAULO, evening, purpose="debt_collection").next_allowed(evening) == local(
        BRT, 2026, 7, 10, 8, 0
    )


def test_a_state_hint_adds_a_state() -> None:
    # A Rio number whose holder lives in Sao Paulo: both states' laws apply (strict).
    saturday = local(BRT, 2026, 11, 28, 10, 0)
    out = decide(RIO, saturday, purpose="debt_collection", state="SP")
    assert sources(out) == ["BR-RJ:br-rj.collections.hours"]


@pytest.mark.parametrize(
    ("channel", "purpose", "when", "expected"),
    [
        ("voice", "marketing", local(BRT, 2026, 11, 23, 17, 59, 59), []),
        ("voice", "marketing", local(BRT, 2026, 11, 23, 18, 0), ["window.outside_hours"]),
        ("sms", "marketing", local(BRT, 2026, 11, 28, 10, 0), ["window.day_banned"]),
        ("voice", "debt_collection", local(BRT, 2026, 11, 29, 10, 0), ["window.day_banned"]),
        # 19 Mar (Saint Joseph) and 25 Mar (abolition of slavery) are Ceara holidays.
        ("voice", "sales", local(BRT, 2026, 3, 19, 10, 0), ["window.holiday"]),
        ("sms", "debt_collection", local(BRT, 2026, 3, 25, 10, 0), ["window.holiday"]),
        ("voice", "survey", local(BRT, 2026, 3, 25, 10, 0), []),
    ],
)
def test_ceara(channel: str, purpose: str, when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(FORTALEZA, when, channel=channel, purpose=purpose)) == expected


@pytest.mark.parametrize(
    ("purpose", "when", "expected"),
    [
        ("marketing", local(BRT, 2026, 11, 23, 7, 59, 59), ["window.outside_hours"]),
        ("marketing", local(BRT, 2026, 11, 23, 18, 59, 59), []),
        ("debt_collection", local(BRT, 2026, 11, 23, 19, 0), ["window.outside_hours"]),
        ("debt_collection", local(BRT, 2026, 11, 28, 10, 0), ["window.day_banned"]),
        ("marketing", local(BRT, 2026, 4, 13, 10, 0), []),  # ES holiday, no ban reported
    ],
)
def test_espirito_santo(purpose: str, when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(VITORIA, when, purpose=purpose)) == expected


@pytest.mark.parametrize(
    ("purpose", "when", "expected"),
    [
        # Mato Grosso do Sul keeps UTC-4: 8:00 in Brasilia is 7:00 there.
        ("marketing", local(BRT, 2026, 11, 23, 8, 0), ["window.outside_hours"]),
        ("marketing", local("America/Campo_Grande", 2026, 11, 23, 8, 0), []),
        ("marketing", local("America/Campo_Grande", 2026, 11, 23, 18, 0), ["window.outside_hours"]),
        ("marketing", local("America/Campo_Grande", 2026, 4, 21, 10, 0), ["window.holiday"]),
        ("debt_collection", local("America/Campo_Grande", 2026, 4, 21, 10, 0), []),
    ],
)
def test_mato_grosso_do_sul(purpose: str, when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(CAMPO_GRANDE, when, purpose=purpose)) == expected


@pytest.mark.parametrize(
    ("purpose", "when", "expected"),
    [
        ("debt_collection", local(BRT, 2026, 11, 23, 8, 0), ["window.outside_hours"]),
        ("debt_collection", local(AMT, 2026, 11, 23, 7, 59), ["window.outside_hours"]),
        ("debt_collection", local(AMT, 2026, 11, 23, 8, 0), []),
        ("sales", local(AMT, 2026, 11, 23, 17, 59, 59), []),
        ("sales", local(AMT, 2026, 11, 23, 18, 0), ["window.outside_hours"]),
        # Saturdays are closed since the law upheld in ADI 6087 bans weekends (the bill's
        # report had Saturday 8-14; that decision changed in 2026.12.1).
        ("marketing", local(AMT, 2026, 11, 28, 10, 0), ["window.day_banned"]),
        ("marketing", local(AMT, 2026, 11, 28, 13, 59, 59), ["window.day_banned"]),
        ("marketing", local(AMT, 2026, 11, 29, 10, 0), ["window.day_banned"]),  # Sunday
        ("survey", local(AMT, 2026, 11, 29, 10, 0), []),
    ],
)
def test_amazonas(purpose: str, when: dt.datetime, expected: list[str]) -> None:
    out = decide(MANAUS, when, purpose=purpose)
    assert codes(out) == expected
    assert all(s == "BR-AM:br-am.hours" for s in sources(out))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # 5 Sep: elevation of Amazonas to province, a state holiday (a Saturday in 2026, so
        # 2025's Friday is used); its eve is an ordinary day.
        (local(AMT, 2025, 9, 4, 10, 0), []),
        (local(AMT, 2025, 9, 5, 10, 0), ["window.holiday"]),
        (local(AMT, 2026, 11, 20, 10, 0), ["window.holiday"]),  # Black Awareness (national)
        (local(AMT, 2026, 11, 19, 17, 59, 59), []),  # its eve, last second
        (local(AMT, 2026, 4, 23, 10, 0), []),  # Saint George's Day is a RJ holiday only
    ],
)
def test_amazonas_holidays(when: dt.datetime, expected: list[str]) -> None:
    out = decide(MANAUS, when, purpose="sales")
    assert codes(out) == expected
    assert all(s == "BR-AM:br-am.hours" for s in sources(out))


def test_amazonas_law_is_cited_with_its_court_ruling() -> None:
    (reason,) = decide(MANAUS, local(AMT, 2026, 11, 28, 10, 0), purpose="sales").reasons
    assert reason.confidence == "secondary"
    assert reason.citation is not None
    assert "4.644/2018" in reason.citation
    assert "ADI 6087" in reason.citation
    assert reason.message.endswith("never on weekends or holidays")
    # A Manaus number judged from Brasilia: the next call is Monday 8:00 Manaus time.
    saturday = local(AMT, 2026, 11, 28, 10, 0)
    assert decide(MANAUS, saturday, purpose="sales").next_allowed(saturday) == local(
        AMT, 2026, 11, 30, 8, 0
    )


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # Lei 4.644 closes at 18:00 for collections too; Lei 360/2016 adds a 19:00 end and
        # the same day bans, so on weekdays 4.644 decides alone.
        (local(AMT, 2026, 11, 23, 17, 59, 59), []),
        (local(AMT, 2026, 11, 23, 18, 0), ["BR-AM:br-am.hours"]),
        (
            local(AMT, 2026, 11, 23, 19, 0),
            ["BR-AM:br-am.hours", "BR-AM:br-am.collections.hours"],
        ),
        (
            local(AMT, 2026, 11, 28, 10, 0),
            ["BR-AM:br-am.hours", "BR-AM:br-am.collections.hours"],
        ),
        (
            local(AMT, 2026, 11, 2, 10, 0),  # All Souls' Day
            ["BR-AM:br-am.hours", "BR-AM:br-am.collections.hours"],
        ),
    ],
)
def test_amazonas_collections_law_360(when: dt.datetime, expected: list[str]) -> None:
    assert sources(decide(MANAUS, when, purpose="debt_collection")) == expected


def test_amazonas_collections_law_360_is_unconfirmed_and_switchable() -> None:
    at = local(AMT, 2026, 11, 23, 19, 0)
    reasons = decide(MANAUS, at, purpose="debt_collection").reasons
    law_360 = [r for r in reasons if r.source == "BR-AM:br-am.collections.hours"]
    assert [r.confidence for r in law_360] == ["unconfirmed"]
    assert "ADI 6110" in (law_360[0].citation or "")
    strict_only = RuleBook(include_unconfirmed=False)
    out = decide(MANAUS, at, purpose="debt_collection", book=strict_only)
    assert sources(out) == ["BR-AM:br-am.hours"]
    assert codes(decide(MANAUS, at, purpose="marketing")) == ["window.outside_hours"]


# -- Minas Gerais -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(BRT, 2026, 11, 23, 7, 59), ["window.outside_hours"]),  # Monday
        (local(BRT, 2026, 11, 23, 8, 0), []),
        (local(BRT, 2026, 11, 23, 20, 59), []),  # last minute
        (local(BRT, 2026, 11, 23, 21, 0), ["window.outside_hours"]),
        (local(BRT, 2026, 11, 28, 7, 59), ["window.outside_hours"]),  # Saturday
        (local(BRT, 2026, 11, 28, 8, 0), []),
        (local(BRT, 2026, 11, 28, 20, 59), []),
        (local(BRT, 2026, 11, 28, 21, 0), ["window.outside_hours"]),
        (local(BRT, 2026, 11, 29, 12, 0), ["window.day_banned"]),  # Sunday
        (local(BRT, 2026, 4, 20, 20, 59), []),  # the eve of Tiradentes
        (local(BRT, 2026, 4, 21, 12, 0), ["window.holiday"]),  # Tiradentes
        (local(BRT, 2026, 4, 22, 8, 0), []),
        (local(BRT, 2026, 11, 20, 12, 0), ["window.holiday"]),  # Black Awareness (national)
    ],
)
def test_minas_gerais_offers(when: dt.datetime, expected: list[str]) -> None:
    out = decide(BELO_HORIZONTE, when)
    assert codes(out) == expected
    assert all(s == "BR-MG:br-mg.telemarketing.hours" for s in sources(out))


def test_minas_gerais_covers_marketing_and_sales_calls_only() -> None:
    sunday = local(BRT, 2026, 11, 29, 12, 0)
    assert codes(decide(BELO_HORIZONTE, sunday, purpose="sales")) == ["window.day_banned"]
    assert codes(decide(BELO_HORIZONTE, sunday, purpose="charity")) == []  # non-profits
    assert codes(decide(BELO_HORIZONTE, sunday, purpose="debt_collection")) == []
    assert codes(decide(BELO_HORIZONTE, sunday, channel="sms")) == []


def test_minas_gerais_is_not_lifted_by_a_general_consent() -> None:
    sunday = local(BRT, 2026, 11, 29, 12, 0)
    given = local(BRT, 2026, 1, 5, 12, 0)
    for kind in ("express", "express_written", "contract", "ebr_purchase"):
        out = decide(BELO_HORIZONTE, sunday, consents=[consent(kind, given)])
        assert codes(out) == ["window.day_banned"], kind
    (reason,) = decide(BELO_HORIZONTE, sunday).reasons
    assert reason.confidence == "primary"
    assert reason.citation == "Lei estadual MG 19.095/2010, art. 6"
    assert decide(BELO_HORIZONTE, sunday).next_allowed(sunday) == local(BRT, 2026, 11, 30, 8, 0)


@pytest.mark.parametrize(
    ("purpose", "when", "expected"),
    [
        ("debt_collection", local(BRT, 2026, 11, 23, 7, 59, 59), ["window.outside_hours"]),
        ("debt_collection", local(BRT, 2026, 11, 23, 19, 59, 59), []),
        ("debt_collection", local(BRT, 2026, 11, 23, 20, 0), ["window.outside_hours"]),
        ("debt_collection", local(BRT, 2026, 11, 28, 13, 59, 59), []),
        ("debt_collection", local(BRT, 2026, 11, 28, 14, 0), ["window.outside_hours"]),
        ("debt_collection", local(BRT, 2026, 11, 29, 10, 0), ["window.day_banned"]),
        ("marketing", local(BRT, 2026, 11, 29, 10, 0), []),  # collections only
    ],
)
def test_alagoas(purpose: str, when: dt.datetime, expected: list[str]) -> None:
    assert codes(decide(MACEIO, when, purpose=purpose)) == expected


@pytest.mark.parametrize(
    ("number", "purpose"),
    [
        # Rio's telemarketing law (ADI 5962) and Amazonas's Lei 4.644 (ADI 6087) are
        # secondary since 2026.12.1: see their own tests.
        (RIO, "debt_collection"),
        (SAO_PAULO, "debt_collection"),
        (FORTALEZA, "marketing"),
        (VITORIA, "marketing"),
        (CAMPO_GRANDE, "marketing"),
        (MACEIO, "debt_collection"),
    ],
)
def test_state_laws_are_unconfirmed_and_cited(number: str, purpose: str) -> None:
    sunday = local(BRT, 2026, 11, 29, 12, 0)
    out = decide(number, sunday, purpose=purpose)
    (reason,) = out.reasons
    assert reason.confidence == "unconfirmed"
    assert reason.citation is not None
    assert reason.citation.startswith(("Lei estadual", "Amazonas state law"))
    assert reason.url is not None
    assert reason.url.startswith("http")
    # Leaving unconfirmed rules out leaves nothing to deny.
    assert (
        codes(decide(number, sunday, purpose=purpose, book=RuleBook(include_unconfirmed=False)))
        == []
    )


def test_rio_telemarketing_law_is_upheld_by_adi_5962() -> None:
    (reason,) = decide(RIO, local(BRT, 2026, 11, 29, 12, 0)).reasons
    assert reason.source == "BR-RJ:br-rj.telemarketing.hours"
    assert reason.confidence == "secondary"
    assert reason.citation is not None
    assert "ADI 5962" in reason.citation
    assert "4.896/2006" in reason.citation
    # Still binding when unconfirmed rules are left out; the collections law is not.
    strict_only = RuleBook(include_unconfirmed=False)
    assert sources(decide(RIO, local(BRT, 2026, 11, 29, 12, 0), book=strict_only)) == [
        "BR-RJ:br-rj.telemarketing.hours"
    ]
    sunday = local(BRT, 2026, 11, 29, 12, 0)
    assert codes(decide(RIO, sunday, purpose="debt_collection", book=strict_only)) == []


def test_federal_summary_says_0303_is_optional() -> None:
    summary = BOOK.packs["BR"].pack.summary or ""
    assert "optional since 7 Aug 2025" in summary
    assert "Origem Verificada" in summary
    assert "500,000 calls a month" in summary
    assert "mandatory 0303" not in summary
