"""Issue 13: the fail-open edges the law review found, and the engine features the law of
December 2026 needs (consent scopes, declared blackouts, freshness counted as the law
words it, registration dates feeding grace periods, revoke-all, New York City).

Each regression test names the decision today's main gave before the fix."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import pytest
from _rulecheck import BOOK, all_clear, attempt, codes, consent, decide, local, sources

from optout import normalize
from optout._location import locate
from optout._rules._book import RuleBook
from optout._rules._decide import RuleCall, RuleOutcome, check_rules
from optout._rules._engine import AttemptFact, BlackoutFact, ConsentFact, RegistryFact
from optout._vocab import Outcome, Purpose, Sector, Technology

ROME, SYDNEY, NY, LONDON, PARIS = (
    "Europe/Rome",
    "Australia/Sydney",
    "America/New_York",
    "Europe/London",
    "Europe/Paris",
)
IT = "+39 06 1234 5678"
AU = "+61 2 5550 1234"
US = "+1 212 555 0142"  # New York City (and New York State)
US_UPSTATE = "+1 518 555 0142"  # Albany: New York State, not the city
UK = "+44 20 7946 0123"
FR = "+33 1 99 00 12 34"


def facts(at: dt.datetime, **override: RegistryFact) -> list[RegistryFact]:
    return [override.get(f.registry, f) for f in all_clear(at)]


def answer(
    registry: str,
    status: str,
    checked: dt.datetime,
    registered: dt.datetime | None = None,
) -> RegistryFact:
    return RegistryFact(
        registry=registry,
        status=status,  # type: ignore[arg-type]
        checked_at=checked,
        registered_at=registered,
        evidence=f"{registry} test",
    )


# -- Italy: a listing whose date is unknown -------------------------------------------------


def test_it_listed_with_a_january_consent_and_no_registration_date_is_denied() -> None:
    # Before: allowed (the consent rule bound only numbers with a stored date, and the
    # registry rule's exemption ignored the registration).
    at = local(ROME, 2026, 11, 24, 11, 0)
    january = consent("express", local(ROME, 2026, 1, 15, 10, 0))
    rpo = facts(at, it_rpo=answer("it_rpo", "listed", at - dt.timedelta(days=1)))
    out = decide(IT, at, registry_facts=rpo, consents=[january])
    assert "consent.voided_by_registry" in codes(out)
    assert "registry.listed" in codes(out)
    voided = next(r for r in out.reasons if r.code == "consent.voided_by_registry")
    assert "not on record" in voided.message
    assert "registrations.record" in voided.message


def test_it_a_consent_after_a_known_registration_still_exempts() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    given = local(ROME, 2026, 3, 1, 10, 0)
    rpo = facts(at, it_rpo=answer("it_rpo", "listed", at - dt.timedelta(days=1)))
    registered = [("it_rpo", local(ROME, 2026, 2, 1, 9, 0))]
    out = decide(
        IT, at, registry_facts=rpo, consents=[consent("express", given)], registrations=registered
    )
    assert codes(out) == []
    # The same consent given before the registration exempts nothing.
    later = [("it_rpo", local(ROME, 2026, 4, 1, 9, 0))]
    out = decide(
        IT, at, registry_facts=rpo, consents=[consent("express", given)], registrations=later
    )
    assert codes(out) == ["consent.voided_by_registry", "registry.listed"]


def test_it_a_contract_survives_a_registration_of_unknown_date() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    rpo = facts(at, it_rpo=answer("it_rpo", "listed", at - dt.timedelta(days=1)))
    out = decide(
        IT, at, registry_facts=rpo, consents=[consent("contract", local(ROME, 2025, 1, 1, 9, 0))]
    )
    assert codes(out) == []


def test_registration_dates_read_in_the_callees_time_zone() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    # 1 June at 00:30 in Rome is 31 May 22:30 UTC.
    since = local(ROME, 2026, 6, 1, 0, 30)
    rpo = facts(at, it_rpo=answer("it_rpo", "listed", at - dt.timedelta(days=1), since))
    out = decide(IT, at, registry_facts=rpo)
    listed = next(r for r in out.reasons if r.code == "registry.listed")
    assert "since 2026-06-01" in listed.message
    voided = next(r for r in out.reasons if r.code == "consent.voided_by_registry")
    assert "since 2026-06-01" in voided.message


# -- Australia: a wash in the 30-day period ending on the day of the call --------------------


@pytest.mark.parametrize(
    ("call_day", "expected"),
    [
        ((2026, 11, 18, 19, 0), []),  # the 30th day of the period that starts on 20 Oct
        ((2026, 11, 19, 9, 0), ["registry.expired"]),  # before: allowed (< 30 x 24 h)
        ((2026, 11, 19, 14, 59), ["registry.expired"]),
    ],
)
def test_au_wash_counts_calendar_days_ending_on_the_day_of_the_call(
    call_day: tuple[int, ...], expected: list[str]
) -> None:
    washed = local(SYDNEY, 2026, 10, 20, 15, 0)
    at = local(SYDNEY, *call_day)
    out = decide(AU, at, registry_facts=facts(at, au_dncr=answer("au_dncr", "clear", washed)))
    assert codes(out) == expected


# -- US: a list version obtained no more than 31 days before the date of the call ----------


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ((2026, 12, 2, 20, 59), []),  # 31 days after 1 Nov
        ((2026, 12, 3, 8, 0), ["registry.expired"]),
    ],
)
def test_us_dnc_version_at_most_31_days_before_the_call_date(
    call: tuple[int, ...], expected: list[str]
) -> None:
    obtained = local(NY, 2026, 11, 1, 23, 30)
    at = local(NY, *call)
    out = decide(
        US_UPSTATE,
        at,
        technology="manual",
        registry_facts=facts(at, us_dnc=answer("us_dnc", "clear", obtained)),
    )
    assert codes(out) == expected


def test_an_answer_dated_after_the_call_is_no_consultation() -> None:
    at = local(SYDNEY, 2026, 11, 18, 11, 0)
    later = answer("au_dncr", "clear", at + dt.timedelta(hours=2))
    out = decide(AU, at, registry_facts=facts(at, au_dncr=later))
    assert codes(out) == ["registry.not_consulted"]
    assert "after the call" in out.reasons[0].message


# -- registration dates from the registrations table feed grace periods --------------------


@pytest.mark.parametrize(("days", "expected"), [(27, []), (28, ["registry.listed"])])
def test_uk_tps_grace_from_a_stored_registration_date(days: int, expected: list[str]) -> None:
    at = local(LONDON, 2026, 11, 24, 11, 0)
    tps = answer("gb_tps", "listed", at - dt.timedelta(days=1))  # the file gives no date
    registered = [("gb_tps", at - dt.timedelta(days=days))]
    out = decide(UK, at, technology="manual", registry_facts=facts(at, gb_tps=tps))
    assert codes(out) == ["registry.listed"]  # no date known: binding at once
    out = decide(
        UK,
        at,
        technology="manual",
        registry_facts=facts(at, gb_tps=tps),
        registrations=registered,
    )
    assert codes(out) == expected


# -- consent scopes --------------------------------------------------------------------------


def test_fr_hours_are_lifted_only_by_consent_to_calls_outside_them() -> None:
    at = local(PARIS, 2026, 9, 1, 21, 0)  # a Tuesday, after 20:00
    canvass = consent("express", local(PARIS, 2026, 8, 20, 10, 0))
    out = decide(FR, at, technology="manual", consents=[canvass])
    assert "window.outside_hours" in codes(out)  # before: allowed
    outside = dataclasses.replace(canvass, scopes=frozenset({"outside_hours"}))
    assert codes(decide(FR, at, technology="manual", consents=[outside])) == []


def test_ny_hours_need_consent_to_a_call_at_a_different_time() -> None:
    at = local(NY, 2026, 12, 1, 20, 30)  # inside the federal window, so NY alone decides
    book = RuleBook()
    out = decide(US_UPSTATE, at, book=book, technology="manual", purpose="informational")
    assert codes(out) == []  # NY binds telemarketing sales calls only
    written = consent("express_written", local(NY, 2026, 1, 5, 9, 0))
    late = local(NY, 2026, 12, 1, 21, 30)
    out = decide(US_UPSTATE, late, technology="manual", consents=[written])
    assert "US-NY:ny.hours" in sources(out)
    scoped = dataclasses.replace(written, scopes=frozenset({"outside_hours"}))
    out = decide(US_UPSTATE, late, technology="manual", consents=[scoped])
    assert "US-NY:ny.hours" not in sources(out)


# -- declared blackouts ----------------------------------------------------------------------


def emergency(first: dt.date, last: dt.date | None, area: str = "US-NY") -> BlackoutFact:
    return BlackoutFact(
        id="7", area=area, kind="emergency", first=first, last=last, source="Executive Order 52"
    )


def test_a_declared_emergency_in_new_york_stops_telemarketing() -> None:
    at = local(NY, 2026, 12, 9, 15, 0)
    eo = emergency(dt.date(2026, 12, 8), dt.date(2026, 12, 20))
    out = check(US_UPSTATE, at, [eo])
    assert codes(out) == ["blackout.declared", "blackout.declared"]
    assert "Executive Order 52" in out.reasons[0].message
    assert any(e.kind == "blackout" and e.id == "7" for e in out.evidence)
    # Boundaries: the day before and the day after are not banned.
    assert codes(check(US_UPSTATE, local(NY, 2026, 12, 7, 15, 0), [eo])) == []
    assert codes(check(US_UPSTATE, local(NY, 2026, 12, 21, 8, 0), [eo])) == []
    assert codes(check(US_UPSTATE, local(NY, 2026, 12, 20, 20, 59), [eo])) != []
    # Collections are outside the statute.
    assert codes(check(US_UPSTATE, at, [eo], purpose="debt_collection")) == []
    # Another state's number is not touched.
    assert codes(check("+1 305 555 0142", at, [eo])) == []


def test_emergency_exemptions_follow_each_statute() -> None:
    at = local(NY, 2026, 12, 9, 15, 0)
    eo = emergency(dt.date(2026, 12, 8), None)
    ebr = consent("ebr_purchase", local(NY, 2026, 6, 1, 9, 0))
    out = check(US_UPSTATE, at, [eo], consents=[ebr])
    # 399-z exempts an EBR; 399-pp (read strictly) does not.
    assert sources(out) == ["US-NY:ny.emergency.registered_telemarketers"]
    asked = consent("express_written", local(NY, 2026, 6, 1, 9, 0))
    assert codes(check(US_UPSTATE, at, [eo], consents=[asked])) == []


def test_next_allowed_at_skips_a_declared_blackout_ahead() -> None:
    at = local(NY, 2026, 12, 7, 22, 0)  # after hours, the evening before the emergency
    eo = emergency(dt.date(2026, 12, 8), dt.date(2026, 12, 9))
    out = check(US_UPSTATE, at, [eo])
    assert codes(out) != []
    assert out.next_allowed(at) == local(NY, 2026, 12, 10, 8, 0)


def test_an_open_ended_emergency_has_no_next_allowed_instant() -> None:
    at = local(NY, 2026, 12, 9, 15, 0)
    out = check(US_UPSTATE, at, [emergency(dt.date(2026, 12, 8), None)])
    assert out.next_allowed(at) is None


def test_a_blackout_no_pack_rule_takes_binds_every_purpose_it_names() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    day = BlackoutFact(
        id="9",
        area="IT",
        kind="no_call_day",
        first=dt.date(2026, 11, 24),
        last=dt.date(2026, 11, 24),
        source="compliance officer: national mourning",
    )
    out = check(IT, at, [day], purpose="informational")
    assert codes(out) == ["blackout.declared"]
    assert sources(out) == ["blackout:declared.9"]
    assert out.reasons[0].citation == "declared no-call day: compliance officer: national mourning"
    narrow = dataclasses.replace(day, purposes=frozenset({"marketing"}))  # type: ignore[arg-type]
    assert codes(check(IT, at, [narrow], purpose="informational")) == []


def test_a_subdivision_blackout_binds_a_number_whose_state_is_unknown() -> None:
    at = local(NY, 2026, 12, 9, 15, 0)
    eo = emergency(dt.date(2026, 12, 8), None)
    # A toll-free number names no state: every subdivision may hold the callee.
    out = check("+1 800 555 0142", at, [eo], purpose="informational")
    assert codes(out) == []  # the NY rules bind telemarketing only
    out = check("+1 800 555 0142", at, [eo])
    assert "blackout.declared" in codes(out)


def check(
    number: str,
    at: dt.datetime,
    blackouts: list[BlackoutFact],
    *,
    purpose: str = "marketing",
    consents: Sequence[ConsentFact] = (),
) -> RuleOutcome:
    """The rules for a manual call, every registry clear, with declared ``blackouts``."""
    call = RuleCall(
        phone=normalize(number), at=at, purpose=Purpose(purpose), technology=Technology.MANUAL
    )
    return check_rules(
        BOOK, call, registry_facts=all_clear(at), blackouts=blackouts, consents=consents
    )


# -- New York City -------------------------------------------------------------------------


def test_nyc_collection_cap_three_per_seven_days_per_account_all_channels() -> None:
    at = local(NY, 2026, 9, 10, 10, 0)
    history = [
        attempt(US, at - dt.timedelta(days=d), purpose="debt_collection", channel=c, debt="A-1")
        for d, c in ((1, "voice"), (2, "sms"))
    ]

    def collect(
        number: str, when: dt.datetime, attempts: list[AttemptFact], debt: str = "A-1"
    ) -> RuleOutcome:
        return decide(
            number,
            when,
            attempts=attempts,
            purpose="debt_collection",
            technology="manual",
            debt=debt,
        )

    assert codes(collect(US, at, history)) == []  # 2 of 3
    third = attempt(US, at - dt.timedelta(days=6), purpose="debt_collection", debt="A-1")
    out = collect(US, at, [*history, third])
    assert "US-NYC:nyc.collection.cap" in sources(out)  # 3 already: a 4th is denied
    # Another account's attempts do not count; upstate numbers are not in the city.
    assert codes(collect(US, at, [*history, third], debt="B-2")) == []
    assert "US-NYC:nyc.collection.cap" not in sources(collect(US_UPSTATE, at, [*history, third]))
    # In force from 1 Sep 2026.
    before = local(NY, 2026, 8, 31, 10, 0)
    old = [dataclasses.replace(a, at=before - (at - a.at)) for a in [*history, third]]
    assert "US-NYC:nyc.collection.cap" not in sources(collect(US, before, old))


# -- revoke-all ----------------------------------------------------------------------------


def test_revoke_all_from_2027_01_31_ends_the_callers_other_consents() -> None:
    number = "+1 202 555 0142"  # DC: federal rules only
    given = local(NY, 2026, 5, 1, 9, 0)
    debt = consent("express", given, purposes=frozenset({"debt_collection"}))
    info = dataclasses.replace(
        consent("express", given, purposes=frozenset({"informational"})),
        id="c2",
        revoked_at=local(NY, 2027, 2, 1, 9, 0),
    )
    at = local(NY, 2027, 2, 2, 10, 0)

    def call(consents: list[ConsentFact], book: RuleBook = BOOK) -> RuleOutcome:
        return decide(
            number,
            at,
            book=book,
            consents=consents,
            purpose="debt_collection",
            technology="autodialed",
        )

    out = call([debt, info])
    assert "consent.revoked" in codes(out)
    off = RuleBook(revoke_all=False)
    assert codes(call([debt, info], off)) == []
    # A revocation made before the rule's date ends only its own consent.
    early = dataclasses.replace(info, revoked_at=local(NY, 2027, 1, 30, 9, 0))
    assert codes(call([debt, early])) == []


# -- Maine, Louisiana, Minas Gerais, Canada, France: the rest of the gap table ---------------

MAINE = "+1 207 555 0142"


def test_maine_sales_calls_need_a_reassigned_numbers_check_from_16_july_2024() -> None:
    at = local(NY, 2026, 11, 24, 11, 0)
    unchecked = [f for f in all_clear(at) if f.registry != "us_rnd"]
    out = decide(MAINE, at, technology="manual", registry_facts=unchecked)
    assert sources(out) == ["US-ME:me.rnd.check"]
    assert codes(out) == ["registry.not_consulted"]
    # A "reassigned" answer does not deny by itself; an old check does.
    reassigned = answer("us_rnd", "listed", at - dt.timedelta(days=1), at - dt.timedelta(days=90))
    assert (
        codes(decide(MAINE, at, technology="manual", registry_facts=facts(at, us_rnd=reassigned)))
        == []
    )
    old = answer("us_rnd", "clear", at - dt.timedelta(days=31))
    out = decide(MAINE, at, technology="manual", registry_facts=facts(at, us_rnd=old))
    assert codes(out) == ["registry.expired"]
    # Outside the Act: an established business relationship; and calls before the law.
    ebr = consent("ebr_purchase", at - dt.timedelta(days=30))
    assert (
        codes(decide(MAINE, at, technology="manual", registry_facts=unchecked, consents=[ebr]))
        == []
    )
    before = local(NY, 2024, 7, 15, 11, 0)
    assert (
        codes(
            decide(
                MAINE,
                before,
                technology="manual",
                registry_facts=[f for f in all_clear(before) if f.registry != "us_rnd"],
            )
        )
        == []
    )
    # Debt collection is not a telephone sales call.
    assert "US-ME:me.rnd.check" not in sources(
        decide(MAINE, at, technology="manual", purpose="debt_collection", registry_facts=unchecked)
    )


def test_louisiana_emergency_stops_solicitation_and_texts() -> None:
    at = local("America/Chicago", 2026, 12, 9, 12, 0)
    storm = BlackoutFact(
        id="3",
        area="US-LA",
        kind="emergency",
        first=dt.date(2026, 12, 9),
        last=dt.date(2026, 12, 12),
        source="Proclamation 101 JBE 2026",
    )
    assert sources(check("+1 504 555 0142", at, [storm])) == ["US-LA:la.emergency"]
    assert sources(check("+1 504 555 0142", at, [storm], purpose="charity")) == [
        "US-LA:la.emergency"
    ]
    assert codes(check("+1 504 555 0142", at, [storm], purpose="debt_collection")) == []


def test_minas_gerais_hours_lifted_only_by_a_specific_authorisation() -> None:
    sunday = local("America/Sao_Paulo", 2026, 11, 29, 12, 0)
    number = "+55 31 3555 0142"  # Belo Horizonte
    general = consent("express", local("America/Sao_Paulo", 2026, 1, 5, 9, 0))
    out = decide(number, sunday, technology="manual", consents=[general])
    assert "BR-MG:br-mg.telemarketing.hours" in sources(out)
    specific = dataclasses.replace(general, scopes=frozenset({"outside_hours"}))
    out = decide(number, sunday, technology="manual", consents=[specific])
    assert "BR-MG:br-mg.telemarketing.hours" not in sources(out)


@pytest.mark.parametrize(("day", "expected"), [(24, []), (25, ["registry.expired"])])
def test_canada_dncl_version_at_most_31_days_before_the_call(day: int, expected: list[str]) -> None:
    obtained = local("America/Toronto", 2026, 10, 24, 18, 0)
    at = local("America/Toronto", 2026, 11, day, 12, 0)  # a Tuesday and a Wednesday
    dncl = answer("ca_dncl", "clear", obtained)
    out = decide("+1 613 555 0142", at, technology="manual", registry_facts=facts(at, ca_dncl=dncl))
    assert codes(out) == expected


def test_france_an_objection_during_a_call_is_never_followed_by_another() -> None:
    objected = [attempt(FR, local(PARIS, 2026, 6, 4, 11, 0), "dnc_request", brand="acme")]
    years_later = local(PARIS, 2029, 6, 5, 11, 0)
    out = decide(FR, years_later, attempts=objected, brand="acme", technology="manual")
    assert "FR:fr.objection.no_recontact" in sources(out)
    other = decide(FR, years_later, attempts=objected, brand="other", technology="manual")
    assert "FR:fr.objection.no_recontact" not in sources(other)


# -- cells of the audit (docs/rules.md) that ended in an allowance ---------------------------


def test_uk_grace_runs_from_the_earliest_date_and_ignores_one_after_the_answer() -> None:
    at = local(LONDON, 2026, 11, 25, 11, 0)
    tps = answer("gb_tps", "listed", local(LONDON, 2026, 11, 20, 9, 0))
    kw_facts = facts(at, gb_tps=tps)
    two = [("gb_tps", at - dt.timedelta(days=300)), ("gb_tps", at - dt.timedelta(days=5))]
    out = decide(UK, at, technology="manual", registry_facts=kw_facts, registrations=two)
    assert codes(out) == ["registry.listed"]  # before: allowed (the latest date was used)
    later = [("gb_tps", local(LONDON, 2026, 11, 24, 9, 0))]  # after the listing answer
    out = decide(UK, at, technology="manual", registry_facts=kw_facts, registrations=later)
    assert codes(out) == ["registry.listed"]  # before: allowed (a grace from a later date)


def test_a_revocation_ends_earlier_records_of_the_same_consent() -> None:
    at = local("Europe/Berlin", 2026, 6, 10, 11, 0)
    feb = consent("express", local("Europe/Berlin", 2026, 2, 1, 9, 0))
    march = dataclasses.replace(
        consent("express", local("Europe/Berlin", 2026, 3, 1, 9, 0)),
        id="c2",
        revoked_at=local("Europe/Berlin", 2026, 5, 1, 9, 0),
    )
    number = "+49 30 1234 5678"
    assert codes(decide(number, at, technology="manual", consents=[feb, march])) == [
        "consent.revoked"
    ]  # before: allowed by the February record
    june = consent("express", local("Europe/Berlin", 2026, 6, 1, 9, 0))
    assert codes(decide(number, at, technology="manual", consents=[feb, march, june])) == []


def test_a_relationship_lifts_a_rule_only_within_its_age() -> None:
    at = local("America/Los_Angeles", 2026, 3, 3, 20, 30)  # after Oregon's 20:00
    number = "+1 503 555 0142"
    old = consent("ebr_purchase", local("America/Los_Angeles", 2015, 1, 5, 9, 0))
    out = decide(number, at, technology="manual", consents=[old])
    assert "US-OR:or.hours" in sources(out)  # before: lifted by a 2015 purchase
    recent = consent("ebr_purchase", local("America/Los_Angeles", 2026, 1, 5, 9, 0))
    assert "US-OR:or.hours" not in sources(
        decide(number, at, technology="manual", consents=[recent])
    )


def test_an_attempt_stamped_after_the_decision_starts_its_cool_down() -> None:
    at = local(PARIS, 2026, 6, 5, 11, 0)
    ahead = attempt(FR, at + dt.timedelta(minutes=2), "refused", brand="acme")
    out = decide(FR, at, attempts=[ahead], brand="acme", technology="manual")
    assert "cooldown.active" in codes(out)  # before: allowed until the clocks agreed


def test_a_date_only_list_counts_from_its_own_date_in_every_zone() -> None:
    # A snapshot dated 1 Nov (stored as that day's UTC midnight) serves calls on 2 Dec in
    # Los Angeles too, not only up to 1 Dec (the evening of 31 Oct there).
    at = local("America/Los_Angeles", 2026, 12, 2, 20, 0)
    snapshot = answer("us_dnc", "clear", dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    out = decide(
        "+1 213 555 0142", at, technology="manual", registry_facts=facts(at, us_dnc=snapshot)
    )
    assert codes(out) == []


def test_the_country_only_subdivision_setting_is_recorded_as_a_loosening() -> None:
    at = local(NY, 2026, 12, 1, 12, 0)
    out = decide("+1 800 555 0142", at, book=RuleBook(unknown_subdivision="country"))
    (loosened,) = [e for e in out.evidence if e.kind == "rule_settings"]
    assert loosened.detail["unknown_subdivision"] == "country"


# -- sector bans and caller-ID rules ---------------------------------------------------------

ES = "+34 912 345 678"
MADRID = "Europe/Madrid"


def sector_call(
    number: str,
    at: dt.datetime,
    *,
    sector: str | None = None,
    caller_id: str | None = None,
    technology: str = "manual",
    consents: Sequence[ConsentFact] = (),
    book: RuleBook = BOOK,
) -> RuleOutcome:
    call = RuleCall(
        phone=normalize(number),
        at=at,
        purpose=Purpose.MARKETING,
        technology=Technology(technology),
        sector=None if sector is None else Sector(sector),
        caller_id=None if caller_id is None else normalize(caller_id),
    )
    return check_rules(book, call, registry_facts=all_clear(at), consents=consents)


def test_france_bans_energy_renovation_canvassing_outside_a_contract() -> None:
    at = local(PARIS, 2026, 9, 1, 11, 0)
    asked = consent("express", local(PARIS, 2026, 8, 20, 10, 0))
    out = sector_call(FR, at, sector="energy_renovation", consents=[asked])
    assert sources(out) == ["FR:fr.energy_renovation.ban"]
    assert codes(out) == ["consent.missing"]
    contract = consent("contract", local(PARIS, 2025, 1, 10, 12, 0))
    assert codes(sector_call(FR, at, sector="energy_renovation", consents=[contract])) == []
    assert codes(sector_call(FR, at, sector="telecom", consents=[asked])) == []
    # In force from 2 Jul 2025 (before the opt-in: no other consent is needed then).
    assert codes(sector_call(FR, local(PARIS, 2025, 7, 1, 11, 0), sector="energy_renovation")) == []
    assert codes(sector_call(FR, local(PARIS, 2025, 7, 2, 11, 0), sector="energy_renovation")) == [
        "consent.missing"
    ]


def test_spain_electricity_sales_calls_only_on_request() -> None:
    at = local(MADRID, 2026, 11, 24, 11, 0)
    ebr = consent("ebr_purchase", local(MADRID, 2026, 5, 1, 9, 0))
    out = sector_call(ES, at, sector="electricity_supply", consents=[ebr])
    assert "ES:es.electricity.request" in sources(out)
    asked = consent("express", local(MADRID, 2026, 11, 1, 9, 0))
    out = sector_call(ES, at, sector="electricity_supply", consents=[asked])
    assert "ES:es.electricity.request" not in sources(out)


def test_spain_refuses_a_mobile_caller_id_from_7_june_2025() -> None:
    at = local(MADRID, 2026, 11, 24, 11, 0)
    asked = consent("express", local(MADRID, 2026, 11, 1, 9, 0))
    out = sector_call(ES, at, caller_id="+34 612 345 678", consents=[asked])
    assert codes(out) == ["cli.not_permitted"]
    assert "+34612345678" in out.reasons[0].message
    assert codes(sector_call(ES, at, caller_id="+34 912 345 000", consents=[asked])) == []
    assert codes(sector_call(ES, at, consents=[asked])) == []  # no CLI named: not checked
    before = local(MADRID, 2025, 6, 6, 11, 0)
    assert "cli.not_permitted" not in codes(
        sector_call(ES, before, caller_id="+34 612 345 678", consents=[asked])
    )
    # The draft 400 range binds only when opted in.
    book = RuleBook(opt_in=frozenset({"ES:es.cli.400_range"}))
    out = sector_call(ES, at, caller_id="+34 912 345 000", consents=[asked], book=book)
    assert sources(out) == ["ES:es.cli.400_range"]


def test_france_automated_canvassing_only_from_the_dedicated_ranges() -> None:
    at = local(PARIS, 2026, 9, 1, 11, 0)
    asked = consent("express", local(PARIS, 2026, 8, 20, 10, 0))
    mobile, dedicated = "+33 6 12 34 56 78", "+33 1 62 12 34 56"
    out = sector_call(FR, at, caller_id=mobile, technology="autodialed", consents=[asked])
    assert sources(out) == ["FR:fr.cli.automated_ranges"]
    out = sector_call(FR, at, caller_id=dedicated, technology="autodialed", consents=[asked])
    assert codes(out) == []
    # A live call may present another number.
    assert codes(sector_call(FR, at, caller_id="+33 6 12 34 56 78", consents=[asked])) == []


def test_an_attempt_whose_outcome_is_not_recorded_starts_every_cool_down() -> None:
    at = local(PARIS, 2026, 6, 5, 11, 0)
    pending = attempt(FR, at - dt.timedelta(hours=1), None, brand="acme")
    out = decide(FR, at, attempts=[pending], brand="acme", technology="manual")
    assert "cooldown.outcome_pending" in codes(out)  # before: allowed, as if not refused
    assert "not recorded yet" in out.reasons[0].message
    answered = dataclasses.replace(pending, outcome=Outcome.NO_ANSWER)
    assert codes(decide(FR, at, attempts=[answered], brand="acme", technology="manual")) == []


def test_italy_specific_consent_against_the_rpo_is_an_opt_in_reading() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    rpo = facts(at, it_rpo=answer("it_rpo", "listed", at - dt.timedelta(days=1)))
    registered = [("it_rpo", local(ROME, 2026, 2, 1, 9, 0))]
    omnibus = consent("express", local(ROME, 2026, 3, 1, 10, 0))

    def italy(consents: list[ConsentFact], book: RuleBook, sector: str | None) -> list[str]:
        call = RuleCall(
            phone=normalize(IT),
            at=at,
            purpose=Purpose.MARKETING,
            technology=Technology.MANUAL,
            sector=None if sector is None else Sector(sector),
        )
        out = check_rules(
            book, call, registry_facts=rpo, consents=consents, registrations=registered
        )
        return codes(out)

    assert italy([omnibus], BOOK, "telecom") == []  # off by default
    opted = RuleBook(opt_in=frozenset({"IT:it.rpo.consent.specific"}))
    assert italy([omnibus], opted, "telecom") == ["consent.missing"]
    specific = dataclasses.replace(omnibus, sectors=frozenset({Sector.TELECOM}))
    assert italy([specific], opted, "telecom") == []
    assert italy([specific], opted, None) == ["consent.missing"]
    assert italy([specific], opted, "electricity_supply") == ["consent.missing"]


# -- found in review -------------------------------------------------------------------------


def test_a_blackout_with_a_short_or_long_source_denies_and_does_not_crash() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    for source in ("EO", "x" * 450):
        day = BlackoutFact(
            id="5", area="IT", kind="no_call_day", first=at.date(), last=at.date(), source=source
        )
        out = check(IT, at, [day])
        assert codes(out) == ["blackout.declared"]
        assert len(out.reasons[0].citation or "") <= 400


def test_a_declared_purpose_the_pack_rule_does_not_cover_still_binds() -> None:
    at = local(NY, 2026, 12, 9, 15, 0)
    eo = dataclasses.replace(
        emergency(dt.date(2026, 12, 8), None), purposes=frozenset({Purpose.DEBT_COLLECTION})
    )
    out = check(US_UPSTATE, at, [eo], purpose="debt_collection")
    assert codes(out) == ["blackout.declared"]  # before: the NY rule took it and dropped it
    assert sources(out) == ["blackout:declared.7"]


def test_a_registration_dated_after_its_answer_opens_no_grace() -> None:
    at = local(LONDON, 2026, 11, 25, 11, 0)
    tps = answer("gb_tps", "listed", at - dt.timedelta(days=1), at + dt.timedelta(days=30))
    out = decide(UK, at, technology="manual", registry_facts=facts(at, gb_tps=tps))
    assert codes(out) == ["registry.listed"]


def test_a_date_only_registration_binds_at_the_local_midnight() -> None:
    registered = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)  # a date: 1 Nov
    for at, expected in (
        (local(SYDNEY, 2026, 11, 30, 19, 0), []),  # the 30th day of the grace
        (local(SYDNEY, 2026, 12, 1, 9, 0), ["registry.listed"]),  # before: allowed until 11:00
    ):
        wash = answer("au_dncr", "listed", at - dt.timedelta(days=1), registered)
        assert codes(decide(AU, at, registry_facts=facts(at, au_dncr=wash))) == expected


def test_a_queens_zip_code_keeps_new_york_city() -> None:
    assert (
        "NYC" in locate(normalize("+1 516 555 0142"), state="NY", postal_code="11004").subdivisions
    )


def test_a_pending_attempt_has_its_own_reason_code() -> None:
    at = local(PARIS, 2026, 6, 5, 11, 0)
    pending = attempt(FR, at - dt.timedelta(hours=1), None, brand="acme")
    out = decide(FR, at, attempts=[pending], brand="acme", technology="manual")
    assert "cooldown.outcome_pending" in codes(out)
    assert "cooldown.active" not in codes(out)
