"""The abandoned-call rate through the client: the count, its cache, and reserve()."""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import optout
from optout import Compliance, Policy, RuleBook
from optout._facts import AbandonmentCache
from optout._schema import METADATA, attempts

RATE = Policy.from_dict(
    {
        "policy": {"name": "drops"},
        "rules": [
            {
                "id": "drops.rate",
                "kind": "abandonment",
                "title": "At most 3 percent of live answers abandoned over 30 days",
                "purposes": ["marketing"],
                "technologies": ["autodialed"],
                "max_rate": 0.03,
                "period": "30d",
            }
        ],
    }
)
CAPPED = Policy.from_dict(
    {"policy": {"name": "once"}, "retry": {"max_attempts": {"count": 1, "period": "24h"}}}
)
NUMBER = "+39 06 1234 5678"
E164 = "+390612345678"
AT = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)
DENIED = ("abandonment.rate_exceeded",)


def _client(url: str, ttl: float, *policies: Policy) -> Compliance:
    book = RuleBook(packs={}, policies=policies or (RATE,), unsupported="allow")
    return Compliance(url, migrate=True, rules=book, registries=(), abandonment_cache_seconds=ttl)


def _elsewhere(url: str, outcome: str, at: dt.datetime, count: int, campaign: str = "c1") -> None:
    """Attempts stored by another host (this client's cache knows nothing of them)."""
    engine = sa.create_engine(url)
    row = {
        "number": E164,
        "at": at,
        "outcome": outcome,
        "campaign": campaign,
        "purpose": "marketing",
        "channel": "voice",
        "technology": "autodialed",
        "recorded_at": at,
    }
    try:
        with engine.begin() as conn:
            conn.execute(attempts.insert(), [row] * count)
    finally:
        engine.dispose()


def _record(client: Compliance, outcome: str, at: dt.datetime, count: int) -> None:
    for _ in range(count):
        client.record_outcome(NUMBER, outcome, at=at, campaign="c1")


def _codes(client: Compliance, at: dt.datetime, **kwargs: Any) -> tuple[str, ...]:
    return client.can_call(NUMBER, at=at, **{"campaign": "c1", **kwargs}).codes


def test_a_campaign_over_the_rate_stops_its_automated_calls(backend_url: str) -> None:
    with _client(backend_url, 0) as client:
        _record(client, "abandoned", AT - HOUR, 1)
        _record(client, "conversation", AT - HOUR, 9)
        _record(client, "answering_machine", AT - HOUR, 50)  # not a live answer
        assert _codes(client, AT) == DENIED  # 1 of 10 live answers abandoned
        assert _codes(client, AT, technology="manual") == ()
        assert _codes(client, AT, campaign="c2") == ()  # its own rate: nothing stored
        assert _codes(client, AT, campaign=None) == DENIED  # no campaign: every campaign


def test_an_abandoned_call_this_client_records_counts_at_once(backend_url: str) -> None:
    with _client(backend_url, 3600) as client:
        _record(client, "abandoned", AT - HOUR, 1)
        _record(client, "conversation", AT - HOUR, 39)
        assert _codes(client, AT) == ()  # 1/40 = 2.5%, and now cached for an hour
        _record(client, "abandoned", AT - HOUR, 1)
        assert _codes(client, AT) == DENIED  # 2/41: the cache was dropped


