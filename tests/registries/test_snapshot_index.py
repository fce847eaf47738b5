"""The memory-mapped snapshot index answers exactly what a plain sorted search would."""

from __future__ import annotations

import pathlib
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optout._errors import RegistryError
from optout._registries import _snapshot
from optout._registries._snapshot import _FENCE, SnapshotIndex, _fenced_search, write_index


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SnapshotIndex:
    rng = np.random.default_rng(11)
    keys = rng.integers(12_000_000_000, 12_100_000_000, 300_000).astype(np.uint64)
    path = tmp_path_factory.mktemp("index") / "list.idx"
    write_index(path, np.concatenate([keys, keys[:1000]]))  # duplicates are dropped
    return SnapshotIndex(path)


def _expected(index: SnapshotIndex, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.asarray(index.keys)
    pos = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    return pos, keys[pos] == queries


@pytest.mark.parametrize("size", [1, 64, 65, 5_000, 120_000])
@pytest.mark.parametrize("ordered", [True, False])
def test_positions_match_a_sorted_search(index: SnapshotIndex, size: int, ordered: bool) -> None:
    """Small batches, block-searched batches and fenced batches (>= 50,000 queries) all give
    numpy's answer; half the queries are listed numbers, half their unlisted neighbours."""
    rng = np.random.default_rng(size)
    listed = np.asarray(index.keys)[rng.integers(0, index.count, size)]
    queries = np.where(rng.random(size) < 0.5, listed, listed + np.uint64(1))
    ends = np.array([0, 2**64 - 1], dtype=np.uint64)
    queries = np.concatenate([queries, ends])  # below and above every key
    if ordered:
        queries = np.sort(queries)
    pos, found = index.positions(queries)
    want_pos, want_found = _expected(index, queries)
    assert np.array_equal(found, want_found)
    assert np.array_equal(pos[found], want_pos[found])
    assert index.count == len(np.unique(np.asarray(index.keys)))


def test_the_fence_is_built_in_the_background_then_used(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first large batch is block-searched while a thread builds the fence; a batch
    that comes while it is being built waits for it, and goes through it. Every answer is
    numpy's."""
    keys = np.arange(10_000_000, 10_000_000 + 3 * 200_000, 3, dtype=np.uint64)
    path = tmp_path / "fence.idx"
    write_index(path, keys)
    index = SnapshotIndex(path)
    queries = np.arange(9_999_990, 10_000_000 + 3 * 200_000 + 10, 7, dtype=np.uint64)
    fenced: list[int] = []

    def spy(keys: np.ndarray, queries: np.ndarray, fence: np.ndarray) -> np.ndarray:
        fenced.append(len(queries))
        return _fenced_search(keys, queries, fence)

    monkeypatch.setattr(_snapshot, "_fenced_search", spy)
    started = threading.Event()
    release = threading.Event()
    build = SnapshotIndex._build_fence

    def slow_build(self: SnapshotIndex) -> None:
        started.set()
        release.wait(10)
        build(self)

    monkeypatch.setattr(SnapshotIndex, "_build_fence", slow_build)
    first = index.positions(queries)
    assert started.wait(10)
    assert fenced == []  # not waited for
    answers: list[tuple[np.ndarray, np.ndarray]] = []
    waiting = threading.Thread(target=lambda: answers.append(index.positions(queries)))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive()  # waits for the fence being built
    release.set()
    waiting.join(10)
    assert index._fence is not None
    assert np.array_equal(index._fence, keys[::_FENCE])
    assert fenced == [len(queries)]
    want_pos, want_found = _expected(index, queries)
    for pos, found in (first, *answers):
        assert np.array_equal(found, want_found)
        assert np.array_equal(pos[found], want_pos[found])


def test_prepare_builds_the_fence_in_the_calling_thread(tmp_path: pathlib.Path) -> None:
    """A warm-up builds the fence before the first large batch, which then goes through it;
    a small index has none to build."""
    keys = np.arange(5, 5 + 2 * 100_000, 2, dtype=np.uint64)
    write_index(tmp_path / "big.idx", keys)
    index = SnapshotIndex(tmp_path / "big.idx")
    index.prepare()
    assert index._fence is not None
    assert np.array_equal(index._fence, keys[::_FENCE])
    index.prepare()  # once
    queries = np.arange(0, 200_010, 3, dtype=np.uint64)
    pos, found = index.positions(queries)
    want_pos, want_found = _expected(index, queries)
    assert np.array_equal(found, want_found)
    assert np.array_equal(pos[found], want_pos[found])
    write_index(tmp_path / "small.idx", keys[:100])
    small = SnapshotIndex(tmp_path / "small.idx")
    small.prepare()
    assert small._fence is None


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2**40), max_size=300), st.lists(st.integers(0, 2**40), max_size=50))
def test_membership_property(
    tmp_path_factory: pytest.TempPathFactory, keys: list[int], extra: list[int]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "p.idx"
    write_index(path, np.array(keys, dtype=np.uint64))
    index = SnapshotIndex(path)
    queries = np.array(keys + extra, dtype=np.uint64)
    assert index.contains(queries).tolist() == [q in set(keys) for q in keys + extra]


def test_a_damaged_file_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "x.idx"
    write_index(path, np.arange(10, dtype=np.uint64))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(RegistryError, match="wrong size"):
        SnapshotIndex(path)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 2**63), min_size=1, max_size=1_500, unique=True),
    st.lists(st.integers(0, 2**64 - 1), max_size=400),
    st.integers(0, 3),
)
def test_fenced_search_is_a_sorted_search(keys: list[int], extra: list[int], shift: int) -> None:
    """The block search answers numpy's searchsorted for every sorted query: listed keys,
    their neighbours, keys below and above all, in full and short last blocks."""
    arr = np.array(sorted(keys), dtype=np.uint64)
    near = [min(k + shift, 2**64 - 1) for k in keys] + [max(k - shift, 0) for k in keys]
    queries = np.sort(np.array(keys + near + extra, dtype=np.uint64))
    got = _fenced_search(arr, queries, np.ascontiguousarray(arr[::_FENCE]))
    assert np.array_equal(got, np.searchsorted(arr, queries))
