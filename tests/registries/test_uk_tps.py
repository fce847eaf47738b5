"""The UK TPS and CTPS backends: both fixed-width variants, rejections, crashes."""

from __future__ import annotations

import datetime as dt
import pathlib
import signal
from collections.abc import Sequence

import numpy as np
import pytest
from _gen import kill_mid_import, zip_members

from optout import RegistryFormatError
from optout._db import create_engine, upgrade
from optout._registries._base import Registry
from optout._registries._kinds import SnapshotRegistry
from optout._registries._snapshot import forget_indexes
from optout._registries._store import RegistryStore
from optout._registries.uk import TpsCodec, gb_ctps, gb_tps
from optout.testing import RegistryConformance

AT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=1)
# Ofcom's drama ranges: 020 7946 0xxx (London) and 07700 900xxx (mobile)
LONDON = [f"+4420794600{i:02d}" for i in range(4)]
MOBILE = [f"+447700900{i:03d}" for i in range(4)]


def spaced(e164: str) -> str:
    """The *with spaces* record: code in 5 chars left-justified, rest in 7 right-justified."""
    national = "0" + e164[3:]
    code = national[:4] if national.startswith("02") else national[:5]
    return f"{code:<5}{national[len(code) :]:>7}"


def unspaced(e164: str) -> str:
    """The *without spaces* record: the number left-justified in 12 chars."""
    return f"{'0' + e164[3:]:<12}"


class TestTpsConformance(RegistryConformance):
    listed_numbers = (LONDON[0], MOBILE[0])
    clear_numbers = (LONDON[1], MOBILE[1])
    never_numbers = (LONDON[2],)

    def make_registry(self) -> Registry:
        return gb_tps()

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        assert isinstance(registry, SnapshotRegistry)
        folder = registry.store.snapshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "tps.txt"
        path.write_bytes("".join(spaced(n) + "\r\n" for n in listed).encode())
        registry.import_files([path], taken_at=at, full_list=True)

    def break_registry(self, registry: Registry) -> bool:
        assert isinstance(registry, SnapshotRegistry)
        info = registry.store.active_snapshot(registry.id)
        assert info is not None
        pathlib.Path(info.path).unlink()
        forget_indexes()
        return True


class TestCtpsConformance(TestTpsConformance):
    def make_registry(self) -> Registry:
        return gb_ctps()


@pytest.fixture
def db_url(tmp_path: pathlib.Path) -> str:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    upgrade(create_engine(url))
    return url


@pytest.fixture
def tps(db_url: str, tmp_path: pathlib.Path) -> SnapshotRegistry:
    registry = gb_tps()
    registry.bind(RegistryStore(create_engine(db_url), tmp_path / "snap"))
    return registry


def _status(registry: SnapshotRegistry, numbers: Sequence[str]) -> list[str]:
    return [f.status for f in registry.facts(list(numbers), LATER)]


def test_spec_examples_are_read() -> None:
    assert spaced("+442073787244") == "0207 3787244"
    assert spaced("+441635506160") == "01635 506160"
    assert spaced("+447860338653") == "07860 338653"
    assert unspaced("+442073787244") == "02073787244 "


