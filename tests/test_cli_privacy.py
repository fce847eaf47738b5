"""The command line's privacy switches: ``--hash-numbers``, ``optout erase``, ``doctor``."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest
import sqlalchemy as sa

from optout._privacy import NumberHasher

AT = "2026-11-24T10:00:00+01:00"
LATER = "2026-11-24T12:00:00+01:00"
IT = "+39 06 1234 5678"
NUMBER = "+390612345678"
KEY = bytes(range(32))
FINGERPRINT = NumberHasher(KEY).fingerprint

#: Variables of the developer's shell that would change what these tests see.
_OURS = ("OPTOUT_HASH_KEY", "OPTOUT_HASH_KEY_FILE", "OPTOUT_HASH_NUMBERS")


def run(*args: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``optout`` program in a subprocess, with ``env`` added."""
    base = {k: v for k, v in os.environ.items() if k not in _OURS}
    # No OS keyring either: a key must come from the environment or a file here.
    base["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return subprocess.run(
        [sys.executable, "-m", "optout", *args],
        capture_output=True,
        text=True,
        env={**base, "OPTOUT_DATABASE_URL": url, "COLUMNS": "200", **env},
        timeout=120,
        check=False,
    )


def _values(url: str, table: str, column: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            t = sa.Table(table, sa.MetaData(), autoload_with=conn)
            return [str(v) for v in conn.execute(sa.select(t.c[column])).scalars()]
    finally:
        engine.dispose()


def _one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("where", "env"),
    [
        ("before the command", {}),
        ("after the command", {}),
        ("environment", {"OPTOUT_HASH_NUMBERS": "1"}),
    ],
)
def test_hash_numbers_switch(backend_url: str, where: str, env: dict[str, str]) -> None:
    key = {"OPTOUT_HASH_KEY": KEY.hex()}
    add = ["suppress", "add", IT, "--reason", "customer_request"]
    if where == "before the command":
        added = run("--hash-numbers", *add, url=backend_url, **key)
    elif where == "after the command":
        added = run(*add, "--hash-numbers", url=backend_url, **key)
    else:
        added = run(*add, url=backend_url, **key, **env)
    assert added.returncode == 0, added.stderr
    assert _values(backend_url, "suppressions", "value") == [NumberHasher(KEY).hash(NUMBER)]
    flag = [] if env else ["--hash-numbers"]
    denied = run(*flag, "check", IT, "--at", AT, "--json", url=backend_url, **key, **env)
    assert denied.returncode == 1, denied.stderr
    assert json.loads(denied.stdout)["reasons"][0]["code"] == "suppression.number"
    # Without the switch the hashed database is refused, not read as empty.
    clear = run("check", IT, "--at", AT, url=backend_url, **key)
    _one_line_error(clear, "keyed hashes")
    # --no-hash-numbers wins over the environment.
    forced = run("--no-hash-numbers", "check", IT, url=backend_url, OPTOUT_HASH_NUMBERS="1")
    _one_line_error(forced, "keyed hashes")


def test_hash_numbers_with_a_key_file(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    key_file = tmp_path / "hash.key"
    key_file.write_text(KEY.hex() + "\n")
    key_file.chmod(0o644)
    loose = run("--hash-numbers", "check", IT, url=url, OPTOUT_HASH_KEY_FILE=str(key_file))
    _one_line_error(loose, "chmod 600")
    key_file.chmod(0o600)
    done = run("--hash-numbers", "check", IT, "--json", url=url, OPTOUT_HASH_KEY_FILE=str(key_file))
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["number"] == NUMBER


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--hash-numbers", "check", IT], {}, "needs a key"),
        (["check", IT], {"OPTOUT_HASH_NUMBERS": "yes please"}, "OPTOUT_HASH_NUMBERS must be"),
        (["--hash-numbers", "check", IT], {"OPTOUT_HASH_KEY": "00ff"}, "at least 16"),
        (["erase", IT, "--actor", "dpo", "--reason", "ticket"], {}, "needs a secret key"),
        (["erase", "garbage", "--actor", "dpo", "--reason", "t"], {}, "not a phone number"),
        (["erase", IT, "--reason", "ticket"], {}, "--actor"),
    ],
)
def test_privacy_errors_are_one_line(
    tmp_path: pathlib.Path, args: list[str], env: dict[str, str], message: str
) -> None:
    _one_line_error(run(*args, url=f"sqlite:///{tmp_path / 'x.sqlite3'}", **env), message)


