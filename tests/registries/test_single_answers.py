"""Single-number registry answers, and the guard against a partial list as a snapshot.

A registry answer recorded for one number (the FTC's interactive search, a TPS screening
bureau, an offline Lista Robinson consultation) must decide that number only, the same way
through ``can_call`` and ``decide_many``, on every registry kind: the newest answer wins,
and of two answers of the same instant ``listed`` wins.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optout
from _fakes import StaticRegistry
from optout import ConfigurationError, NaiveDatetimeError, RegistryFormatError
from optout._cli import main
from optout._privacy import NumberHasher
from optout._registries._kinds import MIN_FULL_LIST, RemoteRegistry, SnapshotRegistry
from optout._registries._store import Answer, RegistryStore
from optout._registries.it import it_rpo, national_digits
from optout._registries.us import us_dnc
from optout._schema import registry_answers
from optout.registries import file_registry

# Whole minutes, a few days back: recorded answers may not be in the future.
NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
T0 = NOW - dt.timedelta(days=5)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

US_LISTED = "+12025550123"  # in the imported snapshot
US_OTHER = "+12025550124"  # not in it
US_THIRD = "+12025550125"  # not in it
IT_KEPT = "+390612345678"  # the consultation says clear
IT_GONE = "+393123456789"  # the consultation says listed
IT_NEVER = "+390298765432"  # in no consultation
ES_ONE = "+34912345678"
ES_TWO = "+34612345678"


def _pack(country: str, registry: str, validity: str) -> str:
    return f"""
[pack]
id = "{country}"
name = "{country} (single-answer test pack)"
version = "test"

