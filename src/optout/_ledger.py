"""The decision ledger: a tamper-evident, hash-chained record of decisions.

Every recorded decision is one ``ledger`` row. Its ``payload`` is canonical JSON (sorted
keys, no spaces, ASCII only) of ``{"kind": "decision", "decision": Decision.to_dict(),
"inputs": {...the call's arguments...}}``. Rows are chained in id order::

    hash = sha256(prev_hash "\\n" payload "\\n" id "\\n" recorded_at)     (hex)

where ``recorded_at`` is written ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC) and ``prev_hash``
is the previous row's ``hash`` (64 zeros for the very first row). With a ``key`` the hash
is HMAC-SHA256 under that key instead, so nobody without the key can forge a row that
verifies. The other columns (``kind``, ``decided_at``, ``number``, ``allowed``,
``codes``) are copies of payload fields for querying; :meth:`Ledger.verify` checks that
each copy still matches its payload, so editing any column of any row is detected.

Ids are allocated by the appender (last id + 1) while it holds the chain's lock, not by a
sequence: a rolled-back append then leaves no gap, and a gap always means a deleted row.
Appends are serialized by the write transaction on SQLite (``BEGIN IMMEDIATE``) and by a
transaction-level advisory lock on PostgreSQL, so concurrent appenders on many hosts
never fork the chain; the primary key turns any remaining race into an error, never into
two rows claiming the same predecessor.

**Purging and checkpoints.** Entries older than the retention period may be deleted, but
only as a prefix of the chain (the oldest ids). A purge first appends a ``checkpoint``
row, itself chained like any entry, whose payload records the purged range: the first and
last purged id, how many rows, and ``last_hash``, the hash of the last purged row. Then
it deletes the range. :meth:`Ledger.verify` accepts a chain that starts at id ``n + 1``
only if an intact checkpoint in the chain says that ids up to ``n`` were purged and that
row ``n`` had exactly the ``prev_hash`` the first remaining row carries. A later purge
may delete an earlier checkpoint: its own checkpoint carries the anchor forward.

What the chain cannot show by itself: the removal of the newest rows (the tail), and,
without a ``key``, a wholesale rewrite by someone who recomputes every hash. Keep the
head (:meth:`Ledger.head`) somewhere else from time to time (an export bundle, a ticket,
a notary) and pass it to :meth:`Ledger.verify` as ``anchor``; use a ``key`` kept outside
the database for signatures.

**Redaction after an erasure request.** :mod:`optout._erasure` may replace the phone
number in the payloads of old decision rows by its keyed hash (GDPR erasure of a number
in a database that stores numbers in clear). A row's hash covers its original payload,
so the rewrite cannot keep that hash valid; instead the erasure appends a ``redaction``
row, chained like any other, listing each rewritten row's id, its (unchanged) ``hash``
and the SHA-256 of its new payload. :meth:`Ledger.verify` accepts a row whose hash no
longer matches only if a later, intact redaction row vouches for exactly that row, that
hash and that new payload; any other edit still breaks the chain at that row. The
content of a redacted row before the rewrite cannot be proven any more (that is the
point); its place in the chain, its time, its answer and its reasons can.

**Hashed numbers.** A ledger bound to a client with hashed number storage
(``Compliance(hash_numbers=True)``, see :mod:`optout._privacy`) stores the decision's
number, and the raw input, as the number's keyed hash, in the ``number`` column and in
the payload alike (the clear E.164 text is replaced wherever it occurs in the payload).
:meth:`Ledger.export` hashes the number it is given to find the entries. The storage
mode and the hash key's fingerprint live in the ``settings`` table; ``change_log`` keeps
their history (``table_name='settings'``, row id 0: action ``set`` since schema revision
0005, and the older ``privacy`` marker rows of databases created before it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import html
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optout._db import translate_errors, writing
from optout._decision import Decision
from optout._errors import ConfigurationError
from optout._ledger_schema import change_log, ledger
from optout._numbers import normalize
from optout._privacy import CLEAR, Privacy, erased_number_hasher
from optout._schema import consents, suppressions
from optout._timeutil import instant, utcnow
from optout._version import __version__

__all__ = [
    "DEFAULT_RETENTION",
    "GENESIS_HASH",
    "LEDGER_LOCK_KEY",
    "Ledger",
    "LedgerMode",
    "PurgeReport",
    "VerifyReport",
    "canonical_json",
    "record_change",
    "render_html",
]

#: The ``prev_hash`` of the first row of a chain that was never purged.
GENESIS_HASH = "0" * 64

#: The PostgreSQL advisory lock that serializes appends (and purges) to the chain.
LEDGER_LOCK_KEY = 7301880232

LedgerMode = Literal["all", "denials", "sample", "off"]
_MODES = ("all", "denials", "sample", "off")

#: The tables whose changes :func:`record_change` records, and the actions it knows.
#: ``erasures`` holds one row per honoured erasure request (:mod:`optout._erasure`).
CHANGE_TABLES = frozenset({"suppressions", "consents", "registrations", "erasures", "blackouts"})
CHANGE_ACTIONS = frozenset({"insert", "remove", "revoke", "erase", "end"})

#: The default retention: five years, as US TSR 16 CFR 310.5 and German UWG § 7a ask for.
#: 5 * 365 days plus the two leap days a five-year span can hold (1 March 2027 to
#: 1 March 2032 is 1,827 days), so no entry is purged before five calendar years.
DEFAULT_RETENTION = dt.timedelta(days=5 * 365 + 2)

_BATCH = 1000


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the ledger")


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys, no spaces and ASCII only: one text per value.

    Datetimes and dates become ISO 8601 text, enums their value, sets sorted lists.
    """
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_jsonable,
    )


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@dataclasses.dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :meth:`Ledger.verify`.

    Attributes:
        ok: the whole chain checks out.
        checked: how many rows were checked (all of them when ``ok``).
        first_broken_id: the id of the first row that does not check out, or ``None``.
        problem: what is wrong with that row, in words.
        head_id: the id of the newest row (``None`` for an empty ledger).
        head_hash: that row's hash: keep it elsewhere to detect a truncated tail later.
        redacted: how many rows checked were redacted after an erasure request (their
            payload was rewritten and a later redaction row vouches for the new one).
    """

    ok: bool
    checked: int
    first_broken_id: int | None = None
    problem: str | None = None
    head_id: int | None = None
    head_hash: str | None = None
    redacted: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class PurgeReport:
    """The result of :meth:`Ledger.purge`.

    ``deleted`` rows were removed (ids ``first_id`` to ``last_id``); ``checkpoint_id`` is
    the row that records them, or ``None`` when nothing was old enough to delete.
    """

    deleted: int
    cutoff: dt.datetime
    first_id: int | None = None
    last_id: int | None = None
    checkpoint_id: int | None = None


class _Broken(Exception):
    def __init__(self, row_id: int, problem: str) -> None:
        super().__init__(problem)
        self.row_id = row_id
        self.problem = problem


class Ledger:
    """The decision ledger in one database.

    Args:
        engine: the database (the client's engine).
        mode: which decisions :meth:`append` records: ``"all"``; ``"denials"`` only;
            ``"sample"``, every denial plus a ``sample_rate`` share of the allowed
            decisions (chosen from a hash of the decision, so the same decision is always
            chosen the same way); or ``"off"``. Each mode records a subset of the next:
            off, denials, sample, all.
        sample_rate: the share of allowed decisions kept in ``"sample"`` mode, 0 to 1.
        retention: how long entries are kept at least; :meth:`purge` never deletes a
            younger entry. Default: five calendar years (:data:`DEFAULT_RETENTION`,
            1,827 days).
        key: a secret for HMAC-SHA256 hashes (signatures). Every appender and verifier of
            one ledger must use the same key, or none.
        clock: where ``recorded_at`` comes from (default: the system clock, UTC).
        privacy: how numbers are stored (the client's setting; default clear). With keyed
            hashes the payloads and the ``number`` column hold hashes (module docs).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        mode: LedgerMode = "all",
        sample_rate: float = 0.1,
        retention: dt.timedelta = DEFAULT_RETENTION,
        key: bytes | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        privacy: Privacy = CLEAR,
    ) -> None:
        if mode not in _MODES:
            raise ConfigurationError(f"ledger mode must be one of {', '.join(_MODES)}: {mode!r}")
        if not 0.0 <= sample_rate <= 1.0:
            raise ConfigurationError(f"sample_rate must be between 0 and 1, got {sample_rate!r}")
        if retention <= dt.timedelta(0):
            raise ConfigurationError(f"retention must be a positive timedelta, got {retention!r}")
        if key is not None and len(bytes(key)) < 16:
            raise ConfigurationError("the ledger key must be bytes, at least 16 of them")
        self.engine = engine
        self.mode: LedgerMode = mode
        self.sample_rate = sample_rate
        self.retention = retention
        self._key = key
        self._clock = clock
        self.privacy = privacy

    def bound_to(self, engine: Engine, *, privacy: Privacy | None = None) -> Ledger:
        """The same ledger settings (mode, rate, retention, key, clock) on another engine
        (and, given ``privacy``, with that number storage instead of this one's)."""
        return Ledger(
            engine,
            mode=self.mode,
            sample_rate=self.sample_rate,
            retention=self.retention,
            key=self._key,
            clock=self._clock,
            privacy=self.privacy if privacy is None else privacy,
        )

    def _payload(self, decision: Decision, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The canonical JSON payload of a decision entry and its query columns."""
        body, given, number = self.privacy.ledger_record(decision.to_dict(), dict(inputs))
        try:
            payload = canonical_json({"kind": "decision", "decision": body, "inputs": given})
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"cannot record the decision's inputs: {exc}") from None
        columns = _decision_columns(decision)
        columns["number"] = number
        return payload, columns

    # -- hashing ----------------------------------------------------------------------------

    def _hash(self, prev_hash: str, payload: str, row_id: int, recorded_at: dt.datetime) -> str:
        material = f"{prev_hash}\n{payload}\n{row_id}\n{_stamp(recorded_at)}".encode("ascii")
        if self._key is not None:
            return hmac.new(self._key, material, hashlib.sha256).hexdigest()
        return hashlib.sha256(material).hexdigest()

    # -- appending --------------------------------------------------------------------------

    def wants(self, decision: Decision) -> bool:
        """Whether :meth:`append` would record ``decision`` in this mode.

        In ``"sample"`` mode the choice depends on the decision only, so a caller may
        ask before opening a write transaction.
        """
        if self.mode == "off":
            return False
        if self.mode == "all" or not decision.allowed:
            return True
        if self.mode == "denials":
            return False
        digest = hashlib.sha256(canonical_json(decision.to_dict()).encode("ascii")).digest()
        return int.from_bytes(digest[:8], "big") < self.sample_rate * 2.0**64

    def append(
        self, conn_or_engine: sa.Connection | Engine, decision: Decision, inputs: Mapping[str, Any]
    ) -> int | None:
        """Record ``decision`` (and the call's ``inputs``); return the new row's id.

        Returns ``None`` when the mode leaves the decision out. Given an ``Engine`` it
        writes in a transaction of its own; given a ``Connection`` it writes in that
        connection's transaction, which must come from :func:`optout._db.writing` (so the
        entry commits or rolls back with the rest of the work, e.g. a reserved attempt).
        Append last in a transaction: on PostgreSQL the chain is locked until it commits.

        Raises:
            ConfigurationError: the connection is not in a write transaction, or an input
                cannot be stored as JSON.
            DatabaseError: the database failed.
        """
        if not self.wants(decision):
            return None
        payload, columns = self._payload(decision, inputs)
        if isinstance(conn_or_engine, Engine):
            with writing(conn_or_engine) as conn:
                return self._append(conn, payload, columns)
        self._check_connection(conn_or_engine)
        with translate_errors(self.engine):
            return self._append(conn_or_engine, payload, columns)

    def append_many(
        self,
        conn_or_engine: sa.Connection | Engine,
        items: Iterable[tuple[Decision, Mapping[str, Any]]],
    ) -> list[int]:
        """Record many decisions (a scrubbed list) under one lock; return the new ids.

        Same rules as :meth:`append`: decisions the mode leaves out are skipped, and with a
        connection the entries join its write transaction. The ids are consecutive.
        """
        prepared = []
        for decision, inputs in items:
            if not self.wants(decision):
                continue
            prepared.append(self._payload(decision, inputs))
        if not prepared:
            return []
        if isinstance(conn_or_engine, Engine):
            with writing(conn_or_engine) as conn:
                return self._append_rows(conn, prepared)
        self._check_connection(conn_or_engine)
        with translate_errors(self.engine):
            return self._append_rows(conn_or_engine, prepared)

    def _check_connection(self, conn: sa.Connection) -> None:
        if not conn.in_transaction():
            raise ConfigurationError("Ledger.append needs a connection in a write transaction")
        if conn.dialect.name == "sqlite" and not conn.get_execution_options().get(
            "optout_immediate", False
        ):
            raise ConfigurationError(
                "on SQLite, Ledger.append needs a connection from optout._db.writing()"
            )

    def _append_rows(
        self, conn: sa.Connection, prepared: list[tuple[str, dict[str, Any]]]
    ) -> list[int]:
        self._lock(conn)
        last_id, prev_hash = self._last(conn)
        recorded_at = instant(self._clock(), name="clock()").astimezone(dt.UTC)
        rows = []
        for offset, (payload, columns) in enumerate(prepared, start=1):
            row_id = last_id + offset
            row_hash = self._hash(prev_hash, payload, row_id, recorded_at)
            rows.append(
                {
                    **columns,
                    "decided_at": columns["decided_at"] or recorded_at,
                    "id": row_id,
                    "recorded_at": recorded_at,
                    "payload": payload,
                    "prev_hash": prev_hash,
                    "hash": row_hash,
                }
            )
            prev_hash = row_hash
        for start in range(0, len(rows), _BATCH):
            conn.execute(ledger.insert(), rows[start : start + _BATCH])
        return [int(r["id"]) for r in rows]

    def _lock(self, conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK_KEY})

    def _last(self, conn: sa.Connection) -> tuple[int, str]:
        row = conn.execute(
            sa.select(ledger.c.id, ledger.c.hash).order_by(ledger.c.id.desc()).limit(1)
        ).one_or_none()
        return (0, GENESIS_HASH) if row is None else (int(row.id), str(row.hash))

    def _append(self, conn: sa.Connection, payload: str, columns: dict[str, Any]) -> int:
        return self._append_rows(conn, [(payload, columns)])[0]

    def record_change(
        self,
        conn: sa.Connection,
        table: str,
        row_id: int,
        action: str,
        actor: str | None,
        reason: str | None,
        payload: Mapping[str, Any],
    ) -> int:
        """Same as the module function :func:`record_change`."""
        return record_change(conn, table, row_id, action, actor, reason, payload)

    # -- redacting --------------------------------------------------------------------------

    def redact_number(
        self,
        conn: sa.Connection,
        stored: str,
        replacement: str,
        secrets: Mapping[str, str],
        *,
        actor: str,
        reason: str,
    ) -> tuple[list[int], int | None]:
        """Rewrite the decision rows whose ``number`` is ``stored``; return their ids and
        the id of the ``redaction`` row appended to vouch for them (``None`` if none).

        In each payload every occurrence of each ``secrets`` key (the number's written
        forms), and of the raw input the row records, becomes its value (the number's
        keyed hash); the ``number`` column becomes ``replacement``. Runs in the caller's
        write transaction ``conn`` (see :meth:`append`), holding the chain's lock.
        """
        self._check_connection(conn)
        self._lock(conn)
        redacted: list[dict[str, Any]] = []
        rows = conn.execute(
            sa.select(ledger.c.id, ledger.c.payload, ledger.c.hash)
            .where(ledger.c.number == stored, ledger.c.kind == "decision")
            .order_by(ledger.c.id)
        ).all()
        for row in rows:
            data = json.loads(row.payload)
            own = dict(secrets)
            raw = data.get("inputs", {}).get("number")
            if isinstance(raw, str | int) and sum(c.isdigit() for c in str(raw)) >= 3:
                own.setdefault(str(raw), replacement)
            ordered = dict(sorted(own.items(), key=lambda item: -len(item[0])))
            scrubbed = self.privacy.scrub(data, ordered)
            if isinstance(scrubbed.get("decision"), dict):
                scrubbed["decision"]["number"] = replacement
            payload = canonical_json(scrubbed)
            conn.execute(
                sa.update(ledger)
                .where(ledger.c.id == row.id)
                .values(payload=payload, number=replacement)
            )
            redacted.append(
                {
                    "id": int(row.id),
                    "hash": str(row.hash),
                    "payload_sha256": hashlib.sha256(payload.encode("ascii")).hexdigest(),
                }
            )
        if not redacted:
            return [], None
        entry = canonical_json(
            {
                "kind": "redaction",
                "redacted": redacted,
                "actor": actor,
                "reason": reason,
                "optout": __version__,
            }
        )
        entry_id = self._append(
            conn,
            entry,
            {"kind": "redaction", "decided_at": None, "number": None, "allowed": None, "codes": ""},
        )
        return [r["id"] for r in redacted], entry_id

    # -- verifying --------------------------------------------------------------------------

    def head(self) -> tuple[int, str] | None:
        """The newest row's id and hash, or ``None`` for an empty ledger."""
        with translate_errors(self.engine), self.engine.connect() as conn:
            last_id, last_hash = self._last(conn)
        return None if last_id == 0 else (last_id, last_hash)

    def _rows(self, conn: sa.Connection) -> Iterator[sa.Row[Any]]:
        after = 0
        while True:
            batch = conn.execute(
                sa.select(ledger).where(ledger.c.id > after).order_by(ledger.c.id).limit(_BATCH)
            ).all()
            yield from batch
            if len(batch) < _BATCH:
                return
            after = int(batch[-1].id)

    def verify(self, *, anchor: tuple[int, str] | None = None) -> VerifyReport:
        """Recompute every hash in id order and check every row against its payload.

        Detects an edited column of any row, a deleted row (a gap in the ids, or a
        ``prev_hash`` that is not its predecessor's hash), a forged or inserted row, and a
        chain whose oldest rows were removed without a checkpoint. ``anchor`` is an
        ``(id, hash)`` pair seen earlier (from :meth:`head`): that row must still be there
        with that hash, which also detects a truncated tail.

        The whole check reads one consistent snapshot of the table.
        """
        checked = redacted = 0
        head: tuple[int, str] | None = None
        with translate_errors(self.engine), self._snapshot() as conn:
            anchors = self._checkpoint_anchors(conn)
            vouched = self._redactions(conn)
            prev: sa.Row[Any] | None = None
            try:
                for row in self._rows(conn):
                    redacted += self._check_row(row, prev, anchors, vouched)
                    checked += 1
                    prev = row
                    if anchor is not None and int(row.id) == anchor[0] and row.hash != anchor[1]:
                        raise _Broken(int(row.id), "the hash differs from the anchor kept earlier")
                head = None if prev is None else (int(prev.id), str(prev.hash))
                if anchor is not None and (head is None or head[0] < anchor[0]):
                    raise _Broken(
                        anchor[0], f"entry {anchor[0]} of the anchor is missing: rows were removed"
                    )
            except _Broken as broken:
                return VerifyReport(
                    ok=False,
                    checked=checked,
                    first_broken_id=broken.row_id,
                    problem=broken.problem,
                    head_id=None if head is None else head[0],
                    head_hash=None if head is None else head[1],
                )
        return VerifyReport(
            ok=True,
            checked=checked,
            head_id=None if head is None else head[0],
            head_hash=None if head is None else head[1],
            redacted=redacted,
        )

    def _snapshot(self) -> Any:
        """A connection in one read transaction (REPEATABLE READ on PostgreSQL)."""
        return _SnapshotConnection(self.engine)

    def _checkpoint_anchors(self, conn: sa.Connection) -> dict[int, str]:
        """``last purged id -> its hash``, from every checkpoint row (checked later)."""
        out: dict[int, str] = {}
        for (text,) in conn.execute(
            sa.select(ledger.c.payload).where(ledger.c.kind == "checkpoint")
        ):
            try:
                purged = json.loads(text)["purged"]
                out[int(purged["last_id"])] = str(purged["last_hash"])
            except (ValueError, KeyError, TypeError):
                continue  # a mangled checkpoint fails its own hash check in the pass
        return out

    def _redactions(self, conn: sa.Connection) -> dict[int, tuple[str, str, int]]:
        """``redacted id -> (its hash, sha256 of its new payload, the redaction row's id)``
        from every redaction row (each is checked in the pass like any row)."""
        out: dict[int, tuple[str, str, int]] = {}
        for entry_id, text in conn.execute(
            sa.select(ledger.c.id, ledger.c.payload)
            .where(ledger.c.kind == "redaction")
            .order_by(ledger.c.id)
        ):
            try:
                for item in json.loads(text)["redacted"]:
                    out[int(item["id"])] = (
                        str(item["hash"]),
                        str(item["payload_sha256"]),
                        int(entry_id),
                    )
            except (ValueError, KeyError, TypeError):
                continue  # a mangled redaction row fails its own hash check in the pass
        return out

    def _vouched(self, row: sa.Row[Any], vouched: Mapping[int, tuple[str, str, int]]) -> int | None:
        """The id of the later redaction row that vouches for ``row`` as it is, if any."""
        found = vouched.get(int(row.id))
        if found is None or found[2] <= int(row.id) or found[0] != row.hash:
            return None
        if hashlib.sha256(str(row.payload).encode("utf-8")).hexdigest() != found[1]:
            return None
        return found[2]

    def _check_row(
        self,
        row: sa.Row[Any],
        prev: sa.Row[Any] | None,
        anchors: Mapping[int, str],
        vouched: Mapping[int, tuple[str, str, int]],
    ) -> int:
        """Raise :class:`_Broken` if ``row`` does not check out; 1 if it is redacted."""
        row_id = int(row.id)
        if prev is None:
            if row_id == 1:
                if row.prev_hash != GENESIS_HASH:
                    raise _Broken(row_id, "the first entry does not start the chain")
            elif anchors.get(row_id - 1) != row.prev_hash:
                raise _Broken(
                    row_id,
                    f"entries 1 to {row_id - 1} are missing and no checkpoint records their purge",
                )
        else:
            if row_id != int(prev.id) + 1:
                raise _Broken(
                    row_id, f"entries {int(prev.id) + 1} to {row_id - 1} are missing (deleted)"
                )
            if row.prev_hash != prev.hash:
                raise _Broken(row_id, "prev_hash is not the previous entry's hash")
        redacted = 0
        if self._hash(row.prev_hash, row.payload, row_id, row.recorded_at) != row.hash:
            if self._vouched(row, vouched) is None:
                raise _Broken(row_id, "the hash does not match the entry's contents")
            redacted = 1
        self._check_columns(row)
        return redacted

    def _check_columns(self, row: sa.Row[Any]) -> None:
        row_id = int(row.id)
        try:
            data = json.loads(row.payload)
            kind = data["kind"]
            if kind == "decision":
                decision = data["decision"]
                expected = {
                    "kind": "decision",
                    "decided_at": _parse_iso(decision["checked_at"]),
                    "number": decision["number"],
                    "allowed": decision["allowed"],
                    "codes": ",".join(r["code"] for r in decision["reasons"]),
                }
            else:
                expected = {
                    "kind": kind,
                    "decided_at": row.recorded_at,
                    "number": None,
                    "allowed": None,
                    "codes": "",
                }
        except (ValueError, KeyError, TypeError):
            raise _Broken(row_id, "the payload is not a ledger entry") from None
        for name, value in expected.items():
            stored = row._mapping[name]
            if name == "allowed" and stored is not None:
                stored = bool(stored)
            if stored != value:
                raise _Broken(row_id, f"the {name} column does not match the payload")

    # -- purging ----------------------------------------------------------------------------

    def purge(self, older_than: dt.datetime, *, actor: str | None = None) -> PurgeReport:
        """Delete the oldest entries recorded before ``older_than``, keeping the chain valid.

        Never deletes an entry younger than the retention period: the cutoff is the
        earlier of ``older_than`` and now minus ``retention``. Only a prefix of the chain is
        deleted (it stops at the first entry recorded at or after the cutoff), and a
        checkpoint entry recording the purged ids and the last purged hash is appended in
        the same transaction (see the module documentation).
        """
        when = instant(older_than, name="older_than")
        now = instant(self._clock(), name="clock()")
        cutoff = min(when, now - self.retention)
        with writing(self.engine) as conn:
            self._lock(conn)
            first = conn.execute(sa.select(sa.func.min(ledger.c.id))).scalar()
            if first is None:
                return PurgeReport(deleted=0, cutoff=cutoff)
            keep = conn.execute(
                sa.select(sa.func.min(ledger.c.id)).where(ledger.c.recorded_at >= cutoff)
            ).scalar()
            last_id = (
                int(keep) - 1
                if keep is not None
                else int(conn.execute(sa.select(sa.func.max(ledger.c.id))).scalar_one())
            )
            if last_id < int(first):
                return PurgeReport(deleted=0, cutoff=cutoff)
            last_hash = conn.execute(
                sa.select(ledger.c.hash).where(ledger.c.id == last_id)
            ).scalar_one()
            count = int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        ledger.c.id >= int(first), ledger.c.id <= last_id
                    )
                ).scalar_one()
            )
            payload = canonical_json(
                {
                    "kind": "checkpoint",
                    "purged": {
                        "first_id": int(first),
                        "last_id": last_id,
                        "last_hash": str(last_hash),
                        "count": count,
                        "cutoff": _stamp(cutoff),
                    },
                    "retention_seconds": self.retention.total_seconds(),
                    "actor": actor,
                    "optout": __version__,
                }
            )
            checkpoint_id = self._append(
                conn,
                payload,
                {
                    "kind": "checkpoint",
                    "decided_at": None,  # the checkpoint's own recorded_at
                    "number": None,
                    "allowed": None,
                    "codes": "",
                },
            )
            conn.execute(sa.delete(ledger).where(ledger.c.id >= int(first), ledger.c.id <= last_id))
        return PurgeReport(
            deleted=count,
            cutoff=cutoff,
            first_id=int(first),
            last_id=last_id,
            checkpoint_id=checkpoint_id,
        )

    @staticmethod
    def render_html(bundle: Mapping[str, Any]) -> str:
        """Same as the module function :func:`render_html`."""
        return render_html(bundle)

    # -- evidence bundles -------------------------------------------------------------------

    def export(
        self,
        number: str,
        start: dt.datetime,
        end: dt.datetime,
        *,
        region: str | None = None,
    ) -> dict[str, Any]:
        """An evidence bundle for ``number``: decisions from ``start`` (inclusive) to ``end``.

        The bundle holds every ledger entry for the number decided in the range, each with
        its place in the chain (id, ``prev_hash``, ``hash``) and whether its own hash
        checks out; the number's suppression entries (its own and every prefix covering
        it) and consents, with their change history; and a verification of the whole
        chain. It is JSON-ready; ``bundle_sha256`` is a digest of the rest of it.

        With hashed number storage the entries are found by the number's hash; the
        bundle's ``number`` is the clear number given here, while the payloads, suppression
        values and consent numbers in it are the stored hashes (``stored_numbers`` says so).

        Raises:
            InvalidNumberError: ``number`` is not a valid phone number.
            ConfigurationError: naive datetimes, or a range that ends before it starts.
        """
        begin = instant(start, name="start")
        finish = instant(end, name="end")
        if finish < begin:
            raise ConfigurationError("the export range ends before it starts")
        # Imported here: the suppression and consent modules import record_change from this one.
        from optout._suppressions import prefix_candidates  # noqa: PLC0415

        e164 = normalize(number, region).e164
        stored = self.privacy.stored(e164)
        with translate_errors(self.engine), self.engine.connect() as conn:
            erased = erased_number_hasher(conn, self.privacy)
            own = [stored] if erased is None else [stored, erased.hash(e164)]
            vouched = self._redactions(conn)
            entries = []
            for row in conn.execute(
                sa.select(ledger)
                .where(
                    ledger.c.number.in_(own),
                    ledger.c.decided_at >= begin,
                    ledger.c.decided_at < finish,
                )
                .order_by(ledger.c.id)
            ):
                recomputed = self._hash(row.prev_hash, row.payload, int(row.id), row.recorded_at)
                intact = hmac.compare_digest(recomputed, row.hash)
                redacted_by = None if intact else self._vouched(row, vouched)
                entries.append(
                    {
                        "id": int(row.id),
                        "recorded_at": _stamp(row.recorded_at),
                        "decided_at": row.decided_at.isoformat(),
                        "allowed": None if row.allowed is None else bool(row.allowed),
                        "codes": [c for c in row.codes.split(",") if c],
                        "prev_hash": row.prev_hash,
                        "hash": row.hash,
                        "hash_ok": intact or redacted_by is not None,
                        "redacted_by": redacted_by,
                        "payload": json.loads(row.payload),
                    }
                )
            supp = [
                _row_dict(r)
                for r in conn.execute(
                    sa.select(suppressions)
                    .where(
                        suppressions.c.value.in_(
                            self.privacy.stored_many(prefix_candidates(e164)) + own[1:]
                        )
                    )
                    .order_by(suppressions.c.id)
                )
            ]
            cons = [
                _row_dict(r)
                for r in conn.execute(
                    sa.select(consents).where(consents.c.number == stored).order_by(consents.c.id)
                )
            ]
            changes = _changes(conn, "suppressions", [s["id"] for s in supp]) + _changes(
                conn, "consents", [c["id"] for c in cons]
            )
        changes.sort(key=lambda c: c["id"])
        bundle: dict[str, Any] = {
            "format": "optout-evidence/1",
            "generated_at": _stamp(utcnow()),
            "optout_version": __version__,
            "number": e164,
            "range": {"start": begin.isoformat(), "end": finish.isoformat()},
            "hash": "hmac-sha256" if self._key is not None else "sha256",
            "entries": entries,
            "suppressions": supp,
            "consents": cons,
            "changes": changes,
            "verification": self.verify().to_dict(),
        }
        if self.privacy.hashed:
            bundle["stored_numbers"] = f"{self.privacy.mode} (keyed hashes, scheme h1)"
        bundle["bundle_sha256"] = hashlib.sha256(canonical_json(bundle).encode()).hexdigest()
        return bundle


