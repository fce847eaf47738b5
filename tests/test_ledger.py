"""The decision ledger: hash chain, tamper detection, concurrency, modes, export, purge."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import multiprocessing
import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

import optout
from optout import _db
from optout._ledger import (
    DEFAULT_RETENTION,
    GENESIS_HASH,
    Ledger,
    canonical_json,
    record_change,
    render_html,
)
from optout._ledger_schema import change_log, ledger

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
NUMBER = "+390612345678"
OTHER = "+390612345679"
NO_RULES = optout.RuleBook(packs={}, unsupported="allow")


def _allowed(number: str = NUMBER, at: dt.datetime = T0) -> optout.Decision:
    return optout.Decision(
        allowed=True,
        number=number,
        reasons=(),
        next_allowed_at=None,
        evidence=(optout.Evidence(kind="numbering_plan", id="libphonenumber", source="test"),),
        checked_at=at,
    )


def _denied(number: str | None = NUMBER, at: dt.datetime = T0) -> optout.Decision:
    return optout.Decision(
        allowed=False,
        number=number,
        reasons=(
            optout.Reason(code="suppression.number", message="suppressed", source="suppression:1"),
            optout.Reason(code="number.extension", message="extension", source="test"),
        ),
        next_allowed_at=None,
        evidence=(),
        checked_at=at,
    )


class Clock:
    """A settable clock for ``recorded_at``, advancing one millisecond per reading."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def engine(backend_url: str) -> Iterator[sa.Engine]:
    eng = _db.create_engine(backend_url)
    _db.upgrade(eng)
    yield eng
    eng.dispose()


def _fill(book: Ledger, engine: sa.Engine, count: int = 5) -> list[int]:
    ids = []
    for i in range(count):
        decision = _denied() if i % 2 else _allowed(at=T0 + dt.timedelta(minutes=i))
        entry = book.append(engine, decision, {"number": NUMBER, "campaign": f"c{i}", "at": T0})
        assert entry is not None
        ids.append(entry)
    return ids


def _exec(engine: sa.Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


# -- the chain ------------------------------------------------------------------------------


def test_appended_entries_form_a_verifiable_chain(engine: sa.Engine) -> None:
    book = Ledger(engine)
    assert book.verify().ok
    assert book.verify().checked == 0
    ids = _fill(book, engine)
    assert ids == [1, 2, 3, 4, 5]
    report = book.verify()
    assert report.ok, report
    assert report.checked == 5
    assert report.first_broken_id is None
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ledger).order_by(ledger.c.id)).all()
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert (report.head_id, report.head_hash) == (5, rows[-1].hash)
    assert book.head() == (5, rows[-1].hash)
    # The documented hash: sha256(prev "\n" payload "\n" id "\n" recorded_at).
    first = rows[0]
    material = (
        f"{first.prev_hash}\n{first.payload}\n1\n"
        f"{first.recorded_at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S.%fZ}"
    )
    assert hashlib.sha256(material.encode()).hexdigest() == first.hash
    # Canonical JSON: sorted keys, no spaces; the columns mirror the payload.
    payload = json.loads(first.payload)
    assert canonical_json(payload) == first.payload
    assert payload["kind"] == "decision"
    assert payload["inputs"] == {"number": NUMBER, "campaign": "c0", "at": T0.isoformat()}
    assert payload["decision"] == _allowed(at=T0).to_dict()
    assert rows[1].codes == "suppression.number,number.extension"
    assert rows[1].allowed is False
    assert rows[0].allowed is True
    assert rows[0].decided_at == T0


