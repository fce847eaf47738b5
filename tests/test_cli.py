"""The ``optout`` command line, run as users run it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from optout import _db
from optout._cli import build_parser, main

AT = "2026-11-24T10:00:00+01:00"
IT = "+39 06 1234 5678"


def run(*args: str, url: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``optout`` program in a subprocess, as a user would."""
    env = {**os.environ, "OPTOUT_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "optout", *args],
        capture_output=True,
        text=True,
        env=env,
        input=input_text,
        timeout=120,
        check=False,
    )


def _consult_rpo(url: str, folder: pathlib.Path) -> None:
    """Record an RPO consultation that keeps the number (so only our own lists decide)."""
    sent, back = folder / "sent.txt", folder / "back.txt"
    sent.write_text("0612345678\n")
    back.write_text("0612345678\n")
    done = run(
        "registry",
        "ingest",
        "it_rpo",
        str(sent),
        str(back),
        "--reference",
        "RPO-T1",
        "--checked-at",
        "2026-11-20T09:00:00+01:00",
        url=url,
    )
    assert done.returncode == 0, done.stderr


def test_acceptance_check_suppress_remove(backend_url: str, tmp_path: pathlib.Path) -> None:
    first = run("check", IT, "--at", AT, "--json", url=backend_url)
    assert first.returncode == 1, first.stderr
    decision = json.loads(first.stdout)
    assert decision["number"] == "+390612345678"
    # Never checked against the Italian registry: fail closed.
    assert [r["code"] for r in decision["reasons"]] == ["registry.not_consulted"]

    _consult_rpo(backend_url, tmp_path)
    clear = run("check", IT, "--at", AT, "--json", url=backend_url)
    assert clear.returncode == 0, clear.stdout
    decision = json.loads(clear.stdout)
    assert decision["allowed"] is True
    assert decision["reasons"] == []
    assert decision["next_allowed_at"] is None

    added = run(
        "suppress",
        "add",
        IT,
        "--reason",
        "customer_request",
        "--source",
        "agent",
        "--actor",
        "ann",
        url=backend_url,
    )
    assert added.returncode == 0, added.stderr

    denied = run("check", IT, "--at", AT, "--json", url=backend_url)
    assert denied.returncode == 1, denied.stderr
    data = json.loads(denied.stdout)
    assert data["allowed"] is False
    assert [r["code"] for r in data["reasons"]] == ["suppression.number"]
    (proof,) = [e for e in data["evidence"] if e["kind"] == "suppression"]
    assert proof["source"] == "agent"
    assert proof["date"].startswith("20")
    assert proof["detail"]["reason"] == "customer_request"

    removed = run("suppress", "remove", IT, "--reason", "entered in error", url=backend_url)
    assert removed.returncode == 0, removed.stderr
    assert "lifted 1 entry" in removed.stdout
    again = run("check", IT, "--at", AT, "--json", url=backend_url)
    assert again.returncode == 0
    assert json.loads(again.stdout)["reasons"] == []