class _SnapshotConnection:
    """Context manager: a connection inside one read-only, consistent transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: sa.Connection | None = None

    def __enter__(self) -> sa.Connection:
        conn = self._engine.connect()
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        self._conn = conn
        return conn

    def __exit__(self, *exc_info: object) -> None:
        assert self._conn is not None
        try:
            self._conn.rollback()
        finally:
            self._conn.close()


def _decision_columns(decision: Decision) -> dict[str, Any]:
    return {
        "kind": "decision",
        "decided_at": decision.checked_at,
        "number": decision.number,
        "allowed": decision.allowed,
        "codes": ",".join(decision.codes),
    }


def _row_dict(row: sa.Row[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row._mapping.items():
        out[str(key)] = value.isoformat() if isinstance(value, dt.datetime) else value
    return out


def _changes(conn: sa.Connection, table: str, ids: list[Any]) -> list[dict[str, Any]]:
    if not ids:
        return []
    out = []
    for row in conn.execute(
        sa.select(change_log)
        .where(change_log.c.table_name == table, change_log.c.row_id.in_(ids))
        .order_by(change_log.c.id)
    ):
        item = _row_dict(row)
        item["payload"] = json.loads(row.payload)
        out.append(item)
    return out


def record_change(
    conn: sa.Connection,
    table: str,
    row_id: int,
    action: str,
    actor: str | None,
    reason: str | None,
    payload: Mapping[str, Any],
    *,
    at: dt.datetime | None = None,
) -> int:
    """Record one change to a suppression or consent row; return the change's id.

    Call it in the same transaction as the change itself, so the row and its history
    commit together. ``payload`` is the row after the change (stored as canonical JSON).

    Raises:
        ConfigurationError: an unknown table or action, or a payload that is not JSON.
    """
    if table not in CHANGE_TABLES:
        raise ConfigurationError(f"no change history for table {table!r}")
    if action not in CHANGE_ACTIONS:
        raise ConfigurationError(
            f"change action must be one of {', '.join(sorted(CHANGE_ACTIONS))}, got {action!r}"
        )
    try:
        text = canonical_json(dict(payload))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"cannot record the change: {exc}") from None
    new_id = conn.execute(
        change_log.insert()
        .values(
            table_name=table,
            row_id=int(row_id),
            action=action,
            actor=None if actor is None else actor[:200],
            reason=None if reason is None else reason[:500],
            at=utcnow() if at is None else instant(at),
            payload=text,
        )
        .returning(change_log.c.id)
    ).scalar_one()
    return int(new_id)


# -- the human-readable page ----------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.ok{color:#136c2e;font-weight:600}.bad{color:#b00020;font-weight:600}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.75rem;word-break:break-all}
pre{background:#f7f7f7;padding:1rem;overflow:auto;font-size:.75rem}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(bundle: Mapping[str, Any]) -> str:
    """A self-contained HTML page (no scripts, no external assets) for an evidence bundle."""
    check = bundle.get("verification", {})
    verdict = (
        '<span class="ok">intact</span>'
        if check.get("ok")
        else f'<span class="bad">BROKEN at entry {_e(check.get("first_broken_id"))}: '
        f"{_e(check.get('problem'))}</span>"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>optout evidence for {_e(bundle.get('number'))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Evidence for {_e(bundle.get('number'))}</h1>",
        "<p>Decisions from "
        f"{_e(bundle.get('range', {}).get('start'))} to {_e(bundle.get('range', {}).get('end'))}"
        f" &middot; generated {_e(bundle.get('generated_at'))} by optout "
        f"{_e(bundle.get('optout_version'))}</p>",
        f"<p>Ledger chain ({_e(bundle.get('hash'))}): {verdict}; {_e(check.get('checked'))} "
        f"entries checked; head entry {_e(check.get('head_id'))} "
        f'<span class="hash">{_e(check.get("head_hash"))}</span></p>',
        "<h2>Decisions</h2>",
    ]
    entries = bundle.get("entries", [])
    if not entries:
        parts.append("<p>No recorded decision in this range.</p>")
    for entry in entries:
        decision = entry.get("payload", {}).get("decision", {})
        inputs = entry.get("payload", {}).get("inputs", {})
        answer = (
            '<span class="ok">ALLOWED</span>'
            if entry.get("allowed")
            else '<span class="bad">DENIED</span>'
        )
        own = (
            f"redacted after an erasure request (entry {_e(entry.get('redacted_by'))} "
            "vouches for the rewritten payload)"
            if entry.get("redacted_by") is not None
            else "hash checks out"
            if entry.get("hash_ok")
            else "HASH DOES NOT CHECK OUT"
        )
        parts.append(
            f"<h3>Entry {_e(entry.get('id'))}: {answer} at {_e(entry.get('decided_at'))}</h3>"
            f"<p>recorded {_e(entry.get('recorded_at'))}; {own}<br>"
            f'previous <span class="hash">{_e(entry.get("prev_hash"))}</span><br>'
            f'this <span class="hash">{_e(entry.get("hash"))}</span></p>'
        )
        parts.append("<h4>Call inputs</h4>")
        parts.append(
            _table(
                [{"input": k, "value": v} for k, v in sorted(inputs.items()) if v is not None],
                ["input", "value"],
            )
        )
        parts.append("<h4>Reasons</h4>" if decision.get("reasons") else "")
        parts.append(
            "<p>No reason to deny.</p>"
            if not decision.get("reasons")
            else _table(
                list(decision.get("reasons", [])),
                ["code", "message", "citation", "source", "until"],
            )
        )
        parts.append("<h4>Evidence consulted</h4>")
        parts.append(
            _table(list(decision.get("evidence", [])), ["kind", "id", "source", "date", "version"])
        )
    parts += [
        "<h2>Suppression entries</h2>",
        _table(
            list(bundle.get("suppressions", [])),
            [
                "id",
                "kind",
                "value",
                "scope",
                "scope_value",
                "reason",
                "source",
                "actor",
                "created_at",
                "expires_at",
                "removed_at",
                "removed_by",
                "removed_reason",
            ],
        ),
        "<h2>Consents</h2>",
        _table(
            list(bundle.get("consents", [])),
            [
                "id",
                "kind",
                "purposes",
                "channels",
                "brand",
                "given_at",
                "expires_at",
                "proof",
                "source",
                "revoked_at",
                "revoked_by",
                "revoke_reason",
            ],
        ),
        "<h2>Change history</h2>",
        _table(
            list(bundle.get("changes", [])),
            ["id", "table_name", "row_id", "action", "actor", "reason", "at"],
        ),
        "<h2>The bundle (JSON)</h2>",
        f"<pre>{_e(json.dumps(dict(bundle), indent=2, sort_keys=True))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