@pytest.mark.parametrize("variant", [spaced, unspaced], ids=["with-spaces", "without-spaces"])
@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["CRLF", "LF"])
@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "zip"])
def test_fixed_width_variants(
    tps: SnapshotRegistry, tmp_path: pathlib.Path, variant: object, newline: str, zipped: bool
) -> None:
    assert callable(variant)
    data = "".join(variant(n) + newline for n in [*LONDON[:2], *MOBILE[:2]]).encode()
    path = tmp_path / "tps.txt"
    path.write_bytes(data)
    if zipped:
        path = zip_members(tmp_path / "tps.zip", [("tps.txt", data)])
    info = tps.import_files([path], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (4, 0)
    assert _status(tps, [*LONDON, *MOBILE]) == ["listed", "listed", "clear", "clear"] * 2
    fact = tps.facts([LONDON[0]], LATER)[0]
    assert fact.checked_at == AT
    assert fact.registered_at is None  # the TPS file carries no dates


def test_mixed_variants_members_and_line_endings(
    tps: SnapshotRegistry, tmp_path: pathlib.Path
) -> None:
    first = f"{spaced(LONDON[0])}\r\n{unspaced(LONDON[1])}   \n\r\n{spaced(LONDON[2])}\r"
    second = f"\ufeffTelephone Number\r\n{unspaced(MOBILE[0])}\r\n{spaced(MOBILE[1])}"
    archive = zip_members(
        tmp_path / "tps.zip", [("a.txt", first.encode()), ("b.txt", second.encode("utf-8"))]
    )
    info = tps.import_files([archive], taken_at=AT, full_list=True)
    assert (info.count, info.rejected) == (5, 0)
    assert _status(tps, [*LONDON[:3], *MOBILE[:2], MOBILE[3]]) == ["listed"] * 5 + ["clear"]


def test_block_boundaries(tmp_path: pathlib.Path) -> None:
    rng = np.random.default_rng(5)
    locals_ = rng.integers(0, 1_000_000, 30_000)
    numbers = [
        f"+442079{int(x):06d}" if i % 2 else f"+447700{int(x):06d}" for i, x in enumerate(locals_)
    ]
    text = "".join((spaced(n) if i % 3 else unspaced(n)) + "\r\n" for i, n in enumerate(numbers))
    path = tmp_path / "big.txt"
    path.write_text(text, newline="")
    for size in (4091, 1 << 20):
        keys: set[int] = set()
        rejected = 0
        for chunk in TpsCodec(block_size=size).read(path):
            keys.update(int(k) for k in chunk.keys)
            rejected += chunk.rejected
        assert keys == {int(n[1:]) for n in numbers}
        assert rejected == 0


def test_invalid_and_duplicate_numbers(tps: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    good = [spaced(f"+447700900{i:03d}") for i in range(97)]
    bad = ["0044 7700900", "7700 900123", "0207 946", "ABCDE FGHIJK"]
    path = tmp_path / "tps.txt"
    path.write_text("\r\n".join([*good, good[0], *bad]) + "\r\n", newline="")
    with pytest.raises(RegistryFormatError, match="4 of 102 lines rejected") as caught:
        tps.import_files([path], taken_at=AT, full_list=True)
    assert "line 99" in str(caught.value)
    first = tmp_path / "first.txt"
    first.write_text(spaced(LONDON[0]) + "\r\n")
    before = tps.import_files([first], taken_at=AT, full_list=True)
    with pytest.raises(RegistryFormatError):
        tps.import_files([path], taken_at=LATER, full_list=True)
    active = tps.store.active_snapshot("gb_tps")
    assert active is not None
    assert active.version == before.version
    tolerant = gb_tps(max_rejected=0.05)
    tolerant.bind(tps.store)
    info = tolerant.import_files([path], taken_at=LATER, full_list=True)
    assert (info.count, info.rejected) == (97, 4)


def test_corrupt_zip_and_wrong_encoding(tps: SnapshotRegistry, tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x01" * 100)
    with pytest.raises(RegistryFormatError, match="corrupt zip"):
        tps.import_files([broken], taken_at=AT, full_list=True)
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes((spaced(LONDON[0]) + "\r\n").encode("utf-16"))
    with pytest.raises(RegistryFormatError, match="UTF-16"):
        tps.import_files([utf16], taken_at=AT, full_list=True)
    ebcdic = tmp_path / "ebcdic.txt"
    ebcdic.write_bytes((spaced(LONDON[0]) + "\r\n").encode("cp500"))
    with pytest.raises(RegistryFormatError, match="rejected"):
        tps.import_files([ebcdic], taken_at=AT, full_list=True)
    assert tps.store.active_snapshot("gb_tps") is None


def test_tps_and_ctps_are_separate(db_url: str, tmp_path: pathlib.Path) -> None:
    store = RegistryStore(create_engine(db_url), tmp_path / "snap")
    tps, ctps = gb_tps(), gb_ctps()
    tps.bind(store)
    ctps.bind(store)
    a, b = tmp_path / "tps.txt", tmp_path / "ctps.txt"
    a.write_text(spaced(LONDON[0]) + "\r\n")
    b.write_text(spaced(LONDON[1]) + "\r\n")
    tps.import_files([a], taken_at=AT, full_list=True)
    ctps.import_files([b], taken_at=AT, full_list=True)
    assert _status(tps, LONDON[:2]) == ["listed", "clear"]
    assert _status(ctps, LONDON[:2]) == ["clear", "listed"]


def test_killing_an_import_leaves_the_previous_snapshot(
    tps: SnapshotRegistry, db_url: str, tmp_path: pathlib.Path
) -> None:
    first = tmp_path / "first.txt"
    first.write_text("".join(spaced(n) + "\r\n" for n in LONDON[:2]))
    before = tps.import_files([first], taken_at=AT, full_list=True)
    rng = np.random.default_rng(9)
    mobiles = rng.integers(7_000_000_000, 7_999_999_999, 2_500_000, dtype=np.uint64)
    big = tmp_path / "big.txt"
    with big.open("wb") as out:
        for start in range(0, len(mobiles), 500_000):
            block = mobiles[start : start + 500_000]
            out.write("".join(f"0{int(m)} \r\n" for m in block).encode())
    code = kill_mid_import(
        tmp_path, db_url, tps.store.snapshot_dir, big, "optout._registries.uk:gb_tps"
    )
    assert code == -signal.SIGKILL
    fresh = gb_tps()
    fresh.bind(RegistryStore(create_engine(db_url), tps.store.snapshot_dir))
    active = fresh.store.active_snapshot("gb_tps")
    assert active is not None
    assert active.version == before.version
    assert _status(fresh, LONDON) == ["listed", "listed", "clear", "clear"]
