"""decide_many(): batch decisions equal can_call() row by row, on every backend."""

from __future__ import annotations

import datetime as dt
import pathlib
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import optout
from _fakes import StaticRegistry, all_clear
from optout import Compliance
from optout._batch import BatchDecisions, BatchRun, _counted_keys, _plain_keyed, decide_many
from optout._core import registry_token
from optout._fastnum import LANE_FROM, distinct
from optout._registries._snapshot import forget_indexes, open_index
from optout._rules._engine import RegistryFact
from optout.registries import RegistryKind, RegistryOptions, file_registry

AT = dt.datetime(2026, 3, 4, 15, tzinfo=dt.UTC)  # a Wednesday: 16:00 in Rome, 10:00 in NY
DAY = dt.timedelta(days=1)


def check_rows(client: Compliance, numbers: Sequence[object], **kwargs: Any) -> BatchDecisions:
    """Run a batch and compare every row with can_call()."""
    batch = decide_many(client, numbers, at=AT, workers=1, **kwargs)
    assert len(batch) == len(numbers)
    persons = kwargs.pop("person", None)
    for i, raw in enumerate(numbers):
        person = persons[i] if isinstance(persons, list) else persons
        expected = client.can_call(raw, at=AT, person=person, **kwargs)
        assert batch.allowed[i].as_py() == expected.allowed, raw
        assert batch.number[i].as_py() == expected.number, raw
        assert batch.reasons[i].as_py() == ";".join(expected.codes), raw
        assert batch.reason[i].as_py() == expected.primary_code, raw
        nxt = expected.next_allowed_at
        assert batch.next_allowed_at[i].as_py() == (None if nxt is None else nxt.isoformat())
        assert batch.decision(i) == expected, raw
    return batch


@pytest.fixture
def lawful(lawful_client: Compliance) -> Compliance:
    return lawful_client


def test_invalid_inputs_never_raise(client: Compliance) -> None:
    numbers: list[object] = [
        None,
        5,
        3.5,
        b"+390612345678",
        "",
        "  ",
        "garbage",
        "x" * 10_000,
        "+39 06",
        "\ud800",
        "+1 (202) 555-0123",
        "()",
        "+" * 70,
    ]
    batch = check_rows(client, numbers, country="IT")
    codes = batch.reason.to_pylist()
    assert codes[:10] == ["number.invalid"] * 10
    assert batch.number[10].as_py() == "+12025550123"
    assert batch.registry[0].as_py() is None


def test_duplicates_and_extensions(client: Compliance) -> None:
    numbers = [
        "+39 06 1234 5678",
        "06 1234 5678",
        "+390612345678 ext. 9",
        "+390612345678",
        "06-1234-5678 x9",
        "+12025550123",
    ]
    batch = check_rows(client, numbers, country="IT")
    assert batch.duplicate.to_pylist() == [False, True, False, True, True, False]
    assert batch.reason[2].as_py() == "number.extension"
    extensions = [d.phone.extension if d.phone is not None else None for d in batch]
    assert extensions == [None, None, "9", None, "9", None]
    assert batch.number_keys.tolist() == [390612345678] * 2 + [0, 390612345678, 0, 12025550123]
    table = batch.to_table()
    assert table.column_names == list(BatchDecisions.COLUMNS)


def test_suppressions_number_prefix_scoped_expiring(client: Compliance) -> None:
    before = AT - 10 * DAY
    client.suppressions.add("+390612345678", reason="asked", at=before)
    client.suppressions.add_prefix("+1212", reason="block", at=before, expires_at=AT + 3 * DAY)
    client.suppressions.add(
        "+442079460123", reason="b", scope="brand", scope_value="acme", at=before
    )
    client.suppressions.add(
        "+33612345678", reason="c", scope="campaign", scope_value="spring", at=before
    )
    client.suppressions.add("+4930123456", reason="gone", at=before, expires_at=AT - DAY)
    client.suppressions.add(
        "+34912345678", reason="sms", scope="channel", scope_value="sms", at=before
    )
    removed = client.suppressions.add("+61212345678", reason="r", at=before)
    client.suppressions.remove_entry(removed.id, actor="ann", reason="mistake")
    numbers = [
        "+390612345678",
        "+12125550123",
        "+1 212 555 0199",
        "+442079460123",
        "+33612345678",
        "+4930123456",
        "+34912345678",
        "+61212345678",
        "+12025550123",
    ]
    for kwargs in (
        {},
        {"brand": "acme"},
        {"brand": "other", "campaign": "spring"},
        {"channel": "sms"},
    ):
        batch = check_rows(client, numbers, **kwargs)
    assert batch.reason[1].as_py() == "suppression.prefix"
    assert batch.next_allowed_at[1].as_py() == (AT + 3 * DAY).isoformat()


