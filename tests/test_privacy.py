"""Hashed number storage: everything works, and no clear number reaches the database."""

from __future__ import annotations

import datetime as dt
import io
import os
import pathlib
import zoneinfo
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import optout
from _fakes import all_clear
from optout import Compliance, Policy, RuleBook
from optout._privacy import (
    ENV_KEY,
    ENV_KEY_FILE,
    HASH_PREFIX,
    NumberHasher,
    Privacy,
    load_key,
    read_key_file,
    redact,
)
from optout._registries._store import Answer

ROME = zoneinfo.ZoneInfo("Europe/Rome")
T0 = dt.datetime(2026, 11, 24, 10, tzinfo=ROME)

RAW = "+39 06 1234 5678"
NUMBER = "+390612345678"
OTHER = "+390698765432"
IN_BLOCK = "+390612399999"
MOBILE = "+393471234567"
PREFIX = "+3906123"
USED = (NUMBER, OTHER, IN_BLOCK, MOBILE)

KEY = bytes(range(32))
HASHER = NumberHasher(KEY)
NO_RULES = RuleBook(packs={}, unsupported="allow")
CAPPED = RuleBook(
    packs={},
    policies=(
        Policy.from_dict(
            {
                "policy": {"name": "capped", "version": "1"},
                "retry": {"max_attempts": {"count": 2, "period": "24h"}},
            }
        ),
    ),
    unsupported="allow",
)


