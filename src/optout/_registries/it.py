"""Italy's Registro Pubblico delle Opposizioni (RPO): submit your call list, get it back cleansed.

How the RPO works (reference ``registries.md`` section 1.3): the operator sends the list of
numbers it intends to call to the Gestore (Fondazione Ugo Bordoni); the Gestore removes the
registered numbers and returns the updated list, "valid for 15 days only" (old regime; the
new regime asks for a consultation monthly and before each campaign, and bills per unique
number). A number absent from the returned list is registered.

.. warning::
   **The file formats are NOT CONFIRMED.** FUB's technical specifications sit behind the
   operator area and were not available. This module ships a best-documented guess:

   - **upload** (:meth:`RpoCodec.write_submission`): UTF-8 text, no header, one number per
     line in Italian national format, digits only, with the leading ``0`` of fixed lines
     (``0612345678``, ``3123456789``), CRLF line ends;
   - **return** (:meth:`RpoCodec.read_returned`): the same list with the registered numbers
     removed (a *cleansed* list). Reading is tolerant: a UTF-8 BOM, CRLF or LF, blank lines,
     a header line, ``;``/``,``/tab/``|`` separated columns (the number in the first),
     numbers written with ``+39``/``0039``, and a zip archive of such files are accepted.

   If your contract with FUB specifies another layout, pass your own codec:
   ``it_rpo(codec=MyCodec())`` (anything with ``write_submission`` and ``read_returned``,
   see :class:`optout.registries.ConsultationCodec`), or configure :class:`NumberListCodec`.

:class:`NumberListCodec` is the configurable list format the three consultation backends
(``it_rpo``, ``fr_bloctel``, ``au_dncr``) share.
"""

from __future__ import annotations

import csv
import io
import pathlib
import zipfile
from collections.abc import Iterator, Sequence

import phonenumbers

from optout._errors import InvalidNumberError, RegistryFormatError
from optout._files import atomic_text_file
from optout._numbers import normalize
from optout._registries._base import RegistryOptions
from optout._registries._kinds import ConsultationCodec, ConsultationRegistry
from optout._registries._zip import ZIP_ERRORS, is_member_dir

__all__ = ["NumberListCodec", "RpoCodec", "it_rpo"]

_DELIMITERS = (";", ",", "\t", "|")
#: Unusable lines quoted in an error message.
_SAMPLES = 3


def national_digits(e164: str) -> str:
    """The number as dialled inside its country, digits only (``+390612345678`` ->
    ``0612345678``, ``+33123456789`` -> ``0123456789``, ``+61412345678`` -> ``0412345678``)."""
    parsed = phonenumbers.parse(e164, None)
    text = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in text if ch.isdigit())