def test_registries_static_and_snapshot(backend_url: str, tmp_path: pathlib.Path) -> None:
    listed = tmp_path / "dnc.txt"
    listed.write_text("2025550123\n2125550123\n")
    snapshot = file_registry(id="us_dnc", country="US")
    others = [r for r in all_clear() if r.id not in ("us_dnc", "it_rpo")]
    backends: list[Any] = [snapshot, StaticRegistry("it_rpo", "listed"), *others]
    with optout.Compliance(backend_url, migrate=True, registries=backends) as c:
        numbers = ["+12025550123", "+12025550124", "+390612345678", "+12125550123"]
        before = check_rows(c, numbers)  # no snapshot yet: not consulted
        assert "registry.not_consulted" in before.reasons[0].as_py()
        info = snapshot.import_files([listed], taken_at=AT - DAY, full_list=True)
        batch = check_rows(c, numbers)
        assert "registry.listed" in batch.reasons[0].as_py()
        assert f"us_dnc:listed@{info.version}" in batch.registry[0].as_py()
        assert f"us_dnc:clear@{info.version}" in batch.registry[1].as_py()
        assert "registry.listed" in batch.reasons[2].as_py()


def test_a_run_prepares_its_regions_snapshot_indexes(
    backend_url: str, tmp_path: pathlib.Path
) -> None:
    """A run with a default country gets the snapshot indexes that country's packs consult
    ready (mapped, fence built) before its first look-up; others are left alone, and a run
    without a country prepares nothing."""
    listed = tmp_path / "dnc.txt"
    listed.write_text("".join(f"{2025550000 + 7 * i}\n" for i in range(20_000)))
    italy = tmp_path / "rpo.txt"
    italy.write_text("".join(f"39061{2000000 + 3 * i}\n" for i in range(20_000)))
    us = file_registry(id="us_dnc", country="US")
    it = file_registry(id="it_rpo", country="IT")
    others = [r for r in all_clear() if r.id not in ("us_dnc", "it_rpo")]
    with optout.Compliance(backend_url, migrate=True, registries=[us, it, *others]) as c:
        us.import_files([listed], taken_at=AT - DAY, full_list=True)
        it.import_files([italy], taken_at=AT - DAY, full_list=True)
        forget_indexes()

        def index_of(backend: Any) -> Any:
            info = c.registry_store.active_snapshot(backend.id)
            assert info is not None
            return open_index(info.path, info.checksum)

        BatchRun(c, at=AT, workers=1).prepare_registries()
        assert index_of(us)._fence is None
        BatchRun(c, at=AT, workers=1, country="US").prepare_registries()
        assert index_of(us)._fence is not None
        assert index_of(it)._fence is None
        batch = decide_many(c, ["+12025550007", "+12025550008"], at=AT, workers=1)
        assert "registry.listed" in batch.reasons[0].as_py()
        assert "registry.listed" not in batch.reasons[1].as_py()
        forget_indexes()


def test_caps_from_history_and_consents(lawful: Compliance) -> None:
    number = "+33612345678"
    for hours in (30, 20, 2):
        lawful.record_outcome(number, "no_answer", at=AT - dt.timedelta(hours=hours))
    lawful.record_outcome("+12025550123", "dnc_request", at=AT - DAY)
    lawful.consents.add("+12025550199", "express_written", given_at=AT - 5 * DAY)
    lawful.consents.add("+12025550198", "express_written", given_at=AT - 5 * DAY, person="p2")
    numbers = [
        number,
        "+33612345679",
        "+12025550123",
        "+12025550199",
        "+12025550198",
        "+390612345678",
        "+442079460123",
        "+4930123456",
        "+34912345678",
        "+61212345678",
        "+5511987654321",
        "+16135550123",
    ]
    check_rows(lawful, numbers)
    check_rows(
        lawful,
        numbers,
        person=["p1", None, "p2", "p1", "p2", None, None, None, None, None, None, "p1"],
    )


def test_several_countries_and_instants(lawful: Compliance) -> None:
    numbers = [
        "+39 06 1234 5678",
        "(202) 555-0123",
        "020 7946 0123",
        "06 12 34 56 78",
        "030 123456",
        "912 345 678",
        "(02) 1234 5678",
        "(11) 98765-4321",
        "+1 613 555 0123",
        "+800 1234 5678",
    ]
    for country in ("US", "GB", "FR", "DE", "ES", "AU", "BR", "IT"):
        check_rows(lawful, numbers, country=country)


