"""``optout scrub`` on every format, several phone columns, split, report, progress, bad input."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import pathlib
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

import optout
from optout._batch import BatchRun
from optout._fastnum import distinct
from optout._scrub import (
    DECISION_COLUMNS,
    _decide_table,
    _Decided,
    _keep_freed_memory,
    _Seen,
    _split_columns,
    _start_writeback,
    add_scrub_arguments,
    decision_columns,
    run_scrub,
    scrub_file,
)

AT = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
LISTED = "+39 06 1234 5678"
FREE = "+39 06 1234 5679"
ROWS: list[dict[str, str]] = [
    {"name": "a", "phone": LISTED},
    {"name": "b", "phone": FREE},
    {"name": "c", "phone": "not a number"},
    {"name": "d", "phone": "+39 06-1234-5679"},
]
FORMATS = ["csv", "tsv", "parquet", "jsonl", "xlsx"]
EXT = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet", "jsonl": ".jsonl", "xlsx": ".xlsx"}


@pytest.fixture
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[optout.Compliance]:
    """Deterministic decisions: no packs, no registries; one suppressed number."""
    rules = optout.RuleBook(packs={}, unsupported="allow")
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'optout.sqlite3'}"
    with optout.Compliance(url, migrate=True, registries=(), rules=rules) as c:
        c.suppressions.add(LISTED, reason="asked")
        yield c


def write(path: pathlib.Path, rows: list[dict[str, Any]], fmt: str) -> pathlib.Path:
    names = list(rows[0])
    if fmt in ("csv", "tsv"):
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t" if fmt == "tsv" else ",")
            writer.writerow(names)
            writer.writerows([[r[n] for n in names] for r in rows])
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(names)
        for r in rows:
            sheet.append([r[n] for n in names])
        book.save(path)
    return path


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read(path: pathlib.Path, fmt: str) -> list[dict[str, str]]:
    """Any output as rows of strings (booleans as true/false, missing as "")."""
    if fmt in ("csv", "tsv"):
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t" if fmt == "tsv" else ","))
    if fmt == "parquet":
        rows = pq.read_table(path).to_pylist()
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    else:
        book = openpyxl.load_workbook(path, read_only=True)
        values = list(book.worksheets[0].iter_rows(values_only=True))
        book.close()
        rows = [dict(zip(values[0], r, strict=True)) for r in values[1:]]
    return [{str(k): _text(v) for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("out_fmt", FORMATS)
@pytest.mark.parametrize("in_fmt", FORMATS)
def test_every_format_in_and_out(
    client: optout.Compliance, tmp_path: pathlib.Path, in_fmt: str, out_fmt: str
) -> None:
    source = write(tmp_path / f"leads{EXT[in_fmt]}", ROWS, in_fmt)
    target = tmp_path / f"out{EXT[out_fmt]}"
    summary = scrub_file(client, source, target, at=AT, chunk_rows=2)
    rows = read(target, out_fmt)
    assert list(rows[0]) == ["name", "phone", *DECISION_COLUMNS]
    assert [r["name"] for r in rows] == ["a", "b", "c", "d"]
    assert [r["phone"] for r in rows] == [r["phone"] for r in ROWS]
    assert [r["optout_allowed"] for r in rows] == ["false", "true", "false", "true"]
    assert [r["optout_reason"] for r in rows] == ["suppression.number", "", "number.invalid", ""]
    # Row d is row b's number written differently, in the next chunk.
    assert [r["optout_duplicate"] for r in rows] == ["false", "false", "false", "true"]
    assert rows[0]["optout_number"] == "+390612345678"
    for row in rows:
        expected = client.can_call(row["phone"], at=AT)
        assert row["optout_reasons"] == ";".join(expected.codes)
    assert (summary.rows, summary.allowed, summary.denied, summary.invalid) == (4, 2, 2, 1)
    assert summary.duplicates == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_parquet_output_types(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = write(tmp_path / "in.csv", ROWS, "csv")
    target = tmp_path / "out.parquet"
    scrub_file(client, source, target, at=AT)
    schema = pq.read_schema(target)
    assert schema.field("optout_allowed").type == pa.bool_()
    assert schema.field("optout_duplicate").type == pa.bool_()
    assert schema.field("phone").type == pa.string()
    for name in ("optout_reason", "optout_reasons", "optout_next_allowed_at", "optout_registry"):
        assert schema.field(name).type == pa.string()


def test_encoded_answer_columns_write_the_same_csv(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    """For CSV output the text answers are dictionary arrays over the chunk's distinct
    answers; the writer puts out the same bytes as from the plain columns."""
    numbers = [LISTED, FREE, "not a number", None, "+1 202 555 0123", "+44 20 7946 0123", FREE]
    table = pa.table({"phone": pa.array(numbers, pa.string())})
    run = BatchRun(client, at=AT, workers=1)
    try:
        plain = _decide_table(run, table, ["phone"])
        encoded = _decide_table(run, table, ["phone"], encoded=True)
    finally:
        run.close()
    assert pa.types.is_dictionary(encoded.reason.type)
    written = []
    for decided in (plain, encoded):
        arrays, names, _ = _split_columns(decided, ["phone"], table.num_rows)
        out = io.BytesIO()
        pacsv.write_csv(
            pa.Table.from_arrays([*table.columns, *arrays], [*table.column_names, *names]), out
        )
        written.append(out.getvalue())
    assert written[0] == written[1]
    assert b"suppression.number" in written[1]


def test_csv_keeps_every_value_as_text(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        'id;zip;phone;note\n007;01234;+39 06 1234 5679;"a; b\nc"\n008;;3.0;\n', encoding="utf-8"
    )
    target = tmp_path / "out.csv"
    scrub_file(client, source, target, at=AT)
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert [(r["id"], r["zip"], r["phone"], r["note"]) for r in rows] == [
        ("007", "01234", "+39 06 1234 5679", "a; b\nc"),
        ("008", "", "3.0", ""),
    ]


def test_non_utf8_encoding(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("nom,téléphone\nÉlise,+39 06 1234 5679\n".encode("latin-1"))
    target = tmp_path / "out.csv"
    scrub_file(client, source, target, at=AT, encoding="latin-1", column="téléphone")
    rows = read(target, "csv")
    assert rows[0]["nom"] == "Élise"
    assert rows[0]["optout_allowed"] == "true"


def test_several_phone_columns(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    rows = [
        {"name": "a", "home": LISTED, "mobile": FREE},
        {"name": "b", "home": "", "mobile": LISTED},
        {"name": "c", "home": "x", "mobile": ""},
    ]
    source = write(tmp_path / "in.csv", rows, "csv")
    target = tmp_path / "out.csv"
    summary = scrub_file(client, source, target, column=["home", "mobile"], at=AT, split=False)
    out = read(target, "csv")
    assert list(out[0]) == [
        "name",
        "home",
        "mobile",
        *decision_columns("home", True),
        *decision_columns("mobile", True),
    ]
    assert "home_optout_allowed" in out[0]
    assert [r["home_optout_allowed"] for r in out] == ["false", "false", "false"]
    assert [r["mobile_optout_allowed"] for r in out] == ["true", "false", "false"]
    # Row b's mobile is row a's home number: a duplicate across columns.
    assert [r["mobile_optout_duplicate"] for r in out] == ["false", "true", "false"]
    assert (summary.rows, summary.numbers, summary.allowed) == (3, 6, 1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("name,Mobile_Number,email", "Mobile_Number"),
        ("cancellation_date,tel,email", "tel"),
        ("name,Telefono", "Telefono"),
        ("id,msisdn", "msisdn"),
    ],
)
def test_phone_column_is_detected(
    client: optout.Compliance, tmp_path: pathlib.Path, header: str, expected: str
) -> None:
    width = header.count(",") + 1
    values = ["x"] * width
    values[header.split(",").index(expected)] = FREE
    source = tmp_path / "in.csv"
    source.write_text(f"{header}\n{','.join(values)}\n", encoding="utf-8")
    summary = scrub_file(client, source, tmp_path / "out.csv", at=AT)
    assert summary.columns == (expected,)
    assert summary.allowed == 1


def test_no_header_detects_the_phone_column_by_its_values(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(f"a,{LISTED}\nb,{FREE}\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    summary = scrub_file(client, source, target, at=AT, header=False)
    assert summary.columns == ("2",)
    with target.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert len(lines) == 2  # no header in, no header out
    assert lines[0][:5] == ["a", LISTED, "+390612345678", "false", "suppression.number"]
    summary = scrub_file(client, source, tmp_path / "o2.csv", at=AT, header=False, column="2")
    assert summary.denied == 1


def test_split(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = write(tmp_path / "in.parquet", ROWS, "parquet")
    target = tmp_path / "out.parquet"
    summary = scrub_file(client, source, target, at=AT, split=True, chunk_rows=3)
    assert not target.exists()
    allowed = read(tmp_path / "out.allowed.parquet", "parquet")
    denied = read(tmp_path / "out.denied.parquet", "parquet")
    assert [r["name"] for r in allowed] == ["b", "d"]
    assert [r["name"] for r in denied] == ["a", "c"]
    assert summary.outputs == (
        str(tmp_path / "out.allowed.parquet"),
        str(tmp_path / "out.denied.parquet"),
    )


def test_report(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = write(tmp_path / "in.csv", ROWS, "csv")
    report = tmp_path / "report.html"
    scrub_file(client, source, tmp_path / "out.csv", at=AT, report=report, campaign="spring")
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "suppression.number" in page
    assert "number.invalid" in page
    assert "<svg" in page
    assert "<style>" in page
    assert "spring" in page
    assert "http" not in page
    assert "<script" not in page
    assert "<link" not in page


def test_report_escapes_names(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = tmp_path / "<b>.csv"
    source.write_text(f"phone\n{FREE}\n", encoding="utf-8")
    report = tmp_path / "r.html"
    scrub_file(client, source, tmp_path / "out.csv", at=AT, report=report)
    assert "<b>.csv" not in report.read_text(encoding="utf-8")


def test_progress_lines_when_not_a_tty(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = write(tmp_path / "in.csv", ROWS * 5, "csv")
    stream = io.StringIO()
    scrub_file(
        client,
        source,
        tmp_path / "out.csv",
        at=AT,
        chunk_rows=4,
        progress=stream,
        progress_interval=0.0,
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 3
    assert all(line.startswith("optout scrub: ") and "rows/s" in line for line in lines)
    assert "20 rows" in lines[-1]


def _cli_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_scrub_arguments(parser)
    parser.add_argument("--at")
    parser.add_argument("--country")
    parser.add_argument("--campaign")
    return parser.parse_args(list(argv))


def test_run_scrub(
    client: optout.Compliance, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path / "in.jsonl", ROWS, "jsonl")
    target = tmp_path / "out.csv"
    report = tmp_path / "r.html"
    args = _cli_args(
        str(source),
        "-o",
        str(target),
        "--at",
        AT.isoformat(),
        "--report",
        str(report),
        "--column",
        "phone",
    )
    buffer = io.StringIO()
    out = Console(file=buffer, width=120)
    assert run_scrub(args, lambda _: client, out) == 0
    text = buffer.getvalue()
    assert "rows: 4" in text
    assert "suppression.number: 1" in text
    assert read(target, "csv")[0]["optout_allowed"] == "false"
    assert report.exists()
    assert capsys.readouterr().err == ""  # finished before the first progress line
    quiet = _cli_args(str(source), "-o", str(tmp_path / "q.csv"), "--quiet")
    buffer.truncate(0)
    assert run_scrub(quiet, lambda _: client, out) == 0
    assert buffer.getvalue() == ""


def test_default_rules_match_can_call(tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    with optout.Compliance(url, migrate=True, registries=()) as c:
        rows = [
            {"phone": "+39 06 1234 5679"},
            {"phone": "+1 202 555 0123"},
            {"phone": "+44 20 7946 0670"},
            {"phone": "+33 1 99 00 36 41"},
            {"phone": "nope"},
        ]
        source = write(tmp_path / "in.csv", rows, "csv")
        target = tmp_path / "out.csv"
        at = dt.datetime(2026, 11, 28, 22, tzinfo=dt.UTC)
        scrub_file(c, source, target, at=at, campaign="x")
        for row in read(target, "csv"):
            expected = c.can_call(row["phone"], at=at, campaign="x")
            assert row["optout_allowed"] == _text(expected.allowed)
            assert row["optout_reasons"] == ";".join(expected.codes)
            assert row["optout_next_allowed_at"] == _text(
                expected.next_allowed_at and expected.next_allowed_at.isoformat()
            )


# -- mixed types, big cells -------------------------------------------------------------------


def test_numbers_stored_as_integers(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    table = pa.table({"id": [1, 2, 3], "phone": [390612345678, 390612345679, None]})
    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    target = tmp_path / "out.parquet"
    summary = scrub_file(client, source, target, at=AT, country="IT")
    out = pq.read_table(target)
    assert out.schema.field("phone").type == pa.int64()  # input columns unchanged
    assert out.column("optout_number").to_pylist()[:2] == ["+390612345678", "+390612345679"]
    assert out.column("optout_reason").to_pylist() == ["suppression.number", None, "number.invalid"]
    assert summary.invalid == 1

    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"phone": 390612345678, "n": 1.5}\n{"phone": "x", "extra": [1]}\n')
    scrub_file(client, jsonl, tmp_path / "out.jsonl", at=AT, country="IT")
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert lines[0]["phone"] == 390612345678  # JSON output keeps the original values
    assert lines[0]["optout_allowed"] is False
    assert lines[1]["extra"] == [1]
    assert lines[1]["optout_reason"] == "number.invalid"


def test_ten_kilobyte_cells(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    big = "9" * 10_000
    note = "x" * 10_000
    source = tmp_path / "in.csv"
    source.write_text(f"phone,note\n{big},{note}\n{FREE},{note}\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    scrub_file(client, source, target, at=AT)
    rows = read(target, "csv")
    assert rows[0]["optout_reason"] == "number.invalid"
    assert rows[0]["note"] == note
    assert rows[1]["optout_allowed"] == "true"


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "kwargs", "match"),
    [
        ("in.csv", b"", {}, "is empty"),
        ("in.jsonl", b"", {}, "is empty"),
        ("in.csv", b'phone\n"+39 06\n1234\n', {}, "line 2: a quoted field is never closed"),
        ("in.csv", b"a,phone\n1,2\n3\n", {}, "line 3: expected 2 columns, got 1"),
        ("in.csv", b"phone\n+39\n\xff\xfe\n", {}, r"line 3: byte 10 \(0xff\) is not valid UTF-8"),
        ("in.jsonl", b'{"phone": "1"}\n\xff\n', {}, "line 2: byte 15"),
        ("in.jsonl", b'{"phone": "1"}\n{"phone": \n', {}, "line 2: not valid JSON"),
        ("in.jsonl", b'{"phone": "1"}\n[1]\n', {}, "line 2: expected a JSON object"),
        ("in.csv", b"name,email\nx,y\n", {}, "no phone column"),
        ("in.csv", b"phone\n1\n", {"column": "mobile"}, "no column 'mobile'"),
        ("in.csv", b"phone\n1\n", {"encoding": "klingon"}, "unknown encoding"),
        ("in.parquet", b"not parquet", {}, "not a readable Parquet file"),
        ("in.xlsx", b"not a workbook", {}, "not a readable .xlsx workbook"),
        ("in.dat", b"phone\n1\n", {}, "pass --input-format"),
        ("in.csv", b"phone\n1\n", {"chunk_rows": 0}, "at least 1"),
    ],
)
def test_bad_input_is_one_clear_error_and_no_output(
    client: optout.Compliance,
    tmp_path: pathlib.Path,
    name: str,
    content: bytes,
    kwargs: dict[str, Any],
    match: str,
) -> None:
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / name
    source.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(optout.ConfigurationError, match=match) as info:
        scrub_file(client, source, out / "out.csv", at=AT, report=out / "r.html", **kwargs)
    assert "\n" not in str(info.value)
    assert list(out.iterdir()) == []


def test_header_only_writes_an_empty_list(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("name,phone\n", encoding="utf-8")
    summary = scrub_file(client, source, tmp_path / "out.csv", at=AT)
    assert summary.rows == 0
    header = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert header == [",".join(f'"{c}"' for c in ["name", "phone", *DECISION_COLUMNS])]


def test_missing_input_and_output_over_input(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(optout.ConfigurationError, match="does not exist"):
        scrub_file(client, tmp_path / "nope.csv", tmp_path / "out.csv", at=AT)
    source = write(tmp_path / "in.csv", ROWS, "csv")
    with pytest.raises(optout.ConfigurationError, match="overwrite the input"):
        scrub_file(client, source, source, at=AT)
    with pytest.raises(optout.ConfigurationError, match="overwrite the input"):
        scrub_file(client, source, tmp_path / "x.csv", at=AT, report=source)
    with pytest.raises(optout.ConfigurationError, match="folder"):
        scrub_file(client, source, tmp_path / "no" / "out.csv", at=AT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_an_error_mid_run_leaves_the_old_output(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("phone\n" + f"{FREE}\n" * 10 + "a,b\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    target.write_text("previous\n", encoding="utf-8")
    with pytest.raises(optout.ConfigurationError, match="line 12"):
        scrub_file(client, source, target, at=AT, chunk_rows=2)
    assert target.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


# -- interruption ------------------------------------------------------------------------------

_SCRIPT = """
import datetime as dt, sys
import optout
from optout._scrub import scrub_file
rules = optout.RuleBook(packs={}, unsupported="allow")
with optout.Compliance(sys.argv[1], migrate=True, registries=(), rules=rules) as c:
    scrub_file(c, sys.argv[2], sys.argv[3], at=dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC),
               chunk_rows=500)
