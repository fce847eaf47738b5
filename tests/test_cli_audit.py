"""``optout audit``: the CLI records decisions by default, and verify, export and purge them.

Issue 6's acceptance, on SQLite and PostgreSQL: editing any single ledger row makes
``optout audit verify`` exit non-zero and name it; an untouched ledger verifies.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from optout import _db
from optout._cli import main
from optout._ledger_schema import ledger

AT = "2026-11-24T10:00:00+01:00"
IT = "+39 06 1234 5678"
NUMBER = "+390612345678"
OTHER = "+39 06 1234 5679"

Capture = pytest.CaptureFixture[str]


def _cli(capsys: Capture, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def _three_checks(url: str, capsys: Capture) -> None:
    """Three decisions through ``optout check``: each one is a ledger entry (CLI default)."""
    for number, minute in ((IT, 0), (OTHER, 1), (IT, 2)):
        at = (dt.datetime.fromisoformat(AT) + dt.timedelta(minutes=minute)).isoformat()
        code, _ = _cli(capsys, "check", number, "--at", at, "--database", url)
        assert code in (0, 1)


def _rows(url: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = _db.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(ledger).order_by(ledger.c.id)))
    finally:
        engine.dispose()


def _update(url: str, row_id: int, values: dict[str, object]) -> None:
    engine = _db.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(ledger).where(ledger.c.id == row_id).values(values))
    finally:
        engine.dispose()


def test_the_cli_records_every_check_and_an_untouched_ledger_verifies(
    backend_url: str, capsys: Capture
) -> None:
    _three_checks(backend_url, capsys)
    rows = _rows(backend_url)
    assert [r.id for r in rows] == [1, 2, 3]
    assert [r.number for r in rows] == [NUMBER, "+390612345679", NUMBER]
    code, out = _cli(capsys, "audit", "verify", "--database", backend_url)
    assert code == 0
    assert "ledger intact: 3 entries, head 3" in out
    assert rows[-1].hash in out  # the head to keep elsewhere
    code, out = _cli(capsys, "audit", "verify", "--json", "--database", backend_url)
    assert code == 0
    report = json.loads(out)
    assert (report["ok"], report["checked"], report["head_id"]) == (True, 3, 3)


def _flip_allowed(row: sa.Row[tuple[object, ...]]) -> dict[str, object]:
    return {"allowed": not row.allowed}


def _edit_payload(row: sa.Row[tuple[object, ...]]) -> dict[str, object]:
    return {"payload": str(row.payload).replace("2026-11-24", "2026-11-23")}


EDITS: dict[str, Callable[[sa.Row[tuple[object, ...]]], dict[str, object]]] = {
    "allowed": _flip_allowed,
    "payload": _edit_payload,
    "codes": lambda row: {"codes": "" if row.codes else "suppression.number"},
    "number": lambda row: {"number": "+390600000000"},
    "hash": lambda row: {"hash": "0" * 64},
}


@pytest.mark.parametrize("column", sorted(EDITS))
@pytest.mark.parametrize("target", [1, 2, 3])
def test_editing_any_single_row_fails_verify_and_names_it(
    backend_url: str, capsys: Capture, column: str, target: int
) -> None:
    _three_checks(backend_url, capsys)
    (row,) = [r for r in _rows(backend_url) if r.id == target]
    _update(backend_url, target, EDITS[column](row))
    code, out = _cli(capsys, "audit", "verify", "--database", backend_url)
    assert code == 1, out
    assert f"ledger BROKEN at entry {target}:" in out
    code, out = _cli(capsys, "audit", "verify", "--json", "--database", backend_url)
    assert code == 1
    report = json.loads(out)
    assert (report["ok"], report["first_broken_id"]) == (False, target)
    assert report["problem"]


def test_a_deleted_or_inserted_row_fails_verify(backend_url: str, capsys: Capture) -> None:
    _three_checks(backend_url, capsys)
    engine = _db.create_engine(backend_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.delete(ledger).where(ledger.c.id == 2))
        code, out = _cli(capsys, "audit", "verify", "--database", backend_url)
        assert code == 1
        assert "ledger BROKEN at entry 3:" in out
        # Put a forged copy of entry 3 in the hole: its hash cannot fit the chain.
        with engine.begin() as conn:
            third = conn.execute(sa.select(ledger).where(ledger.c.id == 3)).one()
            forged = {**third._asdict(), "id": 2}
            conn.execute(ledger.insert().values(forged))
    finally:
        engine.dispose()
    code, out = _cli(capsys, "audit", "verify", "--database", backend_url)
    assert code == 1
    assert "ledger BROKEN at entry 2:" in out


def test_export_writes_the_bundle_as_json_and_html(
    backend_url: str, capsys: Capture, tmp_path: pathlib.Path
) -> None:
    db = ("--database", backend_url)
    code, _ = _cli(
        capsys, "suppress", "add", IT, "--reason", "customer_request", "--actor", "ann", *db
    )
    assert code == 0
    _three_checks(backend_url, capsys)
    window = ("--from", "2026-11-24T00:00:00Z", "--to", "2026-11-25T00:00:00Z")
    code, out = _cli(capsys, "audit", "export", IT, *window, *db)
    assert code == 0
    bundle = json.loads(out)
    assert bundle["number"] == NUMBER
    assert [e["id"] for e in bundle["entries"]] == [1, 3]
    assert all(e["hash_ok"] for e in bundle["entries"])
    assert [e["codes"][0] for e in bundle["entries"]] == ["suppression.number"] * 2
    assert [s["actor"] for s in bundle["suppressions"]] == ["ann"]
    assert [(c["action"], c["actor"], c["reason"]) for c in bundle["changes"]] == [
        ("insert", "ann", "customer_request")
    ]
    assert bundle["verification"]["ok"] is True
    page = tmp_path / "evidence.html"
    code, out = _cli(capsys, "audit", "export", IT, *window, "--html", "-o", str(page), *db)
    assert code == 0
    assert f"wrote 2 entries for {NUMBER}" in out
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "Entry 3: <span" in html
    assert "intact" in html
    # An empty range is an empty bundle, not an error.
    before = ("--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z")
    code, out = _cli(capsys, "audit", "export", IT, *before, *db)
    assert code == 0
    assert json.loads(out)["entries"] == []


def test_purge_keeps_entries_younger_than_the_retention(backend_url: str, capsys: Capture) -> None:
    _three_checks(backend_url, capsys)  # recorded now, decided in 2026
    code, out = _cli(
        capsys, "audit", "purge", "--older-than", "2100-01-01T00:00:00Z", "--database", backend_url
    )
    assert code == 0
    assert "nothing recorded before" in out
    assert len(_rows(backend_url)) == 3
    code, _ = _cli(capsys, "audit", "verify", "--database", backend_url)
    assert code == 0
