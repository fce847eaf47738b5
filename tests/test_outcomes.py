"""record_outcome(): attempt history, and opt-outs that nothing can undo."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

import optout
from optout import Compliance, Outcome
from optout._schema import attempts

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
IT = "+39 06 1234 5678"


def _rows(client: Compliance) -> list[dict[str, object]]:
    with client.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(attempts).order_by(attempts.c.id))]


def test_outcome_is_stored_with_its_context(client: Compliance) -> None:
    attempt = client.record_outcome(
        IT,
        "no_answer",
        at=AT,
        campaign="winter",
        brand="acme",
        purpose="sales",
        channel="voice",
        technology="manual",
        person="p-1",
        raw_code="NA",
        actor="agent-9",
    )
    assert attempt.outcome is Outcome.NO_ANSWER
    assert attempt.suppression_id is None
    (row,) = _rows(client)
    assert row["number"] == "+390612345678"
    assert row["at"] == AT
    assert row["outcome"] == "no_answer"
    assert (row["campaign"], row["brand"], row["purpose"]) == ("winter", "acme", "sales")
    assert (row["technology"], row["person"], row["raw_code"]) == ("manual", "p-1", "NA")


def test_every_outcome_of_the_vocabulary_is_accepted(client: Compliance) -> None:
    for outcome in Outcome:
        client.record_outcome(IT, outcome.value, at=AT, brand="acme")
    assert [r["outcome"] for r in _rows(client)] == [o.value for o in Outcome]


def test_dnc_request_suppresses_at_once(client: Compliance) -> None:
    attempt = client.record_outcome(IT, Outcome.DNC_REQUEST, at=AT, actor="agent-9")
    assert attempt.suppression_id is not None
    entry = client.suppressions.get(attempt.suppression_id)
    assert entry is not None
    assert (entry.source, entry.reason, entry.actor) == ("outcome", "dnc_request", "agent-9")
    decision = client.can_call(IT, at=AT + dt.timedelta(seconds=1))
    assert decision.codes == ("suppression.number",)


def test_dnc_request_for_a_brand_is_brand_scoped(client: Compliance) -> None:
    client.record_outcome(IT, "dnc_request", at=AT, brand="acme")
    assert not client.can_call(IT, at=AT, brand="acme").allowed
    assert client.can_call(IT, at=AT, brand="other").allowed


def test_later_outcomes_never_undo_an_opt_out(client: Compliance) -> None:
    client.record_outcome(IT, "dnc_request", at=AT)
    for i, outcome in enumerate(o for o in Outcome if o is not Outcome.DNC_REQUEST):
        client.record_outcome(IT, outcome, at=AT + dt.timedelta(minutes=i + 1))
    assert not client.can_call(IT, at=AT + dt.timedelta(days=1)).allowed
    assert len(client.suppressions.list()) == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("not a number", "busy"), {}, optout.InvalidNumberError),
        ((IT, "hung_up_angrily"), {}, optout.ConfigurationError),
        ((IT, "busy"), {"at": dt.datetime(2026, 1, 1)}, optout.NaiveDatetimeError),
        ((IT, "busy"), {"purpose": "spam"}, optout.ConfigurationError),
        ((IT, "busy"), {"raw_code": "x" * 201}, optout.ConfigurationError),
    ],
)
def test_bad_outcomes_raise_and_store_nothing(
    client: Compliance, args: tuple[str, str], kwargs: dict[str, object], error: type
) -> None:
    with pytest.raises(error):
        client.record_outcome(*args, **kwargs)  # type: ignore[arg-type]
    assert _rows(client) == []
