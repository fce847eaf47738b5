"""The client: ``Compliance.can_call()`` and ``Compliance.record_outcome()``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from types import MappingProxyType
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optout._db import (
    configure_sqlite,
    create_engine,
    default_database_url,
    ensure_schema,
    translate_errors,
    upgrade,
    writing,
)
from optout._decision import Decision, Evidence, Reason, next_allowed
from optout._errors import ConfigurationError, InvalidNumberError
from optout._numbers import PhoneNumber, normalize, normalize_region
from optout._schema import attempts as _attempts
from optout._suppressions import SuppressionList
from optout._timeutil import instant, utcnow
from optout._vocab import Channel, Outcome, Purpose, Scope, Technology, coerce

__all__ = ["Attempt", "CallContext", "Compliance", "can_call", "default_client", "record_outcome"]

_NUMBERING_PLAN = Evidence(
    kind="numbering_plan",
    id="libphonenumber",
    source="phonenumbers",
    version=phonenumbers.__version__,
)


@dataclasses.dataclass(frozen=True, slots=True)
class CallContext:
    """Everything a decision depends on besides stored data: who calls whom, why, when."""

    phone: PhoneNumber
    at: dt.datetime
    purpose: Purpose
    channel: Channel
    technology: Technology
    campaign: str | None = None
    brand: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """A stored call attempt; ``suppression_id`` is set when the outcome added an opt-out."""

    id: int
    number: str
    at: dt.datetime
    outcome: Outcome
    suppression_id: int | None = None


def _optional_text(value: object, name: str) -> str | None:
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > 200:
        raise ConfigurationError(
            f"{name} must be a non-empty string of at most 200 characters, got {value!r}"
        )
    return text


class Compliance:
    """A compliance client bound to one database.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path/optout.sqlite3`` or
            ``postgresql://user@host/db``). Default: ``$OPTOUT_DATABASE_URL``, else a SQLite
            file in the user's data directory (see :func:`optout.default_database_url`).
        engine: an existing SQLAlchemy ``Engine`` to use instead of ``url``. The client
            never disposes an engine it was handed. A SQLite engine gets optout's connection
            settings (WAL, ``synchronous=FULL``, busy timeout, explicit ``BEGIN``) for the
            connections it opens from then on.
        default_region: the region (``"IT"``) assumed for numbers written without a country
            code; ``can_call(country=...)`` overrides it per call.
        migrate: migrate the schema on first use. Default: yes for SQLite, no for
            PostgreSQL (run ``optout db upgrade`` there; a client on an old schema raises
            :class:`optout.SchemaError`).

    The client is safe to share between threads; create one per process and reuse it.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        default_region: str | None = None,
        migrate: bool | None = None,
    ) -> None:
        if engine is not None and url is not None:
            raise ConfigurationError("pass either url or engine, not both")
        self._owns_engine = engine is None
        if engine is None:
            engine = create_engine(url or default_database_url())
        elif engine.dialect.name == "sqlite":
            configure_sqlite(engine)
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._region = normalize_region(default_region)
        if migrate is None:
            migrate = self._engine.dialect.name == "sqlite"
        try:
            ensure_schema(self._engine, migrate=migrate)
        except BaseException:
            self.close()
            raise
        self.suppressions = SuppressionList(self._engine, default_region=self._region)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine in use."""
        return self._engine

    def close(self) -> None:
        """Release the connections of an engine this client created (not a handed-in one)."""
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> Compliance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def upgrade(self) -> None:
        """Migrate the database schema to the newest revision."""
        upgrade(self._engine)

    def _reading(self) -> sa.Connection:
        """A connection for a decision's reads.

        On PostgreSQL it runs in autocommit, which saves the ``BEGIN``/``ROLLBACK`` round
        trips; SQLite keeps its driver settings (a pool reset would undo them otherwise).
        """
        conn = self._engine.connect()
        if self._postgres:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn

    # -- decisions --------------------------------------------------------------------------

    def can_call(
        self,
        number: object,
        *,
        at: dt.datetime | None = None,
        country: str | None = None,
        campaign: str | None = None,
        brand: str | None = None,
        purpose: Purpose | str = Purpose.MARKETING,
        channel: Channel | str = Channel.VOICE,
        technology: Technology | str = Technology.AUTODIALED,
    ) -> Decision:
        """May ``number`` be called at ``at`` for this purpose? Returns a :class:`Decision`.

        A number that cannot be parsed is denied with ``number.invalid``; it never raises.

        Raises:
            NaiveDatetimeError: ``at`` has no time zone.
            ConfigurationError: an unknown purpose, channel, technology or country.
            DatabaseError: the database cannot be reached (nothing is allowed then).
        """
        when = instant(at)
        the_purpose = coerce(Purpose, purpose, name="purpose")
        the_channel = coerce(Channel, channel, name="channel")
        the_technology = coerce(Technology, technology, name="technology")
        region = normalize_region(country) if country is not None else self._region
        campaign = _optional_text(campaign, "campaign")
        brand = _optional_text(brand, "brand")
        try:
            phone = normalize(number, region)  # type: ignore[arg-type]
        except InvalidNumberError as exc:
            reason = Reason(code="number.invalid", message=str(exc), source="optout.normalize")
            return Decision(
                allowed=False,
                number=None,
                reasons=(reason,),
                next_allowed_at=None,
                evidence=(_NUMBERING_PLAN,),
                checked_at=when,
            )
        call = CallContext(
            phone=phone,
            at=when,
            purpose=the_purpose,
            channel=the_channel,
            technology=the_technology,
            campaign=campaign,
            brand=brand,
        )
        reasons: list[Reason] = []
        evidence: list[Evidence] = [_NUMBERING_PLAN]
        if phone.extension:
            reasons.append(
                Reason(
                    code="number.extension",
                    message=f"the number has extension {phone.extension!r}; a dialer cannot reach "
                    "the extension's owner, so the line cannot be cleared on its own",
                    source="optout.normalize",
                )
            )
        with translate_errors(self._engine), self._reading() as conn:
            self._check_suppressions(conn, call, reasons, evidence)
        return Decision(
            allowed=not reasons,
            number=phone.e164,
            reasons=tuple(reasons),
            next_allowed_at=next_allowed(tuple(reasons)),
            evidence=tuple(evidence),
            checked_at=when,
            phone=phone,
        )

    def _check_suppressions(
        self,
        conn: sa.Connection,
        call: CallContext,
        reasons: list[Reason],
        evidence: list[Evidence],
    ) -> None:
        matched = 0
        for entry in self.suppressions.matching(conn, call.phone.e164):
            if not entry.applies(
                at=call.at, brand=call.brand, campaign=call.campaign, channel=call.channel.value
            ):
                continue
            matched += 1
            scope = (
                "all calls"
                if entry.scope is Scope.GLOBAL
                else (f"{entry.scope.value} {entry.scope_value!r}")
            )
            what = "number" if entry.kind == "number" else f"prefix {entry.value}"
            reasons.append(
                Reason(
                    code="suppression.number" if entry.kind == "number" else "suppression.prefix",
                    message=f"suppressed ({what}, {scope}) since {entry.created_at:%Y-%m-%d}: "
                    f"{entry.reason}",
                    source=f"suppression:{entry.id}",
                    until=entry.expires_at,
                )
            )
            evidence.append(
                Evidence(
                    kind="suppression",
                    id=str(entry.id),
                    source=entry.source,
                    date=entry.created_at,
                    detail=MappingProxyType(
                        {
                            "kind": entry.kind,
                            "value": entry.value,
                            "scope": entry.scope.value,
                            "scope_value": entry.scope_value,
                            "reason": entry.reason,
                            "actor": entry.actor or "",
                        }
                    ),
                )
            )
        evidence.append(
            Evidence(
                kind="suppression_list",
                id="lookup",
                source=conn.dialect.name,
                date=call.at,
                detail=MappingProxyType({"matched": str(matched)}),
            )
        )

    # -- history ----------------------------------------------------------------------------

    def record_outcome(
        self,
        number: str,
        outcome: Outcome | str,
        *,
        at: dt.datetime | None = None,
        country: str | None = None,
        campaign: str | None = None,
        brand: str | None = None,
        purpose: Purpose | str = Purpose.MARKETING,
        channel: Channel | str = Channel.VOICE,
        technology: Technology | str = Technology.AUTODIALED,
        person: str | None = None,
        raw_code: str | None = None,
        actor: str | None = None,
    ) -> Attempt:
        """Store one call attempt and its outcome; return it once it is durably stored.

        A ``dnc_request`` outcome also adds a suppression in the same transaction (scoped
        to ``brand`` when one is given, else global), so the opt-out is stored before this
        method returns and no later outcome can undo it.

        Raises:
            InvalidNumberError: ``number`` is not a valid phone number.
            NaiveDatetimeError, ConfigurationError: bad ``at`` or vocabulary values.
        """
        when = instant(at)
        the_outcome = coerce(Outcome, outcome, name="outcome")
        region = normalize_region(country) if country is not None else self._region
        e164 = normalize(number, region).e164
        values: dict[str, Any] = {
            "number": e164,
            "at": when,
            "outcome": the_outcome.value,
            "raw_code": _optional_text(raw_code, "raw_code"),
            "campaign": _optional_text(campaign, "campaign"),
            "brand": _optional_text(brand, "brand"),
            "purpose": coerce(Purpose, purpose, name="purpose").value,
            "channel": coerce(Channel, channel, name="channel").value,
            "technology": coerce(Technology, technology, name="technology").value,
            "person": _optional_text(person, "person"),
            "actor": _optional_text(actor, "actor"),
            "recorded_at": utcnow(),
        }
        suppression_id: int | None = None
        with writing(self._engine) as conn:
            attempt_id = conn.execute(
                _attempts.insert().values(**values).returning(_attempts.c.id)
            ).scalar_one()
            if the_outcome is Outcome.DNC_REQUEST:
                suppression_id = self.suppressions.add_on(
                    conn,
                    e164,
                    reason="dnc_request",
                    source="outcome",
                    actor=values["actor"],
                    scope=Scope.BRAND if values["brand"] else Scope.GLOBAL,
                    scope_value=values["brand"],
                    at=when,
                ).id
        return Attempt(
            id=int(attempt_id),
            number=e164,
            at=when,
            outcome=the_outcome,
            suppression_id=suppression_id,
        )


_default_lock = threading.Lock()
_default: Compliance | None = None


def default_client() -> Compliance:
    """The process-wide client on the default database, created on first use."""
    global _default  # noqa: PLW0603 - one lazily created client per process
    with _default_lock:
        if _default is None:
            _default = Compliance()
        return _default


def can_call(number: object, **kwargs: Any) -> Decision:
    """:meth:`Compliance.can_call` on the default database (see :func:`default_client`)."""
    return default_client().can_call(number, **kwargs)


def record_outcome(number: str, outcome: Outcome | str, **kwargs: Any) -> Attempt:
    """:meth:`Compliance.record_outcome` on the default database."""
    return default_client().record_outcome(number, outcome, **kwargs)