def test_acceptance_invalid_number(tmp_path: pathlib.Path) -> None:
    result = run("check", "not a number", "--json", url=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["allowed"] is False
    assert [r["code"] for r in data["reasons"]] == ["number.invalid"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", IT, "--at", "2026-11-24T10:00:00"], "no time zone"),
        (["check", IT, "--at", "tomorrow"], "ISO 8601"),
        (["check", IT, "--purpose", "spam"], "invalid choice"),
        (["check", IT, "--country", "XX"], "unknown region"),
        (["check", IT, "--database", "postgresql://nobody@127.0.0.1:1/none"], "database error"),
        (["check", IT, "--database", "nonsense"], "not a database URL"),
        (["suppress", "add", "garbage", "--reason", "r"], "not a phone number"),
        (["suppress", "add", IT], "--reason"),
        (["suppress", "import", "/nonexistent/file.csv"], "cannot read"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: pathlib.Path, args: list[str], message: str
) -> None:
    result = run(*args, url=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _subcommands() -> list[list[str]]:
    return [
        ["check"],
        ["scrub"],
        ["suppress", "add"],
        ["suppress", "remove"],
        ["suppress", "list"],
        ["suppress", "import"],
        ["suppress", "export"],
        ["db", "upgrade"],
        ["db", "status"],
    ]


@pytest.mark.parametrize("path", [[], *_subcommands()])
def test_help_everywhere(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    assert "usage: optout" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("optout 0.")


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: optout" in capsys.readouterr().out


def test_readable_output(
    backend_url: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _consult_rpo(backend_url, tmp_path)
    assert main(["check", IT, "--at", AT, "--database", backend_url]) == 0
    assert "ALLOWED" in capsys.readouterr().out
    assert main(["suppress", "add", IT, "--reason", "asked", "--database", backend_url]) == 0
    assert main(["check", IT, "--at", AT, "--database", backend_url]) == 1
    out = capsys.readouterr().out
    assert "DENIED" in out
    assert "suppression.number" in out


def test_suppress_list_import_export(
    backend_url: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("number,reason\n06 1234 5678,asked\n06 1234 5679,asked\nbad,x\n")
    db = ["--database", backend_url]
    assert main(["suppress", "import", str(source), "--country", "IT", *db]) == 0
    out = capsys.readouterr().out
    assert "added 2, already present 0, rejected 1" in out
    assert "line 4" in out
    assert (
        main(
            [
                "suppress",
                "add",
                "+1212555",
                "--prefix",
                "--reason",
                "block",
                "--scope",
                "campaign",
                "--scope-value",
                "winter",
                "--json",
                *db,
            ]
        )
        == 0
    )
    entry = json.loads(capsys.readouterr().out)
    assert entry["value"] == "+1212555"
    assert entry["scope"] == "campaign:winter"
    assert main(["suppress", "list", "--json", *db]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["value"] for r in rows] == ["+390612345678", "+390612345679", "+1212555"]
    assert main(["suppress", "list", "+39 06 1234 5678", "--json", *db]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    target = tmp_path / "out.csv"
    assert main(["suppress", "export", str(target), *db]) == 0
    assert len(target.read_text().splitlines()) == 4
    assert (
        main(
            [
                "suppress",
                "remove",
                "+1212555",
                "--prefix",
                "--reason",
                "done",
                "--scope",
                "campaign",
                "--scope-value",
                "winter",
                *db,
            ]
        )
        == 0
    )
    assert "lifted 1 entry" in capsys.readouterr().out
    assert main(["suppress", "list", "--all", "--json", *db]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[-1]["removed_at"] != ""


def test_db_upgrade_and_status(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    assert main(["db", "status", "--database", url]) == 0
    assert "revision: (empty)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--database", url]) == 0
    out = capsys.readouterr().out
    head = _db.head_revision()
    assert f"revision: {head} (newest: {head})" in out


def test_parser_is_buildable() -> None:
    assert build_parser().prog == "optout"


def test_check_with_hints_and_rules(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    db = ["--database", url]
    _consult_rpo(url, tmp_path)
    # Italy on a Sunday: the code of conduct bans the call; the JSON says until when.
    assert main(["check", IT, "--at", "2026-11-29T12:00:00+01:00", "--json", *db]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in data["reasons"]] == ["window.day_banned"]
    assert data["reasons"][0]["citation"]
    assert data["next_allowed_at"] == "2026-11-30T09:00:00+01:00"
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[policy]\nname = "strict"\n\n[[rules]]\nid = "strict.hours"\n'
        'kind = "window"\ntitle = "Only 10-12"\n'
        'schedule = { "mon-sun" = ["10:00-12:00"] }\n'
    )
    assert (
        main(
            [
                "check",
                IT,
                "--at",
                "2026-11-24T15:00:00+01:00",
                "--policy",
                str(policy),
                "--json",
                *db,
            ]
        )
        == 1
    )
    data = json.loads(capsys.readouterr().out)
    assert data["reasons"][0]["source"] == "policy:strict:strict.hours"
    assert main(["rules", "validate", str(policy)]) == 0
    assert "valid policy strict" in capsys.readouterr().out


def test_consent_outcome_and_rules_commands(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database", f"sqlite:///{tmp_path / 'x.sqlite3'}"]
    assert (
        main(
            [
                "consent",
                "add",
                IT,
                "--kind",
                "express",
                "--given-at",
                "2026-01-01T00:00:00Z",
                "--purpose",
                "marketing",
                "--json",
                *db,
            ]
        )
        == 0
    )
    record = json.loads(capsys.readouterr().out)
    assert record["purposes"] == "marketing"
    assert main(["consent", "revoke", record["id"], "--reason", "asked", *db]) == 0
    assert main(["consent", "list", "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["revoked_at"] != ""
    assert main(["outcome", IT, "dnc_request", "--at", AT, *db]) == 0
    assert "suppression" in capsys.readouterr().out
    assert main(["check", IT, "--at", AT, "--json", *db]) == 1
    assert "suppression.number" in capsys.readouterr().out
    assert main(["rules", "list", *[]]) == 0
    assert "IT" in capsys.readouterr().out
    assert main(["rules", "list", "it"]) == 0
    assert "it.code.hours" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rules", "list", "XX"], "no built-in pack"),
        (["rules", "validate", "/nonexistent.toml"], "cannot read"),
        (
            ["consent", "add", IT, "--kind", "express", "--given-at", "2999-01-01T00:00:00Z"],
            "in the future",
        ),
        (["check", IT, "--time-zone", "Mars/Base"], "unknown time zone"),
        (["check", IT, "--policy", "/nonexistent.toml"], "cannot read"),
    ],
)
def test_more_errors_are_one_line(
    tmp_path: pathlib.Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [*args, "--database", f"sqlite:///{tmp_path / 'x.sqlite3'}"]
            if args[0] != "rules"
            else args
        )
        == 2
    )
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