class NumberListCodec:
    """A list of numbers, one per line or in the first column of a delimited file.

    Upload: ``header`` (if any) then one row per number in national format (digits only),
    with a running id column when ``running_id`` is set, joined by ``delimiter``.
    Return: a *cleansed* list by default (each row's first field is a number that is not
    registered); subclasses that read *flagged* lists override :meth:`status`.

    Args:
        country: ISO region of the registry; national numbers are read as this country's.
        header: column names written as the upload's first line (none by default).
        delimiter: the upload separator (returned files: detected among ``; , tab |``).
        running_id: add a running id (1, 2, ...) after each number in the upload.
        encoding: the returned files' encoding (default UTF-8; a BOM is tolerated).
        newline: the upload's line end.
    """

    def __init__(
        self,
        country: str,
        *,
        header: Sequence[str] = (),
        delimiter: str = ";",
        running_id: bool = False,
        encoding: str = "utf-8-sig",
        newline: str = "\r\n",
    ) -> None:
        self.country = country
        self.header = tuple(header)
        self.delimiter = delimiter
        self.running_id = running_id
        self.encoding = encoding
        self.newline = newline

    # -- upload -----------------------------------------------------------------------------

    def submission_rows(self, numbers: Sequence[str]) -> Iterator[list[str]]:
        """The upload's rows (without the header) for E.164 ``numbers``."""
        for i, number in enumerate(numbers, start=1):
            national = national_digits(number)
            yield [national, str(i)] if self.running_id else [national]

    def write_submission(self, numbers: Sequence[str], out: pathlib.Path) -> None:
        """Write the upload file atomically (the target is left as it was on failure)."""
        with atomic_text_file(pathlib.Path(out), newline="") as handle:
            if self.header:
                handle.write(self.delimiter.join(self.header) + self.newline)
            for row in self.submission_rows(numbers):
                handle.write(self.delimiter.join(row) + self.newline)

    # -- return -----------------------------------------------------------------------------

    def status(self, row: list[str]) -> str | None:
        """The answer a returned row gives: ``None`` for a cleansed list (the number is
        clear), ``"listed"`` or ``"clear"`` for a flagged one. Raises ``ValueError`` with a
        short reason for a row it cannot read."""
        return None

    def read_returned(self, path: pathlib.Path) -> Iterator[tuple[str, str | None]]:
        """Yield ``(e164, status)`` for each number of the returned file (or zip of files).

        Unusable lines are counted; after the last line a :class:`RegistryFormatError`
        names the first of them (``path``, ``line``) and the count (``rejected``), so a
        consultation is never recorded from a partly unreadable file. A number given twice
        with different answers is unusable, in one file or across the files of a zip.
        """
        target = pathlib.Path(path)
        if not target.is_file():
            raise RegistryFormatError("no such file", path=str(target))
        seen: dict[str, str | None] = {}
        for name, text in _members(target, self.encoding):
            yield from self._read_text(name, text, seen)

    def _read_text(
        self, name: str, text: io.TextIOBase, seen: dict[str, str | None]
    ) -> Iterator[tuple[str, str | None]]:
        rejected = 0
        total = 0
        samples: list[tuple[int, str]] = []
        line_no = 0
        try:
            lines = _numbered(text)
            first = next(lines, None)
            if first is None:
                return
            delimiter = next((d for d in _DELIMITERS if d in first[1]), ";")
            header_checked = False
            for line_no, line in _chain(first, lines):
                fields = next(csv.reader([line], delimiter=delimiter), [])
                fields = [f.strip() for f in fields]
                if not any(fields):
                    continue
                if not header_checked:
                    header_checked = True
                    if not any(ch.isdigit() for ch in fields[0]):
                        continue  # a header line
                total += 1
                try:
                    number = normalize(fields[0], self.country).e164
                    status = self.status(fields)
                    if number in seen and seen[number] != status:
                        raise ValueError(f"{number} is given twice with different answers")
                except (InvalidNumberError, ValueError) as exc:
                    rejected += 1
                    if len(samples) < _SAMPLES:
                        samples.append((line_no, str(exc)))
                    continue
                if number not in seen:
                    seen[number] = status
                    yield number, status
        except UnicodeDecodeError as exc:
            raise RegistryFormatError(
                f"not {self.encoding} text ({exc.reason})", path=name, line=line_no + 1
            ) from None
        except csv.Error as exc:
            raise RegistryFormatError(str(exc), path=name, line=line_no) from None
        except ZIP_ERRORS as exc:
            raise RegistryFormatError(f"corrupt zip member: {exc}", path=name) from None
        if rejected:
            detail = "; ".join(f"line {n}: {why}" for n, why in samples)
            raise RegistryFormatError(
                f"{rejected} of {total} lines are not usable ({detail}); nothing from this "
                "file may be recorded",
                path=name,
                line=samples[0][0],
                rejected=rejected,
            )


def _numbered(text: io.TextIOBase) -> Iterator[tuple[int, str]]:
    """Lines without their ends (CRLF, LF or CR), numbered from 1."""
    for i, line in enumerate(text, start=1):
        if "\x00" in line:
            raise csv.Error("line contains NUL")
        yield i, line.rstrip("\r\n")


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _members(path: pathlib.Path, encoding: str) -> Iterator[tuple[str, io.TextIOBase]]:
    """The text of a file, or of each file in a zip archive (``__MACOSX`` and hidden
    members skipped)."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    base = info.filename.rsplit("/", 1)[-1]
                    if (
                        is_member_dir(info)
                        or info.filename.startswith("__MACOSX/")
                        or base[:1] == "."
                    ):
                        continue
                    with archive.open(info) as member:
                        yield (
                            f"{path.name}:{info.filename}",
                            io.TextIOWrapper(member, encoding=encoding, newline=""),
                        )
        except ZIP_ERRORS as exc:
            raise RegistryFormatError(f"corrupt zip: {exc}", path=str(path)) from None
        return
    with path.open(encoding=encoding, newline="") as handle:
        yield str(path), handle


class RpoCodec(NumberListCodec):
    """The RPO upload and return lists (format NOT CONFIRMED; see the module docstring).

    Upload: one Italian national number per line (``0612345678``), no header, CRLF.
    Return: the submitted list with registered numbers removed (cleansed).
    """

    #: The return is a cleansed list: an empty one means every number is registered.
    cleansed = True

    def __init__(self, *, encoding: str = "utf-8-sig", newline: str = "\r\n") -> None:
        super().__init__("IT", encoding=encoding, newline=newline)


def it_rpo(
    *, codec: ConsultationCodec | None = None, options: RegistryOptions | None = None
) -> ConsultationRegistry:
    """Italy's Registro Pubblico delle Opposizioni, consulted by submitting call lists.

    ``export_submission`` writes the upload file (Italian numbers only, deduplicated: the
    RPO bills per unique number, reported as ``ExportReport.unique``); ``ingest`` records
    the returned, cleansed list. The default codec's formats are a guess (NOT CONFIRMED):
    pass ``codec=`` for the layout your FUB contract specifies.
    """
    return ConsultationRegistry("it_rpo", codec or RpoCodec(), country="IT", options=options)
