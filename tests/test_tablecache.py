"""The numbering-plan table cache: what it reads back is what building gives, and a
missing, damaged, stale or unwritable cache only means building the tables again."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from optout import _tablecache
from optout._fastnum import _build_nanp_lane, _lane_ok
from optout._location import _build_geo_arrays, _geo_ok, _geo_states, _geocoder_states
from optout._tablecache import cached_arrays


@pytest.fixture
def folder(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("OPTOUT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a
    )


@pytest.mark.parametrize(
    ("name", "build", "valid"),
    [("nanp-lane", _build_nanp_lane, _lane_ok), ("nanp-geo", _build_geo_arrays, _geo_ok)],
)
def test_tables_read_back_equal_the_built_ones(
    folder: pathlib.Path, name: str, build: object, valid: object
) -> None:
    built = cached_arrays(name, build, valid)  # type: ignore[arg-type]
    (stored,) = folder.glob(f"{name}-*.npz")
    again = cached_arrays(name, lambda: pytest.fail("built again"), valid)  # type: ignore[arg-type]
    assert _same(built, again)
    assert _same(again, dict(build()))  # type: ignore[operator]
    assert stored.exists()


def test_geocoder_reading_from_the_cache_is_the_geocoders(folder: pathlib.Path) -> None:
    """The per-number look-up table rebuilt from the cached arrays equals the geocoder's."""
    table, longest = _geo_states()
    direct = _geocoder_states()
    assert table == direct
    assert longest == max(len(p) for p in direct)


def test_damaged_or_wrong_files_are_rebuilt(folder: pathlib.Path) -> None:
    built = cached_arrays("nanp-lane", _build_nanp_lane, _lane_ok)
    (stored,) = folder.glob("nanp-lane-*.npz")
    stored.write_bytes(b"not a zip file")
    assert _same(cached_arrays("nanp-lane", _build_nanp_lane, _lane_ok), built)
    # A readable file with the wrong shape is not trusted either.
    np.savez(stored, region=np.zeros(3, dtype=np.int64), kind=np.zeros(3), decided=np.ones(3))
    assert _same(cached_arrays("nanp-lane", _build_nanp_lane, _lane_ok), built)
    assert _same(cached_arrays("nanp-lane", lambda: pytest.fail("built"), _lane_ok), built)


def test_other_versions_are_removed(folder: pathlib.Path) -> None:
    folder.mkdir(parents=True)
    old = folder / "nanp-lane-0123456789abcdef01234567.npz"
    old.write_bytes(b"old")
    other = folder / "nanp-geo-0123456789abcdef01234567.npz"
    other.write_bytes(b"old")
    cached_arrays("nanp-lane", _build_nanp_lane, _lane_ok)
    assert not old.exists()
    assert other.exists()  # another table's file is not this one's to remove
    assert len(list(folder.glob("nanp-lane-*.npz"))) == 1


def test_off_and_unwritable_build_in_memory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTOUT_CACHE_DIR", "off")
    assert _tablecache.cache_folder() is None
    built = cached_arrays("nanp-lane", _build_nanp_lane, _lane_ok)
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    monkeypatch.setenv("OPTOUT_CACHE_DIR", str(blocked / "cache"))
    assert _same(cached_arrays("nanp-lane", _build_nanp_lane, _lane_ok), built)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_default_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.delenv("OPTOUT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _tablecache.cache_folder() == tmp_path / "optout"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _tablecache.cache_folder() == tmp_path / ".cache" / "optout"