def _client(url: str, rules: RuleBook = NO_RULES, **kwargs: object) -> Compliance:
    return Compliance(
        url,
        migrate=True,
        rules=rules,
        registries=kwargs.pop("registries", ()),  # type: ignore[arg-type]
        hash_numbers=kwargs.pop("hash_numbers", HASHER),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def hashed(backend_url: str) -> Iterator[Compliance]:
    with _client(backend_url, ledger="all") as c:
        yield c


def _dump(engine: sa.Engine) -> str:
    """Every value of every column of every table, as text."""
    parts: list[str] = []
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for name in inspector.get_table_names():
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            for row in conn.execute(sa.select(table)):
                parts.extend(str(v) for v in row if v is not None)
    return "\n".join(parts)


def _raw_bytes(url: str) -> bytes:
    """The SQLite database file (and its WAL and journal, if any)."""
    path = pathlib.Path(sa.make_url(url).database or "")
    return b"".join(
        p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")) if p.is_file()
    )


def _assert_no_clear_numbers(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        text = _dump(engine)
    finally:
        engine.dispose()
    assert HASH_PREFIX in text  # the scan does see the stored values
    secrets = [n[1:] for n in USED] + [RAW, PREFIX[1:], "0612345678"]
    for secret in secrets:
        assert secret not in text, f"{secret} is stored in clear"
    if url.startswith("sqlite"):
        data = _raw_bytes(url)
        assert data
        for secret in secrets:
            assert secret.encode() not in data, f"{secret} is in the database file"


# -- the stories ----------------------------------------------------------------------------


def test_suppression_story_with_hashed_storage(hashed: Compliance, backend_url: str) -> None:
    client = hashed
    assert client.can_call(RAW, at=T0).allowed
    entry = client.suppressions.add(
        RAW, reason="customer_request", source="agent", actor="alice", at=T0
    )
    assert entry.value == HASHER.hash(NUMBER)
    denied = client.can_call(RAW, at=T0 + dt.timedelta(minutes=1))
    assert not denied.allowed
    assert denied.number == NUMBER  # computed, so still clear
    assert denied.codes == ("suppression.number",)
    assert "since 2026-11-24" in denied.reasons[0].message
    (evidence,) = [e for e in denied.evidence if e.kind == "suppression"]
    assert evidence.source == "agent"
    assert evidence.date == T0
    assert evidence.id == str(entry.id)
    assert [e.id for e in client.suppressions.list(number=RAW)] == [entry.id]
    assert client.suppressions.remove(RAW, actor="bob", reason="asked again") == 1
    assert client.can_call(RAW, at=T0 + dt.timedelta(minutes=2)).allowed
    assert client.can_call(OTHER, at=T0).allowed
    client.close()
    _assert_no_clear_numbers(backend_url)


def test_prefix_blocks_and_scopes_with_hashed_storage(hashed: Compliance, backend_url: str) -> None:
    client = hashed
    block = client.suppressions.add_prefix(PREFIX, reason="range", source="cli", at=T0)
    assert block.value == HASHER.hash(PREFIX)
    at = T0 + dt.timedelta(minutes=1)
    for number in (NUMBER, IN_BLOCK):
        assert client.can_call(number, at=at).codes == ("suppression.prefix",)
    assert client.can_call(OTHER, at=at).allowed
    assert [e.id for e in client.suppressions.list(number=IN_BLOCK)] == [block.id]
    assert client.suppressions.remove_prefix(PREFIX, actor="ops", reason="wrong range") == 1
    assert client.can_call(IN_BLOCK, at=at).allowed

    client.suppressions.add(
        OTHER, reason="brand opt-out", scope="brand", scope_value="acme", source="ivr", at=T0
    )
    assert not client.can_call(OTHER, at=at, brand="acme").allowed
    assert client.can_call(OTHER, at=at, brand="other").allowed
    client.suppressions.add(MOBILE, reason="no sms", scope="channel", scope_value="sms", at=T0)
    assert client.can_call(MOBILE, at=at, channel="voice").allowed
    assert not client.can_call(MOBILE, at=at, channel="sms").allowed
    client.close()
    _assert_no_clear_numbers(backend_url)


def test_history_consents_registrations_and_answers(backend_url: str) -> None:
    with _client(backend_url, rules=CAPPED, ledger="all") as client:
        for minutes in (0, 60):
            attempt = client.record_outcome(
                RAW, "no_answer", at=T0 + dt.timedelta(minutes=minutes), person="p-1"
            )
            assert attempt.number == NUMBER
        denied = client.can_call(RAW, at=T0 + dt.timedelta(hours=2))
        assert denied.codes == ("cap.reached",)
        assert client.can_call(OTHER, at=T0 + dt.timedelta(hours=2)).allowed
        # This cap counts per number: the person's other number is not capped (as in clear).
        assert client.can_call(OTHER, at=T0 + dt.timedelta(hours=2), person="p-1").allowed
        reserved = client.reserve(MOBILE, at=T0)
        assert reserved.attempt_id is not None
        client.record_outcome(MOBILE, "dnc_request", at=T0, attempt_id=reserved.attempt_id)
        assert client.can_call(MOBILE, at=T0 + dt.timedelta(minutes=1)).codes[0] == (
            "suppression.number"
        )

        client.registry_store.save_answers(
            [Answer(registry="it_rpo", number=OTHER, status="listed", checked_at=T0)]
        )
        found = client.registry_store.latest_answers("it_rpo", [OTHER, NUMBER])
        assert list(found) == [OTHER]
        assert found[OTHER].number == OTHER
    _assert_no_clear_numbers(backend_url)


def test_consents_and_registrations_with_hashed_storage(backend_url: str) -> None:
    with _client(backend_url, rules=RuleBook(), registries=all_clear()) as client:
        client.registrations.record(
            "it_rpo",
            RAW,
            registered_at=dt.datetime(2025, 6, 1, tzinfo=ROME),
            source="RPO consultation",
        )
        assert client.can_call(RAW, at=T0).codes == ("consent.voided_by_registry",)
        consent = client.consents.add(
            RAW, "express", given_at=dt.datetime(2025, 7, 1, tzinfo=ROME), proof="form-88"
        )
        assert consent.number == HASHER.hash(NUMBER)
        decision = client.can_call(RAW, at=T0)
        assert decision.allowed
        assert any(e.kind == "consent" and e.id == str(consent.id) for e in decision.evidence)
        assert [c.id for c in client.consents.list(number=RAW)] == [consent.id]
        client.consents.revoke(
            consent.id, actor="ops", reason="asked", at=T0 - dt.timedelta(hours=1)
        )
        assert not client.can_call(RAW, at=T0).allowed
    _assert_no_clear_numbers(backend_url)


def test_ledger_with_hashed_storage(hashed: Compliance, backend_url: str) -> None:
    client = hashed
    client.suppressions.add(NUMBER, reason="customer_request", source="agent", at=T0)
    client.suppressions.add_prefix(PREFIX, reason="range", source="cli", at=T0)
    client.consents.add(NUMBER, "express", given_at=T0 - dt.timedelta(days=3))
    client.can_call(RAW, at=T0 + dt.timedelta(minutes=1))
    client.can_call(OTHER, at=T0 + dt.timedelta(minutes=1))
    client.can_call("+39 06 12", at=T0)  # does not parse: its raw text is hashed too
    report = client.ledger.verify()
    assert report.ok, report.problem
    assert report.checked == 3
    bundle = client.ledger.export(RAW, T0, T0 + dt.timedelta(hours=1))
    assert bundle["number"] == NUMBER
    assert "stored_numbers" in bundle
    (entry,) = bundle["entries"]
    assert entry["hash_ok"]
    assert entry["payload"]["decision"]["number"] == HASHER.hash(NUMBER)
    assert entry["payload"]["inputs"]["number"] == HASHER.hash(NUMBER)
    assert entry["codes"] == ["suppression.number", "suppression.prefix"]
    assert len(bundle["suppressions"]) == 2
    assert len(bundle["consents"]) == 1
    client.close()
    _assert_no_clear_numbers(backend_url)


def test_export_and_import_between_hashed_databases(
    hashed: Compliance, tmp_path: pathlib.Path
) -> None:
    hashed.suppressions.add(NUMBER, reason="customer_request", at=T0)
    hashed.suppressions.add_prefix(PREFIX, reason="range", at=T0)
    out = io.StringIO()
    assert hashed.suppressions.export_csv(out) == 2
    assert NUMBER[1:] not in out.getvalue()
    with _client(f"sqlite:///{tmp_path / 'copy.sqlite3'}") as copy:
        report = copy.suppressions.import_csv(io.StringIO(out.getvalue()))
        assert (report.added, report.rejected) == (2, ())
        assert copy.can_call(IN_BLOCK, at=T0).codes == ("suppression.prefix",)
    with Compliance(f"sqlite:///{tmp_path / 'clear.sqlite3'}", registries=()) as clear:
        report = clear.suppressions.import_csv(io.StringIO(out.getvalue()))
        assert report.added == 0
        assert len(report.rejected) == 2


def test_batch_path_hashes_its_queries_too(hashed: Compliance) -> None:
    hashed.suppressions.add(NUMBER, reason="customer_request", at=T0)
    hashed.suppressions.add_prefix(PREFIX, reason="range", at=T0)
    at = T0 + dt.timedelta(minutes=1)
    numbers = [RAW, OTHER, IN_BLOCK]
    got = hashed.decide_many(numbers, at=at)
    assert got.allowed.to_pylist() == [False, True, False]
    for i, number in enumerate(numbers):
        assert got.decision(i).codes == hashed.can_call(number, at=at).codes


# -- keeping the modes apart ----------------------------------------------------------------


def test_a_hashed_database_refuses_clear_and_other_keys(backend_url: str) -> None:
    with _client(backend_url) as client:
        client.suppressions.add(NUMBER, reason="customer_request", at=T0)
    with pytest.raises(optout.ConfigurationError, match="keyed hashes"):
        Compliance(backend_url, registries=(), migrate=True)
    with pytest.raises(optout.ConfigurationError, match="another key"):
        _client(backend_url, hash_numbers=NumberHasher(b"k" * 32))
    with _client(backend_url) as again:  # the same key opens it
        assert not again.can_call(NUMBER, at=T0 + dt.timedelta(minutes=1)).allowed


def test_hashing_cannot_be_switched_on_for_clear_data(backend_url: str) -> None:
    with Compliance(backend_url, registries=(), migrate=True) as clear:
        clear.suppressions.add(NUMBER, reason="customer_request", at=T0)
    with pytest.raises(optout.ConfigurationError, match="already holds phone numbers in clear"):
        _client(backend_url)
    with Compliance(backend_url, registries=(), migrate=True) as clear:  # still fine in clear
        assert not clear.can_call(NUMBER, at=T0 + dt.timedelta(minutes=1)).allowed


def test_hash_numbers_true_needs_a_key(
    backend_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    with pytest.raises(optout.ConfigurationError, match="needs a key"):
        _client(backend_url, hash_numbers=True)
    monkeypatch.setenv(ENV_KEY, KEY.hex())
    with _client(backend_url, hash_numbers=True) as client:
        assert client.privacy.hashed
        client.suppressions.add(NUMBER, reason="customer_request", at=T0)
    # The same key, from a private file.
    monkeypatch.delenv(ENV_KEY)
    key_file = tmp_path / "hash.key"
    key_file.write_text(KEY.hex() + "\n")
    key_file.chmod(0o600)
    monkeypatch.setenv(ENV_KEY_FILE, str(key_file))
    with _client(backend_url, hash_numbers=True) as client:
        assert not client.can_call(NUMBER, at=T0 + dt.timedelta(minutes=1)).allowed
    # Without the key, the hashed database is refused, not read as empty.
    monkeypatch.delenv(ENV_KEY_FILE)
    with pytest.raises(optout.ConfigurationError, match="keyed hashes"):
        Compliance(backend_url, registries=(), migrate=True)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_the_key_file_must_be_private(tmp_path: pathlib.Path) -> None:
    key_file = tmp_path / "hash.key"
    key_file.write_text(KEY.hex())
    for mode in (0o644, 0o640, 0o604, 0o660):
        key_file.chmod(mode)
        with pytest.raises(optout.ConfigurationError, match="chmod 600") as err:
            read_key_file(key_file)
        assert KEY.hex() not in str(err.value)
    key_file.chmod(0o600)
    assert read_key_file(key_file) == KEY
    key_file.chmod(0o400)
    assert load_key({ENV_KEY_FILE: str(key_file)}) == KEY
    with pytest.raises(optout.ConfigurationError, match="cannot read"):
        read_key_file(tmp_path / "missing.key")


def test_key_formats() -> None:
    import base64  # noqa: PLC0415

    assert load_key({ENV_KEY: KEY.hex()}) == KEY
    assert load_key({ENV_KEY: base64.b64encode(KEY).decode()}) == KEY
    assert load_key({ENV_KEY: base64.urlsafe_b64encode(KEY).decode().rstrip("=")}) == KEY
    assert load_key({ENV_KEY: "base64:" + base64.b64encode(KEY).decode()}) == KEY
    with pytest.raises(optout.ConfigurationError, match="at least 16"):
        load_key({ENV_KEY: "00ff"})
    with pytest.raises(optout.ConfigurationError, match="neither hex nor base64"):
        load_key({ENV_KEY: "not a key!"})
    with pytest.raises(optout.ConfigurationError):
        NumberHasher(b"short")


def test_hashes_are_tagged_keyed_and_stable() -> None:
    value = HASHER.hash(NUMBER)
    assert value.startswith("h1:")
    assert len(value) == 3 + 64
    assert value == NumberHasher(KEY).hash(NUMBER)
    assert value != NumberHasher(b"x" * 32).hash(NUMBER)
    assert HASHER.fingerprint not in repr(KEY)
    assert KEY.hex() not in repr(HASHER)
    assert Privacy().stored(NUMBER) == NUMBER
    assert Privacy(HASHER).stored(NUMBER) == value


def test_redact() -> None:
    assert redact("no answer from +393471234567") == "no answer from +**********67"
    assert redact("call 0612345678 now") == "call ********78 now"
    assert redact("short 12345 and dates 2026-11-24") == "short 12345 and dates 2026-11-24"
    assert redact(HASHER.hash(NUMBER)) == HASHER.hash(NUMBER)
