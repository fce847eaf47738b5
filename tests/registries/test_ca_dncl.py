"""The Canadian DNCL backend: CSV (with and without dates), XML, rejections, crashes."""

from __future__ import annotations

import datetime as dt
import pathlib
import signal
from collections.abc import Sequence

import pytest
from _gen import kill_mid_import, random_nanp, write_flat, zip_members

from optout import RegistryFormatError
from optout._db import create_engine, upgrade
from optout._registries._base import Registry
from optout._registries._kinds import SnapshotRegistry
from optout._registries._snapshot import forget_indexes
from optout._registries._store import RegistryStore
from optout._registries.ca import DnclCodec, ca_dncl
from optout._registries.us import XmlLayout
from optout.testing import RegistryConformance

AT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=1)
OTTAWA = [f"+161355501{i:02d}" for i in range(4)]
VANCOUVER = [f"+160455501{i:02d}" for i in range(4)]


def csv_line(e164: str) -> str:
    return f"{e164[2:5]},{e164[5:]}"


class TestDnclConformance(RegistryConformance):
    listed_numbers = (OTTAWA[0], VANCOUVER[0])
    clear_numbers = (OTTAWA[1], VANCOUVER[1])
    never_numbers = (OTTAWA[2],)

    def make_registry(self) -> Registry:
        return ca_dncl()

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        assert isinstance(registry, SnapshotRegistry)
        folder = registry.store.snapshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "dncl.csv"
        path.write_text("".join(csv_line(n) + "\n" for n in listed))
        registry.import_files([path], taken_at=at, full_list=True)

    def break_registry(self, registry: Registry) -> bool:
        assert isinstance(registry, SnapshotRegistry)
        info = registry.store.active_snapshot(registry.id)
        assert info is not None
        pathlib.Path(info.path).write_bytes(b"garbage")
        forget_indexes()
        return True


@pytest.fixture
def db_url(tmp_path: pathlib.Path) -> str:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    upgrade(create_engine(url))
    return url


@pytest.fixture
def dncl(db_url: str, tmp_path: pathlib.Path) -> SnapshotRegistry:
    registry = ca_dncl()
    registry.bind(RegistryStore(create_engine(db_url), tmp_path / "snap"))
    return registry


def _status(registry: SnapshotRegistry, numbers: Sequence[str]) -> list[str]:
    return [f.status for f in registry.facts(list(numbers), LATER)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "zip"])
