"""The US National DNC backend: every file variant, rejections, change lists, crashes."""

from __future__ import annotations

import datetime as dt
import pathlib
import signal
from collections.abc import Sequence

import numpy as np
import pytest
from _gen import flat_bytes, kill_mid_import, random_nanp, us_fictional, write_flat, zip_members

from optout import RegistryFormatError
from optout._db import create_engine, upgrade
from optout._registries._base import Registry
from optout._registries._kinds import SnapshotRegistry
from optout._registries._snapshot import forget_indexes
from optout._registries._store import RegistryStore
from optout._registries.us import US_XML, UsDncCodec, XmlLayout, us_dnc
from optout.testing import RegistryConformance

AT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=1)
NUMBERS = us_fictional(6)  # +1 202 555 0100..0105


def _lines(numbers: Sequence[str], *, comma: bool = False) -> list[str]:
    return [f"{n[2:5]},{n[5:]}" if comma else n[2:] for n in numbers]


class TestUsDncConformance(RegistryConformance):
    listed_numbers = ("+12025550100", "+12025550101")
    clear_numbers = ("+12025550102", "+13125550103")
    never_numbers = ("+12025550104",)

    def make_registry(self) -> Registry:
        return us_dnc()

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        assert isinstance(registry, SnapshotRegistry)
        folder = registry.store.snapshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "202.txt"
        path.write_text("\n".join(_lines(listed)) + "\n")
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
def dnc(db_url: str, tmp_path: pathlib.Path) -> SnapshotRegistry:
    registry = us_dnc()
    registry.bind(RegistryStore(create_engine(db_url), tmp_path / "snap"))
    return registry


def _status(registry: SnapshotRegistry, numbers: Sequence[str]) -> list[str]:
    return [f.status for f in registry.facts(list(numbers), LATER)]


def _keys(codec: UsDncCodec, path: pathlib.Path) -> tuple[set[int], set[int], int]:
    adds: set[int] = set()
    dels: set[int] = set()
    rejected = 0
    for chunk in codec.read(path):
        adds.update(int(k) for k in chunk.keys)
        if chunk.deletes is not None:
            dels.update(int(k) for k in chunk.deletes)
        rejected += chunk.rejected
    return adds, dels, rejected


