"""Declared blackouts, consent scopes, sectors, caller IDs and Italy's undated RPO listings
through the client, the batch path and the CLI, on every storage backend (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import time
import zoneinfo

import pytest

from _fakes import all_clear
from optout import Compliance, ConfigurationError, NotFoundError
from optout._cli import main
from optout._registries.it import it_rpo

NY = zoneinfo.ZoneInfo("America/New_York")
ROME = zoneinfo.ZoneInfo("Europe/Rome")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ALBANY = "+1 518 555 0142"  # New York State
MIAMI = "+1 305 555 0142"  # Florida
IT = "+39 06 1234 5678"
FR = "+33 1 99 00 12 34"
WEDNESDAY = dt.datetime(2026, 12, 9, 15, 0, tzinfo=NY)


def test_a_declared_emergency_denies_with_its_source_and_ends_when_ended(
    lawful_client: Compliance,
) -> None:
    c = lawful_client
    kw = {"purpose": "marketing", "technology": "manual"}
    assert c.can_call(ALBANY, at=WEDNESDAY, **kw).allowed
    b = c.blackouts.add("us-ny", "2026-12-08", source="Executive Order 52", reference="EO-52")
    assert b.area == "US-NY"
    assert b.last_day is None
    denied = c.can_call(ALBANY, at=WEDNESDAY, **kw)
    assert set(denied.codes) == {"blackout.declared"}
    assert "Executive Order 52 (EO-52)" in denied.reasons[0].message
    assert denied.next_allowed_at is None  # open-ended
    evidence = [e for e in denied.evidence if e.kind == "blackout"]
    assert [(e.id, e.detail["area"]) for e in evidence] == [(str(b.id), "US-NY")]
    assert c.can_call(MIAMI, at=WEDNESDAY, **kw).allowed
    assert c.can_call(ALBANY, at=WEDNESDAY, purpose="debt_collection", technology="manual").allowed
    # Ended on the 10th: the 11th is allowed again, and the denial says when.
    c.blackouts.end(b.id, "2026-12-10", actor="compliance", reason="order lifted")
    denied = c.can_call(ALBANY, at=WEDNESDAY, **kw)
    assert denied.next_allowed_at == dt.datetime(2026, 12, 11, 8, 0, tzinfo=NY)
    assert c.can_call(ALBANY, at=denied.next_allowed_at, **kw).allowed
    assert [x.last_day for x in c.blackouts.list(area="US-NY")] == [dt.date(2026, 12, 10)]


def test_the_batch_path_gives_the_same_answers(lawful_client: Compliance) -> None:
    c = lawful_client
    c.blackouts.add("US-NY", "2026-12-08", "2026-12-09", source="EO 52")
    c.blackouts.add("IT", "2026-12-09", "2026-12-09", kind="no_call_day", source="mourning")
    numbers = [ALBANY, MIAMI, "+1 212 555 0142", IT]
    for at in (WEDNESDAY, WEDNESDAY + dt.timedelta(days=1)):
        batch = c.decide_many(numbers, at=at, purpose="marketing", technology="manual")
        for number, row in zip(numbers, batch, strict=True):
            one = c.can_call(number, at=at, purpose="marketing", technology="manual")
            assert row.allowed == one.allowed
            assert row.codes == one.codes
            assert row.next_allowed_at == one.next_allowed_at


def test_bad_blackouts_are_clear_errors(client: Compliance) -> None:
    with pytest.raises(ConfigurationError, match="jurisdiction id"):
        client.blackouts.add("New York", "2026-12-08", source="x")
    with pytest.raises(ConfigurationError, match="before first_day"):
        client.blackouts.add("US-NY", "2026-12-08", "2026-12-01", source="x")
    with pytest.raises(ConfigurationError, match="local date"):
        client.blackouts.add("US-NY", dt.datetime(2026, 12, 8, tzinfo=NY), source="x")
    with pytest.raises(ConfigurationError, match="source"):
        client.blackouts.add("US-NY", "2026-12-08", source="  ")
    with pytest.raises(ConfigurationError, match="kind"):
        client.blackouts.add("US-NY", "2026-12-08", source="x", kind="storm")
    with pytest.raises(NotFoundError):
        client.blackouts.end(99, "2026-12-09", actor="a", reason="b")


def test_a_consent_scope_is_stored_and_lifts_french_hours(lawful_client: Compliance) -> None:
    c = lawful_client
    at = dt.datetime(2026, 9, 1, 21, 0, tzinfo=PARIS)  # Tuesday, after 20:00
    given = dt.datetime(2026, 8, 20, 10, tzinfo=PARIS)
    c.consents.add(FR, "express", given_at=given, proof="form 1")
    assert "window.outside_hours" in c.can_call(FR, at=at, technology="manual").codes
    record = c.consents.add(FR, "express", given_at=given, proof="form 2", scopes=["outside_hours"])
    assert {s.value for s in record.scopes} == {"outside_hours"}
    assert [sorted(x.scopes) for x in c.consents.list(number=FR)] == [[], ["outside_hours"]]
    assert c.can_call(FR, at=at, technology="manual").allowed
    with pytest.raises(ConfigurationError, match="consent scope"):
        c.consents.add(FR, "express", given_at=given, scopes=["evenings"])


def test_an_rpo_listing_without_a_date_voids_a_january_consent(
    backend_url: str, tmp_path: pathlib.Path
) -> None:
    # Before: allowed. The returned list never carries a registration date.
    at = dt.datetime(2026, 11, 24, 11, 0, tzinfo=ROME)
    registry = it_rpo()
    with Compliance(backend_url, migrate=True, registries=[registry]) as c:
        returned = tmp_path / "returned.txt"
        returned.write_text("\r\n")  # the number was dropped: it is registered
        registry.ingest([IT], returned, reference="RPO-1", checked_at=at - dt.timedelta(days=1))
        c.consents.add(IT, "express", given_at=dt.datetime(2026, 1, 15, tzinfo=ROME), proof="p")
        denied = c.can_call(IT, at=at, technology="manual")
        assert not denied.allowed
        assert "consent.voided_by_registry" in denied.codes
        # Recording the registration date lets a later consent stand, as the law says.
        c.registrations.record(
            "it_rpo", IT, registered_at=dt.datetime(2025, 12, 1, tzinfo=ROME), source="letter"
        )
        assert c.can_call(IT, at=at, technology="manual").allowed


def test_cli_blackout_add_list_end(backend_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database", backend_url]
    args = ["blackout", "add", "--area", "US-NY", "--from", "2026-12-08", *db]
    assert main([*args, "--source", "EO 52", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["area"] == "US-NY"
    assert row["last_day"] == ""
    assert (
        main(["blackout", "end", row["id"], "--on", "2026-12-09", "--reason", "lifted", *db]) == 0
    )
    capsys.readouterr()
    assert main(["blackout", "list", "--json", *db]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert listed["last_day"] == "2026-12-09"
    assert main(["blackout", "add", "--area", "nowhere!", "--from", "x", "--source", "s", *db]) == 2
    assert "jurisdiction id" in capsys.readouterr().err


def test_cli_consent_scope(backend_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database", backend_url]
    given = "2026-08-20T10:00:00+02:00"
    args = ["consent", "add", FR, "--kind", "express", "--given-at", given, "--json", *db]
    assert main([*args, "--scope", "outside_hours"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["scopes"] == "outside_hours"


def test_a_blackout_declared_by_another_process_is_seen_within_the_cache_time(
    backend_url: str,
) -> None:
    kw = {"purpose": "marketing", "technology": "manual"}
    with (
        Compliance(backend_url, migrate=True, registries=all_clear()) as dialer,
        Compliance(backend_url, migrate=True, registries=all_clear()) as office,
    ):
        assert dialer.can_call(ALBANY, at=WEDNESDAY, **kw).allowed  # cached: none declared
        office.blackouts.add("US-NY", "2026-12-08", source="EO 52")
        time.sleep(dialer.blackouts.ttl + 0.05)
        assert not dialer.can_call(ALBANY, at=WEDNESDAY, **kw).allowed
        dialer.blackouts.ttl = 0
        office.blackouts.end(office.blackouts.list()[0].id, "2026-12-08", actor="a", reason="b")
        assert dialer.can_call(ALBANY, at=WEDNESDAY, **kw).allowed


def test_a_registration_date_in_the_future_is_refused(client: Compliance) -> None:
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    with pytest.raises(ConfigurationError, match="in the future"):
        client.registrations.record("gb_tps", "+44 20 7946 0123", registered_at=ahead, source="x")


def test_sector_and_caller_id_through_the_client_batch_and_cli(
    lawful_client: Compliance, backend_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    c = lawful_client
    at = dt.datetime(2026, 9, 1, 11, 0, tzinfo=PARIS)
    c.consents.add(FR, "express", given_at=dt.datetime(2026, 8, 20, tzinfo=PARIS), proof="f")
    kw = {"technology": "manual"}
    assert c.can_call(FR, at=at, **kw).allowed
    banned = c.can_call(FR, at=at, sector="energy_renovation", **kw)
    assert banned.codes == ("consent.missing",)
    assert banned.reasons[0].source == "FR:fr.energy_renovation.ban"
    automated = {"technology": "autodialed", "caller_id": "+33 6 12 34 56 78"}
    assert c.can_call(FR, at=at, **automated).codes == ("cli.not_permitted",)
    batch = c.decide_many([FR, FR], at=at, sector="energy_renovation", **kw)
    assert [r.codes for r in batch] == [("consent.missing",)] * 2
    batch = c.decide_many([FR], at=at, **automated)
    assert [r.codes for r in batch] == [("cli.not_permitted",)]
    with pytest.raises(ConfigurationError, match="sector"):
        c.can_call(FR, at=at, sector="windows")
    with pytest.raises(ConfigurationError, match="caller_id"):
        c.can_call(FR, at=at, caller_id="12")
    args = ["check", FR, "--at", at.isoformat(), "--technology", "manual", "--json"]
    assert main([*args, "--sector", "energy_renovation", "--database", backend_url]) == 1
    assert "fr.energy_renovation.ban" in capsys.readouterr().out


def test_a_consent_records_the_sectors_it_is_specific_to(
    client: Compliance, backend_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    given = dt.datetime(2026, 3, 1, tzinfo=ROME)
    record = client.consents.add(IT, "express", given_at=given, sectors=["telecom"])
    assert record.sectors == frozenset({"telecom"})
    assert client.consents.add(IT, "express", given_at=given).sectors is None
    with pytest.raises(ConfigurationError, match="sector"):
        client.consents.add(IT, "express", given_at=given, sectors=["cars"])
    args = ["consent", "add", IT, "--kind", "express", "--given-at", given.isoformat(), "--json"]
    assert main([*args, "--sector", "telecom", "--database", backend_url]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sectors"] == "telecom"


def test_bad_collections_are_clear_errors(client: Compliance) -> None:
    given = dt.datetime(2026, 3, 1, tzinfo=ROME)
    with pytest.raises(ConfigurationError, match="scopes"):
        client.consents.add(IT, "express", given_at=given, scopes=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="sectors"):
        client.consents.add(IT, "express", given_at=given, sectors=5)  # type: ignore[arg-type]
    assert client.consents.add(IT, "express", given_at=given, scopes=None).scopes == frozenset()
    with pytest.raises(ConfigurationError, match="purposes"):
        client.blackouts.add("IT", "2026-12-08", source="x", purposes=5)  # type: ignore[arg-type]
    one = client.blackouts.add("IT", "2026-12-08", source="decree", purposes="marketing")
    assert one.purposes == frozenset({"marketing"})
    with pytest.raises(ConfigurationError, match="area"):
        client.blackouts.list(area=5)  # type: ignore[arg-type]