def test_csv(dncl: SnapshotRegistry, tmp_path: pathlib.Path, newline: str, zipped: bool) -> None:
    data = "".join(csv_line(n) + newline for n in OTTAWA[:2]).encode()
    path = tmp_path / "613.csv"
    path.write_bytes(data)
    if zipped:
        path = zip_members(tmp_path / "dncl.zip", [("613.csv", data)])
    info = dncl.import_files([path], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (2, 0)
    assert _status(dncl, OTTAWA) == ["listed", "listed", "clear", "clear"]
    fact = dncl.facts([OTTAWA[0]], LATER)[0]
    assert fact.checked_at == AT
    assert fact.registered_at is None


def test_one_file_per_area_code_and_mixed_line_endings(
    dncl: SnapshotRegistry, tmp_path: pathlib.Path
) -> None:
    archive = zip_members(
        tmp_path / "dncl.zip",
        [
            ("613.csv", f"{csv_line(OTTAWA[0])}\r\n{csv_line(OTTAWA[1])}\n".encode()),
            ("604.csv", f"\ufeffNPA,Number\r{csv_line(VANCOUVER[0])}\r\n\n".encode()),
        ],
    )
    info = dncl.import_files([archive], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (3, 0)
    assert _status(dncl, [*OTTAWA[:3], *VANCOUVER[:2]]) == [
        "listed",
        "listed",
        "clear",
        "listed",
        "clear",
    ]


@pytest.mark.parametrize(
    ("template", "day"),
    [
        ("{npa},{local},2026-10-01", dt.date(2026, 10, 1)),
        ("{npa},{local},20261001", dt.date(2026, 10, 1)),
        ("{npa}{local},2026/10/01 13:45:00", dt.date(2026, 10, 1)),
        ('"{npa}","{local}","10/01/2026"', dt.date(2026, 10, 1)),
    ],
)
def test_registration_date_feeds_registered_at(
    dncl: SnapshotRegistry, tmp_path: pathlib.Path, template: str, day: dt.date
) -> None:
    lines = [template.format(npa=n[2:5], local=n[5:]) for n in OTTAWA[:2]]
    lines.append(f"604,{VANCOUVER[0][5:]},2026-11-15")
    lines.append(f"604,{VANCOUVER[1][5:]},not a date")  # kept, as long registered
    path = tmp_path / "dated.csv"
    path.write_text("NPA,Number,Date\n" + "\n".join(lines) + "\n")
    info = dncl.import_files([path], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (4, 0)
    facts = dncl.facts([OTTAWA[0], VANCOUVER[0], VANCOUVER[1], OTTAWA[3]], LATER)
    assert [f.status for f in facts] == ["listed", "listed", "listed", "clear"]
    assert facts[0].registered_at == dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    assert facts[1].registered_at == dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
    assert facts[2].registered_at == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


NATIONAL_XML = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<list type='full' level='all' val=''>\n"
    "<ac val='613'>\n<ph val='5550100' />\n<ph val='5550101' />\n</ac>\n"
    "<ac val='604'>\n<ph val='5550100' />\n</ac>\n</list>\n"
)
SINGLE_XML = (
    "<list type='full' level='ac' val='613'><ac val='613'><ph val='5550100'/>"
    "<ph val='5550101'/></ac></list>"
)


@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "zip"])
def test_xml_national_and_single_area_code(
    dncl: SnapshotRegistry, tmp_path: pathlib.Path, zipped: bool
) -> None:
    national = tmp_path / "all.xml"
    national.write_text(NATIONAL_XML)
    single = tmp_path / "613.xml"
    single.write_text(SINGLE_XML)
    paths = [national, single]
    if zipped:
        paths = [
            zip_members(
                tmp_path / "dncl.zip",
                [("all.xml", NATIONAL_XML.encode()), ("613.xml", SINGLE_XML.encode())],
            )
        ]
    info = dncl.import_files(paths, taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (3, 0)
    assert _status(dncl, [*OTTAWA[:3], *VANCOUVER[:2]]) == [
        "listed",
        "listed",
        "clear",
        "listed",
        "clear",
    ]


def test_xml_dates_and_custom_layout(db_url: str, tmp_path: pathlib.Path) -> None:
    registry = ca_dncl()
    registry.bind(RegistryStore(create_engine(db_url), tmp_path / "snap"))
    dated = tmp_path / "dated.xml"
    dated.write_text(
        "<list type='full' level='all' val=''><ac val='613'>"
        "<ph val='5550100' date='2026-09-30'/><ph val='5550101' date='2026-11-01'/></ac></list>"
    )
    registry.import_files([dated], taken_at=AT, full_list=True)
    facts = registry.facts(OTTAWA[:2], LATER)
    assert [f.registered_at for f in facts] == [
        dt.datetime(2026, 9, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    ]
    custom = ca_dncl(xml=XmlLayout(record=("entry",), number=("tel",), area=("npa",)))
    custom.bind(registry.store)
    other = tmp_path / "other.xml"
    other.write_text("<dncl><entry npa='604' tel='555-0103'/></dncl>")
    custom.import_files([other], taken_at=LATER, full_list=True)
    assert _status(custom, [VANCOUVER[3], OTTAWA[0]]) == ["listed", "clear"]


def test_invalid_duplicates_and_threshold(dncl: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text(csv_line(OTTAWA[0]) + "\n")
    before = dncl.import_files([first], taken_at=AT, full_list=True)
    lines = [f"613,55501{i:02d}" for i in range(98)]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([*lines, lines[0], "613,155010", "113,5550100"]) + "\n")
    with pytest.raises(RegistryFormatError, match="2 of 101 lines rejected") as caught:
        dncl.import_files([path], taken_at=LATER, full_list=True)
    assert "line 100" in str(caught.value)
    active = dncl.store.active_snapshot("ca_dncl")
    assert active is not None
    assert active.version == before.version
    tolerant = ca_dncl(max_rejected=0.05)
    tolerant.bind(dncl.store)
    info = tolerant.import_files([path], taken_at=LATER, full_list=True)
    assert (info.count, info.rejected) == (98, 2)


def test_corrupt_zip_and_wrong_encoding(dncl: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(RegistryFormatError, match="corrupt zip"):
        dncl.import_files([broken], taken_at=AT, full_list=True)
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((csv_line(OTTAWA[0]) + "\n").encode("utf-16"))
    with pytest.raises(RegistryFormatError, match="UTF-16"):
        dncl.import_files([utf16], taken_at=AT, full_list=True)
    xml16 = tmp_path / "x.xml"
    xml16.write_bytes(b"<list><ac val='613'><ph val='\xff\xfe'/></ac></list>")
    with pytest.raises(RegistryFormatError, match="well-formed"):
        dncl.import_files([xml16], taken_at=AT, full_list=True)
    assert dncl.store.active_snapshot("ca_dncl") is None


def test_block_boundaries_agree(tmp_path: pathlib.Path) -> None:
    numbers = random_nanp(30_000, seed=11)
    path = tmp_path / "all.csv"
    write_flat(path, numbers, comma=True)
    expected = {10_000_000_000 + int(n) for n in numbers}
    for size in (4099, 1 << 20):
        keys: set[int] = set()
        for chunk in DnclCodec(block_size=size).read(path):
            keys.update(int(k) for k in chunk.keys)
            assert chunk.rejected == 0
        assert keys == expected


def test_killing_an_import_leaves_the_previous_snapshot(
    dncl: SnapshotRegistry, db_url: str, tmp_path: pathlib.Path
) -> None:
    first = tmp_path / "first.csv"
    first.write_text("".join(csv_line(n) + "\n" for n in OTTAWA[:2]))
    before = dncl.import_files([first], taken_at=AT, full_list=True)
    big = tmp_path / "big.csv"
    write_flat(big, random_nanp(3_000_000, seed=13), comma=True)
    code = kill_mid_import(
        tmp_path, db_url, dncl.store.snapshot_dir, big, "optout._registries.ca:ca_dncl"
    )
    assert code == -signal.SIGKILL
    fresh = ca_dncl()
    fresh.bind(RegistryStore(create_engine(db_url), dncl.store.snapshot_dir))
    active = fresh.store.active_snapshot("ca_dncl")
    assert active is not None
    assert active.version == before.version
    assert _status(fresh, OTTAWA) == ["listed", "listed", "clear", "clear"]


def test_an_undated_addition_is_dated_by_the_list_it_joins(
    dncl: SnapshotRegistry, tmp_path: pathlib.Path
) -> None:
    # It was not listed in the snapshot of AT, so it registered on that day at the
    # earliest: the 31-day grace runs from there, not from the change list's own day.
    lines = [f"{n[2:5]},{n[5:]},2026-10-01" for n in OTTAWA[:2]]
    full = tmp_path / "dated.csv"
    full.write_text("NPA,Number,Date\n" + "\n".join(lines) + "\n")
    dncl.import_files([full], taken_at=AT, full_list=True)
    adds = tmp_path / "adds.csv"
    adds.write_text(f"NPA,Number\n{OTTAWA[3][2:5]},{OTTAWA[3][5:]}\n")
    dncl.apply_changes([adds], taken_at=AT + dt.timedelta(days=20))
    (fact,) = dncl.facts([OTTAWA[3]], AT + dt.timedelta(days=21))
    assert fact.status == "listed"
    assert fact.registered_at == AT  # before: AT + 20 days, a longer grace
