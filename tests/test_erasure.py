"""Right to erasure: the number is forgotten, its opt-out survives as a keyed hash only."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import zoneinfo
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import optout
from optout import _db, _privacy
from optout._erasure import erase, written_forms
from optout._ledger_schema import change_log, ledger
from optout._privacy import ENV_KEY, ENV_KEY_FILE, HASH_PREFIX, NumberHasher
from optout._registries._store import Answer
from optout._schema import attempts, registrations, registry_answers

ROME = zoneinfo.ZoneInfo("Europe/Rome")
T0 = dt.datetime(2026, 11, 24, 10, tzinfo=ROME)
LATER = T0 + dt.timedelta(hours=2)

RAW = "+39 06 1234 5678"
NUMBER = "+390612345678"
OTHER = "+390698765432"
RANGE = "+3902"  # a prefix block of other numbers: not the erased person's data

KEY = bytes(range(32))
HASHER = NumberHasher(KEY)
OTHER_KEY = NumberHasher(b"k" * 32)
NO_RULES = optout.RuleBook(packs={}, unsupported="allow")

#: Every way the erased number is written that must not survive anywhere.
FORMS = ["390612345678", "0612345678", "06 1234 5678", "+39 06 1234 5678"]


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys come from the environment only (a developer's keyring must not leak in)."""
    monkeypatch.setattr(_privacy, "_keyring_key", lambda: None)
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEY, KEY.hex())


def _client(url: str, hash_numbers: bool | NumberHasher = False) -> optout.Compliance:
    return optout.Compliance(
        url,
        migrate=True,
        rules=NO_RULES,
        registries=(),
        ledger="all",
        hash_numbers=hash_numbers,
    )


@pytest.fixture
def clear(backend_url: str, with_key: None) -> Iterator[optout.Compliance]:
    with _client(backend_url) as c:
        yield c


def _populate(client: optout.Compliance) -> dict[str, int]:
    """The erased number's data in every table, and some of another number's."""
    client.suppressions.add(
        RAW, reason=f"called back from {RAW}", source="agent", actor="ann", at=T0
    )
    assert client.suppressions.remove(NUMBER, actor="bob", reason="entered in error") == 1
    client.suppressions.add(
        NUMBER, reason="customer_request", scope="brand", scope_value="acme", at=T0
    )
    client.suppressions.add(OTHER, reason="customer_request", at=T0)
    client.suppressions.add_prefix(RANGE, reason="range", at=T0)
    reserved = client.reserve(NUMBER, at=T0, brand="other")
    assert reserved.attempt_id is not None
    client.record_outcome(NUMBER, "no_answer", at=T0, attempt_id=reserved.attempt_id)
    client.record_outcome(NUMBER, "busy", at=T0 + dt.timedelta(minutes=5), brand="other")
    client.record_outcome(OTHER, "no_answer", at=T0)
    consent = client.consents.add(
        "06 1234 5678", "express", given_at=T0 - dt.timedelta(days=3), region="IT"
    )
    client.consents.revoke(consent.id, actor="ops", reason="asked", at=T0 - dt.timedelta(days=1))
    client.consents.add(OTHER, "express", given_at=T0 - dt.timedelta(days=3))
    client.registrations.record(
        "it_rpo", NUMBER, registered_at=T0 - dt.timedelta(days=30), source="RPO return"
    )
    client.registry_store.save_answers(
        [
            Answer(registry="it_rpo", number=NUMBER, status="listed", checked_at=T0),
            Answer(registry="it_rpo", number=OTHER, status="clear", checked_at=T0),
        ]
    )
    client.can_call(RAW, at=T0 + dt.timedelta(minutes=10))
    client.can_call(NUMBER, at=T0 + dt.timedelta(minutes=11), brand="acme")
    client.can_call(OTHER, at=T0 + dt.timedelta(minutes=12))
    return {"consent": consent.id}


def _rows(url: str, table: sa.Table, *where: sa.ColumnElement[bool]) -> list[sa.Row[object]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(table).where(*where)).all())
    finally:
        engine.dispose()


def _dump(url: str) -> str:
    """Every value of every column of every table, as text."""
    engine = sa.create_engine(url)
    parts: list[str] = []
    try:
        with engine.connect() as conn:
            for name in sa.inspect(engine).get_table_names():
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                for row in conn.execute(sa.select(table)):
                    parts.extend(str(v) for v in row if v is not None)
    finally:
        engine.dispose()
    return "\n".join(parts)


