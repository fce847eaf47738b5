"""Generic file registries: any list of numbers, one per line or in a CSV column.

Used for US state lists, Brazil's Não Me Perturbe exports and customer-provided lists.
"""

from __future__ import annotations

import csv
import io
import pathlib
import zipfile
from collections.abc import Iterator

import numpy as np

from optout._errors import InvalidNumberError, RegistryFormatError
from optout._numbers import normalize
from optout._registries._base import RegistryOptions
from optout._registries._kinds import ParsedChunk, SnapshotRegistry
from optout._registries._zip import ZIP_ERRORS, is_member_dir

__all__ = ["LinesCodec", "br_nmp", "file_registry"]

CHUNK = 200_000


class LinesCodec:
    """Numbers one per line, or in one column of a CSV file; plain or zipped.

    Args:
        country: region for numbers written without a country code.
        column: the CSV column holding the number (by header name); ``None`` reads the first
            field of each line and skips a first line that is not a number (a header).
        delimiter: the CSV delimiter (default: detected among ``,;\\t|``).
        encoding: the text encoding (default UTF-8, a BOM is tolerated).
    """

    def __init__(
        self,
        country: str,
        *,
        column: str | None = None,
        delimiter: str | None = None,
        encoding: str = "utf-8-sig",
    ) -> None:
        self.country = country
        self.column = column
        self.delimiter = delimiter
        self.encoding = encoding

    def read(self, path: pathlib.Path) -> Iterator[ParsedChunk]:
        for name, text in _texts(path, self.encoding):
            yield from self._parse(name, text)

    def _parse(self, name: str, text: io.TextIOBase) -> Iterator[ParsedChunk]:
        try:
            yield from self._rows(name, text)
        except UnicodeDecodeError as exc:
            raise RegistryFormatError(
                f"not {self.encoding} text ({exc.reason})", path=name
            ) from None
        except ZIP_ERRORS as exc:
            raise RegistryFormatError(f"corrupt zip member: {exc}", path=name) from None

    def _rows(self, name: str, text: io.TextIOBase) -> Iterator[ParsedChunk]:
        first = text.readline()
        delimiter = self.delimiter or _sniff(first)
        rows = csv.reader(_chain(first, text), delimiter=delimiter)
        index = 0
        header_checked = False
        keys: list[int] = []
        rejected = 0
        samples: list[tuple[int, str]] = []
        try:
            for line_no, row in enumerate(rows, start=1):
                if not header_checked:
                    header_checked = True
                    if self.column is not None:
                        names = [c.strip().lower() for c in row]
                        if self.column.lower() not in names:
                            raise RegistryFormatError(
                                f"no column {self.column!r}", path=name, line=1
                            )
                        index = names.index(self.column.lower())
                        continue
                    if row and not any(ch.isdigit() for ch in row[0]):
                        continue  # a header line
                if not row or not "".join(row).strip():
                    continue
                raw = row[index] if index < len(row) else ""
                try:
                    keys.append(int(normalize(raw, self.country).e164[1:]))
                except InvalidNumberError as exc:
                    rejected += 1
                    if len(samples) < 5:
                        samples.append((line_no, str(exc)))
                if len(keys) >= CHUNK:
                    yield ParsedChunk(
                        keys=np.array(keys, dtype=np.uint64),
                        rejected=rejected,
                        samples=tuple(samples),
                    )
                    keys, rejected, samples = [], 0, []
        except csv.Error as exc:
            raise RegistryFormatError(str(exc), path=name, line=rows.line_num) from None
        yield ParsedChunk(
            keys=np.array(keys, dtype=np.uint64), rejected=rejected, samples=tuple(samples)
        )


def _sniff(line: str) -> str:
    for candidate in (",", ";", "\t", "|"):
        if candidate in line:
            return candidate
    return ","


def _chain(first: str, rest: io.TextIOBase) -> Iterator[str]:
    yield first
    yield from rest


def _texts(path: pathlib.Path, encoding: str) -> Iterator[tuple[str, io.TextIOBase]]:
    """The text members of a file: itself, or every non-directory member of a zip."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if is_member_dir(info):
                        continue
                    with archive.open(info) as member:
                        text = io.TextIOWrapper(member, encoding=encoding, newline="")
                        yield f"{path.name}:{info.filename}", text
        except ZIP_ERRORS as exc:
            raise RegistryFormatError(f"corrupt zip: {exc}", path=str(path)) from None
        return
    with path.open(encoding=encoding, newline="") as handle:
        yield str(path), handle


def file_registry(
    *,
    id: str = "file",
    country: str,
    column: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8-sig",
    options: RegistryOptions | None = None,
) -> SnapshotRegistry:
    """A snapshot registry read from plain number lists (state lists, customer lists)."""
    return SnapshotRegistry(
        id,
        LinesCodec(country, column=column, delimiter=delimiter, encoding=encoding),
        options=options,
    )


def br_nmp(
    *, column: str | None = None, options: RegistryOptions | None = None
) -> SnapshotRegistry:
    """Brazil's Não Me Perturbe, from the list files participating companies receive.

    No public API or file layout was found (the reference leaves it unconfirmed): this reads
    one number per line or a named CSV column, national numbers taken as Brazilian.
    """
    return SnapshotRegistry("br_nmp", LinesCodec("BR", column=column), options=options)
