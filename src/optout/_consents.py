"""Consent and relationship records, and registry registration dates.

A consent is never deleted; revoking it records when, by whom and why. A consent cannot be
recorded as given in the future (it would silently start allowing calls later).
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optout._db import translate_errors, writing
from optout._errors import ConfigurationError, NotFoundError
from optout._ledger import record_change
from optout._numbers import normalize
from optout._privacy import CLEAR, Privacy
from optout._rules._engine import ConsentFact
from optout._rules._model import ConsentKind, ConsentScope
from optout._schema import consents as _c
from optout._schema import registrations as _r
from optout._suppressions import SOURCES
from optout._timeutil import instant, utcnow
from optout._vocab import Channel, Purpose, Sector, coerce

__all__ = ["Consent", "ConsentList", "Registration", "RegistrationList"]

#: How far in the future a ``given_at`` may be (clock skew between hosts).
_SKEW = dt.timedelta(minutes=5)


@dataclasses.dataclass(frozen=True, slots=True)
class Consent:
    """A stored consent (or business-relationship) record.

    ``purposes`` and ``channels`` are ``None`` when the consent covers every one; ``brand``
    is ``None`` when it covers the whole company. ``number`` is the number as stored: its
    keyed hash (``"h1:..."``) when the database hashes numbers.
    """

    id: int
    number: str
    kind: ConsentKind
    given_at: dt.datetime
    purposes: frozenset[Purpose] | None
    channels: frozenset[Channel] | None
    brand: str | None
    person: str | None
    expires_at: dt.datetime | None
    proof: str | None
    source: str
    actor: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    #: What the consent covers beyond the call itself (:class:`optout.ConsentScope`).
    scopes: frozenset[ConsentScope] = frozenset()
    #: The product sectors the consent names; ``None``: not specific to any.
    sectors: frozenset[Sector] | None = None

    def fact(self) -> ConsentFact:
        """The record as the rules engine sees it."""
        return ConsentFact(
            id=str(self.id),
            kind=self.kind,
            given_at=self.given_at,
            purposes=self.purposes,
            channels=self.channels,
            brand=self.brand,
            revoked_at=self.revoked_at,
            expires_at=self.expires_at,
            scopes=frozenset(s.value for s in self.scopes),
            sectors=self.sectors,
        )


def _split(text: str | None, kind: type[Purpose] | type[Channel]) -> Any:
    if text is None:
        return None
    return frozenset(kind(v) for v in text.split(",") if v)


def _row(row: sa.Row[Any]) -> Consent:
    m = row._mapping
    return Consent(
        id=int(m["id"]),
        number=m["number"],
        kind=ConsentKind(m["kind"]),
        given_at=m["given_at"],
        purposes=_split(m["purposes"], Purpose),
        channels=_split(m["channels"], Channel),
        brand=m["brand"],
        person=m["person"],
        expires_at=m["expires_at"],
        proof=m["proof"],
        source=m["source"],
        actor=m["actor"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        revoked_by=m["revoked_by"],
        revoke_reason=m["revoke_reason"],
        scopes=frozenset(ConsentScope(v) for v in (m["scopes"] or "").split(",") if v),
        sectors=None
        if m["sectors"] is None
        else frozenset(Sector(v) for v in m["sectors"].split(",") if v),
    )


def _joined(
    values: Iterable[object] | None,
    kind: type[Purpose] | type[Channel] | type[Sector] | type[ConsentScope],
    name: str,
    *,
    empty: bool = False,
) -> str | None:
    """Members of ``kind`` as sorted comma-separated text (``None`` stays ``None``; a
    single string is one member). An empty collection is an error unless ``empty``."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable):
        raise ConfigurationError(f"{name}s must be a list, got {values!r}")
    members = sorted({coerce(kind, v, name=name).value for v in values})
    if not members and not empty:
        raise ConfigurationError(f"{name}s must name at least one, or be None for all")
    return ",".join(members) or None


def _text(value: object, name: str, *, limit: int = 200) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise ConfigurationError(
            f"{name} must be a non-empty string of at most {limit} characters, got {value!r}"
        )
    return value.strip()


