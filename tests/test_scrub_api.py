"""``optout._frames.scrub``: pandas, polars, pyarrow Tables and paths, same kind out."""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterator

import pyarrow as pa
import pytest

import optout
from optout._frames import scrub
from optout._scrub import DECISION_COLUMNS

AT = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
LISTED = "+39 06 1234 5678"
FREE = "+39 06 1234 5679"


@pytest.fixture
def client(tmp_path: pathlib.Path) -> Iterator[optout.Compliance]:
    rules = optout.RuleBook(packs={}, unsupported="allow")
    url = f"sqlite:///{tmp_path / 'optout.sqlite3'}"
    with optout.Compliance(url, migrate=True, registries=(), rules=rules) as c:
        c.suppressions.add(LISTED, reason="asked")
        yield c


def test_pyarrow_table(client: optout.Compliance) -> None:
    table = pa.table({"name": ["a", "b", "c"], "phone": [LISTED, FREE, None]})
    out = scrub(table, client=client, at=AT)
    assert isinstance(out, pa.Table)
    assert out.column_names == ["name", "phone", *DECISION_COLUMNS]
    assert out.column("optout_allowed").to_pylist() == [False, True, False]
    assert out.column("optout_reason").to_pylist() == [
        "suppression.number",
        None,
        "number.invalid",
    ]
    assert out.column("name").to_pylist() == ["a", "b", "c"]
    assert table.num_columns == 2  # the input is not changed


def test_path_returns_a_table(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(f"name,tel\na,{LISTED}\nb,{FREE}\n", encoding="utf-8")
    out = scrub(source, client=client, at=AT)
    assert isinstance(out, pa.Table)
    assert out.column("optout_allowed").to_pylist() == [False, True]
    out = scrub(str(source), client=client, at=AT, column="tel")
    assert out.num_rows == 2


def test_several_columns_and_context(client: optout.Compliance) -> None:
    table = pa.table({"home": [LISTED, FREE], "work": [FREE, "+39 06 1234 5670"]})
    out = scrub(table, client=client, at=AT, column=["home", "work"], campaign="spring")
    assert out.column("home_optout_allowed").to_pylist() == [False, True]
    assert out.column("work_optout_duplicate").to_pylist() == [False, False]
    assert out.column("home_optout_duplicate").to_pylist() == [False, True]


def test_errors(client: optout.Compliance) -> None:
    with pytest.raises(optout.ConfigurationError, match="no column 'mobile'"):
        scrub(pa.table({"phone": [FREE]}), client=client, at=AT, column="mobile")
    with pytest.raises(optout.ConfigurationError, match="no phone column"):
        scrub(pa.table({"email": ["x"]}), client=client, at=AT)
    with pytest.raises(optout.ConfigurationError, match="cannot scrub a list"):
        scrub([FREE], client=client, at=AT)
    with pytest.raises(optout.ConfigurationError, match="already has a column"):
        scrub(pa.table({"phone": [FREE], "optout_allowed": [1]}), client=client, at=AT)


def test_pandas(client: optout.Compliance) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"name": ["a", "b", "c"], "phone": [390612345678, 390612345679, None]},
        index=[10, 20, 30],
    )
    out = scrub(frame, client=client, at=AT, country="IT")
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == [10, 20, 30]
    assert list(out.columns) == ["name", "phone", *DECISION_COLUMNS]
    assert out["optout_allowed"].tolist() == [False, True, False]
    assert out["optout_number"].tolist()[:2] == ["+390612345678", "+390612345679"]
    assert "optout_allowed" not in frame.columns


def test_polars(client: optout.Compliance) -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"name": ["a", "b"], "mobile": [LISTED, FREE]})
    out = scrub(frame, client=client, at=AT)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["name", "mobile", *DECISION_COLUMNS]
    assert out["optout_allowed"].to_list() == [False, True]
    assert out["optout_reason"].to_list() == ["suppression.number", None]


def test_the_same_answers_as_can_call(client: optout.Compliance) -> None:
    numbers = [LISTED, FREE, "+1 202 555 0123 ext. 7", "+1 202 555 0123", "", "abc"]
    out = scrub(pa.table({"phone": numbers}), client=client, at=AT)
    for number, reasons, allowed in zip(
        numbers,
        out.column("optout_reasons").to_pylist(),
        out.column("optout_allowed").to_pylist(),
        strict=True,
    ):
        expected = client.can_call(number, at=AT)
        assert reasons == ";".join(expected.codes)
        assert allowed == expected.allowed
