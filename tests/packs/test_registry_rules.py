"""Registry obligations in the packs: listed, never consulted, expired, grace, exemptions."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from _rulecheck import all_clear, codes, consent, decide, local

from optout._rules._engine import RegistryFact

UK = "+44 20 7946 0123"
US = "+1 212 555 0142"
IT = "+39 06 1234 5678"
CA = "+1 613 555 0142"
FR = "+33 1 99 00 12 34"
LONDON, NY, ROME, PARIS, OTTAWA = (
    "Europe/London",
    "America/New_York",
    "Europe/Rome",
    "Europe/Paris",
    "America/Toronto",
)


def facts(at: dt.datetime, **override: RegistryFact) -> list[RegistryFact]:
    """Every registry clear as of the day before, with ``override`` by registry id."""
    return [override.get(f.registry, f) for f in all_clear(at)]


def listed(
    registry: str, checked: dt.datetime, registered: dt.datetime | None = None
) -> RegistryFact:
    return RegistryFact(
        registry=registry,
        status="listed",
        checked_at=checked,
        registered_at=registered,
        evidence=f"{registry} test snapshot",
    )


def test_uk_tps_grace_of_28_days_when_the_registration_date_is_known() -> None:
    at = local(LONDON, 2026, 11, 24, 11, 0)
    ten_days = facts(
        at, gb_tps=listed("gb_tps", at - dt.timedelta(days=1), at - dt.timedelta(days=10))
    )
    assert codes(decide(UK, at, registry_facts=ten_days)) == []
    exactly = facts(
        at, gb_tps=listed("gb_tps", at - dt.timedelta(days=1), at - dt.timedelta(days=28))
    )
    assert codes(decide(UK, at, registry_facts=exactly)) == ["registry.listed"]
    undated = facts(at, gb_tps=listed("gb_tps", at - dt.timedelta(days=1)))
    assert codes(decide(UK, at, registry_facts=undated)) == ["registry.listed"]


def test_uk_subscriber_notification_overrides_the_listing() -> None:
    at = local(LONDON, 2026, 11, 24, 11, 0)
    tps = facts(at, gb_tps=listed("gb_tps", at - dt.timedelta(days=1)))
    agreed = consent("express", at - dt.timedelta(days=3))
    assert codes(decide(UK, at, registry_facts=tps, consents=[agreed])) == []


def test_us_snapshot_older_than_31_days_denies() -> None:
    # 16 CFR 310.4(b)(3)(iv): a version obtained no more than 31 days before the date of
    # the call. Obtained on 24 Oct (New York time), it serves every call on 24 Nov, the
    # 31st day after; one obtained late on 23 Oct does not.
    at = local(NY, 2026, 11, 24, 20, 59)
    fresh = facts(
        at,
        us_dnc=RegistryFact(
            registry="us_dnc",
            status="clear",
            checked_at=local(NY, 2026, 10, 24, 0, 0, 1),
            evidence="v",
        ),
    )
    stale = facts(
        at,
        us_dnc=dataclasses.replace(
            fresh[0], registry="us_dnc", checked_at=local(NY, 2026, 10, 23, 23, 59)
        ),
    )
    assert codes(decide(US, at, registry_facts=fresh, technology="manual")) == []
    assert codes(decide(US, at, registry_facts=stale, technology="manual")) == ["registry.expired"]


def test_us_listing_and_the_ebr_exemption_at_its_boundary() -> None:
    at = local(NY, 2026, 11, 24, 11, 0)
    dnc = facts(at, us_dnc=listed("us_dnc", at - dt.timedelta(days=2)))
    assert codes(decide(US, at, registry_facts=dnc, technology="manual")) == ["registry.listed"]
    inside = consent("ebr_purchase", at - dt.timedelta(days=548) + dt.timedelta(seconds=1))
    outside = consent("ebr_purchase", at - dt.timedelta(days=548))
    assert codes(decide(US, at, registry_facts=dnc, consents=[inside], technology="manual")) == []
    assert codes(decide(US, at, registry_facts=dnc, consents=[outside], technology="manual")) == [
        "registry.listed"
    ]
    # Surveys and political calls are outside the National DNC rules.
    assert codes(decide(US, at, registry_facts=dnc, purpose="survey", technology="manual")) == []


def test_never_consulted_and_unavailable_deny_unless_fail_open() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    never = facts(at, it_rpo=RegistryFact(registry="it_rpo", status="unknown"))
    assert codes(decide(IT, at, registry_facts=never)) == ["registry.not_consulted"]
    down = facts(at, it_rpo=RegistryFact(registry="it_rpo", status="unavailable", detail="timeout"))
    out = decide(IT, at, registry_facts=down)
    assert codes(out) == ["registry.unavailable"]
    assert "timeout" in out.reasons[0].message
    opened = facts(at, it_rpo=RegistryFact(registry="it_rpo", status="unknown", fail_open=True))
    assert codes(decide(IT, at, registry_facts=opened)) == []


def test_italy_15_day_validity() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    checked = at - dt.timedelta(days=15)
    clear = facts(
        at,
        it_rpo=RegistryFact(
            registry="it_rpo", status="clear", checked_at=checked, evidence="consultation 7"
        ),
    )
    assert codes(decide(IT, at, registry_facts=clear)) == ["registry.expired"]
    assert codes(decide(IT, at - dt.timedelta(seconds=1), registry_facts=clear)) == []


def test_canada_grace_of_31_days() -> None:
    at = local(OTTAWA, 2026, 11, 24, 11, 0)
    recent = facts(
        at, ca_dncl=listed("ca_dncl", at - dt.timedelta(days=1), at - dt.timedelta(days=30))
    )
    old = facts(
        at, ca_dncl=listed("ca_dncl", at - dt.timedelta(days=1), at - dt.timedelta(days=31))
    )
    assert codes(decide(CA, at, registry_facts=recent)) == []
    assert codes(decide(CA, at, registry_facts=old)) == ["registry.listed"]


@pytest.mark.parametrize(("day", "expected"), [(10, ["registry.listed"]), (11, [])])
def test_bloctel_stops_deciding_on_2026_08_11(day: int, expected: list[str]) -> None:
    at = local(PARIS, 2026, 8, day, 11, 0)
    bloctel = facts(at, fr_bloctel=listed("fr_bloctel", at - dt.timedelta(days=1)))
    contract = consent("contract", local(PARIS, 2025, 1, 1, 0, 0))
    got = codes(decide(FR, at, registry_facts=bloctel))
    if day == 11:
        # From 11 Aug the opt-in rule decides instead: no consent, no call.
        assert got == ["consent.missing"]
        assert codes(decide(FR, at, registry_facts=bloctel, consents=[contract])) == expected
    else:
        assert got == expected


def test_registry_reasons_cite_their_source() -> None:
    at = local(ROME, 2026, 11, 24, 11, 0)
    out = decide(IT, at, registry_facts=facts(at, it_rpo=listed("it_rpo", at)))
    # A listing with no registration date on record also voids consents (none here).
    assert [r.code for r in out.reasons] == ["consent.voided_by_registry", "registry.listed"]
    reason = out.reasons[1]
    assert reason.code == "registry.listed"
    assert reason.source == "IT:it.rpo.registry"
    assert reason.citation
    assert reason.confidence == "secondary"
