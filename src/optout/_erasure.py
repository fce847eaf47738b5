"""Right to erasure: forget a phone number, but keep its opt-out, as a keyed hash only.

:func:`erase` honours a data subject's erasure request (GDPR Art. 17) for one number, in
one write transaction:

- **Kept, as a keyed hash**: the opt-out. Every suppression entry of the number (its own
  entries, active or lifted, in any scope, and a prefix entry equal to the whole number)
  now stores ``"h1:" + HMAC-SHA256(key, e164)`` instead of the E.164 text, and if no
  active, permanent, global entry exists, one is added (reason ``erasure_request``), so
  the person is never called again (Art. 17(3)(b): the duty to honour a do-not-call
  request; Art. 21(3): no more direct marketing after an objection). The number's text is
  also removed from the free-text fields of those entries and of their change history.
- **Deleted**: consents (and their change history), registry registration dates (and
  their history), call attempts and outcomes, and cached registry answers of the number.
- **Ledger**: decision entries stay (Art. 17(3)(b) and (e): the record that each call was
  checked is kept for the retention period the law sets, and for legal claims), but in a
  database that stores numbers in clear their payloads are rewritten so that the number
  appears only as its keyed hash, and a chained ``redaction`` entry vouches for each
  rewrite (see :mod:`optout._ledger`), so ``optout audit verify`` still passes and any
  other edit is still caught. A database with hashed storage holds no clear number there.
- **Audit**: one ``change_log`` row (table ``erasures``, action ``erase``, the id of the
  opt-out entry as row id) says who erased, when and why, with the number's hash and what
  was deleted; never the clear number.

The key: with hashed storage, the database's own key. In a clear database, the key that
:func:`optout._privacy.find_key` finds (``$OPTOUT_HASH_KEY``, ``$OPTOUT_HASH_KEY_FILE``
or the OS keyring); the first erasure records its fingerprint in the ``erasure_key``
setting, and from then on every client of the database needs that key (see
:class:`optout.SuppressionList`). Without a key the erasure is refused.

On SQLite the transaction runs with ``PRAGMA secure_delete`` on (freed space is
overwritten with zeros), then the write-ahead log is checkpointed and truncated and,
unless ``compact=False``, the file is rewritten with ``VACUUM`` so that no older copy of
a page survives in free space. PostgreSQL keeps dead row versions until ``VACUUM`` reuses
their space, and both keep old data in backups and WAL archives: see ``docs/security.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import phonenumbers
import sqlalchemy as sa

from optout._db import translate_errors, writing
from optout._errors import ConfigurationError, DatabaseError
from optout._ledger import canonical_json, record_change
from optout._ledger_schema import change_log
from optout._numbers import normalize
from optout._privacy import (
    HASH_PREFIX,
    KEY_HELP,
    NumberHasher,
    Privacy,
    erased_number_hasher,
    find_key,
    redact,
)
from optout._schema import attempts, consents, registrations, registry_answers, suppressions
from optout._settings import ERASURE_KEY, insert_setting
from optout._suppressions import SOURCES
from optout._timeutil import instant

if TYPE_CHECKING:
    from optout._client import Compliance

__all__ = ["ErasureReport", "erase", "written_forms"]

_log = logging.getLogger("optout")

#: The reason of the opt-out an erasure adds when the number had no permanent global one.
ERASURE_REASON = "erasure_request"


@dataclasses.dataclass(frozen=True, slots=True)
class ErasureReport:
    """What :meth:`optout.Compliance.erase` did.

    Attributes:
        number_hash: the keyed hash (``"h1:..."``) that now stands for the number.
        key_fingerprint: the fingerprint of the key that made it (every client of a clear
            database needs that key from the first erasure on).
        opt_out_id: the active, permanent, global suppression entry that keeps the number
            from being called.
        suppressions: every suppression entry of the number, now stored as the hash.
        consents, registrations, attempts, registry_answers: how many rows were deleted.
        history_deleted: change-history rows of the deleted consents and registrations.
        ledger_redacted: ledger entries whose payload was rewritten (clear storage only).
        redaction_entry: the ledger entry that vouches for those rewrites, if any.
        change_id: the ``change_log`` row that records the erasure.
        compacted: SQLite: whether the file was rewritten (``VACUUM``) afterwards;
            ``None`` on PostgreSQL or with ``compact=False``.
    """

    number_hash: str
    key_fingerprint: str
    opt_out_id: int
    suppressions: tuple[int, ...]
    consents: int
    registrations: int
    attempts: int
    registry_answers: int
    history_deleted: int
    ledger_redacted: tuple[int, ...]
    redaction_entry: int | None
    change_id: int
    compacted: bool | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["suppressions"] = list(self.suppressions)
        out["ledger_redacted"] = list(self.ledger_redacted)
        return out


def _text(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise ConfigurationError(
            f"{name} is required: a non-empty string of at most {limit} characters"
        )
    return value.strip()


def written_forms(e164: str, raw: object = None) -> list[str]:
    """The ways the number may have been written into free text, longest first.

    E.164, its digits, the international and national formats and the national digits
    (for Italy ``"0612345678"``), plus ``raw`` as it was given.
    """
    forms = {e164, e164[1:]}
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:  # pragma: no cover - e164 comes from normalize
        parsed = None
    if parsed is not None:
        forms.add(phonenumbers.national_significant_number(parsed))
        for style in (
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
        ):
            forms.add(phonenumbers.format_number(parsed, style))
    if isinstance(raw, str | int) and sum(c.isdigit() for c in str(raw)) >= 6:
        forms.add(str(raw).strip())
    # Short national numbers would match inside unrelated text; they are never clear data.
    return sorted(
        (f for f in forms if sum(c.isdigit() for c in f) >= 6), key=lambda f: (-len(f), f)
    )


def _scrub(text: str | None, secrets: Mapping[str, str]) -> str | None:
    if text is None:
        return None
    for clear, replacement in secrets.items():
        if clear in text:
            text = text.replace(clear, replacement)
    return text


def _key_for(conn: sa.Connection, privacy: Privacy, candidate: NumberHasher | None) -> NumberHasher:
    """The hasher of this erasure; records the erasure key of a clear database."""
    if privacy.hasher is not None:
        return privacy.hasher
    recorded = erased_number_hasher(conn, privacy)
    if recorded is not None:
        return recorded
    if candidate is None:
        raise ConfigurationError(
            "erasing a number keeps its opt-out as a keyed hash (HMAC-SHA256), so it "
            f"needs a secret key; none is configured: {KEY_HELP}. Generate one with "
            'python -c "import secrets; print(secrets.token_hex(32))", keep it safe, '
            "and give every client of this database the same key"
        )
    stored = insert_setting(
        conn,
        ERASURE_KEY,
        {"scheme": HASH_PREFIX[:-1], "key_fingerprint": candidate.fingerprint},
        actor=None,
        reason="first erasure request: opt-outs of erased numbers are keyed hashes",
    )
    if not isinstance(stored, dict) or stored.get("key_fingerprint") != candidate.fingerprint:
        raise ConfigurationError("another erasure recorded a different key meanwhile")
    return candidate


def erase(
    client: Compliance,
    number: str,
    *,
    actor: str,
    reason: str,
    region: str | None = None,
    source: str = "api",
    at: dt.datetime | None = None,
    compact: bool = True,
) -> ErasureReport:
    """Honour an erasure request for ``number`` on ``client``'s database (module notes).

    Args:
        number: the number to forget, in any written form (``region`` for national ones).
        actor: who carries out the request (required; recorded).
        reason: why, e.g. the request's ticket (required; recorded, with any written form
            of the number in it replaced by the hash).
        source: the provenance of the opt-out an erasure adds (default ``api``).
        at: when the request is honoured (default now).
        compact: on SQLite, rewrite the file afterwards (``VACUUM``) so that no deleted
            copy survives in free pages. It holds the write lock while it runs.

    Raises:
        InvalidNumberError: ``number`` is not a valid phone number.
        ConfigurationError: no key is configured (clear storage), another key was used for
            earlier erasures, or ``actor``/``reason``/``source`` are missing or bad.
        DatabaseError: the database failed; nothing was changed.
    """
    who = _text(actor, "actor", 200)
    why = _text(reason, "reason", 500)
    if source not in SOURCES:
        raise ConfigurationError(
            f"unknown source {source!r}; expected one of: {', '.join(sorted(SOURCES))}"
        )
    when = instant(at)
    e164 = normalize(number, region).e164
    privacy = client.privacy
    candidate = None
    if privacy.hasher is None:
        key = find_key()
        candidate = None if key is None else NumberHasher(key)
    engine = client.engine
    sqlite = engine.dialect.name == "sqlite"
    with writing(engine) as conn:
        secure_before = True
        if sqlite:
            # Builds differ in the default (SQLITE_SECURE_DELETE); restore it afterwards.
            secure_before = bool(conn.exec_driver_sql("PRAGMA secure_delete").scalar())
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        hasher = _key_for(conn, privacy, candidate)
        hashed = hasher.hash(e164)
        stored = {privacy.stored(e164), hashed}
        secrets = dict.fromkeys(written_forms(e164, number), hashed)
        why = _scrub(why, secrets) or why  # a reason that quotes the number is stored without it
        kept = _keep_opt_outs(conn, stored, hashed, secrets, who, why, when)
        opt_out = client.suppressions._add_on(
            conn,
            "number",
            hashed,
            reason=ERASURE_REASON,
            source=source,
            actor=who,
            at=when,
        )
        if opt_out.id not in kept:
            kept.append(opt_out.id)
        consent_ids = _delete(conn, consents, consents.c.number.in_(stored))
        registration_ids = _delete(conn, registrations, registrations.c.number.in_(stored))
        history = _delete_history(conn, "consents", consent_ids) + _delete_history(
            conn, "registrations", registration_ids
        )
        attempt_count = len(_delete(conn, attempts, attempts.c.number.in_(stored)))
        answer_count = len(_delete(conn, registry_answers, registry_answers.c.number.in_(stored)))
        redacted: list[int] = []
        redaction = None
        if privacy.hasher is None:
            redacted, redaction = client.ledger.redact_number(
                conn, e164, hashed, secrets, actor=who, reason=why
            )
        change_id = record_change(
            conn,
            "erasures",
            opt_out.id,
            "erase",
            who,
            why,
            {
                "number": hashed,
                "key_fingerprint": hasher.fingerprint,
                "opt_out": opt_out.id,
                "suppressions": sorted(kept),
                "deleted": {
                    "consents": consent_ids,
                    "registrations": registration_ids,
                    "attempts": attempt_count,
                    "registry_answers": answer_count,
                    "change_log": history,
                },
                "ledger": {"redacted": len(redacted), "redaction_entry": redaction},
            },
            at=when,
        )
        if not secure_before:
            conn.exec_driver_sql("PRAGMA secure_delete = OFF")
    _log.info("erased a number on request (change %d, by %s)", change_id, redact(who))
    compacted = _compact(engine) if sqlite and compact else None
    return ErasureReport(
        number_hash=hashed,
        key_fingerprint=hasher.fingerprint,
        opt_out_id=opt_out.id,
        suppressions=tuple(sorted(kept)),
        consents=len(consent_ids),
        registrations=len(registration_ids),
        attempts=attempt_count,
        registry_answers=answer_count,
        history_deleted=history,
        ledger_redacted=tuple(redacted),
        redaction_entry=redaction,
        change_id=change_id,
        compacted=compacted,
    )


def _keep_opt_outs(
    conn: sa.Connection,
    stored: set[str],
    hashed: str,
    secrets: Mapping[str, str],
    actor: str,
    reason: str,
    at: dt.datetime,
) -> list[int]:
    """Turn every suppression entry of the number into its hashed form; return their ids."""
    t = suppressions
    ids: list[int] = []
    for row in conn.execute(sa.select(t).where(t.c.value.in_(stored)).order_by(t.c.id)).all():
        m = row._mapping
        values = {
            "value": hashed,
            "reason": _scrub(m["reason"], secrets),
            "removed_reason": _scrub(m["removed_reason"], secrets),
        }
        ids.append(int(m["id"]))
        if all(values[k] == m[k] for k in values):
            continue  # hashed storage: nothing clear in it
        conn.execute(sa.update(t).where(t.c.id == m["id"]).values(**values))
        after = conn.execute(sa.select(t).where(t.c.id == m["id"])).one()
        record_change(
            conn, "suppressions", int(m["id"]), "erase", actor, reason, dict(after._mapping), at=at
        )
    if ids:
        _scrub_history(conn, ids, secrets)
    return ids


def _scrub_history(conn: sa.Connection, ids: list[int], secrets: Mapping[str, str]) -> None:
    """Remove the number's text from the change history of suppression entries ``ids``."""
    for row in conn.execute(
        sa.select(change_log.c.id, change_log.c.payload, change_log.c.reason).where(
            change_log.c.table_name == "suppressions", change_log.c.row_id.in_(ids)
        )
    ).all():
        payload = canonical_json(_scrub_json(json.loads(row.payload), secrets))
        why = _scrub(row.reason, secrets)
        if payload != row.payload or why != row.reason:
            conn.execute(
                sa.update(change_log)
                .where(change_log.c.id == row.id)
                .values(payload=payload, reason=why)
            )