def test_decisions_from_the_client_are_recorded(backend_url: str) -> None:
    with optout.Compliance(backend_url, migrate=True, registries=(), rules=NO_RULES) as client:
        book = Ledger(client.engine)
        allowed = client.can_call("+39 06 1234 5678", at=T0)
        invalid = client.can_call("12", at=T0)
        client.suppressions.add(NUMBER, reason="customer_request", source="agent")
        denied = client.can_call(NUMBER, at=T0)
        for decision in (allowed, invalid, denied):
            book.append(client.engine, decision, {"number": "+39 06 1234 5678", "at": T0})
        report = book.verify()
        with client.engine.connect() as conn:
            rows = conn.execute(sa.select(ledger).order_by(ledger.c.id)).all()
    assert report.ok, report
    assert report.checked == 3
    assert [r.number for r in rows] == [NUMBER, None, NUMBER]
    assert [r.allowed for r in rows] == [True, False, False]
    assert rows[1].codes == "number.invalid"
    assert rows[2].codes == "suppression.number"


def test_append_joins_the_callers_write_transaction(engine: sa.Engine) -> None:
    book = Ledger(engine)

    def append_then_fail() -> None:
        with _db.writing(engine) as conn:
            assert book.append(conn, _allowed(), {}) == 1
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        append_then_fail()
    assert book.verify().checked == 0
    with _db.writing(engine) as conn:
        assert book.append(conn, _allowed(), {}) == 1  # the rolled-back id is reused: no gap
    assert book.verify().ok


def test_append_refuses_a_connection_outside_a_write_transaction(engine: sa.Engine) -> None:
    book = Ledger(engine)
    with engine.connect() as conn, pytest.raises(optout.ConfigurationError):
        book.append(conn, _allowed(), {})


def test_inputs_that_are_not_json_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(optout.ConfigurationError, match="inputs"):
        Ledger(engine).append(engine, _allowed(), {"thing": object()})


# -- tampering ------------------------------------------------------------------------------


def _edit_payload(row: sa.Row[object]) -> object:
    data = json.loads(str(row._mapping["payload"]))
    data["inputs"]["campaign"] = "forged"
    return canonical_json(data)


EDITS: dict[str, Callable[[sa.Row[object]], object]] = {
    "payload": _edit_payload,
    "hash": lambda row: "f" * 64,
    "prev_hash": lambda row: GENESIS_HASH,
    "allowed": lambda row: not row._mapping["allowed"],
    "codes": lambda row: "" if row._mapping["codes"] else "suppression.number",
    "number": lambda row: OTHER,
    "decided_at": lambda row: T0 + dt.timedelta(hours=1),
    "recorded_at": lambda row: row._mapping["recorded_at"] - dt.timedelta(seconds=1),
    "kind": lambda row: "checkpoint",
}


@pytest.mark.parametrize("column", sorted(EDITS))
@pytest.mark.parametrize("target", [2, 3, 5])
def test_editing_any_column_of_any_row_is_detected(
    engine: sa.Engine, column: str, target: int
) -> None:
    book = Ledger(engine)
    _fill(book, engine)
    assert book.verify().ok
    with engine.begin() as conn:
        row = conn.execute(sa.select(ledger).where(ledger.c.id == target)).one()
        conn.execute(
            sa.update(ledger).where(ledger.c.id == target).values({column: EDITS[column](row)})
        )
    report = book.verify()
    assert not report.ok
    assert report.first_broken_id == target, report
    assert report.checked == target - 1
    assert report.problem


def test_a_deleted_row_is_detected(engine: sa.Engine) -> None:
    book = Ledger(engine)
    _fill(book, engine)
    _exec(engine, "DELETE FROM ledger WHERE id = :i", i=3)
    report = book.verify()
    assert not report.ok
    assert report.first_broken_id == 4
    assert "missing" in (report.problem or "")


def test_deleting_the_oldest_rows_without_a_checkpoint_is_detected(engine: sa.Engine) -> None:
    book = Ledger(engine)
    _fill(book, engine)
    _exec(engine, "DELETE FROM ledger WHERE id <= :i", i=2)
    report = book.verify()
    assert not report.ok
    assert report.first_broken_id == 3
    assert "checkpoint" in (report.problem or "")