"""


def _start_slow_run(tmp_path: pathlib.Path) -> tuple[subprocess.Popen[bytes], pathlib.Path]:
    source = tmp_path / "big.csv"
    with source.open("w", encoding="utf-8") as handle:
        handle.write("id,phone\n")
        for i in range(200_000):
            handle.write(f"{i},+39 06 {1000_0000 + i}\n")
    target = tmp_path / "out.csv"
    url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, url, str(source), str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.csv.") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.02)
    time.sleep(0.3)  # some chunks are written
    assert proc.poll() is None
    return proc, target


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_kill_9_leaves_no_partial_output(tmp_path: pathlib.Path) -> None:
    proc, target = _start_slow_run(tmp_path)
    proc.kill()
    proc.communicate(timeout=30)
    assert not target.exists()
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv.")]
    assert len(temps) <= 1
    assert all(p.name.endswith(".tmp") for p in temps)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_sigterm_removes_the_temporary_file(tmp_path: pathlib.Path) -> None:
    proc, target = _start_slow_run(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert b"KeyboardInterrupt" in err  # SIGTERM became an interrupt, so cleanup ran
    assert not target.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv.")] == []


def test_the_command_keeps_freed_memory_on_glibc() -> None:
    """``optout scrub`` tunes glibc's malloc for its own process (chunks reuse memory
    instead of faulting fresh pages); elsewhere it does nothing and says so."""
    applied = _keep_freed_memory()
    assert applied is (platform.libc_ver()[0] == "glibc")


def test_the_command_gives_pyarrow_the_tuned_allocator(tmp_path: pathlib.Path) -> None:
    """On glibc the command's process allocates pyarrow's buffers with the tuned malloc
    (its own pool would give freed pages back at once); the output is the same."""
    source = tmp_path / "in.csv"
    source.write_text("id,phone\n1,+39 06 1234 5678\n2,n/a\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'pool.sqlite3'}"
    code = (
        "import sys, pyarrow as pa\n"
        "from optout._cli import main\n"
        "before = pa.default_memory_pool().backend_name\n"
        "code = main(['scrub', '--database', sys.argv[1], sys.argv[2], '-o', sys.argv[3],"
        " '--quiet', '--at', '2026-12-01T10:00:00+01:00'])\n"
        "print(before, pa.default_memory_pool().backend_name, code)\n"
    )
    target = tmp_path / "out.csv"
    done = subprocess.run(
        [sys.executable, "-c", code, url, str(source), str(target)],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after, exit_code = done.stdout.split()
    assert exit_code == "0"
    assert after == ("system" if platform.libc_ver()[0] == "glibc" else before)
    rows = target.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3
    assert ',"+390612345678",' in rows[1]


def test_early_write_out_keeps_every_byte(tmp_path: pathlib.Path) -> None:
    """Starting write-out chunk by chunk (and dropping pages already on disk) changes
    nothing in the file; a sink without a file descriptor, or a closed one, is ignored."""
    path = tmp_path / "out.bin"
    sink = pa.OSFile(str(path), "w")
    blocks = [bytes([k]) * 300_000 for k in range(5)]
    for block in blocks:
        sink.write(block)
        _start_writeback(sink)
    sink.close()
    _start_writeback(sink)
    _start_writeback(object())
    assert path.read_bytes() == b"".join(blocks)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), max_size=30), max_size=8), st.booleans())
def test_duplicates_across_chunks_are_the_earlier_rows(
    chunks: list[list[int]], keyed: bool
) -> None:
    """A number is a duplicate when an earlier row of the same or an earlier chunk had it;
    key 0 (invalid, or an extension) never is one."""
    seen_keys: set[int] = set()
    tracker = _Seen()
    for chunk in chunks:
        keys = np.array(chunk, dtype=np.uint64)
        decided = _Decided(
            number=pa.array([str(k) for k in chunk], pa.string()),
            allowed=pa.nulls(len(chunk), pa.bool_()),
            reason=pa.nulls(len(chunk), pa.string()),
            reasons=pa.nulls(len(chunk), pa.string()),
            next_allowed_at=pa.nulls(len(chunk), pa.string()),
            registry=pa.nulls(len(chunk), pa.string()),
            duplicate=pa.nulls(len(chunk), pa.bool_()),
            keys=keys,
            slot=np.zeros(len(chunk), dtype=np.int64),
            answers=(),
            keyed=distinct(keys[keys != 0]) if keyed else None,
        )
        tracker.mark(decided)
        want = []
        for k in chunk:
            want.append(k != 0 and k in seen_keys)
            if k:
                seen_keys.add(k)
        assert decided.duplicate.to_pylist() == want
