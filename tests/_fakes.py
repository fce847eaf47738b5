"""Test doubles shared by the suites."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import optout
from optout.registries import RegistryFact, RegistryKind, RegistryOptions, RegistryStore

#: No jurisdiction packs (and countries without one allowed): suppression, outcome and
#: storage behaviour in isolation from the rules of the built-in packs (those have their
#: own tests).
NO_RULES = optout.RuleBook(packs={}, unsupported="allow")


class StaticRegistry:
    """A registry backend that gives every number the same answer (a test double)."""

    kind = RegistryKind.REMOTE

    def __init__(
        self,
        id: str,
        status: str = "clear",
        *,
        age: dt.timedelta = dt.timedelta(days=1),
    ) -> None:
        self.id = id
        self.status = status
        self.age = age
        self.options = RegistryOptions()

    def bind(self, store: RegistryStore) -> None:
        self.store = store

    def facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        return [
            RegistryFact(
                registry=self.id,
                status=self.status,  # type: ignore[arg-type]
                checked_at=at - self.age,
                evidence=f"{self.id} test double",
            )
            for _ in numbers
        ]


def all_clear() -> list[StaticRegistry]:
    """A clear, fresh answer from every registry the built-in packs name."""
    from optout._rules._book import builtin_packs  # noqa: PLC0415
    from optout._rules._model import RegistryRule  # noqa: PLC0415

    names = sorted(
        {
            r.registry
            for p in builtin_packs().values()
            for r in p.rules
            if isinstance(r, RegistryRule)
        }
    )
    return [StaticRegistry(name) for name in names]
