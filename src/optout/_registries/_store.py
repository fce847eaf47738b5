"""Where registry data lives: snapshot metadata and files, cached answers, consultations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pathlib
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import platformdirs
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optout._db import translate_errors, writing
from optout._errors import ConfigurationError
from optout._privacy import CLEAR, Privacy
from optout._registries._snapshot import Days, Keys, write_index
from optout._schema import registry_answers as _ans
from optout._schema import registry_consultations as _cons
from optout._schema import registry_snapshots as _snap
from optout._timeutil import instant, utcnow

__all__ = ["Answer", "RegistryStore", "SnapshotInfo", "default_snapshot_dir"]

ENV_SNAPSHOT_DIR = "OPTOUT_SNAPSHOT_DIR"
#: Numbers per ``IN (...)`` query (SQLite allows 32766 bind parameters, PostgreSQL 65535).
_IN_CHUNK = 5_000


def default_snapshot_dir(engine: Engine) -> pathlib.Path:
    """``$OPTOUT_SNAPSHOT_DIR``; else ``snapshots/`` beside a SQLite file; else the user's
    data directory. Every host that decides calls needs the active index files there."""
    env = os.environ.get(ENV_SNAPSHOT_DIR, "").strip()
    if env:
        return pathlib.Path(env).expanduser()
    if engine.dialect.name == "sqlite" and engine.url.database:
        return pathlib.Path(engine.url.database).expanduser().resolve().parent / "snapshots"
    return platformdirs.user_data_path("optout") / "snapshots"


@dataclasses.dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """The metadata of one imported snapshot version."""

    id: int
    registry: str
    version: str
    taken_at: dt.datetime
    imported_at: dt.datetime
    source: str
    count: int
    checksum: str
    path: str
    active: bool
    rejected: int


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """A stored per-number answer: from a consultation, a remote query, or recorded for
    one number (``record_answer``)."""

    registry: str
    number: str
    status: str  # "listed" or "clear"
    checked_at: dt.datetime
    registered_at: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    evidence: str | None = None
    source: str = "api"


def supersedes(
    checked: dt.datetime, status: str, than_checked: dt.datetime, than_status: str
) -> bool:
    """Whether an answer checked at ``checked`` supersedes another: it is newer, or of the
    same instant and ``listed`` where the other is not (fail closed)."""
    if checked != than_checked:
        return checked > than_checked
    return status == "listed" and than_status != "listed"


def _newer(answer: Answer, than: Answer) -> bool:
    return supersedes(answer.checked_at, answer.status, than.checked_at, than.status)


def _info(row: sa.Row[Any]) -> SnapshotInfo:
    m = row._mapping
    return SnapshotInfo(
        id=int(m["id"]),
        registry=m["registry"],
        version=m["version"],
        taken_at=m["taken_at"],
        imported_at=m["imported_at"],
        source=m["source"],
        count=int(m["count"]),
        checksum=m["checksum"],
        path=m["path"],
        active=bool(m["active"]),
        rejected=int(m["rejected"]),
    )


class RegistryStore:
    """Registry data in one database (plus the snapshot folder on this host).

    Active-snapshot lookups are cached for ``snapshot_ttl`` seconds, so a new version is
    seen by every client within that time without a query on every call.

    With hashed number storage (``privacy``), per-number answers are stored under the
    number's keyed hash and looked up by hashing the query; :class:`Answer` objects
    handed back still carry the clear number the caller asked about. Snapshot index files
    keep integer keys: they hold public registry lists, not the company's customer data,
    and must stay sorted integers for the vectorized lookups.
    """

    def __init__(
        self,
        engine: Engine,
        snapshot_dir: pathlib.Path | None = None,
        *,
        snapshot_ttl: float = 1.0,
        privacy: Privacy = CLEAR,
    ) -> None:
        self.engine = engine
        self.privacy = privacy
        self.snapshot_dir = snapshot_dir or default_snapshot_dir(engine)
        self._ttl = snapshot_ttl
        self._lock = threading.Lock()
        self._active: dict[str, tuple[float, SnapshotInfo | None]] = {}
        # has_answers: registries known to have answers (answers are only removed by an
        # erasure, and a stale "yes" costs one query), and when a "no" was last read.
        self._answered: set[str] = set()
        self._unanswered: dict[str, float] = {}

    # -- snapshots --------------------------------------------------------------------------

    def active_snapshot(self, registry: str) -> SnapshotInfo | None:
        """The snapshot version in force for ``registry``, if any was imported."""
        now = time.monotonic()
        with self._lock:
            hit = self._active.get(registry)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        stmt = sa.select(_snap).where(_snap.c.registry == registry, _snap.c.active.is_(True))
        with translate_errors(self.engine), self.engine.connect() as conn:
            row = conn.execute(stmt.order_by(_snap.c.id.desc()).limit(1)).one_or_none()
        info = None if row is None else _info(row)
        with self._lock:
            self._active[registry] = (now, info)
        return info

    def snapshots(self, registry: str | None = None) -> list[SnapshotInfo]:
        """Every imported version (newest first)."""
        stmt = sa.select(_snap).order_by(_snap.c.id.desc())
        if registry is not None:
            stmt = stmt.where(_snap.c.registry == registry)
        with translate_errors(self.engine), self.engine.connect() as conn:
            return [_info(r) for r in conn.execute(stmt)]

    def activate(
        self,
        registry: str,
        keys: Keys,
        days: Days | None,
        *,
        taken_at: dt.datetime,
        source: str,
        rejected: int = 0,
    ) -> SnapshotInfo:
        """Write a new index version and make it the one in force, atomically.

        The file is complete and fsynced before the metadata row that points at it is
        committed; until that commit the previous version stays in force, so a crash at
        any point leaves a consistent state (at worst an unreferenced file).
        """
        taken = instant(taken_at, name="taken_at")
        stamp = utcnow()
        version = f"{taken:%Y%m%dT%H%M%SZ}-{stamp:%Y%m%d%H%M%S%f}"
        path = self.snapshot_dir / registry / f"{registry}-{version}.idx"
        count, checksum = write_index(path, keys, days)
        with writing(self.engine) as conn:
            conn.execute(
                sa.update(_snap)
                .where(_snap.c.registry == registry, _snap.c.active.is_(True))
                .values(active=False)
            )
            new_id = conn.execute(
                _snap.insert()
                .values(
                    registry=registry,
                    version=version,
                    taken_at=taken,
                    imported_at=stamp,
                    source=source[:1000],
                    count=count,
                    checksum=checksum,
                    path=str(path),
                    active=True,
                    rejected=rejected,
                )
                .returning(_snap.c.id)
            ).scalar_one()
            row = conn.execute(sa.select(_snap).where(_snap.c.id == new_id)).one()
        with self._lock:
            self._active.pop(registry, None)
        return _info(row)

    # -- per-number answers -----------------------------------------------------------------

    def has_answers(self, registry: str) -> bool:
        """Whether any answer of ``registry`` is stored (one cheap query).

        A "yes" is remembered; a "no" for ``snapshot_ttl`` seconds (like the snapshot in
        force), so a batch run does not ask again for every chunk. Answers stored through
        this store are seen at once.
        """
        now = time.monotonic()
        with self._lock:
            if registry in self._answered:
                return True
            since = self._unanswered.get(registry)
        if since is not None and now - since < self._ttl:
            return False
        stmt = sa.select(_ans.c.id).where(_ans.c.registry == registry).limit(1)
        with translate_errors(self.engine), self.engine.connect() as conn:
            found = conn.execute(stmt).first() is not None
        with self._lock:
            if found:
                self._answered.add(registry)
            else:
                self._unanswered[registry] = now
        return found

    def _answers_stored(self, registries: Iterable[str]) -> None:
        with self._lock:
            for registry in registries:
                self._answered.add(registry)
                self._unanswered.pop(registry, None)

    def latest_answers(self, registry: str, numbers: Sequence[str]) -> dict[str, Answer]:
        """The most recent stored answer for each number that has one (of two answers
        checked at the same instant, ``listed`` wins)."""
        found: dict[str, Answer] = {}
        unique = sorted(set(numbers))
        clear_of = {self.privacy.stored(n): n for n in unique}
        keys = sorted(clear_of)
        with translate_errors(self.engine), self.engine.connect() as conn:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = keys[start : start + _IN_CHUNK]
                stmt = sa.select(_ans).where(_ans.c.registry == registry, _ans.c.number.in_(chunk))
                for row in conn.execute(stmt):
                    m = row._mapping
                    answer = Answer(
                        registry=registry,
                        number=clear_of[m["number"]],
                        status=m["status"],
                        checked_at=m["checked_at"],
                        registered_at=m["registered_at"],
                        valid_until=m["valid_until"],
                        evidence=m["evidence"],
                        source=m["source"],
                    )
                    held = found.get(answer.number)
                    if held is None or _newer(answer, held):
                        found[answer.number] = answer
        return found

    def save_answers(self, answers: Iterable[Answer], *, batch: int = 5000) -> int:
        """Store answers (each with its proof); returns how many were stored."""
        rows = []
        now = utcnow()
        count = 0
        for a in answers:
            if a.status not in ("listed", "clear"):
                raise ConfigurationError(f"an answer is 'listed' or 'clear', not {a.status!r}")
            rows.append(
                {
                    "registry": a.registry,
                    "number": self.privacy.stored(a.number),
                    "status": a.status,
                    "registered_at": a.registered_at,
                    "checked_at": a.checked_at,
                    "valid_until": a.valid_until,
                    "evidence": a.evidence,
                    "source": a.source,
                    "recorded_at": now,
                }
            )
            if len(rows) >= batch:
                count += self._insert(rows)
                rows = []
        if rows:
            count += self._insert(rows)
        return count

    def _insert(self, rows: list[dict[str, Any]]) -> int:
        with writing(self.engine) as conn:
            conn.execute(_ans.insert(), rows)
        self._answers_stored({row["registry"] for row in rows})
        return len(rows)

    # -- consultations ----------------------------------------------------------------------

    def record_consultation(
        self,
        registry: str,
        reference: str,
        *,
        checked_at: dt.datetime,
        submitted_at: dt.datetime | None,
        submitted: int,
        listed: int,
        clear: int,
        source: str,
        answers: Sequence[Answer],
    ) -> int:
        """Store a consultation and its per-number answers in one transaction."""
        now = utcnow()
        with writing(self.engine) as conn:
            new_id = conn.execute(
                _cons.insert()
                .values(
                    registry=registry,
                    reference=reference,
                    submitted_at=submitted_at,
                    checked_at=checked_at,
                    submitted=submitted,
                    listed=listed,
                    clear=clear,
                    source=source[:1000],
                    recorded_at=now,
                )
                .returning(_cons.c.id)
            ).scalar_one()
            rows = [
                {
                    "registry": a.registry,
                    "number": self.privacy.stored(a.number),
                    "status": a.status,
                    "registered_at": a.registered_at,
                    "checked_at": a.checked_at,
                    "valid_until": a.valid_until,
                    "evidence": a.evidence,
                    "source": a.source,
                    "recorded_at": now,
                }
                for a in answers
            ]
            for start in range(0, len(rows), 5000):
                conn.execute(_ans.insert(), rows[start : start + 5000])
        self._answers_stored({a.registry for a in answers})
        return int(new_id)

    def consultations(self, registry: str | None = None) -> list[dict[str, Any]]:
        """Every recorded consultation (newest first)."""
        stmt = sa.select(_cons).order_by(_cons.c.id.desc())
        if registry is not None:
            stmt = stmt.where(_cons.c.registry == registry)
        with translate_errors(self.engine), self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]