def _scrub_json(data: Any, secrets: Mapping[str, str]) -> Any:
    if isinstance(data, str):
        return _scrub(data, secrets)
    if isinstance(data, dict):
        return {k: _scrub_json(v, secrets) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub_json(v, secrets) for v in data]
    return data


def _delete(conn: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> list[int]:
    """Delete the rows of ``table`` matching ``where``; return their ids, sorted."""
    ids = conn.execute(sa.delete(table).where(where).returning(table.c.id)).scalars().all()
    return sorted(int(i) for i in ids)


def _delete_history(conn: sa.Connection, table: str, ids: list[int]) -> int:
    if not ids:
        return 0
    done = conn.execute(
        sa.delete(change_log)
        .where(change_log.c.table_name == table, change_log.c.row_id.in_(ids))
        .returning(change_log.c.id)
    )
    return len(done.scalars().all())


def _compact(engine: sa.Engine) -> bool:
    """Checkpoint and truncate the WAL, rewrite the file, checkpoint again (SQLite).

    ``False`` (and a warning) when another connection kept it from finishing; the erasure
    itself is committed either way.
    """
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        with translate_errors(engine):
            try:
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                driver.execute("VACUUM")
                busy = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except Exception as exc:  # a busy or locked file: the driver's own error
                raise DatabaseError(f"cannot compact the SQLite file: {exc}") from exc
    except DatabaseError as exc:
        _log.warning("erasure committed, but the file was not compacted: %s", exc)
        return False
    finally:
        raw.close()
    if busy is not None and busy[0]:
        _log.warning("erasure committed, but a reader kept the WAL from being truncated")
        return False
    return True
