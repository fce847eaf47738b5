"""Declared no-call periods: states of emergency and ad-hoc no-call days, with provenance.

A blackout is a fact a user states at run time ("New York declared a state of emergency in
these counties from 8 to 20 December; source: Executive Order 52"). It is stored with its
source, and every decision it touches names it in its evidence. Pack blackout rules with
``declared`` kinds apply the facts of their own jurisdiction on the law's terms (who is
exempt); a fact no pack rule takes applies to every call into its area for the purposes it
names (see :func:`optout._rules._decide.with_blackouts`).

A blackout is never deleted: :meth:`BlackoutList.end` records its last day (an audited
change), so a past decision can still be explained.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import re
import threading
import time
from collections.abc import Iterable
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optout._consents import _joined, _text
from optout._db import translate_errors, writing
from optout._errors import ConfigurationError, NotFoundError
from optout._ledger import record_change
from optout._rules._engine import BlackoutFact
from optout._schema import blackouts as _b
from optout._timeutil import utcnow
from optout._vocab import Purpose

__all__ = ["Blackout", "BlackoutList"]

_AREA = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_KINDS = ("emergency", "no_call_day")


@dataclasses.dataclass(frozen=True, slots=True)
class Blackout:
    """A stored declared blackout.

    ``first_day`` and ``last_day`` are the callee's local dates, both included
    (``last_day=None``: until ended); ``purposes=None`` covers every purpose.
    """

    id: int
    area: str
    kind: Literal["emergency", "no_call_day"]
    first_day: dt.date
    last_day: dt.date | None
    purposes: frozenset[Purpose] | None
    source: str
    reference: str | None
    actor: str | None
    created_at: dt.datetime

    def fact(self) -> BlackoutFact:
        """The record as the rules engine sees it."""
        return BlackoutFact(
            id=str(self.id),
            area=self.area,
            kind=self.kind,
            first=self.first_day,
            last=self.last_day,
            source=self.source if not self.reference else f"{self.source} ({self.reference})",
            purposes=self.purposes,
        )


def _row(row: sa.Row[Any]) -> Blackout:
    m = row._mapping
    purposes = m["purposes"]
    return Blackout(
        id=int(m["id"]),
        area=m["area"],
        kind=m["kind"],
        first_day=m["first_day"],
        last_day=m["last_day"],
        purposes=None if purposes is None else frozenset(Purpose(p) for p in purposes.split(",")),
        source=m["source"],
        reference=m["reference"],
        actor=m["actor"],
        created_at=m["created_at"],
    )


def _day(value: object, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ConfigurationError(
            f"{name} is a local date (the callee's calendar day), not a datetime: "
            f"pass {value.date().isoformat()!r} or a datetime.date"
        )
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigurationError(f"{name} must be a date like 2026-12-08, got {value!r}")


class BlackoutList:
    """Declared blackouts in one database. Reached as ``Compliance.blackouts``.

    Decisions read the declared blackouts through a short cache (``ttl`` seconds, 1 by
    default, like the active-snapshot cache): a blackout added or ended through this
    object is seen at once; one added by another process or host within ``ttl`` seconds.
    ``ttl=0`` reads the table on every decision.
    """

    def __init__(self, engine: Engine, *, ttl: float = 1.0) -> None:
        self._engine = engine
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[dt.date, tuple[float, tuple[BlackoutFact, ...]]] = {}
        self._generation = 0

    def _forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._generation += 1

    def add(
        self,
        area: str,
        first_day: dt.date | str,
        last_day: dt.date | str | None = None,
        *,
        source: str,
        kind: Literal["emergency", "no_call_day"] | str = "emergency",
        purposes: Iterable[Purpose | str] | None = None,
        reference: str | None = None,
        actor: str | None = None,
    ) -> Blackout:
        """Declare a no-call period for ``area`` (``"US-NY"``, ``"US"``), durably.

        ``source`` says who declared it (an executive order, a regulator's notice, a
        compliance officer's decision); it is printed in every reason the blackout gives.

        Raises:
            ConfigurationError: an area that is not a jurisdiction id, dates that are not
                dates or are inverted, an unknown kind or purpose, no source.
        """
        given: object = area
        text = given.strip().upper() if isinstance(given, str) else ""
        if not _AREA.fullmatch(text):
            raise ConfigurationError(
                f"area must be a jurisdiction id like 'US-NY' or 'IT', got {area!r}"
            )
        first = _day(first_day, "first_day")
        last = None if last_day is None else _day(last_day, "last_day")
        if last is not None and last < first:
            raise ConfigurationError(f"last_day {last} is before first_day {first}")
        if kind not in _KINDS:
            raise ConfigurationError(
                f"unknown blackout kind {kind!r}; expected one of: {', '.join(_KINDS)}"
            )
        the_source = _text(source, "source", limit=500)
        if the_source is None:
            raise ConfigurationError("source is required: who declared the blackout")
        joined = _joined(purposes, Purpose, "purpose")
        values: dict[str, Any] = {
            "area": text,
            "kind": kind,
            "first_day": first,
            "last_day": last,
            "purposes": joined,
            "source": the_source,
            "reference": _text(reference, "reference"),
            "actor": _text(actor, "actor"),
            "created_at": utcnow(),
        }
        with writing(self._engine) as conn:
            new_id = conn.execute(_b.insert().values(**values).returning(_b.c.id)).scalar_one()
            row = conn.execute(sa.select(_b).where(_b.c.id == new_id)).one()
            record_change(
                conn, "blackouts", int(new_id), "insert", values["actor"], None, dict(row._mapping)
            )
        self._forget()
        return _row(row)

    def end(
        self, blackout_id: int, last_day: dt.date | str, *, actor: str, reason: str
    ) -> Blackout:
        """Set the last day of a blackout (the declaration was lifted); audited.

        Raises:
            NotFoundError: no blackout has this id.
            ConfigurationError: a last day before its first day, or no actor or reason.
        """
        last = _day(last_day, "last_day")
        who, why = _text(actor, "actor"), _text(reason, "reason", limit=500)
        if who is None or why is None:
            raise ConfigurationError("ending a blackout needs an actor and a reason")
        with writing(self._engine) as conn:
            row = conn.execute(sa.select(_b).where(_b.c.id == blackout_id)).one_or_none()
            if row is None:
                raise NotFoundError(f"no blackout with id {blackout_id}")
            if last < row._mapping["first_day"]:
                raise ConfigurationError(
                    f"last_day {last} is before the blackout's first day "
                    f"{row._mapping['first_day']}"
                )
            conn.execute(sa.update(_b).where(_b.c.id == blackout_id).values(last_day=last))
            row = conn.execute(sa.select(_b).where(_b.c.id == blackout_id)).one()
            record_change(conn, "blackouts", blackout_id, "end", who, why, dict(row._mapping))
        self._forget()
        return _row(row)

    def list(self, *, area: str | None = None) -> builtins.list[Blackout]:
        """Every blackout (ended ones too), in id order, optionally of one area."""
        stmt = sa.select(_b).order_by(_b.c.id)
        if area is not None:
            if not isinstance(area, str):
                raise ConfigurationError(f"area must be a jurisdiction id, got {area!r}")
            stmt = stmt.where(_b.c.area == area.strip().upper())
        with translate_errors(self._engine), self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def for_call(self, conn: sa.Connection, at: dt.datetime) -> tuple[BlackoutFact, ...]:
        """The blackouts that may bind a call at ``at`` or later (those not over by the
        day before ``at`` in UTC, which every local calendar day of ``at`` is after)."""
        since = at.astimezone(dt.UTC).date() - dt.timedelta(days=1)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(since)
            generation = self._generation
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        stmt = (
            sa.select(_b)
            .where(sa.or_(_b.c.last_day.is_(None), _b.c.last_day >= since))
            .order_by(_b.c.id)
        )
        found = tuple(_row(r).fact() for r in conn.execute(stmt))
        if self.ttl > 0:
            with self._lock:
                # A change made here while the query ran may be missing from it: keep
                # nothing then.
                if generation == self._generation:
                    if len(self._cache) > 64:
                        self._cache.clear()
                    self._cache[since] = (now, found)
        return found