def test_a_deleted_row_with_the_chain_relinked_is_detected(engine: sa.Engine) -> None:
    """Delete row 3 and renumber/relink row 4 to close the gap: its hash no longer fits."""
    book = Ledger(engine)
    _fill(book, engine)
    with engine.begin() as conn:
        second = conn.execute(sa.select(ledger.c.hash).where(ledger.c.id == 2)).scalar_one()
        conn.execute(sa.delete(ledger).where(ledger.c.id == 3))
        conn.execute(sa.update(ledger).where(ledger.c.id == 4).values(prev_hash=second))
    report = book.verify()
    assert not report.ok
    assert report.first_broken_id == 4


def test_a_truncated_tail_is_detected_against_an_anchor(engine: sa.Engine) -> None:
    book = Ledger(engine)
    _fill(book, engine)
    anchor = book.head()
    assert anchor is not None
    assert book.verify(anchor=anchor).ok
    _exec(engine, "DELETE FROM ledger WHERE id = :i", i=5)
    assert book.verify().ok  # the chain alone cannot tell
    report = book.verify(anchor=anchor)
    assert not report.ok
    assert report.first_broken_id == 5


def _forge(engine: sa.Engine, row_id: int, prev_hash: str, hash_: str) -> None:
    payload = canonical_json(
        {"kind": "decision", "decision": _allowed(OTHER).to_dict(), "inputs": {}}
    )
    with engine.begin() as conn:
        conn.execute(
            ledger.insert().values(
                id=row_id,
                kind="decision",
                recorded_at=T0,
                decided_at=T0,
                number=OTHER,
                allowed=True,
                codes="",
                payload=payload,
                prev_hash=prev_hash,
                hash=hash_,
            )
        )


def test_an_inserted_forged_row_is_detected(engine: sa.Engine) -> None:
    book = Ledger(engine)
    _fill(book, engine)
    head = book.head()
    assert head is not None
    _forge(engine, 6, head[1], hashlib.sha256(b"forged").hexdigest())
    report = book.verify()
    assert not report.ok
    assert report.first_broken_id == 6


def test_a_forged_row_far_past_the_head_is_detected(engine: sa.Engine) -> None:
    book = Ledger(engine)
    _fill(book, engine)
    _forge(engine, 100, "a" * 64, "b" * 64)
    report = book.verify()
    assert report.first_broken_id == 100
    assert "missing" in (report.problem or "")


def test_with_a_key_a_recomputed_forgery_does_not_verify(engine: sa.Engine) -> None:
    key = b"k" * 32
    book = Ledger(engine, key=key)
    _fill(book, engine)
    assert book.verify().ok
    assert not Ledger(engine).verify().ok  # plain sha256 cannot verify a keyed chain
    head = book.head()
    assert head is not None
    # The forger knows the algorithm but not the key: a plain-sha256 row breaks the chain.
    plain = Ledger(engine)
    payload = canonical_json(
        {"kind": "decision", "decision": _allowed(OTHER).to_dict(), "inputs": {}}
    )
    forged_hash = plain._hash(head[1], payload, 6, T0)
    _forge(engine, 6, head[1], forged_hash)
    report = book.verify()
    assert report.first_broken_id == 6


# -- concurrency ----------------------------------------------------------------------------


PER_WORKER = 25


def _append_many(url: str, worker: int) -> None:
    eng = _db.create_engine(url)
    try:
        book = Ledger(eng)
        for i in range(PER_WORKER):
            decision = _denied() if i % 3 == 0 else _allowed()
            book.append(eng, decision, {"worker": worker, "i": i})
    finally:
        eng.dispose()


def _assert_complete(engine: sa.Engine, workers: int) -> None:
    report = Ledger(engine).verify()
    assert report.ok, report
    assert report.checked == workers * PER_WORKER
    with engine.connect() as conn:
        payloads = [json.loads(p) for p in conn.execute(sa.select(ledger.c.payload)).scalars()]
        ids = list(conn.execute(sa.select(ledger.c.id).order_by(ledger.c.id)).scalars())
    seen = sorted((p["inputs"]["worker"], p["inputs"]["i"]) for p in payloads)
    assert seen == [(w, i) for w in range(workers) for i in range(PER_WORKER)]
    assert ids == list(range(1, workers * PER_WORKER + 1))


