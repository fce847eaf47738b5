"""``run_doctor``: database, registry freshness, time-zone data, ledger, fail-closed list."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import optout
from optout import _db
from optout._cli import main
from optout._doctor import Check, fail_closed_conditions, run_doctor
from optout._ledger import Ledger
from optout._ledger_schema import ledger
from optout._registries._snapshot import e164_keys
from optout._registries.it import it_rpo
from optout._registries.us import us_dnc
from optout._timeutil import utcnow
from optout.registries import RegistryOptions

NO_RULES = optout.RuleBook(packs={}, unsupported="allow")


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


@pytest.fixture
def bare(backend_url: str) -> Iterator[optout.Compliance]:
    with optout.Compliance(backend_url, migrate=True, registries=(), rules=NO_RULES) as c:
        yield c


@pytest.fixture
def lawful(backend_url: str, tmp_path: pathlib.Path) -> Iterator[optout.Compliance]:
    """Every built-in pack, with the US and Italian registries and no data yet."""
    with optout.Compliance(
        backend_url,
        migrate=True,
        registries=[us_dnc(), it_rpo()],
        snapshot_dir=tmp_path / "snapshots",
    ) as c:
        yield c


def test_a_fresh_database_is_reported_ok(bare: optout.Compliance) -> None:
    checks = run_doctor(bare)
    found = _by_name(checks)
    assert found["database"].status == "ok"
    assert found["schema"].status == "ok"
    assert _db.head_revision() in found["schema"].detail
    assert found["ledger"].status == "ok"
    assert "empty" in found["ledger"].detail
    assert found["holidays"].status == "ok"
    assert found["phonenumbers"].status == "ok"
    assert found["time zones"].status in {"ok", "warn"}
    assert "tzdata" in found["time zones"].detail
    assert found["fail-closed conditions"].status == "ok"
    # NO_RULES lets numbers of uncovered countries through: reported as a loosening.
    assert found["loosenings"].status == "warn"
    assert "unsupported='allow'" in found["loosenings"].detail
    assert not [c for c in checks if c.status == "fail"]
    assert all(set(c.to_dict()) == {"name", "status", "detail"} for c in checks)


def test_missing_registry_data_fails_and_is_listed_as_fail_closed(
    lawful: optout.Compliance,
) -> None:
    found = _by_name(run_doctor(lawful))
    assert found["registry us_dnc"].status == "fail"
    assert "no snapshot imported" in found["registry us_dnc"].detail
    assert found["registry it_rpo"].status == "fail"
    assert "never consulted" in found["registry it_rpo"].detail
    # Registries the packs require with no backend at all fail too.
    assert found["registry gb_tps"].status == "fail"
    assert "no backend configured" in found["registry gb_tps"].detail
    closed = found["fail-closed conditions"]
    assert closed.status == "warn"
    for name in ("us_dnc", "it_rpo", "gb_tps"):
        assert name in closed.detail
    assert "unsupported='deny'" in closed.detail
    conditions = fail_closed_conditions(lawful)
    assert "us_dnc has no data: calls under packs US are denied" in conditions
    assert any("unsupported='deny'" in c for c in conditions)


@pytest.mark.parametrize(
    ("age", "status"),
    [
        (dt.timedelta(days=1), "ok"),
        (dt.timedelta(days=13), "warn"),
        (dt.timedelta(days=40), "fail"),
    ],
)
def test_consultation_freshness_follows_the_pack_validity(
    lawful: optout.Compliance, age: dt.timedelta, status: str
) -> None:
    now = utcnow()
    lawful.registry_store.record_consultation(
        "it_rpo",
        "REF-1",
        checked_at=now - age,
        submitted_at=None,
        submitted=1,
        listed=0,
        clear=1,
        source="test",
        answers=[],
    )
    check = _by_name(run_doctor(lawful, now=now))["registry it_rpo"]
    assert check.status == status, check
    assert "REF-1" in check.detail
    if status == "fail":
        assert "expired" in check.detail


@pytest.mark.parametrize(
    ("age", "status"), [(dt.timedelta(days=2), "ok"), (dt.timedelta(days=45), "fail")]
)
def test_snapshot_freshness_follows_the_pack_validity(
    lawful: optout.Compliance, age: dt.timedelta, status: str
) -> None:
    now = utcnow()
    lawful.registry_store.activate(
        "us_dnc", e164_keys(["+12125550100"]), None, taken_at=now - age, source="test"
    )
    check = _by_name(run_doctor(lawful, now=now))["registry us_dnc"]
    assert check.status == status, check
    assert "snapshot" in check.detail


def test_fail_open_registries_are_reported(backend_url: str, tmp_path: pathlib.Path) -> None:
    with optout.Compliance(
        backend_url,
        migrate=True,
        registries=[us_dnc(options=RegistryOptions(fail_open=True))],
        snapshot_dir=tmp_path,
    ) as client:
        check = _by_name(run_doctor(client))["registry us_dnc"]
    assert check.status == "fail"  # still no data
    assert "FAILS OPEN" in check.detail


def test_a_tampered_ledger_fails(bare: optout.Compliance) -> None:
    book = Ledger(bare.engine)
    for _ in range(3):
        book.append(bare.engine, bare.can_call("+39 06 1234 5678"), {})
    found = _by_name(run_doctor(bare))
    assert found["ledger"].status == "ok"
    assert "3 entries" in found["ledger"].detail
    with bare.engine.begin() as conn:
        conn.execute(sa.update(ledger).where(ledger.c.id == 2).values(codes="number.invalid"))
    check = _by_name(run_doctor(bare))["ledger"]
    assert check.status == "fail"
    assert "entry 2" in check.detail


def test_an_old_schema_fails(backend_url: str) -> None:
    with optout.Compliance(backend_url, migrate=True, registries=(), rules=NO_RULES) as client:
        with client.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0003'"))
        try:
            found = _by_name(run_doctor(client))
        finally:
            with client.engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE alembic_version SET version_num = :v"),
                    {"v": _db.head_revision()},
                )
    assert found["schema"].status == "fail"
    assert "optout db upgrade" in found["schema"].detail


def _cli_doctor(capsys: pytest.CaptureFixture[str], url: str) -> tuple[int, dict[str, Check]]:
    code = main(["doctor", "--json", "--database", url])
    out = capsys.readouterr().out
    checks = [Check(**json.loads(line)) for line in out.splitlines()]
    return code, _by_name(checks)


def test_the_cli_doctor_reports_an_unreachable_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, found = _cli_doctor(capsys, "postgresql://nobody:s3cret@127.0.0.1:1/none")
    assert code == 1
    assert found["database"].status == "fail"
    assert "s3cret" not in found["database"].detail  # the password is hidden
    assert "127.0.0.1:1" in found["database"].detail
    assert found["time zones"].status in ("ok", "warn")  # still checked
    assert found["holidays"].status == "ok"
    assert found["ledger"].status == "fail"
    assert found["fail-closed conditions"].status == "fail"
    assert "nothing is allowed" in found["fail-closed conditions"].detail


@pytest.mark.postgresql
def test_the_cli_doctor_reports_an_old_schema(
    postgres_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = _db.create_engine(postgres_server)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0003'"))
        try:
            code, found = _cli_doctor(capsys, postgres_server)
        finally:
            with engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE alembic_version SET version_num = :v"),
                    {"v": _db.head_revision()},
                )
    finally:
        engine.dispose()
    assert code == 1
    assert found["database"].status == "ok"
    assert found["schema"].status == "fail"
    assert "optout db upgrade" in found["schema"].detail
    assert found["fail-closed conditions"].status == "fail"


def test_the_cli_doctor_on_a_healthy_database(
    backend_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--database", backend_url]) == 0
    capsys.readouterr()
    code, found = _cli_doctor(capsys, backend_url)
    assert (found["database"].status, found["schema"].status) == ("ok", "ok")
    assert found["ledger"].status == "ok"
    # The CLI's default packs require registries that have no data yet: fail closed.
    assert code == 1
    assert any(c.status == "fail" for n, c in found.items() if n.startswith("registry "))


STALE_PACK = """
[pack]
id = "ZZ"
name = "Testland"
version = "t"

