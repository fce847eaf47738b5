"""Scrub DataFrames: pandas, polars, pyarrow Tables, or a file path.

pandas and polars are imported only when such a frame is passed; neither is a dependency.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

import pyarrow as pa
import pyarrow.compute as pc

from optout._errors import ConfigurationError
from optout._scrub import pick_columns, read_table, scrub_table

if TYPE_CHECKING:
    from optout._client import Compliance

__all__ = ["scrub"]

_T = TypeVar("_T")


def _module_of(data: object) -> str:
    return type(data).__module__.split(".", 1)[0]


@overload
def scrub(
    data: str | os.PathLike[str],
    *,
    client: Compliance | None = None,
    at: dt.datetime | None = None,
    column: str | Sequence[str] | None = None,
    **context: Any,
) -> pa.Table: ...


@overload
def scrub(
    data: _T,
    *,
    client: Compliance | None = None,
    at: dt.datetime | None = None,
    column: str | Sequence[str] | None = None,
    **context: Any,
) -> _T: ...


def scrub(
    data: object,
    *,
    client: Compliance | None = None,
    at: dt.datetime | None = None,
    column: str | Sequence[str] | None = None,
    **context: Any,
) -> object:
    """Return ``data`` with the decision columns added, as the same kind of object.

    ``data`` is a pandas DataFrame, a polars DataFrame, a pyarrow Table, or the path of a
    lead file (CSV/TSV, Parquet, JSON Lines, .xlsx; a pyarrow Table is returned).
    ``column`` names the phone column(s) (default: the first whose name is a phone word);
    ``context`` takes the keyword arguments of :meth:`Compliance.can_call` (``country``,
    ``campaign``, ``purpose``, ...). ``at`` is read once. ``client`` defaults to
    :func:`optout.default_client`. Input rows and columns are not changed; the index of a
    pandas DataFrame is kept.

    Raises:
        ConfigurationError: the data has no such column, or is of an unsupported kind.
    """
    if client is None:
        from optout._client import default_client  # noqa: PLC0415

        client = default_client()
    if isinstance(data, (str, os.PathLike)):
        table = read_table(data)
        return scrub_table(client, table, column=column, at=at, **context)[0]
    if isinstance(data, pa.Table):
        return scrub_table(client, data, column=column, at=at, **context)[0]
    if isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
        return scrub_table(client, table, column=column, at=at, **context)[0].combine_chunks()
    kind = _module_of(data)
    if kind == "pandas":
        return _scrub_pandas(data, client, at, column, context)
    if kind == "polars":
        return _scrub_polars(data, client, at, column, context)
    raise ConfigurationError(
        f"cannot scrub a {type(data).__name__}; pass a pandas or polars DataFrame, "
        "a pyarrow Table, or a file path"
    )


def _wanted(column: str | Sequence[str] | None) -> list[str] | None:
    return None if column is None else [column] if isinstance(column, str) else list(column)


def _decisions(
    client: Compliance,
    table: pa.Table,
    names: Sequence[str],
    at: dt.datetime | None,
    context: dict[str, Any],
) -> pa.Table:
    """Decide every column of ``table`` (the phone columns); return the decision columns."""
    picked = list(table.column_names)
    out, _ = scrub_table(client, table, column=picked, at=at, **context)
    decided = out.select(list(range(len(picked), out.num_columns)))
    clash = [n for n in decided.column_names if n in names]
    if clash:
        raise ConfigurationError(f"the data already has a column {clash[0]!r}")
    return decided


def _phone_text(value: object) -> str | None:
    """A cell of a pandas phone column as text; missing values (NaN, NA, None) as None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if math.isfinite(number) and number.is_integer() else repr(number)
    try:
        if value != value:  # pandas.NA and NaT  # noqa: PLR0124
            return None
    except (TypeError, ValueError):
        return None
    return str(value)


def _scrub_pandas(
    data: Any,
    client: Compliance,
    at: dt.datetime | None,
    column: str | Sequence[str] | None,
    context: dict[str, Any],
) -> Any:
    names = [str(c) for c in data.columns]
    if len(set(names)) != len(names):
        raise ConfigurationError("the DataFrame has duplicate column names")
    picked = pick_columns(names, _wanted(column))
    source = {str(c): c for c in data.columns}
    table = pa.table({p: _pandas_text(data[source[p]]) for p in picked})
    decided = _decisions(client, table, names, at, context)
    out = data.copy()
    for name in decided.column_names:
        out[name] = decided.column(name).to_numpy(zero_copy_only=False)
    return out


def _pandas_text(series: Any) -> pa.Array:
    """A pandas column as text, vectorized when Arrow can take it as it is."""
    try:
        values = pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        values = None
    if values is not None and (
        pa.types.is_string(values.type)
        or pa.types.is_large_string(values.type)
        or pa.types.is_integer(values.type)
    ):
        return pc.cast(values, pa.string())
    return pa.array([_phone_text(v) for v in series.tolist()], pa.string())


def _scrub_polars(
    data: Any,
    client: Compliance,
    at: dt.datetime | None,
    column: str | Sequence[str] | None,
    context: dict[str, Any],
) -> Any:
    import polars as pl  # noqa: PLC0415

    names = [str(c) for c in data.columns]
    picked = pick_columns(names, _wanted(column))
    decided = _decisions(client, data.select(picked).to_arrow(), names, at, context)
    extra: Any = pl.from_arrow(decided)
    return data.hstack(extra.get_columns())