def test_doctor_reports_the_storage_mode_and_fingerprint_never_the_key(
    tmp_path: pathlib.Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    clear = run("doctor", "--json", url=url)
    checks = {c["name"]: c for c in map(json.loads, clear.stdout.splitlines())}
    assert checks["number storage"]["status"] == "ok"
    assert "stored in clear" in checks["number storage"]["detail"]
    hashed = run(
        "--hash-numbers", "doctor", "--json", url=url + "-hashed", OPTOUT_HASH_KEY=KEY.hex()
    )
    assert KEY.hex() not in hashed.stdout + hashed.stderr
    checks = {c["name"]: c for c in map(json.loads, hashed.stdout.splitlines())}
    detail = checks["number storage"]["detail"]
    assert "keyed hashes" in detail
    assert FINGERPRINT in detail


def test_erase_from_the_command_line(backend_url: str, tmp_path: pathlib.Path) -> None:
    key = {"OPTOUT_HASH_KEY": KEY.hex()}
    steps = [
        ["suppress", "add", IT, "--reason", "customer_request", "--actor", "ann"],
        ["consent", "add", IT, "--kind", "express", "--given-at", "2026-01-01T00:00:00Z"],
        ["outcome", IT, "no_answer", "--at", AT],
        ["check", IT, "--at", AT],  # recorded in the ledger, in clear
    ]
    for step in steps:
        done = run(*step, url=backend_url)
        assert done.returncode in (0, 1), done.stderr
    erased = run(
        "erase", IT, "--actor", "dpo", "--reason", "ticket GDPR-7", "--json", url=backend_url, **key
    )
    assert erased.returncode == 0, erased.stderr
    report = json.loads(erased.stdout)
    assert report["number_hash"] == NumberHasher(KEY).hash(NUMBER)
    assert (report["consents"], report["attempts"]) == (1, 1)
    assert len(report["ledger_redacted"]) == 1
    assert NUMBER not in erased.stdout
    # Still denied, by the opt-out kept as a hash; the ledger still verifies.
    denied = run("check", IT, "--at", LATER, "--json", url=backend_url, **key)
    assert denied.returncode == 1, denied.stderr
    codes = [r["code"] for r in json.loads(denied.stdout)["reasons"]]
    assert codes == ["suppression.number", "registry.not_consulted"]
    verified = run("audit", "verify", "--json", url=backend_url, **key)
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["redacted"] == 1
    assert _values(backend_url, "consents", "number") == []
    assert set(_values(backend_url, "suppressions", "value")) == {report["number_hash"]}
    # Every client of the database needs the key from now on.
    _one_line_error(run("check", IT, url=backend_url), "erased numbers")
    doctor = run("doctor", "--json", url=backend_url, **key)
    checks = {c["name"]: c for c in map(json.loads, doctor.stdout.splitlines())}
    assert "1 erasure request honoured" in checks["number storage"]["detail"]
    assert FINGERPRINT in checks["number storage"]["detail"]
    readable = run("erase", IT, "--actor", "dpo", "--reason", "again", url=backend_url, **key)
    assert readable.returncode == 0, readable.stderr
    assert "the opt-out is kept as entry" in readable.stdout
    assert f"needs the hash key with fingerprint {FINGERPRINT}" in readable.stdout
    assert report["key_fingerprint"] == FINGERPRINT


def _clear_forms_in_database(url: str) -> list[str]:
    """The written forms of NUMBER (and the hash key) found in any column of any table
    (and, for SQLite, in the database file, its WAL and its journal)."""
    forms = [NUMBER, NUMBER[1:], "0612345678", IT, "06 1234 5678", KEY.hex()]
    engine = sa.create_engine(url)
    try:
        texts: list[str] = []
        with engine.connect() as conn:
            for name in sa.inspect(conn).get_table_names():
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                for row in conn.execute(sa.select(table)):
                    texts.extend(str(v) for v in row if v is not None)
    finally:
        engine.dispose()
    text = "\n".join(texts)
    assert "h1:" in text  # the scan does see the stored hashes
    found = [form for form in forms if form in text]
    if url.startswith("sqlite"):
        path = pathlib.Path(sa.make_url(url).database or "")
        data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
        found += [f"file:{form}" for form in forms if form.encode() in data]
        found += ["file:raw key"] if KEY in data else []
    return found


def test_foundation_acceptance_with_hashed_storage(
    backend_url: str, tmp_path: pathlib.Path
) -> None:
    """Issue 2's suppression acceptance steps, with ``--hash-numbers``: the same answers,
    and no clear number anywhere in the database (ledger on, as the CLI has it), nor the key."""
    env = {"OPTOUT_HASH_KEY": KEY.hex(), "OPTOUT_HASH_NUMBERS": "1"}

    def check() -> tuple[int, dict[str, Any]]:
        done = run("check", IT, "--at", AT, "--json", url=backend_url, **env)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode, json.loads(done.stdout)

    code, first = check()
    assert code == 1
    assert first["number"] == NUMBER
    assert [r["code"] for r in first["reasons"]] == ["registry.not_consulted"]

    sent, back = tmp_path / "sent.txt", tmp_path / "back.txt"
    sent.write_text("0612345678\n")
    back.write_text("0612345678\n")
    ingest = ["registry", "ingest", "it_rpo", str(sent), str(back), "--reference", "RPO-T1"]
    done = run(*ingest, "--checked-at", "2026-11-20T09:00:00+01:00", url=backend_url, **env)
    assert done.returncode == 0, done.stderr
    code, clear = check()
    assert (code, clear["allowed"], clear["reasons"]) == (0, True, [])

    add = ["suppress", "add", IT, "--reason", "customer_request", "--source", "agent"]
    done = run(*add, "--actor", "ann", url=backend_url, **env)
    assert done.returncode == 0, done.stderr
    code, denied = check()
    assert code == 1
    assert [r["code"] for r in denied["reasons"]] == ["suppression.number"]
    (proof,) = [e for e in denied["evidence"] if e["kind"] == "suppression"]
    assert proof["source"] == "agent"
    assert proof["date"].startswith("20")
    assert proof["detail"]["reason"] == "customer_request"

    done = run("suppress", "remove", IT, "--reason", "entered in error", url=backend_url, **env)
    assert done.returncode == 0, done.stderr
    assert "lifted 1 entry" in done.stdout
    code, again = check()
    assert (code, again["reasons"]) == (0, [])

    verified = run("audit", "verify", "--json", url=backend_url, **env)
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["checked"] == 4  # every check is in the ledger
    assert _clear_forms_in_database(backend_url) == []