[[rules]]
id = "zz.days"
kind = "blackout"
title = "No calls on the listed days"
purposes = ["marketing"]
dates = [2023-07-03, 2023-12-26]
confidence = "secondary"
citation = "test"

[[rules]]
id = "zz.declared"
kind = "blackout"
title = "No calls on declared days"
purposes = ["marketing"]
dates = [2023-07-03]
declared = ["no_call_day"]
confidence = "secondary"
citation = "test"
"""


def test_stale_blackout_lists_warn_and_declared_blackouts_are_listed(backend_url: str) -> None:
    pack = optout.load_pack("zz.toml", text=STALE_PACK)
    rules = optout.RuleBook(packs={"ZZ": pack})
    now = dt.datetime(2026, 12, 8, 12, tzinfo=dt.UTC)
    with optout.Compliance(backend_url, migrate=True, registries=(), rules=rules) as c:
        found = _by_name(run_doctor(c, now=now))
        lists = found["blackout lists"]
        assert lists.status == "warn"
        assert "ZZ:zz.days (last date 2023-12-26)" in lists.detail
        assert "zz.declared" not in lists.detail  # its coming days are declared at run time
        assert found["declared blackouts"].detail == "none in force"
        c.blackouts.add("US-NY", "2026-12-08", source="EO 52")
        c.blackouts.add("US-LA", "2026-01-02", "2026-01-03", source="old")
        declared = _by_name(run_doctor(c, now=now))["declared blackouts"].detail
        assert "US-NY" in declared
        assert "EO 52" in declared
        assert "US-LA" not in declared
    with optout.Compliance(backend_url, migrate=True, registries=(), rules=NO_RULES) as c:
        assert _by_name(run_doctor(c, now=now))["blackout lists"].status == "ok"