class ConsentList:
    """The consent records in one database. Reached as ``Compliance.consents``."""

    def __init__(
        self, engine: Engine, *, default_region: str | None = None, privacy: Privacy = CLEAR
    ) -> None:
        self._engine = engine
        self._region = default_region
        self._privacy = privacy

    def add(
        self,
        number: str,
        kind: ConsentKind | str,
        *,
        given_at: dt.datetime,
        purposes: Iterable[Purpose | str] | None = None,
        channels: Iterable[Channel | str] | None = None,
        brand: str | None = None,
        person: str | None = None,
        expires_at: dt.datetime | None = None,
        proof: str | None = None,
        source: str = "api",
        actor: str | None = None,
        region: str | None = None,
        scopes: Iterable[ConsentScope | str] | None = (),
        sectors: Iterable[Sector | str] | None = None,
    ) -> Consent:
        """Record a consent, durably, and return it.

        ``scopes`` says what the consent covers beyond being called at all:
        ``"outside_hours"`` is consent to calls outside the law's regular days and hours
        (France, Minas Gerais, New York lift their hours only for it). ``sectors`` names
        the products the consent is specific to (default: not specific).

        Raises:
            ConfigurationError: ``given_at`` in the future, an expiry before it, unknown
                kind, purpose, channel or source.
            InvalidNumberError: ``number`` is not a valid phone number.
        """
        now = utcnow()
        given = instant(given_at, name="given_at")
        if given > now + _SKEW:
            raise ConfigurationError(
                f"given_at {given.isoformat()} is in the future: record a consent once given"
            )
        expires = None if expires_at is None else instant(expires_at, name="expires_at")
        if expires is not None and expires <= given:
            raise ConfigurationError("expires_at must be after given_at")
        if source not in SOURCES:
            raise ConfigurationError(f"unknown source {source!r}")
        values: dict[str, Any] = {
            "number": self._privacy.stored(normalize(number, region or self._region).e164),
            "person": _text(person, "person"),
            "kind": coerce(ConsentKind, kind, name="consent kind").value,
            "purposes": _joined(purposes, Purpose, "purpose"),
            "channels": _joined(channels, Channel, "channel"),
            "brand": _text(brand, "brand"),
            "given_at": given,
            "expires_at": expires,
            "proof": _text(proof, "proof", limit=500),
            "source": source,
            "actor": _text(actor, "actor"),
            "created_at": now,
            "scopes": _joined(scopes, ConsentScope, "consent scope", empty=True),
            "sectors": _joined(sectors, Sector, "sector"),
        }
        with writing(self._engine) as conn:
            new_id = conn.execute(_c.insert().values(**values).returning(_c.c.id)).scalar_one()
            row = conn.execute(sa.select(_c).where(_c.c.id == new_id)).one()
            record_change(
                conn, "consents", int(new_id), "insert", values["actor"], None, dict(row._mapping)
            )
            return _row(row)

    def revoke(
        self, consent_id: int, *, actor: str, reason: str, at: dt.datetime | None = None
    ) -> Consent:
        """Revoke a consent from ``at`` (default now); the record is kept.

        Raises:
            NotFoundError: no consent has this id.
            ConfigurationError: it was already revoked, or a missing actor or reason.
        """
        values: dict[str, Any] = {
            "revoked_at": instant(at),
            "revoked_by": _text(actor, "actor"),
            "revoke_reason": _text(reason, "reason", limit=500),
        }
        if values["revoked_by"] is None or values["revoke_reason"] is None:
            raise ConfigurationError("revoking a consent needs an actor and a reason")
        with writing(self._engine) as conn:
            row = conn.execute(sa.select(_c).where(_c.c.id == consent_id)).one_or_none()
            if row is None:
                raise NotFoundError(f"no consent with id {consent_id}")
            if row._mapping["revoked_at"] is not None:
                raise ConfigurationError(f"consent {consent_id} is already revoked")
            conn.execute(sa.update(_c).where(_c.c.id == consent_id).values(**values))
            row = conn.execute(sa.select(_c).where(_c.c.id == consent_id)).one()
            record_change(
                conn,
                "consents",
                consent_id,
                "revoke",
                values["revoked_by"],
                values["revoke_reason"],
                dict(row._mapping),
            )
            return _row(row)

    def list(
        self, *, number: str | None = None, person: str | None = None, region: str | None = None
    ) -> builtins.list[Consent]:
        """Consents (revoked ones too), in id order, optionally for a number or person."""
        stmt = sa.select(_c).order_by(_c.c.id)
        if number is not None:
            e164 = normalize(number, region or self._region).e164
            stmt = stmt.where(_c.c.number == self._privacy.stored(e164))
        if person is not None:
            stmt = stmt.where(_c.c.person == person)
        with translate_errors(self._engine), self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def for_call(
        self, conn: sa.Connection, number: str, person: str | None
    ) -> builtins.list[Consent]:
        """The records that may cover a call to ``number``.

        Consent is tied to the number it was given for (the TCPA's reading): a consent
        recorded for the same person on another number does not cover this one. When the
        call names a person, a record for this number naming another person does not count.
        """
        cond = _c.c.number == self._privacy.stored(number)
        if person is not None:
            cond = sa.and_(cond, sa.or_(_c.c.person.is_(None), _c.c.person == person))
        return [_row(r) for r in conn.execute(sa.select(_c).where(cond).order_by(_c.c.id))]