def test_concurrent_appends_from_threads_keep_one_chain(
    engine: sa.Engine, backend_url: str
) -> None:
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            _append_many(backend_url, worker)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _assert_complete(engine, 4)


def test_concurrent_appends_from_processes_keep_one_chain(
    engine: sa.Engine, backend_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_many, args=(backend_url, w)) for w in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    _assert_complete(engine, 4)


# -- modes ----------------------------------------------------------------------------------


def _decisions() -> list[optout.Decision]:
    allowed = [_allowed(at=T0 + dt.timedelta(seconds=i)) for i in range(200)]
    return [*allowed, _denied(), _denied(None)]


def _recorded(book: Ledger, engine: sa.Engine) -> list[int | None]:
    return [book.append(engine, d, {}) for d in _decisions()]


def test_mode_all_records_everything(engine: sa.Engine) -> None:
    book = Ledger(engine, mode="all")
    assert all(r is not None for r in _recorded(book, engine))
    assert book.verify().checked == 202


def test_mode_denials_records_only_denials(engine: sa.Engine) -> None:
    book = Ledger(engine, mode="denials")
    assert _recorded(book, engine)[-3:] == [None, 1, 2]
    assert book.verify().checked == 2


def test_mode_off_records_nothing(engine: sa.Engine) -> None:
    book = Ledger(engine, mode="off")
    assert set(_recorded(book, engine)) == {None}
    assert book.verify().checked == 0


@pytest.mark.parametrize(("rate", "low", "high"), [(0.0, 0, 0), (1.0, 200, 200), (0.5, 60, 140)])
def test_mode_sample_keeps_denials_and_a_share_of_the_rest(
    engine: sa.Engine, rate: float, low: int, high: int
) -> None:
    book = Ledger(engine, mode="sample", sample_rate=rate)
    results = _recorded(book, engine)
    kept_allowed = sum(r is not None for r in results[:200])
    assert low <= kept_allowed <= high
    assert results[200] is not None
    assert results[201] is not None
    # The choice depends on the decision only: the same decisions are chosen again.
    assert [book.wants(d) for d in _decisions()] == [r is not None for r in results]
    assert book.verify().ok


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "some"}, {"sample_rate": 1.5}, {"retention": dt.timedelta(0)}, {"key": b"short"}],
)
def test_bad_settings_are_refused(engine: sa.Engine, kwargs: dict[str, object]) -> None:
    with pytest.raises(optout.ConfigurationError):
        Ledger(engine, **kwargs)  # type: ignore[arg-type]


# -- change history, export, HTML -----------------------------------------------------------


def test_record_change_stores_the_history(engine: sa.Engine) -> None:
    with _db.writing(engine) as conn:
        first = record_change(conn, "suppressions", 7, "insert", "alice", "asked", {"value": "x"})
        second = Ledger(engine).record_change(
            conn, "suppressions", 7, "remove", "bob", "mistake", {"removed_at": T0}
        )
    assert second == first + 1
    with engine.connect() as conn:
        rows = conn.execute(sa.select(change_log).order_by(change_log.c.id)).all()
    assert [(r.table_name, r.row_id, r.action, r.actor) for r in rows] == [
        ("suppressions", 7, "insert", "alice"),
        ("suppressions", 7, "remove", "bob"),
    ]
    assert json.loads(rows[1].payload) == {"removed_at": T0.isoformat()}


@pytest.mark.parametrize(("table", "action"), [("attempts", "insert"), ("consents", "update")])
def test_record_change_refuses_unknown_tables_and_actions(
    engine: sa.Engine, table: str, action: str
) -> None:
    with pytest.raises(optout.ConfigurationError), _db.writing(engine) as conn:
        record_change(conn, table, 1, action, None, None, {})


