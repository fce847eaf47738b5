"""``optout scrub``: every row decided as can_call() decides it, written atomically."""

from __future__ import annotations

import csv
import datetime as dt
import pathlib

import pytest

import optout
from optout._cli import main
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
        "f\n"
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
        "false",
    ]
    assert rows[5]["name"] == "f"
    assert rows[5]["phone"] == ""
    assert rows[6]["optout_reason"] == "number.extension"
    assert rows[7]["optout_allowed"] == "true"
    assert (summary.rows, summary.allowed, summary.denied) == (8, 3, 5)
    assert summary.invalid == 3
    assert summary.duplicates == 1
    assert summary.by_reason["suppression.number"] == 1
    assert "rows: 8" in summary.render()


@pytest.mark.parametrize(
    ("content", "kwargs", "match"),
    [
        ("", {}, "empty"),
        ("name,email\nx,y\n", {}, "no phone column"),
        ("name,phone\nx,y\n", {"column": "mobile"}, "no column 'mobile'"),
        ("cancellation_date,name\n2026-01-01,x\n", {}, "no phone column"),
        ('phone\n"+39 06 1234 5678\n', {}, "line"),
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


def test_the_shipped_example_scrubs(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database", f"sqlite:///{tmp_path / 'x.sqlite3'}"]
    assert main(["suppress", "import", str(ROOT / "examples" / "suppressions.csv"), *db]) == 0
    target = tmp_path / "scrubbed.csv"
    assert (
        main(
            [
                "scrub",
                str(ROOT / "examples" / "leads.csv"),
                "-o",
                str(target),
                "--at",
                "2026-11-24T10:00:00+01:00",
                *db,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "suppression.number" in out
    assert "number.invalid" in out
    rows = _read(target)
    assert len(rows) == len(_read(ROOT / "examples" / "leads.csv"))
    assert {r["optout_allowed"] for r in rows} == {"true", "false"}
