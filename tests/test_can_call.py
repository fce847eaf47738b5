"""can_call() end to end, on every storage backend."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optout
from optout import Compliance

ROME = zoneinfo.ZoneInfo("Europe/Rome")
AT = dt.datetime(2026, 11, 24, 10, tzinfo=ROME)
IT = "+39 06 1234 5678"
IT_E164 = "+390612345678"


def test_valid_number_without_suppression_is_allowed(client: Compliance) -> None:
    decision = client.can_call(IT, at=AT)
    assert decision.allowed
    assert decision.number == IT_E164
    assert decision.reasons == ()
    assert decision.next_allowed_at is None
    assert decision.checked_at == AT
    assert decision.phone is not None
    assert decision.phone.region == "IT"
    kinds = [e.kind for e in decision.evidence]
    assert kinds == ["numbering_plan", "suppression_list", "location", "rule_settings"]


def test_suppressed_number_is_denied_with_evidence(client: Compliance) -> None:
    entry = client.suppressions.add(
        IT, reason="customer_request", source="agent", actor="ann", at=AT - dt.timedelta(days=3)
    )
    decision = client.can_call("06 1234 5678", country="IT", at=AT)
    assert not decision.allowed
    assert decision.codes == ("suppression.number",)
    assert decision.reasons[0].source == f"suppression:{entry.id}"
    assert decision.next_allowed_at is None
    proof = [e for e in decision.evidence if e.kind == "suppression"]
    assert len(proof) == 1
    assert proof[0].id == str(entry.id)
    assert proof[0].source == "agent"
    assert proof[0].date == AT - dt.timedelta(days=3)
    assert proof[0].detail["actor"] == "ann"


def test_removed_suppression_no_longer_denies(client: Compliance) -> None:
    client.suppressions.add(IT, reason="customer_request")
    assert client.suppressions.remove(IT, actor="ops", reason="entered in error") == 1
    assert client.can_call(IT, at=AT).allowed


def test_prefix_block_denies_every_number_in_it(client: Compliance) -> None:
    client.suppressions.add_prefix("+39 06 1234", reason="test range")
    denied = client.can_call(IT, at=AT)
    assert denied.codes == ("suppression.prefix",)
    assert client.can_call("+39 06 1299 5678", at=AT).allowed


def test_a_prefix_equal_to_the_whole_number_blocks_it(client: Compliance) -> None:
    client.suppressions.add_prefix(IT_E164, reason="exact prefix")
    assert client.can_call(IT, at=AT).codes == ("suppression.prefix",)


def test_number_and_prefix_both_reported(client: Compliance) -> None:
    client.suppressions.add(IT, reason="asked")
    client.suppressions.add_prefix("+3906", reason="rome block")
    decision = client.can_call(IT, at=AT)
    assert sorted(decision.codes) == ["suppression.number", "suppression.prefix"]


@pytest.mark.parametrize(
    ("scope", "value", "kwargs", "denied"),
    [
        ("brand", "acme", {"brand": "acme"}, True),
        ("brand", "acme", {"brand": "other"}, False),
        # A call that names no brand might be for that brand: fail closed.
        ("brand", "acme", {}, True),
        ("campaign", "winter", {}, True),
        ("campaign", "winter", {"campaign": "winter"}, True),
        ("campaign", "winter", {"campaign": "summer"}, False),
        ("channel", "sms", {"channel": "sms"}, True),
        ("channel", "sms", {"channel": "voice"}, False),
        ("global", None, {"brand": "acme", "campaign": "winter"}, True),
    ],
)
def test_scopes(
    client: Compliance, scope: str, value: str | None, kwargs: dict[str, str], denied: bool
) -> None:
    client.suppressions.add(IT, reason="r", scope=scope, scope_value=value)
    assert client.can_call(IT, at=AT, **kwargs).allowed is not denied


def test_expiring_entry_lapses_at_its_expiry(client: Compliance) -> None:
    expiry = AT + dt.timedelta(hours=2)
    client.suppressions.add(IT, reason="callback later", expires_at=expiry, at=AT)
    before = client.can_call(IT, at=expiry - dt.timedelta(microseconds=1))
    assert not before.allowed
    assert before.reasons[0].until == expiry
    assert before.next_allowed_at == expiry
    assert client.can_call(IT, at=expiry).allowed


def test_permanent_reason_wins_over_an_expiring_one(client: Compliance) -> None:
    client.suppressions.add(
        IT,
        reason="temp",
        expires_at=AT + dt.timedelta(hours=1),
        at=AT,
        scope="brand",
        scope_value="acme",
    )
    client.suppressions.add(IT, reason="forever")
    assert client.can_call(IT, at=AT, brand="acme").next_allowed_at is None


def test_invalid_input_is_a_denial_not_an_exception(client: Compliance) -> None:
    for raw in ["not a number", "", "   ", "+39 06", "x" * 10_000, None, 12345, b"+39", 3.5]:
        decision = client.can_call(raw, at=AT)
        assert not decision.allowed
        assert decision.codes == ("number.invalid",)
        assert decision.number is None
        assert decision.next_allowed_at is None


def test_extension_is_denied_with_its_own_reason(client: Compliance) -> None:
    decision = client.can_call("+1 202 555 0123 ext. 12", at=AT)
    assert decision.codes == ("number.extension",)
    assert decision.number == "+12025550123"


def test_naive_datetime_is_rejected(client: Compliance) -> None:
    with pytest.raises(optout.NaiveDatetimeError, match="no time zone"):
        client.can_call(IT, at=dt.datetime(2026, 11, 24, 10))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"purpose": "spam"}, "purpose"),
        ({"channel": "pigeon"}, "channel"),
        ({"technology": "telepathy"}, "technology"),
        ({"country": "XX"}, "region"),
        ({"at": "2026-11-24T10:00:00+01:00"}, "timezone-aware datetime"),
        ({"campaign": ""}, "campaign"),
        ({"brand": 7}, "brand"),
    ],
)
def test_misuse_raises_configuration_error(
    client: Compliance, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(optout.ConfigurationError, match=match):
        client.can_call(IT, **kwargs)  # type: ignore[arg-type]


def test_default_at_is_now(client: Compliance) -> None:
    before = dt.datetime.now(dt.UTC)
    decision = client.can_call(IT)
    assert before <= decision.checked_at <= dt.datetime.now(dt.UTC)


def test_module_level_can_call_uses_the_default_database() -> None:
    # The default client has every pack and the default registries, with no data: the
    # Italian registry was never consulted, so it fails closed.
    decision = optout.can_call(IT, at=AT)
    assert decision.codes == ("registry.not_consulted",)
    optout.default_client().suppressions.add(IT, reason="r")
    assert optout.can_call(IT, at=AT).codes == ("suppression.number", "registry.not_consulted")
    assert optout.record_outcome(IT, "busy", at=AT).outcome is optout.Outcome.BUSY


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.text(max_size=40), st.integers(), st.none(), st.binary(max_size=10)))
def test_any_input_gives_a_decision(client: Compliance, raw: object) -> None:
    decision = client.can_call(raw, at=AT)
    assert decision.allowed == (decision.reasons == ())
    if decision.number is None:
        assert decision.codes == ("number.invalid",)


_NUMBERS = ["+390612345678", "+390612345679", "+12025550123", "+442079460123", "+61491570006"]
_entries = st.tuples(
    st.sampled_from(["number", "prefix"]),
    st.sampled_from(_NUMBERS),
    st.integers(min_value=2, max_value=13),
    st.sampled_from(
        [("global", None), ("brand", "acme"), ("campaign", "winter"), ("channel", "voice")]
    ),
    st.one_of(st.none(), st.integers(min_value=-48, max_value=48)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    existing=st.lists(_entries, max_size=4),
    extra=_entries,
    probe=st.sampled_from(_NUMBERS),
    brand=st.sampled_from([None, "acme"]),
    campaign=st.sampled_from([None, "winter"]),
)
def test_adding_a_suppression_never_turns_a_denial_into_an_allowance(
    lawful_client: Compliance,
    existing: list[tuple[str, str, int, tuple[str, str | None], int | None]],
    extra: tuple[str, str, int, tuple[str, str | None], int | None],
    probe: str,
    brand: str | None,
    campaign: str | None,
) -> None:
    # Each example starts from an empty list: lift what the previous example left.
    for entry in lawful_client.suppressions.list():
        lawful_client.suppressions.remove_entry(entry.id, actor="test", reason="reset")
    start = AT - dt.timedelta(days=3)

    def add(spec: tuple[str, str, int, tuple[str, str | None], int | None]) -> None:
        kind, number, cut, (scope, value), hours = spec
        expires = None if hours is None else AT + dt.timedelta(hours=hours)
        if expires is not None and expires <= start:
            expires = start + dt.timedelta(hours=1)
        if kind == "number":
            lawful_client.suppressions.add(
                number, reason="p", scope=scope, scope_value=value, expires_at=expires, at=start
            )
        else:
            lawful_client.suppressions.add_prefix(
                number[:cut],
                reason="p",
                scope=scope,
                scope_value=value,
                expires_at=expires,
                at=start,
            )

    for spec in existing:
        add(spec)
    before = lawful_client.can_call(probe, at=AT, brand=brand, campaign=campaign)
    add(extra)
    after = lawful_client.can_call(probe, at=AT, brand=brand, campaign=campaign)
    if not before.allowed:
        assert not after.allowed
        assert set(before.codes) <= set(after.codes)
        if after.next_allowed_at is not None:
            assert before.next_allowed_at is not None
            assert after.next_allowed_at >= before.next_allowed_at
