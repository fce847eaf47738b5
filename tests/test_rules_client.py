"""The rules engine through the client: history, consents, registrations, reservations."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import zoneinfo

import pytest
import sqlalchemy as sa

import optout
from optout import Compliance, Policy, RuleBook
from optout._schema import attempts

ROME = zoneinfo.ZoneInfo("Europe/Rome")
IT = "+39 06 1234 5678"
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, tzinfo=ROME)
SUNDAY_12 = dt.datetime(2026, 11, 29, 12, tzinfo=ROME)

CAPPED = Policy.from_dict(
    {
        "policy": {"name": "capped", "version": "7"},
        "retry": {"busy": "30m", "max_attempts": {"count": 3, "period": "24h"}},
    }
)


def _only(policy: Policy) -> RuleBook:
    return RuleBook(packs={}, policies=(policy,), unsupported="allow")


def test_a_pack_denial_explains_itself_and_next_allowed_is_allowed(
    lawful_client: Compliance,
) -> None:
    decision = lawful_client.can_call(IT, at=SUNDAY_12)
    assert decision.codes == ("window.day_banned",)
    reason = decision.reasons[0]
    assert reason.source == "IT:it.code.hours"
    assert reason.citation is not None
    assert reason.confidence == "secondary"
    assert decision.next_allowed_at == dt.datetime(2026, 11, 30, 9, tzinfo=ROME)
    assert decision.next_allowed_at.utcoffset() == SUNDAY_12.utcoffset()
    assert lawful_client.can_call(IT, at=decision.next_allowed_at).allowed
    packs = [e for e in decision.evidence if e.kind == "rule_pack"]
    assert [e.id for e in packs] == ["IT"]
    assert packs[0].version


def test_next_allowed_combines_a_suppression_expiry_with_a_window(
    lawful_client: Compliance,
) -> None:
    # Suppressed until Sunday noon: the Sunday ban then carries it to Monday 9:00.
    lawful_client.suppressions.add(
        IT, reason="call back later", at=TUESDAY_10, expires_at=SUNDAY_12
    )
    decision = lawful_client.can_call(IT, at=dt.datetime(2026, 11, 28, 11, tzinfo=ROME))
    assert decision.codes == ("suppression.number",)
    assert decision.next_allowed_at == dt.datetime(2026, 11, 30, 9, tzinfo=ROME)


def test_cap_from_recorded_history(backend_url: str) -> None:
    with Compliance(backend_url, rules=_only(CAPPED)) as client:
        for minutes in (0, 60, 120):
            client.record_outcome(IT, "no_answer", at=TUESDAY_10 + dt.timedelta(minutes=minutes))
        at = TUESDAY_10 + dt.timedelta(hours=3)
        denied = client.can_call(IT, at=at)
        assert denied.codes == ("cap.reached",)
        assert denied.reasons[0].source == "policy:capped:retry.max_attempts"
        assert denied.next_allowed_at == TUESDAY_10 + dt.timedelta(hours=24)
        assert client.can_call(IT, at=TUESDAY_10 + dt.timedelta(hours=24)).allowed
        assert not client.can_call(
            IT, at=TUESDAY_10 + dt.timedelta(hours=24, microseconds=-1)
        ).allowed


def test_retry_delay_after_busy(backend_url: str) -> None:
    with Compliance(backend_url, rules=_only(CAPPED)) as client:
        client.record_outcome(IT, "busy", at=TUESDAY_10)
        assert client.can_call(IT, at=TUESDAY_10 + dt.timedelta(minutes=29)).codes == (
            "cooldown.active",
        )
        assert client.can_call(IT, at=TUESDAY_10 + dt.timedelta(minutes=30)).allowed


def test_rpo_registration_and_consents(lawful_client: Compliance) -> None:
    client = lawful_client
    client.registrations.record(
        "it_rpo",
        IT,
        registered_at=dt.datetime(2025, 6, 1, tzinfo=ROME),
        source="RPO consultation",
        reference="ticket-1",
    )
    assert client.can_call(IT, at=TUESDAY_10).codes == ("consent.voided_by_registry",)
    client.consents.add(
        IT, "express", given_at=dt.datetime(2025, 1, 5, tzinfo=ROME), proof="form-77"
    )
    assert client.can_call(IT, at=TUESDAY_10).codes == ("consent.voided_by_registry",)
    later = client.consents.add(
        IT,
        "express",
        given_at=dt.datetime(2025, 7, 1, tzinfo=ROME),
        purposes=["marketing"],
        proof="form-88",
    )
    decision = client.can_call(IT, at=TUESDAY_10)
    assert decision.allowed
    assert any(e.kind == "consent" and e.id == str(later.id) for e in decision.evidence)
    assert any(e.kind == "registration" and e.id == "it_rpo" for e in decision.evidence)
    client.consents.revoke(
        later.id, actor="ops", reason="asked by phone", at=dt.datetime(2026, 1, 1, tzinfo=ROME)
    )
    assert not client.can_call(IT, at=TUESDAY_10).allowed
    # A consent for marketing does not cover another purpose's consent needs.
    assert client.can_call(IT, at=TUESDAY_10, purpose="survey").allowed


def test_consent_records_are_checked_on_the_way_in(client: Compliance) -> None:
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with pytest.raises(optout.ConfigurationError, match="in the future"):
        client.consents.add(IT, "express", given_at=future)
    given = dt.datetime(2026, 1, 5, tzinfo=ROME)
    with pytest.raises(optout.ConfigurationError, match="consent kind"):
        client.consents.add(IT, "vibes", given_at=given)
    with pytest.raises(optout.ConfigurationError, match="purpose"):
        client.consents.add(IT, "express", given_at=given, purposes=["spam"])
    with pytest.raises(optout.ConfigurationError, match="after given_at"):
        client.consents.add(IT, "express", given_at=given, expires_at=given)
    with pytest.raises(optout.NotFoundError):
        client.consents.revoke(999, actor="a", reason="b")
    consent = client.consents.add(IT, "express", given_at=given)
    client.consents.revoke(consent.id, actor="a", reason="b")
    with pytest.raises(optout.ConfigurationError, match="already revoked"):
        client.consents.revoke(consent.id, actor="a", reason="b")
    assert client.consents.list(number=IT)[0].revoked_by == "a"


def test_reserve_records_an_attempt_that_counts(backend_url: str) -> None:
    with Compliance(backend_url, rules=_only(CAPPED)) as client:
        first = client.reserve(IT, at=TUESDAY_10)
        assert first.allowed
        assert first.attempt_id is not None
        attempt = client.record_outcome(
            IT, "no_answer", attempt_id=first.attempt_id, at=TUESDAY_10 + dt.timedelta(seconds=40)
        )
        assert attempt.id == first.attempt_id
        assert attempt.at == TUESDAY_10
        with pytest.raises(optout.NotFoundError, match="awaits an outcome"):
            client.record_outcome(IT, "busy", attempt_id=first.attempt_id)
        second = client.reserve(IT, at=TUESDAY_10 + dt.timedelta(minutes=1))
        assert second.attempt_id is not None
        # While its outcome is not recorded, the attempt may have been busy: the policy's
        # 30-minute retry delay holds the next call.
        pending = client.reserve(IT, at=TUESDAY_10 + dt.timedelta(minutes=2))
        assert pending.decision.codes == ("cooldown.outcome_pending",)
        client.record_outcome(IT, "no_answer", attempt_id=second.attempt_id)
        third = client.reserve(IT, at=TUESDAY_10 + dt.timedelta(minutes=2))
        assert third.attempt_id is not None
        client.record_outcome(IT, "no_answer", attempt_id=third.attempt_id)
        refused = client.reserve(IT, at=TUESDAY_10 + dt.timedelta(minutes=3))
        assert not refused.allowed
        assert refused.attempt_id is None
        assert refused.decision.codes == ("cap.reached",)
        bad = client.reserve("nonsense", at=TUESDAY_10)
        assert bad.decision.codes == ("number.invalid",)


CAP_ONLY = Policy.from_dict(
    {
        "policy": {"name": "cap-only", "version": "1"},
        "retry": {"max_attempts": {"count": 3, "period": "24h"}},
    }
)


def _reserve_many(url: str, count: int) -> int:
    # A cap alone: a retry delay would hold every racer behind the first pending attempt.
    with Compliance(url, rules=_only(CAP_ONLY)) as client:
        granted = 0
        for i in range(count):
            at = TUESDAY_10 + dt.timedelta(seconds=i)
            if client.reserve(IT, at=at).allowed:
                granted += 1
        return granted


def test_racing_processes_never_exceed_a_cap(backend_url: str) -> None:
    Compliance(backend_url, rules=_only(CAP_ONLY)).close()  # migrate once, up front
    with concurrent.futures.ProcessPoolExecutor(max_workers=8) as pool:
        granted = sum(pool.map(_reserve_many, [backend_url] * 8, [4] * 8))
    engine = optout._db.create_engine(backend_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(attempts)).scalar()
    finally:
        engine.dispose()
    assert granted == 3
    assert stored == 3


def test_outcome_map_translates_dialer_codes(backend_url: str) -> None:
    codes = optout.OutcomeMap({"NA": "no_answer", "DNC": "dnc_request", "B": "busy"})
    with Compliance(
        backend_url, rules=RuleBook(packs={}, unsupported="allow"), outcome_map=codes
    ) as client:
        attempt = client.record_outcome(IT, "dnc", at=TUESDAY_10)
        assert attempt.outcome is optout.Outcome.DNC_REQUEST
        assert attempt.suppression_id is not None
        with pytest.raises(optout.ConfigurationError, match="outcome"):
            client.record_outcome(IT, "XYZ", at=TUESDAY_10)
        # No later code, mapped or not, lifts the opt-out.
        client.record_outcome(IT, "NA", at=TUESDAY_10 + dt.timedelta(minutes=1))
        assert not client.can_call(IT, at=TUESDAY_10 + dt.timedelta(days=1)).allowed
    with pytest.raises(optout.ConfigurationError, match="twice"):
        optout.OutcomeMap({"na": "no_answer", "NA": "busy"})


def test_hints_are_validated_before_any_io(client: Compliance) -> None:
    with pytest.raises(optout.ConfigurationError, match="time zone"):
        client.can_call(IT, time_zone="Mars/Olympus")
    with pytest.raises(optout.ConfigurationError, match="postal code"):
        client.can_call("+1 202 555 0123", postal_code="ABC")


def test_unconfirmed_rules_can_be_switched_off_and_that_is_evidence(backend_url: str) -> None:
    book = RuleBook(include_unconfirmed=False)
    with Compliance(backend_url, rules=book) as client:
        decision = client.can_call(IT, at=TUESDAY_10)
        settings = [e for e in decision.evidence if e.kind == "rule_settings"]
        assert settings
        assert settings[0].detail["include_unconfirmed"] == "False"
    with pytest.raises(optout.ConfigurationError, match="unknown rules"):
        RuleBook(disabled=frozenset({"IT:no-such-rule"}))


def test_a_country_without_a_pack_is_denied_unless_explicitly_allowed(backend_url: str) -> None:
    dutch = "+31 20 123 4567"
    with Compliance(backend_url, registries=()) as client:
        decision = client.can_call(dutch, at=TUESDAY_10)
        assert decision.codes == ("jurisdiction.unsupported",)
        assert decision.next_allowed_at is None
        assert client.can_call("+800 1234 5678", at=TUESDAY_10).codes == (
            "jurisdiction.unsupported",
        )
    with Compliance(backend_url, registries=(), rules=RuleBook(unsupported="allow")) as client:
        decision = client.can_call(dutch, at=TUESDAY_10)
        assert decision.allowed
        (settings,) = [e for e in decision.evidence if e.kind == "rule_settings"]
        assert settings.detail["unsupported"] == "allow"
