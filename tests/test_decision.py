"""The Decision value: frozen, self-consistent, serializable."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from optout import Decision, Evidence, Reason

AT = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def _reason(until: dt.datetime | None = None, code: str = "suppression.number") -> Reason:
    return Reason(code=code, message="m", source="suppression:1", until=until)


def test_reason_codes_must_be_documented() -> None:
    with pytest.raises(ValueError, match="undocumented reason code"):
        Reason(code="made.up", message="m", source="s")


def test_decision_is_frozen() -> None:
    decision = Decision(
        allowed=True,
        number="+390612345678",
        reasons=(),
        next_allowed_at=None,
        evidence=(),
        checked_at=AT,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.allowed = False  # type: ignore[misc]


def test_allowed_exactly_when_no_reasons() -> None:
    with pytest.raises(ValueError, match="exactly when"):
        Decision(
            allowed=True,
            number=None,
            reasons=(_reason(),),
            next_allowed_at=None,
            evidence=(),
            checked_at=AT,
        )
    with pytest.raises(ValueError, match="exactly when"):
        Decision(
            allowed=False, number=None, reasons=(), next_allowed_at=None, evidence=(), checked_at=AT
        )


def test_allowed_decision_has_no_next_allowed_at() -> None:
    with pytest.raises(ValueError, match="next_allowed_at"):
        Decision(
            allowed=True, number=None, reasons=(), next_allowed_at=AT, evidence=(), checked_at=AT
        )


def test_to_dict_is_json_with_the_documented_keys() -> None:
    evidence = Evidence(
        kind="suppression", id="1", source="agent", date=AT, detail={"reason": "customer_request"}
    )
    decision = Decision(
        allowed=False,
        number="+390612345678",
        reasons=(_reason(until=AT + dt.timedelta(days=1)),),
        next_allowed_at=AT + dt.timedelta(days=1),
        evidence=(evidence,),
        checked_at=AT,
    )
    data = json.loads(decision.to_json())
    assert {"allowed", "number", "reasons", "next_allowed_at", "evidence", "checked_at"} <= set(
        data
    )
    assert data["reasons"][0]["code"] == "suppression.number"
    assert data["reasons"][0]["until"] == "2026-11-25T10:00:00+00:00"
    assert data["evidence"][0]["detail"] == {"reason": "customer_request"}
    assert decision.codes == ("suppression.number",)
    assert decision.primary_code == "suppression.number"


def test_evidence_is_hashable() -> None:
    assert hash(Evidence(kind="k", id="1", source="s", detail={"a": "b"}))
