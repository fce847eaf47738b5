"""Row-by-row scrubbing of a CSV lead list through :meth:`Compliance.can_call`.

This is the simple, exact path: every row gets the decision ``can_call()`` gives for it.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import os
import pathlib
import re
import time
from typing import Any

from optout._client import Compliance
from optout._decision import Decision
from optout._errors import ConfigurationError, InvalidNumberError
from optout._files import atomic_text_file, open_text
from optout._numbers import normalize, normalize_region
from optout._timeutil import instant

__all__ = ["DECISION_COLUMNS", "ScrubSummary", "scrub_csv"]

DECISION_COLUMNS = (
    "optout_number",
    "optout_allowed",
    "optout_reason",
    "optout_reasons",
    "optout_next_allowed_at",
    "optout_duplicate",
)

# Whole words only: "cancellation_date" must not match "cell".
_PHONE_HEADER = re.compile(
    r"(?:^|[^a-z])(?:phone|telephone|tel|mobile|cell|cellphone|number|msisdn|numero|telefono)"
    r"(?:$|[^a-z])",
    re.IGNORECASE,
)


@dataclasses.dataclass
class ScrubSummary:
    """Counts of a scrub run."""

    rows: int = 0
    allowed: int = 0
    denied: int = 0
    invalid: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    by_reason: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    def render(self) -> str:
        """A short plain-text report."""
        rate = self.rows / self.seconds if self.seconds > 0 else float(self.rows)
        lines = [
            f"rows: {self.rows}  allowed: {self.allowed}  denied: {self.denied}  "
            f"invalid: {self.invalid}  duplicates: {self.duplicates}",
            f"time: {self.seconds:.2f} s ({rate:,.0f} rows/s)",
        ]
        lines.extend(f"  {code}: {count}" for code, count in self.by_reason.most_common())
        return "\n".join(lines)


def _pick_column(header: list[str], column: str | None) -> int:
    if column is not None:
        if column not in header:
            raise ConfigurationError(f"no column {column!r}; the header has: {', '.join(header)}")
        return header.index(column)
    for index, name in enumerate(header):
        if _PHONE_HEADER.search(name):
            return index
    raise ConfigurationError("no phone column found in the header; name it with --column")


def scrub_csv(
    client: Compliance,
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    column: str | None = None,
    at: dt.datetime | None = None,
    country: str | None = None,
    **context: Any,
) -> ScrubSummary:
    """Decide every row of the CSV ``source`` and write ``target`` with decision columns.

    ``at`` is read once for the whole run. The output is written atomically: on any error
    or interruption ``target`` is left as it was. A number seen before in the file gets
    the same decision and ``optout_duplicate=true``.
    """
    when = instant(at)
    region = normalize_region(country)
    summary = ScrubSummary()
    started = time.perf_counter()
    seen: dict[str, Decision] = {}
    if pathlib.Path(source).resolve() == pathlib.Path(target).resolve():
        raise ConfigurationError("the output must not overwrite the input")
    with open_text(source) as handle, atomic_text_file(pathlib.Path(target)) as out:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise ConfigurationError(f"{source} is empty: a header row is needed") from None
        except csv.Error as exc:
            raise ConfigurationError(f"{source}, line 1: {exc}") from None
        index = _pick_column(header, column)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*header, *DECISION_COLUMNS])
        try:
            width = len(header)
            for fields in reader:
                # Pad short rows so the decision columns stay under their headers.
                row = fields + [""] * (width - len(fields))
                raw = row[index]
                key = _seen_key(raw, region)
                duplicate = key is not None and key in seen
                if duplicate:
                    decision = seen[key]  # type: ignore[index]
                    summary.duplicates += 1
                else:
                    decision = client.can_call(raw, at=when, country=region, **context)
                    if key is not None:
                        seen[key] = decision
                _count(summary, decision)
                writer.writerow([*row, *_columns(decision, duplicate)])
        except csv.Error as exc:
            raise ConfigurationError(f"{source}, line {reader.line_num}: {exc}") from None
    summary.seconds = time.perf_counter() - started
    return summary


def _seen_key(raw: str, region: str | None) -> str | None:
    """E.164 (plus any extension) of ``raw`` when it parses, to spot repeated numbers."""
    try:
        number = normalize(raw, region)
    except InvalidNumberError:
        return None
    return number.e164 if number.extension is None else f"{number.e164};ext={number.extension}"


def _count(summary: ScrubSummary, decision: Decision) -> None:
    summary.rows += 1
    if decision.allowed:
        summary.allowed += 1
        return
    summary.denied += 1
    if "number.invalid" in decision.codes:
        summary.invalid += 1
    summary.by_reason[decision.codes[0]] += 1


def _columns(decision: Decision, duplicate: bool) -> list[str]:
    return [
        decision.number or "",
        "true" if decision.allowed else "false",
        decision.primary_code or "",
        ";".join(decision.codes),
        "" if decision.next_allowed_at is None else decision.next_allowed_at.isoformat(),
        "true" if duplicate else "false",
    ]