def test_export_bundle_has_the_numbers_evidence(backend_url: str) -> None:
    with optout.Compliance(backend_url, migrate=True, registries=(), rules=NO_RULES) as client:
        book = Ledger(client.engine)
        entry = client.suppressions.add(NUMBER, reason="customer_request", source="agent")
        prefix = client.suppressions.add_prefix("+3906123", reason="range", source="cli")
        other = client.suppressions.add(OTHER, reason="customer_request", source="agent")
        consent = client.consents.add(
            NUMBER, kind="express", source="web_form", given_at=T0 - dt.timedelta(days=30)
        )
        # Adds record their own change history (the other number's entry too, not exported).
        assert other.id not in (entry.id, prefix.id)
        for minutes in (0, 30, 90):
            book.append(client.engine, _denied(at=T0 + dt.timedelta(minutes=minutes)), {"m": 1})
        book.append(client.engine, _denied(OTHER, at=T0), {})
        bundle = book.export("+39 06 1234 5678", T0, T0 + dt.timedelta(hours=1))
    assert bundle["number"] == NUMBER
    assert [e["id"] for e in bundle["entries"]] == [1, 2]
    assert all(e["hash_ok"] for e in bundle["entries"])
    assert bundle["entries"][1]["prev_hash"] == bundle["entries"][0]["hash"]
    assert bundle["entries"][0]["codes"] == ["suppression.number", "number.extension"]
    assert bundle["entries"][0]["payload"]["inputs"] == {"m": 1}
    assert sorted(s["id"] for s in bundle["suppressions"]) == sorted([entry.id, prefix.id])
    assert [c["id"] for c in bundle["consents"]] == [consent.id]
    assert sorted((c["table_name"], c["row_id"]) for c in bundle["changes"]) == sorted(
        [
            ("suppressions", entry.id),
            ("suppressions", prefix.id),
            ("consents", consent.id),
        ]
    )
    assert bundle["verification"]["ok"] is True
    assert bundle["verification"]["checked"] == 4
    json.dumps(bundle)  # JSON-ready
    rest = {k: v for k, v in bundle.items() if k != "bundle_sha256"}
    assert hashlib.sha256(canonical_json(rest).encode()).hexdigest() == bundle["bundle_sha256"]

    page = render_html(bundle)
    assert page.startswith("<!DOCTYPE html>")
    assert NUMBER in page
    assert "suppression.number" in page
    assert bundle["entries"][0]["hash"] in page
    assert "intact" in page
    for external in ("<script", "<link", "src=", "http://", "https://", "@import"):
        assert external not in page


def test_html_escapes_and_shows_a_broken_chain() -> None:
    bundle = {
        "number": "<b>",
        "verification": {"ok": False, "first_broken_id": 3, "problem": "x & y"},
        "entries": [],
    }
    page = render_html(bundle)
    assert "&lt;b&gt;" in page
    assert "<b>" not in page.replace("<body>", "")
    assert "BROKEN at entry 3" in page
    assert "x &amp; y" in page


def test_export_refuses_a_bad_number_or_range(engine: sa.Engine) -> None:
    book = Ledger(engine)
    with pytest.raises(optout.InvalidNumberError):
        book.export("12", T0, T0 + dt.timedelta(days=1))
    with pytest.raises(optout.ConfigurationError):
        book.export(NUMBER, T0, T0 - dt.timedelta(days=1))


# -- purge ----------------------------------------------------------------------------------


