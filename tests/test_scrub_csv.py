"""``optout scrub``: every row decided as can_call() decides it, written atomically."""

from __future__ import annotations

import csv
import datetime as dt
import os
import pathlib
import subprocess

import pytest

import optout
from optout._scrub import DECISION_COLUMNS, scrub_csv

ROOT = pathlib.Path(__file__).resolve().parent.parent
AT = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


def _read(path: pathlib.Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_scrub_matches_can_call_row_by_row(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    client.suppressions.add("+39 06 1234 5678", reason="asked")
    source = tmp_path / "leads.csv"
    source.write_text(
        "name,phone\n"
        "a,+39 06 1234 5678\n"
        "b,+39 06 1234 5679\n"
        "c,not a number\n"
        "d,+39 06-1234-5679\n"
        "e,\n"
        "g,+1 202 555 0123 ext. 7\n"
        "h,+1 202 555 0123\n",
        encoding="utf-8",
    )
    target = tmp_path / "out.csv"
    summary = scrub_csv(client, source, target, at=AT)
    rows = _read(target)
    assert list(rows[0].keys()) == ["name", "phone", *DECISION_COLUMNS]
    for row in rows:
        expected = client.can_call(row["phone"], at=AT)
        assert row["optout_allowed"] == ("true" if expected.allowed else "false")
        assert row["optout_reasons"] == ";".join(expected.codes)
        assert row["optout_number"] == (expected.number or "")
    assert [r["optout_duplicate"] for r in rows] == [
        "false",
        "false",
        "false",
        "true",
        "false",
        "false",
        "false",
    ]
    assert rows[4]["phone"] == ""
    assert rows[5]["optout_reason"] == "number.extension"
    assert rows[6]["optout_allowed"] == "true"
    assert (summary.rows, summary.allowed, summary.denied) == (7, 3, 4)
    assert summary.invalid == 2
    assert summary.duplicates == 1
    assert summary.by_reason["suppression.number"] == 1
    assert "rows: 7" in summary.render()


@pytest.mark.parametrize(
    ("content", "kwargs", "match"),
    [
        ("", {}, "empty"),
        ("name,email\nx,y\n", {}, "no phone column"),
        ("name,phone\nx,y\n", {"column": "mobile"}, "no column 'mobile'"),
        ("cancellation_date,name\n2026-01-01,x\n", {}, "no phone column"),
        ('phone\n"+39 06 1234 5678\n', {}, "line 2: a quoted field is never closed"),
        # A row with fewer fields than the header is an error, not silently padded.
        ("name,phone\nf\nx,+39 06 1234 5678\n", {}, "line 2: expected 2 columns, got 1"),
    ],
)
def test_bad_input_is_a_clear_error_and_no_output(
    client: optout.Compliance,
    tmp_path: pathlib.Path,
    content: str,
    kwargs: dict[str, str],
    match: str,
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(content, encoding="utf-8")
    target = tmp_path / "out.csv"
    with pytest.raises(optout.ConfigurationError, match=match):
        scrub_csv(client, source, target, at=AT, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_undecodable_input_is_a_clear_error(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"phone\n+39 06 1234 5678\n\xff\xfe\n")
    with pytest.raises(optout.ConfigurationError, match="UTF-8"):
        scrub_csv(client, source, tmp_path / "out.csv", at=AT)
    assert not (tmp_path / "out.csv").exists()


def test_output_may_not_overwrite_input(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("phone\n+39 06 1234 5678\n")
    with pytest.raises(optout.ConfigurationError, match="overwrite"):
        scrub_csv(client, source, source, at=AT)


def test_the_readme_main_job_runs(tmp_path: pathlib.Path) -> None:
    """The README's first set-up command after the install: examples/main-job.sh."""
    env = {
        **os.environ,
        "OPTOUT_DATABASE_URL": f"sqlite:///{tmp_path / 'main.sqlite3'}",
        "OPTOUT_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
    }
    result = subprocess.run(
        ["sh", str(ROOT / "examples" / "main-job.sh")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "rows: 37" in out
    for code in ("suppression.number", "registry.listed", "number.invalid"):
        assert code in out
    rows = _read(tmp_path / "leads.scrubbed.csv")
    assert len(rows) == len(_read(ROOT / "examples" / "leads.csv"))
    assert {r["optout_allowed"] for r in rows} == {"true", "false"}
    assert (tmp_path / "leads.report.html").read_text().count("<svg") >= 1
