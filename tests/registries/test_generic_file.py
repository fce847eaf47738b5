"""The generic file registry (state lists, Não Me Perturbe, customer lists)."""

from __future__ import annotations

import datetime as dt
import pathlib
import zipfile
from collections.abc import Sequence

import pytest

from optout import RegistryFormatError
from optout._db import create_engine, upgrade
from optout._registries._base import Registry
from optout._registries._kinds import SnapshotRegistry
from optout._registries._snapshot import forget_indexes
from optout._registries._store import RegistryStore
from optout._registries.generic import br_nmp, file_registry
from optout.testing import RegistryConformance


class TestFileRegistryConformance(RegistryConformance):
    def make_registry(self) -> Registry:
        return file_registry(id="it_customer", country="IT")

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        assert isinstance(registry, SnapshotRegistry)
        folder = registry.store.snapshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "list.txt"
        path.write_text("\n".join(listed) + "\n")
        registry.import_files([path], taken_at=at, full_list=True)

    def break_registry(self, registry: Registry) -> bool:
        assert isinstance(registry, SnapshotRegistry)
        info = registry.store.active_snapshot(registry.id)
        assert info is not None
        pathlib.Path(info.path).write_bytes(b"garbage")
        forget_indexes()
        return True


@pytest.fixture
def nmp(tmp_path: pathlib.Path) -> SnapshotRegistry:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    upgrade(engine)
    registry = br_nmp()
    registry.bind(RegistryStore(engine, tmp_path / "snap"))
    return registry


AT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def test_csv_with_header_zip_and_rejections(nmp: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    lines = [
        "telefone;nome",
        "(21) 91234-5678;A",
        "+55 11 91234-5678;B",
        "not a number;C",
        "(21) 91234-5678;dup",
    ]
    lines += [f"(21) 9{7000 + i:04d}-{i:04d};x" for i in range(400)]
    path = tmp_path / "nmp.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    archive = tmp_path / "nmp.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(path, "nmp.csv")
    info = nmp.import_files([archive], taken_at=AT, full_list=True)
    assert info.count == 402
    assert info.rejected == 1
    facts = nmp.facts(["+5521912345678", "+5511912345678", "+5521999999999"], AT)
    assert [f.status for f in facts] == ["listed", "listed", "clear"]
    assert facts[0].checked_at == AT


def test_too_many_bad_lines_keep_the_previous_snapshot(
    nmp: SnapshotRegistry, tmp_path: pathlib.Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("(21) 91234-5678\n")
    first = nmp.import_files([good], taken_at=AT, full_list=True)
    bad = tmp_path / "bad.txt"
    bad.write_text("(21) 91234-5679\nxx\nyy\n")
    with pytest.raises(RegistryFormatError, match="2 of 3 lines rejected") as info:
        nmp.import_files([bad], taken_at=AT + dt.timedelta(days=1), full_list=True)
    assert info.value.rejected == 2
    assert "line 2" in str(info.value)
    active = nmp.store.active_snapshot("br_nmp")
    assert active is not None
    assert active.version == first.version


def test_corrupt_zip_and_wrong_encoding(nmp: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(RegistryFormatError):
        nmp.import_files([broken], taken_at=AT, full_list=True)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("telefone\n(21) 91234-5678 S\xe3o Paulo\n".encode("latin-1"))
    with pytest.raises(RegistryFormatError, match="utf-8"):
        nmp.import_files([latin], taken_at=AT, full_list=True)
    assert nmp.store.active_snapshot("br_nmp") is None


def test_change_lists_and_export(nmp: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    full = tmp_path / "full.txt"
    full.write_text("(21) 91234-5678\n(21) 91234-5679\n")
    nmp.import_files([full], taken_at=AT, full_list=True)
    adds = tmp_path / "adds.txt"
    adds.write_text("(21) 91234-5670\n")
    info = nmp.apply_changes([adds], taken_at=AT + dt.timedelta(days=1))
    assert info.count == 3
    out = tmp_path / "export.txt"
    assert nmp.export(out) == 3
    assert out.read_text().splitlines() == ["+5521912345670", "+5521912345678", "+5521912345679"]
