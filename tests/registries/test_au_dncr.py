"""Australia's DNCR backend: washing lists, and the flagged return."""

from __future__ import annotations

import datetime as dt
import pathlib
import zipfile
from collections.abc import Iterator, Sequence

import pytest

from optout import ConfigurationError, RegistryFormatError
from optout._db import create_engine, upgrade
from optout._registries._base import Registry
from optout._registries._catalog import create
from optout._registries._kinds import ConsultationRegistry
from optout._registries._store import RegistryStore
from optout._registries.au import DncrCodec, au_dncr
from optout._registries.it import national_digits
from optout.testing import RegistryConformance

AT = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
CLEAR = "+61298765432"
LISTED = "+61412345678"
OTHER = "+61212345678"


def _washed(listed: Sequence[str], clear: Sequence[str], path: pathlib.Path) -> pathlib.Path:
    """A returned wash file: header, one ``number,answer`` row per number, CRLF."""
    rows = ["Number,Status"]
    rows += [f"{national_digits(n)},Registered" for n in listed]
    rows += [f"{national_digits(n)},Not Registered" for n in clear]
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode())
    return path


class TestAuDncrConformance(RegistryConformance):
    listed_numbers = ("+61298765430", "+61412345671")
    clear_numbers = ("+61298765432", "+61412345673")
    never_numbers = ("+61298765434",)

    def make_registry(self) -> Registry:
        return au_dncr()

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        assert isinstance(registry, ConsultationRegistry)
        folder = registry.store.snapshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        report = registry.export_submission([*listed, *clear], folder / "wash.txt")
        assert report.unique == len(listed) + len(clear)
        returned = _washed(listed, clear, folder / "washed.csv")
        registry.ingest([*listed, *clear], returned, reference="WASH-1", checked_at=at)


@pytest.fixture
def dncr(tmp_path: pathlib.Path) -> Iterator[ConsultationRegistry]:
    engine = create_engine(f"sqlite:///{tmp_path / 'au.sqlite3'}")
    upgrade(engine)
    registry = au_dncr()
    registry.bind(RegistryStore(engine, tmp_path / "snap"))
    yield registry
    engine.dispose()


def _statuses(registry: ConsultationRegistry, numbers: Sequence[str]) -> list[str]:
    return [f.status for f in registry.facts(list(numbers), AT)]


def test_catalog_builds_au() -> None:
    backend = create("au_dncr")
    assert isinstance(backend, ConsultationRegistry)
    assert (backend.id, backend.country) == ("au_dncr", "AU")
    assert isinstance(backend.codec, DncrCodec)


def test_export_drops_invalid_numbers_which_are_charged(
    dncr: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    out = tmp_path / "wash.txt"
    report = dncr.export_submission(
        ["(02) 9876 5432", "0412 345 678", "+61 412 345 678", "0400", "+1 202 555 0143"], out
    )
    assert (report.unique, report.duplicates, report.skipped_other_country, report.invalid) == (
        2,
        1,
        1,
        1,
    )
    assert out.read_bytes() == b"0298765432\r\n0412345678\r\n"


def test_flagged_return_with_answer_variants(
    dncr: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = tmp_path / "washed.csv"
    returned.write_bytes(
        b"\xef\xbb\xbfphone;registered\r\n0298765432;N\r\n\r\n+61 412 345 678;YES\r\n"
        b"0212345678; not_registered \r\n0412345678;yes\r\n"
    )
    report = dncr.ingest([CLEAR, LISTED, OTHER], returned, reference="W-1", checked_at=AT)
    assert (report.submitted, report.listed, report.clear) == (3, 1, 2)
    assert _statuses(dncr, [CLEAR, LISTED, OTHER]) == ["clear", "listed", "clear"]


def test_zipped_return(dncr: ConsultationRegistry, tmp_path: pathlib.Path) -> None:
    inner = _washed([LISTED], [CLEAR], tmp_path / "washed.csv")
    archive = tmp_path / "washed.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(inner, "out/washed.csv")
    dncr.ingest([CLEAR, LISTED], archive, reference="W-Z", checked_at=AT)
    assert _statuses(dncr, [CLEAR, LISTED]) == ["clear", "listed"]


def test_a_return_missing_numbers_stores_nothing(
    dncr: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = _washed([LISTED], [], tmp_path / "washed.csv")
    with pytest.raises(RegistryFormatError, match="1 submitted numbers have no answer"):
        dncr.ingest([CLEAR, LISTED], returned, reference="W-M", checked_at=AT)
    assert dncr.store.consultations("au_dncr") == []
    assert _statuses(dncr, [CLEAR, LISTED]) == ["unknown", "unknown"]


def test_a_number_that_was_not_submitted_is_refused(
    dncr: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = _washed([LISTED], [CLEAR, OTHER], tmp_path / "washed.csv")
    with pytest.raises(RegistryFormatError, match="was not submitted"):
        dncr.ingest([CLEAR, LISTED], returned, reference="W-X", checked_at=AT)
    assert _statuses(dncr, [CLEAR, LISTED]) == ["unknown", "unknown"]


def test_unknown_missing_or_conflicting_answers(
    dncr: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = tmp_path / "washed.csv"
    returned.write_text(
        "0298765432,Invalid\n0412345678\n0212345678,Registered\n0212345678,Not Registered\n"
    )
    with pytest.raises(RegistryFormatError) as info:
        dncr.ingest([CLEAR, LISTED, OTHER], returned, reference="W-U", checked_at=AT)
    assert info.value.line == 1
    assert info.value.rejected == 3
    message = str(info.value)
    assert "unknown answer 'Invalid'" in message
    assert "no answer" in message
    assert "different answers" in message
    assert dncr.store.consultations("au_dncr") == []


def test_codec_is_pluggable(dncr: ConsultationRegistry, tmp_path: pathlib.Path) -> None:
    codec = DncrCodec(status_column=2, listed_words=["R"], clear_words=["C"])
    registry = au_dncr(codec=codec)
    registry.bind(dncr.store)
    returned = tmp_path / "washed.csv"
    returned.write_text("0298765432,ref1,C\n0412345678,ref2,R\n")
    registry.ingest([CLEAR, LISTED], returned, reference="W-P", checked_at=AT)
    assert _statuses(registry, [CLEAR, LISTED]) == ["clear", "listed"]
    with pytest.raises(ConfigurationError):
        DncrCodec(status_column=0)
    with pytest.raises(ConfigurationError):
        DncrCodec(listed_words=["Y"], clear_words=["y"])