def test_purge_keeps_the_chain_verifiable_and_respects_retention(engine: sa.Engine) -> None:
    now = dt.datetime(2032, 1, 1, tzinfo=dt.UTC)
    clock = Clock(now - dt.timedelta(days=6 * 365))
    book = Ledger(engine, clock=clock, retention=dt.timedelta(days=5 * 365))
    _fill(book, engine, 3)  # six years old
    clock.now = now - dt.timedelta(days=365)
    _fill(book, engine, 2)  # one year old
    clock.now = now
    report = book.purge(now)  # asks for everything: retention keeps the young ones
    assert (report.deleted, report.first_id, report.last_id) == (3, 1, 3)
    assert report.checkpoint_id == 6
    assert abs(report.cutoff - (now - dt.timedelta(days=5 * 365))) < dt.timedelta(seconds=1)
    check = book.verify()
    assert check.ok, check
    assert check.checked == 3  # entries 4, 5 and the checkpoint
    with engine.connect() as conn:
        ids = list(conn.execute(sa.select(ledger.c.id).order_by(ledger.c.id)).scalars())
        checkpoint = conn.execute(sa.select(ledger).where(ledger.c.id == 6)).one()
    assert ids == [4, 5, 6]
    purged = json.loads(checkpoint.payload)["purged"]
    assert purged["first_id"] == 1
    assert purged["last_id"] == 3
    assert checkpoint.kind == "checkpoint"
    assert checkpoint.allowed is None

    assert book.purge(now).deleted == 0  # nothing else is old enough
    assert book.purge(now - dt.timedelta(days=20 * 365)).deleted == 0
    # Appending after a purge continues the chain.
    book.append(engine, _allowed(), {})
    assert book.verify().ok

    # Years later the checkpoint itself is purged; the new checkpoint carries the anchor.
    clock.now = now + dt.timedelta(days=7 * 365)
    second = book.purge(clock.now)
    assert (second.first_id, second.last_id) == (4, 7)
    check = book.verify()
    assert check.ok, check
    assert check.checked == 1


def test_a_tampered_checkpoint_is_detected(engine: sa.Engine) -> None:
    now = dt.datetime(2032, 1, 1, tzinfo=dt.UTC)
    clock = Clock(now - dt.timedelta(days=6 * 365))
    book = Ledger(engine, clock=clock)
    _fill(book, engine, 3)
    clock.now = now
    _fill(book, engine, 2)
    report = book.purge(now)
    assert report.checkpoint_id == 6
    with engine.begin() as conn:
        text = conn.execute(sa.select(ledger.c.payload).where(ledger.c.id == 6)).scalar_one()
        data = json.loads(text)
        data["purged"]["last_id"] = 2
        conn.execute(sa.update(ledger).where(ledger.c.id == 6).values(payload=canonical_json(data)))
    check = book.verify()
    assert not check.ok
    assert check.first_broken_id == 4  # its anchor no longer names the purged range


def test_purge_of_an_empty_ledger_does_nothing(engine: sa.Engine) -> None:
    report = Ledger(engine).purge(T0)
    assert report.deleted == 0
    assert report.checkpoint_id is None


def test_append_many_records_a_batch_in_one_chain(engine: sa.Engine) -> None:
    _fill(Ledger(engine), engine, 1)
    book = Ledger(engine, mode="denials")
    items = [(_denied(), {"row": i}) for i in range(2500)] + [(_allowed(), {"row": -1})]
    ids = book.append_many(engine, items)
    assert ids == list(range(2, 2502))
    with _db.writing(engine) as conn:
        assert book.append_many(conn, [(_denied(), {})]) == [2502]
    assert book.append_many(engine, []) == []
    report = book.verify()
    assert report.ok, report
    assert report.checked == 2502


def test_bound_to_keeps_the_settings(engine: sa.Engine) -> None:
    book = Ledger(engine, mode="denials", key=b"k" * 32)
    again = Ledger(sa.create_engine("sqlite://"), mode="denials", key=b"k" * 32).bound_to(engine)
    assert (again.mode, again.engine) == ("denials", engine)
    book.append(engine, _denied(), {})
    assert again.verify().ok


def test_the_default_retention_is_five_calendar_years(engine: sa.Engine) -> None:
    """US TSR 310.5 and UWG § 7a: 5 years. 1 March 2027 to 1 March 2032 holds two leap
    days (1,827 days): an entry of 1 March 2027 survives a purge on 29 February 2032."""
    recorded = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    clock = Clock(recorded)
    book = Ledger(engine, clock=clock)
    assert book.retention == DEFAULT_RETENTION == dt.timedelta(days=1827)
    _fill(book, engine, 2)
    clock.now = dt.datetime(2032, 2, 29, 23, 59, tzinfo=dt.UTC)
    assert book.purge(clock.now).deleted == 0  # not yet five years
    clock.now = dt.datetime(2032, 3, 1, 0, 1, tzinfo=dt.UTC)
    assert book.purge(clock.now).deleted == 2
    assert book.verify().ok