@pytest.mark.parametrize("comma", [False, True], ids=["NPANXXXXXX", "NPA,NXXXXXX"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "zip"])
def test_flat_full_list_variants(
    dnc: SnapshotRegistry, tmp_path: pathlib.Path, comma: bool, newline: str, zipped: bool
) -> None:
    data = newline.join(_lines(NUMBERS[:4], comma=comma)).encode() + newline.encode()
    path = tmp_path / "202.txt"
    path.write_bytes(data)
    if zipped:
        path = zip_members(tmp_path / "202.zip", [("202.txt", data)])
    info = dnc.import_files([path], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (4, 0)
    assert _status(dnc, NUMBERS) == ["listed"] * 4 + ["clear"] * 2
    assert dnc.facts([NUMBERS[0]], LATER)[0].checked_at == AT


def test_zip_with_several_members_and_mixed_variants(
    dnc: SnapshotRegistry, tmp_path: pathlib.Path
) -> None:
    archive = zip_members(
        tmp_path / "all.zip",
        [
            ("202.txt", b"2025550100\r\n2025550101\n"),
            ("312.txt", b"\xef\xbb\xbfPhone Number\r\n312,5550102\r312,5550103\r\n\r\n"),
            ("415.txt", b"14155550104\n415-555-0105"),  # 11 digits; no final newline
        ],
    )
    info = dnc.import_files([archive], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (6, 0)
    wanted = ["+12025550100", "+12025550101", "+13125550102", "+13125550103"]
    assert _status(dnc, [*wanted, "+14155550104", "+14155550105", "+14155550106"]) == [
        "listed"
    ] * 6 + ["clear"]


def test_block_boundaries_and_mixed_line_endings(tmp_path: pathlib.Path) -> None:
    numbers = random_nanp(20_000, seed=3)
    ends = ["\n", "\r\n", "\r"]
    text = "".join(
        (f"{int(n)}" if i % 2 else f"{int(n) // 10**7},{int(n) % 10**7:07d}") + ends[i % 3]
        for i, n in enumerate(numbers)
    )
    path = tmp_path / "mixed.txt"
    path.write_text(text, newline="")
    for size in (4093, 1 << 16, 1 << 20):
        adds, dels, rejected = _keys(UsDncCodec(block_size=size), path)
        assert adds == {10_000_000_000 + int(n) for n in numbers}
        assert (dels, rejected) == (set(), 0)


def test_vectorized_and_irregular_blocks_agree(tmp_path: pathlib.Path) -> None:
    numbers = random_nanp(50_000, seed=4)
    regular = tmp_path / "regular.txt"
    write_flat(regular, numbers)
    irregular = tmp_path / "irregular.txt"
    data = flat_bytes(numbers, comma=True)
    irregular.write_bytes(data[:120_000] + b"bogus\n0125550100\n2021550100\n" + data[120_000:])
    good, _, none = _keys(UsDncCodec(block_size=1 << 16), regular)
    mixed, _, rejected = _keys(UsDncCodec(block_size=1 << 16), irregular)
    assert good == mixed
    assert len(good) == len(np.unique(numbers))
    assert (none, rejected) == (0, 3)


def test_invalid_and_duplicate_numbers(dnc: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    good = [f"20255501{i:02d}" for i in range(98)]
    path = tmp_path / "bad.txt"
    path.write_text("\n".join([*good, good[0], "0125550100", "2021550100", "555-01"]) + "\n")
    with pytest.raises(RegistryFormatError, match="3 of 102 lines rejected") as caught:
        dnc.import_files([path], taken_at=AT, full_list=True)
    assert caught.value.rejected == 3
    assert "line 100" in str(caught.value)
    assert dnc.store.active_snapshot("us_dnc") is None
    tolerant = us_dnc(max_rejected=0.05)
    tolerant.bind(dnc.store)
    info = tolerant.import_files([path], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (98, 3)  # the duplicate collapses, not rejected


def test_too_many_rejections_keep_the_previous_snapshot(
    dnc: SnapshotRegistry, tmp_path: pathlib.Path
) -> None:
    first = tmp_path / "first.txt"
    first.write_text("2025550100\n")
    before = dnc.import_files([first], taken_at=AT, full_list=True)
    bad = tmp_path / "bad.txt"
    bad.write_text("2025550101\n1115550100\nnope\n")
    with pytest.raises(RegistryFormatError, match="2 of 3"):
        dnc.import_files([bad], taken_at=LATER, full_list=True)
    active = dnc.store.active_snapshot("us_dnc")
    assert active is not None
    assert active.version == before.version
    assert _status(dnc, ["+12025550100", "+12025550101"]) == ["listed", "clear"]


def test_corrupt_zip_and_wrong_encoding(dnc: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(RegistryFormatError, match="corrupt zip"):
        dnc.import_files([broken], taken_at=AT, full_list=True)
    good = zip_members(tmp_path / "good.zip", [("202.txt", b"2025550100\n" * 1000)])
    damaged = tmp_path / "damaged.zip"
    raw = bytearray(good.read_bytes())
    raw[40:60] = b"\xff" * 20  # inside the compressed member
    damaged.write_bytes(bytes(raw))
    with pytest.raises(RegistryFormatError):
        dnc.import_files([damaged], taken_at=AT, full_list=True)
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("2025550100\r\n2025550101\r\n".encode("utf-16"))
    with pytest.raises(RegistryFormatError, match="UTF-16"):
        dnc.import_files([utf16], taken_at=AT, full_list=True)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("2025550100 caf\xe9\n2025550101 \xe9t\xe9\n".encode("latin-1"))
    with pytest.raises(RegistryFormatError, match="rejected"):
        dnc.import_files([latin], taken_at=AT, full_list=True)
    assert dnc.store.active_snapshot("us_dnc") is None


XML_SHAPES = {
    "record-children": (
        "<?xml version='1.0'?><DNCList xmlns='urn:x-ftc'>"
        + "".join(
            f"<Record><AreaCode>{n[2:5]}</AreaCode><PhoneNumber>{n[5:]}</PhoneNumber></Record>"
            for n in NUMBERS[:4]
        )
        + "</DNCList>"
    ),
    "number-elements": "<list>"
    + "".join(f"<PhoneNumber>{n[2:]}</PhoneNumber>\n" for n in NUMBERS[:4])
    + "</list>",
    "grouped-attributes": "<list type='full'><ac val='202'>"
    + "".join(f"<ph val='{n[5:]}'/>" for n in NUMBERS[:4])
    + "</ac></list>",
}


@pytest.mark.parametrize("shape", sorted(XML_SHAPES))
@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "zip"])
def test_xml_full_lists(
    dnc: SnapshotRegistry, tmp_path: pathlib.Path, shape: str, zipped: bool
) -> None:
    data = XML_SHAPES[shape].encode()
    path = tmp_path / "202.xml"
    path.write_bytes(data)
    if zipped:
        path = zip_members(tmp_path / "202.zip", [("202.xml", data)])
    info = dnc.import_files([path], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (4, 0)
    assert _status(dnc, NUMBERS) == ["listed"] * 4 + ["clear"] * 2


def test_xml_layout_is_configurable_and_errors_are_reported(
    db_url: str, tmp_path: pathlib.Path
) -> None:
    layout = XmlLayout(record=("Tel",), number=("Digits",), area=("Npa",))
    registry = us_dnc(xml=layout)
    registry.bind(RegistryStore(create_engine(db_url), tmp_path / "snap"))
    path = tmp_path / "custom.xml"
    path.write_text(
        "<Registry><Tel Npa='202'><Digits>5550100</Digits></Tel>"
        "<Tel Npa='202'><Digits>5550101</Digits></Tel><Tel Npa='012'><Digits>5550100</Digits>"
        "</Tel></Registry>"
    )
    with pytest.raises(RegistryFormatError, match="record 3"):
        registry.import_files([path], taken_at=AT, full_list=True)
    broken = tmp_path / "broken.xml"
    broken.write_text("<list><ph val='2025550100'></list>")
    with pytest.raises(RegistryFormatError, match="well-formed"):
        registry.import_files([broken], taken_at=AT, full_list=True)
    assert US_XML.record  # the default layout is public and documented


def test_change_lists_add_and_delete(dnc: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    full = tmp_path / "full.txt"
    full.write_text("\n".join(_lines(NUMBERS[:3])) + "\n")
    dnc.import_files([full], taken_at=AT, full_list=True)
    flags_after = tmp_path / "changes1.txt"
    flags_after.write_text("2025550103,A\r\n202,5550100,D\r\n")
    flags_first = zip_members(
        tmp_path / "changes2.zip",
        [("c.csv", b"Action,Date,Number\nA,20261121,2025550104\nD,2026-11-21,202,5550101\n")],
    )
    xml = tmp_path / "changes3.xml"
    xml.write_text(
        "<changes><Record><Action>ADD</Action><PhoneNumber>2025550105</PhoneNumber></Record>"
        "<Record action='delete'><PhoneNumber>2025550102</PhoneNumber></Record></changes>"
    )
    info = dnc.apply_changes([flags_after, flags_first, xml], taken_at=LATER)
    assert info.count == 3
    assert _status(dnc, NUMBERS) == ["clear"] * 3 + ["listed"] * 3
    assert dnc.facts([NUMBERS[3]], LATER)[0].checked_at == LATER
    adds, dels, rejected = _keys(UsDncCodec(), flags_after)
    assert (adds, dels, rejected) == ({12025550103}, {12025550100}, 0)
    bad = tmp_path / "bad-changes.txt"
    bad.write_text("2025550103,A\n2025550104\n0025550104,D\n")
    _, _, rejected = _keys(UsDncCodec(), bad)
    assert rejected == 2


def test_killing_an_import_leaves_the_previous_snapshot(
    dnc: SnapshotRegistry, db_url: str, tmp_path: pathlib.Path
) -> None:
    first = tmp_path / "first.txt"
    first.write_text("\n".join(_lines(NUMBERS[:3])) + "\n")
    before = dnc.import_files([first], taken_at=AT, full_list=True)
    big = tmp_path / "big.txt"
    write_flat(big, random_nanp(3_000_000, seed=7))
    code = kill_mid_import(
        tmp_path, db_url, dnc.store.snapshot_dir, big, "optout._registries.us:us_dnc"
    )
    assert code == -signal.SIGKILL
    fresh = us_dnc()
    fresh.bind(RegistryStore(create_engine(db_url), dnc.store.snapshot_dir))
    active = fresh.store.active_snapshot("us_dnc")
    assert active is not None
    assert active.version == before.version
    assert _status(fresh, NUMBERS) == ["listed"] * 3 + ["clear"] * 3