[[rules]]
id = "{country.lower()}.registry"
kind = "registry"
title = "Numbers must have been checked against {registry}"
registry = "{registry}"
validity = "{validity}"
validity_counts = "elapsed"
purposes = ["marketing"]
confidence = "secondary"
citation = "test"
"""


class OfflineRemote(RemoteRegistry):
    """A remote registry whose API cannot be reached: only recorded answers exist."""

    def query(self, numbers: Sequence[str], at: dt.datetime) -> list[Answer]:
        raise optout.RegistryUnavailableError("offline")


def _book(tmp_path: pathlib.Path) -> optout.RuleBook:
    packs = {}
    for country, registry in (("US", "us_dnc"), ("IT", "it_rpo"), ("ES", "es_robinson")):
        path = tmp_path / f"{country}.toml"
        path.write_text(_pack(country, registry, "30d"), encoding="utf-8")
        packs[country] = optout.load_pack(path)
    return optout.RuleBook(packs=packs)


@pytest.fixture
def client(backend_url: str, tmp_path: pathlib.Path) -> Iterator[optout.Compliance]:
    backends: list[Any] = [
        us_dnc(),
        it_rpo(),
        OfflineRemote("es_robinson", cache_for=dt.timedelta(days=30)),
    ]
    with optout.Compliance(
        backend_url,
        migrate=True,
        registries=backends,
        rules=_book(tmp_path),
        snapshot_dir=tmp_path / "snapshots",
    ) as c:
        yield c


def _snapshot(client: optout.Compliance) -> SnapshotRegistry:
    backend = client.registries["us_dnc"]
    assert isinstance(backend, SnapshotRegistry)
    return backend


def _import_us(
    client: optout.Compliance, tmp_path: pathlib.Path, numbers: Sequence[str], at: dt.datetime
) -> None:
    path = tmp_path / f"dnc-{at:%Y%m%d%H%M}.txt"
    path.write_text("".join(f"{n[2:]}\n" for n in numbers))
    _snapshot(client).import_files([path], taken_at=at, full_list=True)


def _consult_it(client: optout.Compliance, tmp_path: pathlib.Path, at: dt.datetime) -> None:
    backend = client.registries["it_rpo"]
    assert isinstance(backend, optout.registries.ConsultationRegistry)
    returned = tmp_path / "returned.txt"
    returned.write_text(national_digits(IT_KEPT) + "\n")
    backend.ingest([IT_KEPT, IT_GONE], returned, reference="RPO-1", checked_at=at)


def _record(
    client: optout.Compliance,
    registry: str,
    number: str,
    listed: bool,
    at: dt.datetime,
    **kwargs: Any,
) -> Answer:
    return client.record_registry_answer(
        registry, number, listed, checked_at=at, source="test bureau", **kwargs
    )


def _registry_code(decision: optout.Decision) -> str | None:
    codes = [c for c in decision.codes if c.startswith("registry.")]
    return codes[0] if codes else None


def _decide(client: optout.Compliance, numbers: Sequence[str], at: dt.datetime) -> list[str | None]:
    """Each number's registry reason (None: allowed), checked to be the same through
    ``can_call`` and ``decide_many``."""
    batch = client.decide_many(list(numbers), at=at, workers=1)
    out = []
    for i, number in enumerate(numbers):
        one = client.can_call(number, at=at)
        assert batch.allowed[i].as_py() == one.allowed, number
        assert batch.reasons[i].as_py() == ";".join(one.codes), number
        assert batch.decision(i) == one, number
        out.append(_registry_code(one))
    return out


# -- each registry kind ---------------------------------------------------------------------


def test_snapshot_registry_answer_decides_only_its_number(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    _import_us(client, tmp_path, [US_LISTED], T0)
    at = T0 + DAY
    assert _decide(client, [US_LISTED, US_OTHER, US_THIRD], at) == [
        "registry.listed",
        None,
        None,
    ]
    _record(client, "us_dnc", US_OTHER, True, T0 + HOUR, reference="FTC-42")
    assert _decide(client, [US_LISTED, US_OTHER, US_THIRD], at) == [
        "registry.listed",
        "registry.listed",
        None,
    ]
    decision = client.can_call(US_OTHER, at=at)
    (proof,) = [e for e in decision.evidence if e.kind == "registry"]
    assert proof.date == T0 + HOUR
    assert "FTC-42" in (proof.version or "")
    assert "test bureau" in proof.source


def test_without_a_snapshot_only_the_recorded_number_is_consulted(
    client: optout.Compliance,
) -> None:
    _record(client, "us_dnc", US_OTHER, False, T0)
    assert _decide(client, [US_OTHER, US_LISTED, US_THIRD], T0 + HOUR) == [
        None,
        "registry.not_consulted",
        "registry.not_consulted",
    ]
    # The answer expires like any other (30 days in the test pack).
    assert _decide(client, [US_OTHER], T0 + dt.timedelta(days=30)) == ["registry.expired"]


def test_snapshot_newest_wins_and_ties_are_listed(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    _import_us(client, tmp_path, [US_LISTED], T0)
    at = T0 + DAY
    # Older than the snapshot: the snapshot decides.
    _record(client, "us_dnc", US_LISTED, False, T0 - HOUR)
    _record(client, "us_dnc", US_OTHER, True, T0 - HOUR)
    assert _decide(client, [US_LISTED, US_OTHER], at) == ["registry.listed", None]
    # The same instant as the snapshot: listed wins either way.
    _record(client, "us_dnc", US_LISTED, False, T0)
    _record(client, "us_dnc", US_OTHER, True, T0)
    assert _decide(client, [US_LISTED, US_OTHER], at) == ["registry.listed", "registry.listed"]
    # Newer than the snapshot: the answer decides.
    _record(client, "us_dnc", US_LISTED, False, T0 + HOUR)
    _record(client, "us_dnc", US_OTHER, False, T0 + HOUR)
    assert _decide(client, [US_LISTED, US_OTHER], at) == [None, None]
    # A newer snapshot decides again.
    _import_us(client, tmp_path, [US_LISTED, US_OTHER], T0 + 2 * HOUR)
    assert _decide(client, [US_LISTED, US_OTHER, US_THIRD], at) == [
        "registry.listed",
        "registry.listed",
        None,
    ]


def test_two_recorded_answers_of_one_instant_are_listed(client: optout.Compliance) -> None:
    _record(client, "us_dnc", US_OTHER, False, T0)
    _record(client, "us_dnc", US_OTHER, True, T0)
    _record(client, "us_dnc", US_OTHER, False, T0)
    assert _decide(client, [US_OTHER], T0 + HOUR) == ["registry.listed"]


def test_consultation_registry_newest_wins_and_ties_are_listed(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    _consult_it(client, tmp_path, T0)
    at = T0 + DAY
    assert _decide(client, [IT_KEPT, IT_GONE, IT_NEVER], at) == [
        None,
        "registry.listed",
        "registry.not_consulted",
    ]
    _record(client, "it_rpo", IT_GONE, False, T0)  # a tie with the consultation's listed
    _record(client, "it_rpo", IT_KEPT, True, T0 - HOUR)  # older than the consultation
    _record(client, "it_rpo", IT_NEVER, True, T0 + HOUR)
    assert _decide(client, [IT_KEPT, IT_GONE, IT_NEVER], at) == [
        None,
        "registry.listed",
        "registry.listed",
    ]
    _record(client, "it_rpo", IT_GONE, False, T0 + HOUR)  # newer: decides
    _record(client, "it_rpo", IT_KEPT, True, T0)  # a tie with the consultation's clear
    assert _decide(client, [IT_KEPT, IT_GONE], at) == ["registry.listed", None]


def test_remote_registry_uses_recorded_answers(client: optout.Compliance) -> None:
    at = T0 + DAY
    assert _decide(client, [ES_ONE, ES_TWO], at) == [
        "registry.unavailable",
        "registry.unavailable",
    ]
    _record(client, "es_robinson", ES_ONE, False, T0, reference="offline-7")
    assert _decide(client, [ES_ONE, ES_TWO], at) == [None, "registry.unavailable"]
    _record(client, "es_robinson", ES_ONE, True, T0)  # a tie: listed
    assert _decide(client, [ES_ONE], at) == ["registry.listed"]
    _record(client, "es_robinson", ES_ONE, False, T0 + HOUR)  # newer
    assert _decide(client, [ES_ONE], at) == [None]


def test_a_registration_date_is_kept(client: optout.Compliance) -> None:
    since = T0 - dt.timedelta(days=400)
    answer = _record(client, "us_dnc", US_OTHER, True, T0, registered_at=since)
    assert answer.registered_at == since
    (fact,) = client.registries["us_dnc"].facts([US_OTHER], T0 + HOUR)
    assert (fact.status, fact.registered_at) == ("listed", since)


def test_hashed_storage(backend_url: str, tmp_path: pathlib.Path) -> None:
    hasher = NumberHasher(b"k" * 32)
    with optout.Compliance(
        backend_url,
        migrate=True,
        registries=[us_dnc()],
        rules=_book(tmp_path),
        snapshot_dir=tmp_path / "snapshots",
        hash_numbers=hasher,
    ) as c:
        _import_us(c, tmp_path, [US_LISTED], T0)
        _record(c, "us_dnc", US_OTHER, True, T0 + HOUR)
        assert _decide(c, [US_LISTED, US_OTHER, US_THIRD], T0 + DAY) == [
            "registry.listed",
            "registry.listed",
            None,
        ]
        with c.engine.connect() as conn:
            stored = conn.execute(sa.select(registry_answers.c.number)).scalars().all()
        assert stored == [hasher.hash(US_OTHER)]


def test_national_numbers_use_the_region(client: optout.Compliance) -> None:
    answer = _record(client, "it_rpo", "06 1234 5678", True, T0)  # it_rpo's own country
    assert answer.number == IT_KEPT
    answer = _record(client, "us_dnc", "(202) 555-0125", True, T0, region="US")
    assert answer.number == US_THIRD


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"checked_at": NOW + dt.timedelta(hours=1)}, ConfigurationError),
        ({"checked_at": dt.datetime(2026, 1, 1)}, NaiveDatetimeError),
        ({"listed": False, "registered_at": T0 - DAY}, ConfigurationError),
        ({"registered_at": T0 + DAY}, ConfigurationError),
        ({"source": "  "}, ConfigurationError),
        ({"reference": ""}, ConfigurationError),
        ({"registry": "us_dcn"}, ConfigurationError),
        ({"listed": "yes"}, ConfigurationError),
        ({"number": "12"}, optout.InvalidNumberError),
    ],
)
def test_bad_answers_are_refused(
    client: optout.Compliance, change: dict[str, object], error: type[Exception]
) -> None:
    args: dict[str, object] = {
        "registry": "us_dnc",
        "number": US_OTHER,
        "listed": True,
        "checked_at": T0,
        "source": "test bureau",
        **change,
    }
    with pytest.raises(error):
        client.record_registry_answer(**args)  # type: ignore[arg-type]
    assert not client.registry_store.latest_answers("us_dnc", [US_OTHER])


def test_a_backend_without_recorded_answers_is_refused(backend_url: str) -> None:
    with (
        optout.Compliance(
            backend_url, migrate=True, registries=[StaticRegistry("us_dnc", "clear")]
        ) as c,
        pytest.raises(ConfigurationError, match="does not read recorded answers"),
    ):
        c.record_registry_answer("us_dnc", US_OTHER, True, checked_at=T0, source="x")


def test_a_skewed_clock_is_allowed(client: optout.Compliance) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    assert _record(client, "us_dnc", US_OTHER, True, soon).checked_at == soon


def test_has_answers_is_remembered_and_refreshed(backend_url: str, tmp_path: pathlib.Path) -> None:
    engine = optout.Compliance(backend_url, migrate=True, registries=()).engine
    first = RegistryStore(engine, tmp_path, snapshot_ttl=3600)
    second = RegistryStore(engine, tmp_path, snapshot_ttl=0)
    assert not first.has_answers("us_dnc")
    answer = Answer(registry="us_dnc", number=US_OTHER, status="listed", checked_at=T0)
    second.save_answers([answer])
    assert second.has_answers("us_dnc")
    assert not first.has_answers("us_dnc")  # a "no" is kept for snapshot_ttl
    first.save_answers([answer])
    assert first.has_answers("us_dnc")  # its own writes are seen at once
    engine.dispose()


# -- the partial-list guard -----------------------------------------------------------------


def test_a_small_full_list_is_refused_unless_said_to_be_whole(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "one.txt"
    path.write_text(f"{US_LISTED[2:]}\n")
    backend = _snapshot(client)
    with pytest.raises(RegistryFormatError, match="record_registry_answer"):
        backend.import_files([path], taken_at=T0)
    assert client.registry_store.active_snapshot("us_dnc") is None
    assert _decide(client, [US_OTHER], T0 + HOUR) == ["registry.not_consulted"]
    backend.import_files([path], taken_at=T0, full_list=True)
    assert _decide(client, [US_LISTED, US_OTHER], T0 + HOUR) == ["registry.listed", None]


def test_the_guard_counts_distinct_numbers(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    many = tmp_path / "many.txt"
    many.write_text("".join(f"202555{i:04d}\n" for i in range(MIN_FULL_LIST)))
    info = _snapshot(client).import_files([many], taken_at=T0)
    assert info.count == MIN_FULL_LIST
    repeated = tmp_path / "repeated.txt"
    repeated.write_text(f"{US_LISTED[2:]}\n" * (2 * MIN_FULL_LIST))
    with pytest.raises(RegistryFormatError, match="partial list"):
        _snapshot(client).import_files([repeated], taken_at=T0 + HOUR)
    active = client.registry_store.active_snapshot("us_dnc")
    assert active is not None
    assert active.version == info.version


def test_min_numbers_is_per_registry(backend_url: str, tmp_path: pathlib.Path) -> None:
    customers = file_registry(id="acme_dnc", country="US")
    customers.min_numbers = 0  # a short customer list is small by nature
    path = tmp_path / "acme.txt"
    path.write_text(f"{US_LISTED}\n")
    with optout.Compliance(backend_url, migrate=True, registries=[customers]) as c:
        assert customers.import_files([path], taken_at=T0).count == 1
        (fact,) = c.registries["acme_dnc"].facts([US_LISTED], T0 + HOUR)
        assert fact.status == "listed"


# -- the command line -----------------------------------------------------------------------


def test_cli_record_and_import_guard(
    client: optout.Compliance,
    backend_url: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPTOUT_SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    db = ["--database", backend_url]
    small = tmp_path / "small.txt"
    small.write_text(f"{US_LISTED[2:]}\n")
    taken = ["--taken-at", T0.isoformat()]
    assert main(["registry", "import", "us_dnc", str(small), *taken, *db]) != 0
    assert "optout registry record" in capsys.readouterr().err
    assert main(["registry", "import", "us_dnc", str(small), *taken, "--full-list", *db]) == 0
    capsys.readouterr()
    record = ["registry", "record", "us_dnc", "(202) 555-0124", "--country", "US"]
    record += ["--checked-at", (T0 + HOUR).isoformat(), "--source", "FTC interactive search"]
    assert main([*record, "--listed", "--reference", "FTC-9", *db]) == 0
    assert "recorded listed" in capsys.readouterr().out
    assert _decide(client, [US_LISTED, US_OTHER, US_THIRD], T0 + DAY) == [
        "registry.listed",
        "registry.listed",
        None,
    ]
    third = ["registry", "record", "us_dnc", US_LISTED, "--not-listed", *db]
    third += ["--checked-at", (T0 + 2 * HOUR).isoformat(), "--source", "FTC"]
    assert main(third) == 0
    assert _decide(client, [US_LISTED], T0 + DAY) == [None]
    # --listed or --not-listed is required; a future answer is refused.
    with pytest.raises(SystemExit):
        main(["registry", "record", "us_dnc", US_THIRD, "--checked-at", T0.isoformat(),
              "--source", "x", *db])  # fmt: skip
    future = (NOW + DAY).isoformat()
    args = ["registry", "record", "us_dnc", US_THIRD, "--listed", "--checked-at", future]
    assert main([*args, "--source", "x", *db]) != 0
    assert "in the future" in capsys.readouterr().err


# -- the property ---------------------------------------------------------------------------

POOL = [US_LISTED, US_OTHER, US_THIRD, IT_KEPT, IT_GONE, IT_NEVER, ES_ONE, ES_TWO]
REGISTRY_OF = {"+1": "us_dnc", "+39": "it_rpo", "+34": "es_robinson"}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    answers=st.lists(
        st.tuples(st.sampled_from(POOL), st.booleans(), st.integers(-48, 48)), max_size=6
    ),
    number=st.sampled_from(POOL),
    checked=st.integers(-48, 48),
    later=st.integers(0, 24 * 40),
)
def test_a_listed_answer_never_turns_a_denial_into_an_allowance(
    client: optout.Compliance,
    tmp_path: pathlib.Path,
    answers: list[tuple[str, bool, int]],
    number: str,
    checked: int,
    later: int,
) -> None:
    if client.registry_store.active_snapshot("us_dnc") is None:
        _import_us(client, tmp_path, [US_LISTED], T0)
        _consult_it(client, tmp_path, T0)
    registry = next(r for prefix, r in REGISTRY_OF.items() if number.startswith(prefix))
    for n, listed, hours in answers:
        name = next(r for prefix, r in REGISTRY_OF.items() if n.startswith(prefix))
        _record(client, name, n, listed, T0 + hours * HOUR)
    at = T0 + dt.timedelta(hours=48 + later)
    (before,) = _decide(client, [number], at)
    _record(client, registry, number, True, T0 + checked * HOUR)
    (after,) = _decide(client, [number], at)
    assert before is None or after is not None, (before, after)
