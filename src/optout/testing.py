"""A conformance suite for registry backends, for optout's own and third-party ones.

Subclass :class:`RegistryConformance` in a pytest module and implement the hooks; every
test then runs against your backend on a real SQLite database in a temporary folder::

    from optout.testing import RegistryConformance

    class TestMyRegistry(RegistryConformance):
        def make_registry(self):
            return my_package.MyRegistry(api_key="test")

        def load(self, registry, listed, clear, at):
            # make ``listed`` registered and ``clear`` consulted-but-clear as of ``at``
            ...

The suite checks the contract every backend must keep: one fact per number in order,
facts name the registry, numbers never consulted are ``unknown`` (so they deny), loaded
numbers come back ``listed`` or ``clear`` with the date of the data and a proof, batches
and single lookups agree, duplicates and empty batches are fine, and a failing backend
reports ``unavailable`` rather than ``clear``.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterator, Sequence

import pytest

from optout._client import Compliance
from optout._db import create_engine
from optout._registries._base import Registry, RegistryKind
from optout._registries._store import RegistryStore
from optout._rules._book import RuleBook
from optout._rules._engine import RegistryFact

__all__ = ["RegistryConformance"]

AT = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


class RegistryConformance:
    """Contract tests for a :class:`optout.registries.Registry` backend."""

    #: Numbers (E.164) in the backend's country; override for another country.
    listed_numbers: Sequence[str] = ("+390612345670", "+390612345671")
    clear_numbers: Sequence[str] = ("+390612345672", "+390612345673")
    never_numbers: Sequence[str] = ("+390612345674",)

    def make_registry(self) -> Registry:
        """A fresh, unbound backend."""
        raise NotImplementedError

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        """Make the backend know ``listed`` as registered and ``clear`` as not, as of ``at``
        (import a snapshot, ingest a consultation, or arrange the fake API's answers)."""
        raise NotImplementedError

    def break_registry(self, registry: Registry) -> bool:
        """Make the backend fail. The default re-binds it to a database that cannot be
        reached; override it to simulate the backend's own failures too (an unreachable
        API, a damaged index file). Return False only if no failure can be simulated."""
        registry.bind(
            RegistryStore(
                create_engine("postgresql://optout@127.0.0.1:1/none"),
                pathlib.Path("/nonexistent/optout-snapshots"),
            )
        )
        return True

    @pytest.fixture
    def client(self, tmp_path: pathlib.Path) -> Iterator[Compliance]:
        with Compliance(
            f"sqlite:///{tmp_path / 'conformance.sqlite3'}",
            rules=RuleBook(packs={}),
            registries=(),
            snapshot_dir=tmp_path / "snapshots",
        ) as c:
            yield c

    @pytest.fixture
    def registry(self, client: Compliance) -> Registry:
        backend = self.make_registry()
        backend.bind(client.registry_store)
        return backend

    def _facts(self, registry: Registry, numbers: Sequence[str]) -> list[RegistryFact]:
        facts = registry.facts(list(numbers), AT + dt.timedelta(hours=1))
        assert len(facts) == len(numbers), "one fact per number"
        for fact in facts:
            assert fact.registry == registry.id, "facts name their registry"
        return facts

    def test_identity(self, registry: Registry) -> None:
        assert isinstance(registry, Registry)
        assert isinstance(registry.id, str)
        assert registry.id
        assert registry.id.replace("_", "").isalnum()
        assert registry.kind in set(RegistryKind)
        assert registry.options is not None

    def test_nothing_consulted_is_unknown_or_unavailable(self, registry: Registry) -> None:
        for fact in self._facts(registry, [*self.listed_numbers, *self.never_numbers]):
            assert fact.status in ("unknown", "unavailable"), "no data must never be 'clear'"

    def test_loaded_numbers_are_listed_or_clear_with_date_and_proof(
        self, registry: Registry
    ) -> None:
        self.load(registry, self.listed_numbers, self.clear_numbers, AT)
        facts = self._facts(registry, [*self.listed_numbers, *self.clear_numbers])
        statuses = [f.status for f in facts]
        assert statuses == ["listed"] * len(self.listed_numbers) + ["clear"] * len(
            self.clear_numbers
        )
        for fact in facts:
            assert fact.checked_at is not None, "answers carry the date of the data"
            assert fact.checked_at.tzinfo is not None
            assert fact.checked_at <= AT + dt.timedelta(hours=1)
            assert fact.evidence, "answers carry their proof (version, consultation, signature)"

    def test_batch_and_single_lookups_agree(self, registry: Registry) -> None:
        self.load(registry, self.listed_numbers, self.clear_numbers, AT)
        numbers = [*self.clear_numbers, *self.listed_numbers]
        batch = [f.status for f in self._facts(registry, numbers)]
        single = [self._facts(registry, [n])[0].status for n in numbers]
        assert batch == single

    def test_duplicates_and_empty_batches(self, registry: Registry) -> None:
        self.load(registry, self.listed_numbers, self.clear_numbers, AT)
        assert registry.facts([], AT) == []
        twice = [self.listed_numbers[0], self.listed_numbers[0]]
        assert [f.status for f in self._facts(registry, twice)] == ["listed", "listed"]

    def test_a_broken_backend_is_never_clear(self, registry: Registry) -> None:
        self.load(registry, self.listed_numbers, self.clear_numbers, AT)
        if not self.break_registry(registry):
            pytest.skip("this backend has no failure mode to simulate")
        for fact in self._facts(registry, [*self.listed_numbers, *self.clear_numbers]):
            assert fact.status in ("unknown", "unavailable", "listed"), "a failure is never clear"