@dataclasses.dataclass(frozen=True, slots=True)
class Registration:
    """A number's registration date in a national registry (e.g. ``"it_rpo"``).

    ``number`` is the number as stored (its keyed hash when the database hashes numbers).
    """

    id: int
    registry: str
    number: str
    registered_at: dt.datetime
    source: str
    reference: str | None
    recorded_at: dt.datetime


def _registry_id(value: object) -> bool:
    return isinstance(value, str) and value.replace("_", "").isalnum() and value.islower()


class RegistrationList:
    """Registration dates from national registries. Reached as ``Compliance.registrations``.

    Registry backends record what they learn here; rules such as Italy's (a registration
    voids consents given before it) read it.
    """

    def __init__(
        self, engine: Engine, *, default_region: str | None = None, privacy: Privacy = CLEAR
    ) -> None:
        self._engine = engine
        self._region = default_region
        self._privacy = privacy

    def record(
        self,
        registry: str,
        number: str,
        *,
        registered_at: dt.datetime,
        source: str,
        reference: str | None = None,
        region: str | None = None,
    ) -> Registration:
        """Record that ``number`` is registered in ``registry`` since ``registered_at``."""
        if not _registry_id(registry):
            raise ConfigurationError(f"registry must be an id like 'it_rpo', got {registry!r}")
        since = instant(registered_at, name="registered_at")
        if since > utcnow() + _SKEW:
            # A date ahead would open a grace period the registry never gave.
            raise ConfigurationError(
                f"registered_at {since.isoformat()} is in the future: record a registration "
                "once it has happened"
            )
        values: dict[str, Any] = {
            "registry": registry,
            "number": self._privacy.stored(normalize(number, region or self._region).e164),
            "registered_at": since,
            "source": _text(source, "source"),
            "reference": _text(reference, "reference"),
            "recorded_at": utcnow(),
        }
        if values["source"] is None:
            raise ConfigurationError("source is required")
        with writing(self._engine) as conn:
            new_id = conn.execute(_r.insert().values(**values).returning(_r.c.id)).scalar_one()
            row = conn.execute(sa.select(_r).where(_r.c.id == new_id)).one()
            record_change(
                conn,
                "registrations",
                int(new_id),
                "insert",
                None,
                values["source"],
                dict(row._mapping),
            )
        return Registration(
            **{
                k: row._mapping[k]
                for k in (
                    "id",
                    "registry",
                    "number",
                    "registered_at",
                    "source",
                    "reference",
                    "recorded_at",
                )
            }
        )

    def for_call(self, conn: sa.Connection, number: str) -> builtins.list[tuple[str, dt.datetime]]:
        """(registry, date) pairs for ``number``: the earliest and the latest registration
        date of each registry (one pair when they are the same). The rules take the latest
        to void consents and the earliest for a grace period, the strict choice for each."""
        stmt = (
            sa.select(
                _r.c.registry, sa.func.min(_r.c.registered_at), sa.func.max(_r.c.registered_at)
            )
            .where(_r.c.number == self._privacy.stored(number))
            .group_by(_r.c.registry)
        )
        return registration_pairs(conn.execute(stmt))


def registration_pairs(
    rows: Iterable[Any],
) -> builtins.list[tuple[str, dt.datetime]]:
    """``(registry, earliest, latest)`` rows as sorted ``(registry, date)`` pairs."""
    out: set[tuple[str, dt.datetime]] = set()
    for registry, first, last in rows:
        for when in (first, last):
            out.add((registry, when if when.tzinfo else when.replace(tzinfo=dt.UTC)))
    return sorted(out)