def _assert_number_is_gone(url: str) -> None:
    text = _dump(url)
    assert HASH_PREFIX in text  # the scan sees the stored hashes
    for form in FORMS:
        assert form not in text, f"{form!r} is still stored"
    if url.startswith("sqlite"):
        path = pathlib.Path(sa.make_url(url).database or "")
        data = b"".join(
            p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")) if p.is_file()
        )
        assert data
        for form in FORMS:
            assert form.encode() not in data, f"{form!r} is still in the database file"


def test_written_forms() -> None:
    assert written_forms(NUMBER, RAW) == [
        "+39 06 1234 5678",
        "+390612345678",
        "06 1234 5678",
        "390612345678",
        "0612345678",
    ]
    assert "12" not in written_forms("+12025550123", "12")


# -- clear storage ----------------------------------------------------------------------------


def test_erasure_in_clear_storage(clear: optout.Compliance, backend_url: str) -> None:
    client = clear
    ids = _populate(client)
    before = client.ledger.verify()
    assert before.ok
    report = client.erase(RAW, actor="dpo", reason="ticket GDPR-42 from 06 1234 5678")

    hashed = HASHER.hash(NUMBER)
    assert report.number_hash == hashed
    assert report.key_fingerprint == HASHER.fingerprint
    assert (report.consents, report.registrations, report.registry_answers) == (1, 1, 1)
    assert report.attempts == 2
    assert report.history_deleted == 3  # the consent's insert and revoke, the registration
    assert len(report.suppressions) == 3  # lifted global, brand acme, the new global one
    assert report.opt_out_id == max(report.suppressions)
    assert len(report.ledger_redacted) == 3  # the reservation and two checks
    assert report.redaction_entry == before.checked + 1
    assert report.compacted is (True if backend_url.startswith("sqlite") else None)

    # Never called again: the new global opt-out, stored only as the hash.
    denied = client.can_call(RAW, at=LATER, brand="other")
    assert not denied.allowed
    assert denied.codes == ("suppression.number",)
    assert denied.number == NUMBER  # computed from the input, never read back
    (evidence,) = [e for e in denied.evidence if e.kind == "suppression"]
    assert evidence.id == str(report.opt_out_id)
    assert evidence.detail["value"] == hashed
    assert evidence.detail["reason"] == "erasure_request"
    assert client.can_call(RAW, at=LATER, brand="acme").codes == (
        "suppression.number",
        "suppression.number",
    )
    # Everything else of the number is gone; the other number keeps everything.
    assert client.consents.list(number=RAW) == []
    assert [c.number for c in client.consents.list()] == [OTHER]
    assert [r.number for r in _rows(backend_url, attempts)] == [OTHER]
    assert _rows(backend_url, registrations) == []
    assert [r.number for r in _rows(backend_url, registry_answers)] == [OTHER]
    assert (
        _rows(
            backend_url,
            change_log,
            change_log.c.table_name == "consents",
            change_log.c.row_id == ids["consent"],
        )
        == []
    )
    assert client.can_call(OTHER, at=LATER).codes == ("suppression.number",)
    assert client.can_call("+39 02 1234 5678", at=LATER).codes == ("suppression.prefix",)
    # The erasure itself is on record: who, when, why, and the hash, not the number.
    (record,) = _rows(backend_url, change_log, change_log.c.table_name == "erasures")
    assert (record.actor, record.action) == ("dpo", "erase")
    assert record.reason == f"ticket GDPR-42 from {hashed}"  # the number quoted, replaced
    assert record.row_id == report.opt_out_id
    payload = json.loads(record.payload)
    assert payload["number"] == hashed
    assert payload["key_fingerprint"] == HASHER.fingerprint
    assert payload["deleted"]["attempts"] == 2
    # The ledger still verifies: the rewritten entries are vouched for.
    check = client.ledger.verify()
    assert check.ok, check.problem
    assert check.redacted == 3
    # Checks after the erasure are recorded under the hash too (and need no redaction).
    bundle = client.ledger.export(RAW, T0, LATER + dt.timedelta(minutes=1))
    assert [e["redacted_by"] for e in bundle["entries"]] == [report.redaction_entry] * 3 + [
        None,
        None,
    ]
    assert {e["payload"]["decision"]["number"] for e in bundle["entries"]} == {hashed}
    assert all(e["hash_ok"] for e in bundle["entries"])
    assert {s["id"] for s in bundle["suppressions"]} == set(report.suppressions)
    client.close()
    _assert_number_is_gone(backend_url)