def test_parallel_parse_matches(client: Compliance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts only libphonenumber can read go to the run's worker processes when a chunk has
    enough of them: the answers are the same as parsed in this process."""
    monkeypatch.setattr("optout._batch.PARALLEL_MIN", 10)
    monkeypatch.setattr("optout._batch._CHUNK_MIN", 7)
    numbers: list[object] = [f"+1 202 555 {i:04d} ext. {i}" for i in range(30)]
    numbers += [f"202-555-{i:04d} (mobile)" for i in range(20)] + ["nope", None, "tel: 12"]
    serial = decide_many(client, numbers, at=AT, workers=1)
    run = BatchRun(client, at=AT, workers=2)
    try:
        parallel = run.decide(numbers)
        started = run._pool is not None  # the processes were used
    finally:
        run.close()
    assert started
    assert run._pool is None
    assert serial.to_table().equals(parallel.to_table())


def test_bad_arguments_raise(client: Compliance) -> None:
    with pytest.raises(optout.ConfigurationError):
        decide_many(client, ["+12025550123"], at=AT, purpose="nonsense")
    with pytest.raises(ValueError, match="person"):
        decide_many(client, ["+12025550123"], at=AT, person=["a", "b"])
    with pytest.raises(optout.ConfigurationError):
        decide_many(client, ["+12025550123"], at=dt.datetime(2026, 1, 1))


def test_iteration_yields_decisions(client: Compliance) -> None:
    batch = decide_many(client, ["+12025550123", None], at=AT, workers=1)
    decisions: Iterator[optout.Decision] = iter(batch)
    assert [d.allowed for d in decisions] == [True, False]


def test_registry_tokens_split_on_semicolons() -> None:
    """The registry column joins answers with ';': a token never holds one, and it names
    the snapshot version or the whole consultation reference."""
    snap = RegistryFact(
        registry="us_dnc",
        status="listed",
        checked_at=AT,
        evidence="us_dnc snapshot 20261120T000000Z-1 (5 numbers, abcdef)",
    )
    assert registry_token(snap) == "us_dnc:listed@20261120T000000Z-1"
    ref = RegistryFact(
        registry="it_rpo",
        status="clear",
        checked_at=AT,
        evidence="it_rpo consultation RPO 2026 / 42 of 2026-03-01",
    )
    assert registry_token(ref) == "it_rpo:clear@RPO 2026 / 42"
    proof = RegistryFact(
        registry="es_robinson", status="clear", checked_at=AT, evidence="sig=ab; channel=04"
    )
    assert registry_token(proof) == "es_robinson:clear@sig=ab, channel=04"
    assert registry_token(RegistryFact(registry="us_rnd", status="unknown")) == "us_rnd:unknown"


def test_arrow_arrays_that_are_not_text_get_can_calls_answer(client: Compliance) -> None:
    ints = pa.array([390612345678, None], pa.int64())
    got = decide_many(client, ints, at=AT)
    for i, value in enumerate(ints.to_pylist()):
        assert got.decision(i) == client.can_call(value, at=AT)


class _BadCodes:
    """A backend whose vectorized answer points outside its list of answers."""

    kind = RegistryKind.SNAPSHOT
    options = RegistryOptions()

    def __init__(self, id: str) -> None:
        self.id = id

    def bind(self, store: object) -> None:
        pass

    def facts(self, numbers: list[str], at: dt.datetime) -> list[RegistryFact]:
        raise AssertionError("the batch asks fact_codes")

    def fact_codes(self, keys: Any, at: dt.datetime) -> tuple[Any, list[RegistryFact]]:
        clear = RegistryFact(registry=self.id, status="clear", checked_at=at, evidence="x")
        return np.full(len(keys), -1, dtype=np.int32), [clear]


def test_a_backend_answering_out_of_range_is_unavailable(backend_url: str) -> None:
    """A code outside the answer list is a backend error: denied, never read as 'clear'."""
    backends: list[Any] = [_BadCodes("us_dnc")]
    backends += [r for r in all_clear() if r.id != "us_dnc"]
    with optout.Compliance(backend_url, migrate=True, registries=backends) as c:
        got = decide_many(c, ["+12025550123"], at=AT)
        assert "registry.unavailable" in got.reasons[0].as_py()
        assert got.registry[0].as_py().startswith("us_dnc:unavailable")


def test_a_run_sees_what_is_recorded_between_its_chunks(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scrub reads stored facts as of each chunk: attempts, suppressions and consents
    recorded while it runs count for the chunks decided after them."""
    increments: list[int] = []
    add_attempts = optout._batch._add_attempts

    def counted(*args: Any) -> Any:
        increments.append(1)
        return add_attempts(*args)

    monkeypatch.setattr("optout._batch._add_attempts", counted)
    policy = optout.Policy.from_dict(
        {"policy": {"name": "t"}, "retry": {"max_attempts": {"count": 2, "period": "24h"}}}
    )
    book = optout.RuleBook(packs={}, unsupported="allow", policies=(policy,))
    number, other = "+33612345678", "+33612345679"
    with optout.Compliance(backend_url, migrate=True, rules=book, registries=()) as client:

        def expected() -> list[str]:
            return [";".join(client.can_call(n, at=AT).codes) for n in (number, other)]

        client.record_outcome(other, "no_answer", at=AT - DAY * 3)  # the attempts table
        run = BatchRun(client, at=AT)
        try:
            first = run.decide([number, other])
            assert first.reasons.to_pylist() == expected() == ["", ""]
            for hours in (5, 2):  # attempts only: the run reads just the new ones
                client.record_outcome(number, "no_answer", at=AT - dt.timedelta(hours=hours))
            second = run.decide([number, other])
            assert second.reasons.to_pylist() == expected() == ["cap.reached", ""]
            assert increments == [1]  # read incrementally: only attempts were added
            client.suppressions.add(other, reason="customer_request", at=AT - DAY)
            third = run.decide([number, other])
            assert third.reasons.to_pylist() == expected()
            assert third.reasons[1].as_py() == "suppression.number"
        finally:
            run.close()


def test_a_large_batch_of_plain_nanp_numbers_equals_can_call(client: Compliance) -> None:
    """From LANE_FROM rows on, plain +1 texts are read from the string buffers; their rows
    (and the others around them) still get can_call()'s decision."""
    rng = random.Random(5)
    client.suppressions.add("+12125550142", reason="asked")
    numbers: list[str | None] = []
    while len(numbers) < LANE_FROM + 1000:
        ten = f"{rng.randint(2, 9)}{rng.randint(0, 999999999):09d}"
        numbers.append(rng.choice([f"+1{ten}"] * 8 + [ten, f"+39 06 {ten[:8]}", None]))
    numbers[100] = "+12125550142"
    batch = decide_many(client, pa.array(numbers, pa.string()), at=AT, workers=1)
    for i in [100, *rng.sample(range(len(numbers)), 600)]:
        expected = client.can_call(numbers[i], at=AT)
        assert batch.allowed[i].as_py() == expected.allowed, numbers[i]
        assert batch.number[i].as_py() == expected.number, numbers[i]
        assert batch.reasons[i].as_py() == ";".join(expected.codes), numbers[i]
        assert batch.decision(i) == expected, numbers[i]
    assert batch.reason[100].as_py() == "suppression.number"


@given(
    st.dictionaries(
        st.one_of(
            st.integers(1, 10**19 - 1).map(lambda k: f"+{k}"),
            st.text(max_size=6),
            st.just("+0123"),
            st.just("+\u0663\u0663"),
        ),
        st.integers(1, 5),
        max_size=40,
    )
)
def test_lasting_suppressions_are_counted_per_number(counts: dict[str, int]) -> None:
    """The stored lasting number suppressions become sorted keys with their counts; values
    that are not E.164 (ASCII digits, no leading zero) are left out."""
    keys, totals = _counted_keys(counts)
    want = {
        int(v[1:]): c
        for v, c in counts.items()
        if v[:1] == "+" and v[1:].isascii() and v[1:].isdigit() and v[1:2] != "0" and len(v) <= 20
    }
    assert keys.tolist() == sorted(want)
    assert totals.tolist() == [want[k] for k in sorted(want)]


@given(st.lists(st.tuples(st.integers(1, 6), st.booleans()), max_size=60))
def test_plain_keys_are_a_subset_of_the_sorted_keys(items: list[tuple[int, bool]]) -> None:
    """The distinct keys of the rows without an extension, derived from the distinct keys of
    every row with a key, are what sorting those rows alone gives."""
    keys = np.array([k for k, _ in items], dtype=np.uint64)
    plain = np.array([p for _, p in items], dtype=bool)
    rows = np.arange(len(keys), dtype=np.int64)
    got = _plain_keyed((rows, *distinct(keys)), plain)
    if not plain.any():
        assert got is None
        return
    assert got is not None
    want = distinct(keys[plain])
    for a, b in zip(got, want, strict=True):
        assert a.tolist() == b.tolist()
