"""France's Bloctel backend: prospect-file upload and the "expurgé" (cleansed) return."""

from __future__ import annotations

import datetime as dt
import pathlib
import zipfile
from collections.abc import Iterator, Sequence

import pytest

from optout import RegistryFormatError
from optout._db import create_engine, upgrade
from optout._registries._base import Registry
from optout._registries._catalog import create
from optout._registries._kinds import ConsultationRegistry
from optout._registries._store import RegistryStore
from optout._registries.fr import BloctelCodec, fr_bloctel
from optout._registries.it import national_digits
from optout.testing import RegistryConformance

AT = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
KEPT = "+33123456789"
REMOVED = "+33612345678"
OTHER = "+33298765432"


def _expurge(kept: Sequence[str], path: pathlib.Path) -> pathlib.Path:
    """A returned Bloctel file keeping ``kept``: BOM, header, ``;``, CRLF, running ids."""
    rows = ["Telephone;Identifiant"]
    rows += [f"{national_digits(n)};{i}" for i, n in enumerate(kept, start=1)]
    path.write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode())
    return path


class TestFrBloctelConformance(RegistryConformance):
    listed_numbers = ("+33123456780", "+33612345671")
    clear_numbers = ("+33123456782", "+33612345673")
    never_numbers = ("+33123456784",)

    def make_registry(self) -> Registry:
        return fr_bloctel()

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        assert isinstance(registry, ConsultationRegistry)
        folder = registry.store.snapshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        report = registry.export_submission([*listed, *clear], folder / "prospects.csv")
        assert report.unique == len(listed) + len(clear)
        returned = _expurge(clear, folder / "expurge.csv")
        registry.ingest([*listed, *clear], returned, reference="BLOCTEL-1", checked_at=at)


@pytest.fixture
def bloctel(tmp_path: pathlib.Path) -> Iterator[ConsultationRegistry]:
    engine = create_engine(f"sqlite:///{tmp_path / 'fr.sqlite3'}")
    upgrade(engine)
    registry = fr_bloctel()
    registry.bind(RegistryStore(engine, tmp_path / "snap"))
    yield registry
    engine.dispose()


def _statuses(registry: ConsultationRegistry, numbers: Sequence[str]) -> list[str]:
    return [f.status for f in registry.facts(list(numbers), AT)]


def test_catalog_builds_fr() -> None:
    backend = create("fr_bloctel")
    assert isinstance(backend, ConsultationRegistry)
    assert (backend.id, backend.country) == ("fr_bloctel", "FR")
    assert isinstance(backend.codec, BloctelCodec)


def test_export_is_a_semicolon_csv_with_header_and_running_ids(
    bloctel: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    out = tmp_path / "prospects.csv"
    report = bloctel.export_submission(
        ["01 23 45 67 89", "+33 6 12 34 56 78", "0033123456789", "+39 06 1234 5678", "?"], out
    )
    assert (report.unique, report.duplicates, report.skipped_other_country, report.invalid) == (
        2,
        1,
        1,
        1,
    )
    assert out.read_bytes() == b"Telephone;Identifiant\r\n0123456789;1\r\n0612345678;2\r\n"


def test_expurged_file_plain_and_zipped(
    bloctel: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = _expurge([KEPT], tmp_path / "expurge.csv")
    report = bloctel.ingest([KEPT, REMOVED], returned, reference="B-1", checked_at=AT)
    assert (report.listed, report.clear) == (1, 1)
    assert _statuses(bloctel, [KEPT, REMOVED, OTHER]) == ["clear", "listed", "unknown"]

    archive = tmp_path / "expurge.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("expurge.csv", "Telephone,Identifiant\n\n+33 2 98 76 54 32,1\n")
    bloctel.ingest([OTHER, REMOVED], archive, reference="B-2", checked_at=AT)
    assert _statuses(bloctel, [OTHER, REMOVED]) == ["clear", "listed"]


def test_a_number_that_was_not_submitted_is_refused(
    bloctel: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = _expurge([KEPT, OTHER], tmp_path / "expurge.csv")
    with pytest.raises(RegistryFormatError, match="was not submitted"):
        bloctel.ingest([KEPT, REMOVED], returned, reference="B-X", checked_at=AT)
    assert bloctel.store.consultations("fr_bloctel") == []
    assert _statuses(bloctel, [KEPT, REMOVED]) == ["unknown", "unknown"]


def test_bad_rows_name_the_line(bloctel: ConsultationRegistry, tmp_path: pathlib.Path) -> None:
    returned = tmp_path / "expurge.csv"
    returned.write_text("Telephone;Identifiant\r\n0123456789;1\r\n01234;2\r\n")
    with pytest.raises(RegistryFormatError) as info:
        bloctel.ingest([KEPT], returned, reference="B-B", checked_at=AT)
    assert (info.value.line, info.value.rejected) == (3, 1)
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"0123456789;1\r\n\x00\x00\r\n")
    with pytest.raises(RegistryFormatError, match="NUL"):
        bloctel.ingest([KEPT], nul, reference="B-N", checked_at=AT)
    assert bloctel.store.consultations("fr_bloctel") == []


def test_codec_is_pluggable(tmp_path: pathlib.Path) -> None:
    codec = BloctelCodec(header=("numero", "ref"), delimiter=",", newline="\n")
    registry = fr_bloctel(codec=codec)
    assert registry.codec is codec
    out = tmp_path / "up.csv"
    codec.write_submission([KEPT], out)
    assert out.read_bytes() == b"numero,ref\n0123456789,1\n"
