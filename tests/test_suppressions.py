"""Suppression lists: write-first, monotonic, explicit and recorded removal, files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import pathlib

import pytest
import sqlalchemy as sa

import optout
from optout import Compliance, Scope
from optout._ledger_schema import change_log

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
IT = "+39 06 1234 5678"
IT_E164 = "+390612345678"


def test_add_returns_the_stored_entry(client: Compliance) -> None:
    entry = client.suppressions.add(
        IT, reason="customer_request", source="ivr", actor="ivr-7", at=AT
    )
    assert entry.id > 0
    assert entry.kind == "number"
    assert entry.value == IT_E164
    assert entry.scope is Scope.GLOBAL
    assert entry.scope_value == ""
    assert entry.source == "ivr"
    assert entry.actor == "ivr-7"
    assert entry.created_at == AT
    assert entry.active
    assert client.suppressions.get(entry.id) == entry


def test_add_is_durable_before_it_returns(backend_url: str) -> None:
    with Compliance(backend_url) as writer:
        entry = writer.suppressions.add(IT, reason="customer_request")
    # A brand-new client (new engine, new connections) sees the acknowledged write.
    with Compliance(backend_url) as reader:
        assert [e.id for e in reader.suppressions.list()] == [entry.id]
        assert not reader.can_call(IT).allowed


def test_adding_twice_is_idempotent(client: Compliance) -> None:
    first = client.suppressions.add(IT, reason="a")
    second = client.suppressions.add("06 1234 5678", reason="b", region="IT")
    assert second == first
    assert len(client.suppressions.list()) == 1


def test_a_longer_readd_extends_coverage(client: Compliance) -> None:
    short = client.suppressions.add(IT, reason="a", expires_at=AT + dt.timedelta(days=1), at=AT)
    forever = client.suppressions.add(IT, reason="b", at=AT)
    assert forever.id != short.id
    assert not client.can_call(IT, at=AT + dt.timedelta(days=30)).allowed
    # A shorter re-add is covered by the permanent entry and writes nothing.
    again = client.suppressions.add(IT, reason="c", expires_at=AT + dt.timedelta(days=2), at=AT)
    assert again == forever


def test_removal_is_recorded_not_deleted(client: Compliance) -> None:
    entry = client.suppressions.add(IT, reason="a")
    assert client.suppressions.remove(IT, actor="ops-lead", reason="entered in error", at=AT) == 1
    assert client.suppressions.list() == []
    lifted = client.suppressions.get(entry.id)
    assert lifted is not None
    assert lifted.removed_at == AT
    assert lifted.removed_by == "ops-lead"
    assert lifted.removed_reason == "entered in error"
    assert not lifted.active
    assert client.suppressions.list(include_removed=True) == [lifted]
    # Removing again lifts nothing.
    assert client.suppressions.remove(IT, actor="ops-lead", reason="again") == 0


@pytest.mark.parametrize(("actor", "reason"), [("", "why"), ("who", ""), ("who", "   ")])
def test_removal_needs_an_actor_and_a_reason(client: Compliance, actor: str, reason: str) -> None:
    client.suppressions.add(IT, reason="a")
    with pytest.raises(optout.ConfigurationError, match="required"):
        client.suppressions.remove(IT, actor=actor, reason=reason)
    assert len(client.suppressions.list()) == 1


def test_removal_is_scoped(client: Compliance) -> None:
    client.suppressions.add(IT, reason="a", scope="brand", scope_value="acme")
    client.suppressions.add(IT, reason="b")
    assert (
        client.suppressions.remove(IT, actor="x", reason="y", scope="brand", scope_value="acme")
        == 1
    )
    assert not client.can_call(IT, brand="acme").allowed


def test_remove_entry_by_id(client: Compliance) -> None:
    entry = client.suppressions.add_prefix("+3906", reason="block")
    assert client.suppressions.remove_entry(entry.id, actor="x", reason="y") == 1
    assert client.suppressions.remove_entry(entry.id, actor="x", reason="y") == 0
    assert client.suppressions.remove_prefix("+3906", actor="x", reason="y") == 0
    with pytest.raises(optout.NotFoundError):
        client.suppressions.remove_entry(entry.id + 100, actor="x", reason="y")


def test_list_by_number_includes_matching_prefixes(client: Compliance) -> None:
    number = client.suppressions.add(IT, reason="a")
    block = client.suppressions.add_prefix("+39 06", reason="b")
    client.suppressions.add("+44 20 7946 0123", reason="c")
    assert client.suppressions.list(number=IT) == [number, block]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reason": ""}, "reason is required"),
        ({"reason": "x" * 201}, "longer than"),
        ({"reason": "r", "source": "carrier-pigeon"}, "unknown source"),
        ({"reason": "r", "scope": "planet"}, "unknown scope"),
        ({"reason": "r", "scope": "brand"}, "required"),
        ({"reason": "r", "scope": "global", "scope_value": "acme"}, "no scope value"),
        ({"reason": "r", "scope": "channel", "scope_value": "fax"}, "unknown channel"),
        ({"reason": "r", "expires_at": AT, "at": AT}, "after"),
        ({"reason": "r", "expires_at": dt.datetime(2030, 1, 1)}, "no time zone"),
    ],
)
def test_bad_entries_are_rejected(
    client: Compliance, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(optout.ConfigurationError, match=match):
        client.suppressions.add(IT, **kwargs)  # type: ignore[arg-type]
    assert client.suppressions.list() == []


@pytest.mark.parametrize("prefix", ["3906", "+", "+0", "+39a", "+1234567890123456", 39])
def test_bad_prefixes_are_rejected(client: Compliance, prefix: object) -> None:
    with pytest.raises(optout.ConfigurationError, match="prefix"):
        client.suppressions.add_prefix(prefix, reason="r")  # type: ignore[arg-type]


def test_invalid_number_is_rejected(client: Compliance) -> None:
    with pytest.raises(optout.InvalidNumberError):
        client.suppressions.add("not a number", reason="r")


def test_import_then_export_round_trip(client: Compliance, tmp_path: pathlib.Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "number,prefix,reason,scope,scope_value,expires_at\n"
        "+39 06 1234 5678,,customer_request,,,\n"
        "06 1234 5679,,,brand,acme,2030-01-01T00:00:00+00:00\n"
        ",+1212555,area block,,,\n"
        "not a number,,,,,\n"
        "+39 06 1234 5678,,duplicate row,,,\n"
        ",,,,,\n"
        "+44 20 7946 0123,,,planet,x,\n",
        encoding="utf-8",
    )
    report = client.suppressions.import_csv(source, region="IT", actor="loader", at=AT)
    assert report.added == 3
    assert report.already_present == 1
    assert [line for line, _ in report.rejected] == [5, 7, 8]
    assert "unknown scope" in report.rejected[2][1]
    again = client.suppressions.import_csv(source, region="IT", at=AT)
    assert again.added == 0
    assert again.already_present == 4
    target = tmp_path / "out.csv"
    assert client.suppressions.export_csv(target) == 3
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["value"] for r in rows] == ["+390612345678", "+390612345679", "+1212555"]
    assert rows[1]["scope"] == "brand"
    assert rows[1]["scope_value"] == "acme"
    assert rows[0]["reason"] == "customer_request"
    assert rows[2]["reason"] == "area block"
    assert rows[0]["actor"] == "loader"
    assert not client.can_call("+1 212 555 0100").allowed


def test_an_export_imports_into_another_database_with_its_provenance(
    client: Compliance, tmp_path: pathlib.Path
) -> None:
    client.suppressions.add(IT, reason="customer_request", source="agent", actor="ann", at=AT)
    client.suppressions.add_prefix(
        "+1212555",
        reason="block",
        scope="campaign",
        scope_value="winter",
        expires_at=AT + dt.timedelta(days=9),
        at=AT,
    )
    exported = tmp_path / "export.csv"
    client.suppressions.export_csv(exported)
    with Compliance(f"sqlite:///{tmp_path / 'other.sqlite3'}") as other:
        report = other.suppressions.import_csv(exported)
        assert (report.added, report.rejected) == (2, ())
        strip = [
            (
                e.kind,
                e.value,
                e.scope,
                e.scope_value,
                e.reason,
                e.source,
                e.actor,
                e.created_at,
                e.expires_at,
            )
            for e in other.suppressions.list()
        ]
    assert strip == [
        (
            e.kind,
            e.value,
            e.scope,
            e.scope_value,
            e.reason,
            e.source,
            e.actor,
            e.created_at,
            e.expires_at,
        )
        for e in client.suppressions.list()
    ]


def test_import_needs_a_number_column(client: Compliance) -> None:
    with pytest.raises(optout.ConfigurationError, match="'number' or 'prefix'"):
        client.suppressions.import_csv(io.StringIO("phone\n+390612345678\n"))


def test_import_with_a_bad_source_fails_once_and_adds_nothing(client: Compliance) -> None:
    with pytest.raises(optout.ConfigurationError, match="unknown source"):
        client.suppressions.import_csv(io.StringIO("number\n+390612345678\n"), source="bogus")
    assert client.suppressions.list() == []


def test_import_with_broken_quoting_names_the_line(client: Compliance) -> None:
    text = 'number,reason\n+390612345678,ok\n+390612345679,"unterminated\n'
    with pytest.raises(optout.ConfigurationError, match="line 3"):
        client.suppressions.import_csv(io.StringIO(text))


def test_import_rejects_undecodable_files(client: Compliance, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("number,reason\n+390612345678,caf\xe9\n".encode("latin-1"))
    with pytest.raises(optout.ConfigurationError, match="not valid UTF-8"):
        client.suppressions.import_csv(path)


def test_import_of_a_missing_file_is_a_clear_error(
    client: Compliance, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(optout.ConfigurationError, match="cannot read"):
        client.suppressions.import_csv(tmp_path / "nope.csv")


def test_export_to_a_stream(client: Compliance) -> None:
    client.suppressions.add(IT, reason="r")
    out = io.StringIO()
    assert client.suppressions.export_csv(out) == 1
    assert out.getvalue().splitlines()[0].startswith("id,kind,value,scope")


def test_failed_export_leaves_the_previous_file(
    client: Compliance, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous\n")
    client.suppressions.add(IT, reason="r")

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(client.suppressions, "iter_active", boom)
    with pytest.raises(RuntimeError):
        client.suppressions.export_csv(target)
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_every_change_is_in_the_change_history(client: Compliance, tmp_path: pathlib.Path) -> None:
    began = dt.datetime.now(dt.UTC)
    entry = client.suppressions.add(IT, reason="asked", actor="ann", at=AT)
    path = tmp_path / "in.csv"
    path.write_text("number\n+39 06 1234 5679\n")
    client.suppressions.import_csv(path, actor="loader", at=AT)
    client.suppressions.remove(IT, actor="ops", reason="mistake", at=AT)
    given = client.consents.add(IT, "express", given_at=AT - dt.timedelta(days=30), actor="ann")
    client.consents.revoke(given.id, actor="ops", reason="asked")
    with client.engine.connect() as conn:
        rows = [
            (r.table_name, r.action, r.actor, r.reason)
            for r in conn.execute(sa.select(change_log).order_by(change_log.c.id))
        ]
    assert rows == [
        ("suppressions", "insert", "ann", "asked"),
        ("suppressions", "insert", "loader", "import"),
        ("suppressions", "remove", "ops", "mistake"),
        ("consents", "insert", "ann", None),
        ("consents", "revoke", "ops", "asked"),
    ]
    assert entry.id == 1
    # When (the wall clock of the change) and what (the row as it was after the change).
    with client.engine.connect() as conn:
        log = conn.execute(sa.select(change_log).order_by(change_log.c.id)).all()
    ended = dt.datetime.now(dt.UTC)
    assert all(began - dt.timedelta(seconds=1) <= r.at <= ended for r in log)
    added, _, removed, consented, revoked = (json.loads(r.payload) for r in log)
    assert (added["id"], added["value"], added["removed_at"]) == (entry.id, IT_E164, None)
    assert added["created_at"] == AT.isoformat()
    assert (removed["id"], removed["removed_by"], removed["removed_reason"]) == (
        entry.id,
        "ops",
        "mistake",
    )
    assert removed["removed_at"] == AT.isoformat()
    assert (consented["id"], consented["revoked_at"]) == (given.id, None)
    assert (revoked["id"], revoked["revoked_by"], revoked["revoke_reason"]) == (
        given.id,
        "ops",
        "asked",
    )
    assert revoked["revoked_at"] is not None