def test_without_a_key_erasure_is_refused_and_changes_nothing(backend_url: str) -> None:
    with _client(backend_url) as client:
        client.suppressions.add(NUMBER, reason="customer_request", at=T0)
        client.consents.add(NUMBER, "express", given_at=T0 - dt.timedelta(days=1))
        with pytest.raises(optout.ConfigurationError, match="needs a secret key") as info:
            client.erase(NUMBER, actor="dpo", reason="ticket 7")
        assert "OPTOUT_HASH_KEY" in str(info.value)
        assert [e.value for e in client.suppressions.list()] == [NUMBER]
        assert len(client.consents.list(number=NUMBER)) == 1
    assert _rows(backend_url, change_log, change_log.c.table_name == "erasures") == []


def test_bad_requests_are_clear_errors(clear: optout.Compliance) -> None:
    with pytest.raises(optout.InvalidNumberError):
        clear.erase("not a number", actor="dpo", reason="ticket")
    with pytest.raises(optout.ConfigurationError, match="actor is required"):
        clear.erase(NUMBER, actor=" ", reason="ticket")
    with pytest.raises(optout.ConfigurationError, match="reason is required"):
        clear.erase(NUMBER, actor="dpo", reason="")
    with pytest.raises(optout.ConfigurationError, match="unknown source"):
        erase(clear, NUMBER, actor="dpo", reason="ticket", source="carrier pigeon")


def test_after_an_erasure_every_clear_client_needs_that_key(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyless = _client(backend_url)  # opened before any erasure, with no key
    try:
        keyless.suppressions.add(NUMBER, reason="customer_request", at=T0)
        assert keyless.can_call(NUMBER, at=T0 + dt.timedelta(minutes=1)).codes == (
            "suppression.number",
        )
        monkeypatch.setenv(ENV_KEY, KEY.hex())
        with _client(backend_url) as keyed:
            keyed.erase(NUMBER, actor="dpo", reason="ticket 8")
        monkeypatch.delenv(ENV_KEY)
        # The running keyless client cannot match the hashed opt-out: it refuses to answer
        # rather than allow the call.
        with pytest.raises(optout.ConfigurationError, match="erased numbers"):
            keyless.can_call(NUMBER, at=LATER)
        with pytest.raises(optout.ConfigurationError, match="erased numbers"):
            keyless.suppressions.list(number=NUMBER)
        # A new client without the key, or with another one, is refused at once.
        with pytest.raises(optout.ConfigurationError, match="erased numbers"):
            _client(backend_url)
        monkeypatch.setenv(ENV_KEY, OTHER_KEY._key.hex())
        with pytest.raises(optout.ConfigurationError, match="another key"):
            _client(backend_url)
        with pytest.raises(optout.ConfigurationError, match="another key"):
            _client(backend_url, hash_numbers=OTHER_KEY)
        # With the key, the running client picks it up and denies.
        monkeypatch.setenv(ENV_KEY, KEY.hex())
        assert keyless.can_call(NUMBER, at=LATER).codes == ("suppression.number",)
        assert keyless.can_call(OTHER, at=LATER).allowed
        with _client(backend_url) as fresh:
            assert fresh.can_call(RAW, at=LATER).codes == ("suppression.number",)
            # A second erasure under another key is refused.
            monkeypatch.setenv(ENV_KEY, OTHER_KEY._key.hex())
            with pytest.raises(optout.ConfigurationError, match="another key"):
                fresh.erase(OTHER, actor="dpo", reason="ticket 9")
    finally:
        keyless.close()


def test_an_erased_opt_out_can_still_be_lifted_explicitly(clear: optout.Compliance) -> None:
    clear.suppressions.add(NUMBER, reason="customer_request", at=T0)
    report = clear.erase(NUMBER, actor="dpo", reason="ticket 10")
    listed = clear.suppressions.list(number=RAW)
    assert [e.id for e in listed] == [report.opt_out_id]
    assert listed[0].value == report.number_hash
    assert not clear.can_call(NUMBER, at=LATER).allowed
    lifted = clear.suppressions.remove(
        RAW, actor="dpo", reason="the person asked to be called again"
    )
    assert lifted == 1
    assert clear.can_call(NUMBER, at=LATER).allowed
    # Adding it again later stores what the caller gives now (clear storage).
    entry = clear.suppressions.add(NUMBER, reason="customer_request", at=LATER)
    assert entry.value == NUMBER


def test_erasing_twice_changes_nothing_more(clear: optout.Compliance) -> None:
    clear.suppressions.add(NUMBER, reason="customer_request", at=T0)
    clear.can_call(NUMBER, at=T0 + dt.timedelta(minutes=1))
    first = clear.erase(NUMBER, actor="dpo", reason="ticket 11")
    second = clear.erase(NUMBER, actor="dpo", reason="ticket 11, again")
    assert second.opt_out_id == first.opt_out_id
    assert second.suppressions == first.suppressions
    assert (second.consents, second.attempts, second.ledger_redacted) == (0, 0, ())
    assert clear.ledger.verify().ok


# -- hashed storage ---------------------------------------------------------------------------


def test_erasure_with_hashed_storage(backend_url: str) -> None:
    with _client(backend_url, hash_numbers=HASHER) as client:
        _populate(client)
        report = client.erase(RAW, actor="dpo", reason="ticket 12")
        assert report.number_hash == HASHER.hash(NUMBER)
        assert (report.consents, report.attempts, report.registrations) == (1, 2, 1)
        assert report.ledger_redacted == ()  # the ledger holds hashes already
        assert report.redaction_entry is None
        assert client.can_call(RAW, at=LATER, brand="other").codes == ("suppression.number",)
        assert client.consents.list(number=RAW) == []
        assert len(client.consents.list(number=OTHER)) == 1
        check = client.ledger.verify()
        assert check.ok
        assert check.redacted == 0
    assert len(_rows(backend_url, attempts)) == 1
    _assert_number_is_gone(backend_url)


# -- the ledger stays verifiable, and still catches edits -------------------------------------


def _edit(url: str, row_id: int, **values: object) -> None:
    engine = _db.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(ledger).where(ledger.c.id == row_id).values(**values))
    finally:
        engine.dispose()


