"""The registry interface: three kinds of backend behind one small Protocol.

A backend answers, for a batch of E.164 numbers at an instant, what its registry says:
``listed``, ``clear``, ``unknown`` (never consulted) or ``unavailable`` (could not be
consulted), with the date of the data and the proof. Freshness limits and grace periods
are the law's and live in the rule packs (``kind = "registry"`` rules); a backend only
reports what it knows and when it learnt it.

- **snapshot** registries keep the whole list locally (US National DNC, UK TPS/CTPS,
  Canada DNCL, state and customer lists) in a compact memory-mapped index;
- **consultation** registries are submit-and-receive (Italy RPO, France Bloctel, Australia
  DNCR): the per-number results of each consultation are stored with its reference;
- **remote** registries answer per record over an API (Spain's Lista Robinson, the US
  Reassigned Numbers Database); answers are cached with their proof.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from optout._rules._engine import RegistryFact

if TYPE_CHECKING:
    from optout._registries._store import RegistryStore

__all__ = ["Codes", "Registry", "RegistryFact", "RegistryKind", "RegistryOptions", "codes_of"]

#: Per-number indexes into a list of distinct answers (what ``fact_codes`` returns).
Codes = npt.NDArray[np.int32]


class RegistryKind(enum.StrEnum):
    """How a registry is consulted."""

    SNAPSHOT = "snapshot"
    CONSULTATION = "consultation"
    REMOTE = "remote"


@dataclasses.dataclass(frozen=True, slots=True)
class RegistryOptions:
    """Per-registry settings every backend accepts.

    Attributes:
        fail_open: let calls through when the registry's answer is missing, stale or
            unavailable. Off by default (optout fails closed); turning it on is a
            documented loosening, recorded as evidence on every decision it affects.
        validity: override how long an answer may be relied on. The pack's legal window
            applies otherwise; a longer value than the law's is a loosening.
    """

    fail_open: bool = False
    validity: dt.timedelta | None = None


@runtime_checkable
class Registry(Protocol):
    """What every registry backend provides.

    ``id`` is the registry the packs name (``"us_dnc"``, ``"it_rpo"``). ``bind`` hands the
    backend the store it keeps its data in (called once by :class:`optout.Compliance`).
    ``facts`` answers for a batch of E.164 numbers and must return one fact per number, in
    order; it must not raise for a single bad number, and should report an unreachable
    registry as ``unavailable`` facts rather than raising.
    """

    id: str
    kind: RegistryKind
    options: RegistryOptions

    def bind(self, store: RegistryStore) -> None: ...

    def facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]: ...


def codes_of(facts: Sequence[RegistryFact]) -> tuple[Codes, list[RegistryFact]]:
    """One fact per number as (per-number index, distinct facts): ``fact_codes``' shape."""
    index: dict[RegistryFact, int] = {}
    codes = np.fromiter(
        (index.setdefault(f, len(index)) for f in facts), dtype=np.int32, count=len(facts)
    )
    return codes, list(index)


def unknown(
    registry: str, numbers: Sequence[str], *, fail_open: bool = False, detail: str | None = None
) -> list[RegistryFact]:
    """``unknown`` facts for every number (nothing consulted)."""
    return [
        RegistryFact(registry=registry, status="unknown", detail=detail, fail_open=fail_open)
        for _ in numbers
    ]


def unavailable(
    registry: str, numbers: Sequence[str], detail: str, *, fail_open: bool = False
) -> list[RegistryFact]:
    """``unavailable`` facts for every number (the registry could not be reached)."""
    return [
        RegistryFact(registry=registry, status="unavailable", detail=detail, fail_open=fail_open)
        for _ in numbers
    ]