def test_counts_are_reused_only_within_the_ttl(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("optout._facts._clock", lambda: clock[0])
    with _client(backend_url, 60) as client:
        _record(client, "conversation", AT - HOUR, 40)
        assert _codes(client, AT) == ()
        _elsewhere(backend_url, "abandoned", AT - HOUR, 5)  # another host: 5/45
        # A count read less than 60 s ago, for a period shifted by at most 60 s, is used:
        # the documented staleness.
        assert _codes(client, AT + 30 * SECOND) == ()
        assert _codes(client, AT - 30 * SECOND) == ()
        # A period shifted by more than the TTL is counted afresh, either way in time.
        assert _codes(client, AT + 61 * SECOND) == DENIED
        assert _codes(client, AT - 61 * SECOND) == DENIED
        assert _codes(client, AT) == ()  # still the first count: read 0 s ago (clock)
        clock[0] += 60
        assert _codes(client, AT) == DENIED  # 60 s later it is read again


def test_the_rate_counts_attempts_up_to_the_instant_decided_only(backend_url: str) -> None:
    with _client(backend_url, 0) as client:
        _record(client, "conversation", AT - HOUR, 20)
        # Another host whose clock runs ahead stamps abandoned calls after ``at``: they are
        # not in the period that ends at ``at``, but they are once that instant is reached.
        _elsewhere(backend_url, "abandoned", AT + 10 * SECOND, 5)
        assert _codes(client, AT) == ()
        assert _codes(client, AT + 10 * SECOND) == DENIED
        # Nor do live answers stamped after ``at`` dilute a rate that is over the limit.
        _elsewhere(backend_url, "abandoned", AT - HOUR, 3)
        _elsewhere(backend_url, "conversation", AT + 10 * SECOND, 500)
        assert _codes(client, AT) == DENIED  # 3/23, not 3/523
        # The period is (at - 30 days, at]: an attempt exactly 30 days old has left it.
        _elsewhere(backend_url, "abandoned", AT - dt.timedelta(days=30), 100, campaign="c3")
        _elsewhere(backend_url, "conversation", AT - HOUR, 10, campaign="c3")
        assert _codes(client, AT, campaign="c3") == ()
        assert _codes(client, AT - SECOND, campaign="c3") == DENIED


def test_caps_count_attempts_stamped_after_the_instant_decided(backend_url: str) -> None:
    # The contrast with the rate above, on purpose (docs/rules.md): a cap counts attempts
    # stamped after ``at``, because one more attempt can only bring a cap closer.
    with _client(backend_url, 0, CAPPED) as client:
        client.record_outcome(NUMBER, "no_answer", at=AT + 10 * SECOND)
        decision = client.can_call(NUMBER, at=AT)
        assert decision.codes == ("cap.reached",)
        assert decision.next_allowed_at == AT + 10 * SECOND + dt.timedelta(hours=24)


def test_reserve_denies_a_campaign_over_the_rate(backend_url: str) -> None:
    with _client(backend_url, 5) as client:
        _record(client, "conversation", AT - HOUR, 40)
        allowed = client.reserve(NUMBER, at=AT, campaign="c1")
        assert allowed.allowed
        assert allowed.attempt_id is not None
        _record(client, "abandoned", AT - HOUR, 2)
        denied = client.reserve(NUMBER, at=AT + SECOND, campaign="c1")
        assert denied.decision.codes == DENIED
        assert denied.attempt_id is None


def test_reserve_counts_before_taking_the_sqlite_write_lock(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "optout.sqlite3"
    probes: list[bool] = []

    def probe(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM attempts" in statement and "sum(CASE" in statement:
            # While the count runs, may another writer take the database write lock?
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                probes.append(True)
            except sqlite3.OperationalError:
                probes.append(False)
            finally:
                other.close()

    with _client(f"sqlite:///{path}", 0) as client:
        _record(client, "conversation", AT - HOUR, 40)
        sa.event.listen(client.engine, "before_cursor_execute", probe)
        try:
            reservation = client.reserve(NUMBER, at=AT, campaign="c1")
        finally:
            sa.event.remove(client.engine, "before_cursor_execute", probe)
    assert reservation.allowed
    assert probes == [True]  # counted once, with the write lock free


@pytest.mark.parametrize("ttl", [-1, float("inf"), float("nan"), "5"])
def test_the_cache_ttl_must_be_a_finite_number_of_seconds(tmp_path: pathlib.Path, ttl: Any) -> None:
    with pytest.raises(optout.ConfigurationError, match="abandonment_cache_seconds"):
        Compliance(f"sqlite:///{tmp_path / 'x.sqlite3'}", abandonment_cache_seconds=ttl)


@pytest.fixture
def memory_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def test_a_long_running_cache_does_not_grow_without_bound(
    memory_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    monkeypatch.setattr("optout._facts._clock", lambda: clock[0])
    cache = AbandonmentCache(5)
    month = dt.timedelta(days=30)
    with memory_engine.connect() as conn:
        for i in range(3000):  # a dialer deciding at ``now`` for a day, campaigns coming and going
            clock[0] += 30
            at = AT + dt.timedelta(seconds=clock[0])
            cache.counts(conn, f"c{i}", month, at)
            cache.counts(conn, "steady", month, at)
        for i in range(200):  # many instants within one TTL (a batch of scheduled calls)
            cache.counts(conn, "burst", month, AT + dt.timedelta(days=1, seconds=10 * i))
    held = sum(len(entries) for entries in cache._cache.values())
    assert held <= AbandonmentCache.SWEEP_ABOVE + AbandonmentCache.MAX_PER_KEY