def test_editing_a_redacted_entry_or_the_redaction_is_still_caught(
    clear: optout.Compliance, backend_url: str
) -> None:
    clear.suppressions.add(NUMBER, reason="customer_request", at=T0)
    clear.can_call(NUMBER, at=T0 + dt.timedelta(minutes=1))
    clear.can_call(OTHER, at=T0 + dt.timedelta(minutes=2))
    report = clear.erase(NUMBER, actor="dpo", reason="ticket 13")
    (redacted,) = report.ledger_redacted
    assert report.redaction_entry is not None
    assert clear.ledger.verify().ok
    (row,) = _rows(backend_url, ledger, ledger.c.id == redacted)
    original = row.payload
    _edit(backend_url, redacted, payload=original.replace('"allowed":false', '"allowed":true'))
    broken = clear.ledger.verify()
    assert (broken.ok, broken.first_broken_id) == (False, redacted)
    _edit(backend_url, redacted, payload=original)
    assert clear.ledger.verify().ok
    (entry,) = _rows(backend_url, ledger, ledger.c.id == report.redaction_entry)
    _edit(backend_url, report.redaction_entry, payload=entry.payload.replace("dpo", "eve"))
    broken = clear.ledger.verify()
    assert (broken.ok, broken.first_broken_id) == (False, report.redaction_entry)


# -- the batch path ---------------------------------------------------------------------------


@pytest.mark.parametrize("hash_numbers", [False, HASHER], ids=["clear", "hashed"])
def test_the_batch_path_denies_an_erased_number(
    backend_url: str, with_key: None, hash_numbers: bool | NumberHasher
) -> None:
    with _client(backend_url, hash_numbers=hash_numbers) as client:
        client.suppressions.add(NUMBER, reason="customer_request", at=T0)
        client.erase(NUMBER, actor="dpo", reason="ticket 15")
        numbers = [RAW, OTHER, "+39 02 1234 5678"]
        got = client.decide_many(numbers, at=LATER)
        assert got.allowed.to_pylist() == [False, True, True]
        for i, number in enumerate(numbers):
            assert got.decision(i).codes == client.can_call(number, at=LATER).codes


def test_the_batch_path_of_a_keyless_client_fails_closed(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _client(backend_url) as keyless:
        keyless.suppressions.add(NUMBER, reason="customer_request", at=T0)
        assert keyless.decide_many([NUMBER, OTHER], at=LATER).allowed.to_pylist() == [False, True]
        monkeypatch.setenv(ENV_KEY, KEY.hex())
        with _client(backend_url) as keyed:
            keyed.erase(NUMBER, actor="dpo", reason="ticket 16")
        monkeypatch.delenv(ENV_KEY)
        with pytest.raises(optout.ConfigurationError, match="erased numbers"):
            keyless.decide_many([NUMBER, OTHER], at=LATER)
