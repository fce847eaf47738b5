"""The client: ``Compliance.can_call()`` and ``Compliance.record_outcome()``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import pathlib
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optout._blackouts import BlackoutList
from optout._consents import ConsentList, RegistrationList
from optout._core import CallFacts, assemble, backend_failed, invalid_decision, no_backend
from optout._db import (
    configure_sqlite,
    create_engine,
    default_database_url,
    ensure_schema,
    translate_errors,
    upgrade,
    writing,
)
from optout._decision import Decision
from optout._errors import ConfigurationError, InvalidNumberError, NotFoundError
from optout._facts import AbandonmentCache, call_needs, load_attempts
from optout._ledger import Ledger, LedgerMode
from optout._numbers import PhoneNumber, normalize, normalize_region
from optout._outcomes import OutcomeMap
from optout._privacy import NumberHasher, Privacy, check_database
from optout._registries._base import Registry
from optout._registries._catalog import defaults as registry_defaults
from optout._registries._store import Answer, RegistryStore
from optout._rules._book import RuleBook
from optout._rules._decide import RuleCall
from optout._rules._engine import RegistryFact
from optout._schema import attempts as _attempts
from optout._suppressions import SuppressionList
from optout._timeutil import instant, utcnow
from optout._vocab import Channel, Outcome, Purpose, Scope, Sector, Technology, coerce

__all__ = ["Attempt", "Compliance", "Reservation", "can_call", "default_client", "record_outcome"]

if TYPE_CHECKING:
    from optout._batch import BatchDecisions
    from optout._erasure import ErasureReport

_log = logging.getLogger("optout")


def _ledger_inputs(number: object, **kwargs: Any) -> dict[str, Any]:
    """The call's inputs as the ledger records them (the values given, as given)."""
    out = {k: v for k, v in kwargs.items() if v is not None}
    out["number"] = number if isinstance(number, str | int) else repr(number)
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """A stored call attempt; ``suppression_id`` is set when the outcome added an opt-out."""

    id: int
    number: str
    at: dt.datetime
    outcome: Outcome
    suppression_id: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Reservation:
    """The result of :meth:`Compliance.reserve`: a decision, and the attempt it recorded.

    ``attempt_id`` is set only when the call was allowed: the attempt now counts towards
    every cap. Report how it ended with ``record_outcome(..., attempt_id=...)``.
    """

    decision: Decision
    attempt_id: int | None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


def _optional_text(value: object, name: str) -> str | None:
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > 200:
        raise ConfigurationError(
            f"{name} must be a non-empty string of at most 200 characters, got {value!r}"
        )
    return text


def call_context(
    sector: object, caller_id: object, region: str | None
) -> tuple[Sector | None, PhoneNumber | None]:
    """The call's sector and caller ID, checked: an unknown sector or a caller ID that is
    not a valid number is misuse (``ConfigurationError``), raised before any I/O."""
    the_sector = None if sector is None else coerce(Sector, sector, name="sector")
    if caller_id is None:
        return the_sector, None
    if not isinstance(caller_id, str):
        raise ConfigurationError(f"caller_id must be a phone number string, got {caller_id!r}")
    try:
        caller = normalize(caller_id, region)
    except InvalidNumberError as exc:
        raise ConfigurationError(f"caller_id {caller_id!r} is not a valid number: {exc}") from None
    return the_sector, caller


def _optional_texts(**values: object) -> dict[str, str | None]:
    """:func:`_optional_text` of each keyword argument, by name."""
    return {name: _optional_text(value, name) for name, value in values.items()}


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
        rules: the jurisdiction packs and company policies in force (default: every
            built-in pack, no policy). See :class:`optout.RuleBook`.
        registries: the national registry backends (default: every local, file-based one:
            ``us_dnc``, ``gb_tps``, ``gb_ctps``, ``ca_dncl``, ``it_rpo``, ``fr_bloctel``,
            ``au_dncr``, ``br_nmp``). A registry a pack requires with no backend here, or
            with no data imported yet, denies with ``registry.not_consulted``.
        snapshot_dir: where snapshot index files live on this host (default:
            ``$OPTOUT_SNAPSHOT_DIR``, else ``snapshots/`` beside the SQLite file, else the
            user data directory).
        ledger: record decisions in the tamper-evident ledger: a :class:`Ledger`, or a
            mode (``"all"``, ``"denials"``, ``"sample"``, ``"off"``). Off by default in the
            library (every recorded decision is a write); the CLI records every decision.
        outcome_map: translates a dialer's own disposition codes for
            :meth:`record_outcome`. See :class:`optout.OutcomeMap`.
        abandonment_cache_seconds: how long a campaign's abandoned-call counts are reused
            (0 recomputes them on every call).
        hash_numbers: store phone numbers only as keyed hashes (HMAC-SHA256) in the
            suppressions, consents, registrations, attempts, registry answers and ledger.
            ``True`` reads the key from ``$OPTOUT_HASH_KEY``, ``$OPTOUT_HASH_KEY_FILE`` (a
            file only its owner may read) or the OS keyring; or pass a
            :class:`optout._privacy.NumberHasher`. Lookups hash the query, so decisions are
            the same; what is read back from the database (suppression lists and exports,
            consents, ledger payloads) carries the hashes. The mode and the key's
            fingerprint are recorded in the database on first use; a client in the other
            mode or with another key is refused (:class:`optout.ConfigurationError`).

    The client is safe to share between threads; create one per process and reuse it.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        default_region: str | None = None,
        migrate: bool | None = None,
        rules: RuleBook | None = None,
        outcome_map: OutcomeMap | None = None,
        registries: Sequence[Registry] | None = None,
        snapshot_dir: str | os.PathLike[str] | None = None,
        abandonment_cache_seconds: float = 5.0,
        ledger: Ledger | LedgerMode = "off",
        hash_numbers: bool | NumberHasher = False,
    ) -> None:
        if engine is not None and url is not None:
            raise ConfigurationError("pass either url or engine, not both")
        self._privacy = Privacy.of(hash_numbers)
        if rules is not None and not isinstance(rules, RuleBook):
            raise ConfigurationError(f"rules must be a RuleBook, got {type(rules).__name__}")
        self._rules = rules if rules is not None else RuleBook()
        self._outcome_map = outcome_map
        self._abandonment = AbandonmentCache(abandonment_cache_seconds)
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
            check_database(self._engine, self._privacy)
        except BaseException:
            self.close()
            raise
        privacy = self._privacy
        if isinstance(ledger, Ledger):
            self.ledger = (
                ledger
                if ledger.engine is self._engine and ledger.privacy is privacy
                else ledger.bound_to(self._engine, privacy=privacy)
            )
        else:
            self.ledger = Ledger(self._engine, mode=ledger, privacy=privacy)
        region = self._region
        self.suppressions = SuppressionList(self._engine, default_region=region, privacy=privacy)
        self.consents = ConsentList(self._engine, default_region=region, privacy=privacy)
        self.registrations = RegistrationList(self._engine, default_region=region, privacy=privacy)
        self.blackouts = BlackoutList(self._engine)
        self.registry_store = RegistryStore(
            self._engine,
            None if snapshot_dir is None else pathlib.Path(snapshot_dir),
            privacy=privacy,
        )
        chosen = list(registry_defaults() if registries is None else registries)
        self._registries: dict[str, Registry] = {}
        for backend in chosen:
            if not isinstance(backend, Registry):
                raise ConfigurationError(f"not a registry backend: {backend!r}")
            if backend.id in self._registries:
                raise ConfigurationError(f"two backends for registry {backend.id!r}")
            backend.bind(self.registry_store)
            self._registries[backend.id] = backend

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine in use."""
        return self._engine

    @property
    def registries(self) -> dict[str, Registry]:
        """The registry backends in use, by registry id."""
        return dict(self._registries)

    @property
    def rules(self) -> RuleBook:
        """The packs and policies in force."""
        return self._rules

    @property
    def privacy(self) -> Privacy:
        """How this client stores phone numbers (clear, or keyed hashes)."""
        return self._privacy

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
        person: str | None = None,
        debt: str | None = None,
        subject: str | None = None,
        state: str | None = None,
        postal_code: str | None = None,
        time_zone: str | None = None,
        sector: Sector | str | None = None,
        caller_id: str | None = None,
    ) -> Decision:
        """May ``number`` be called at ``at`` for this purpose? Returns a :class:`Decision`.

        ``person``, ``debt`` and ``subject`` identify the callee, the debt and the subject
        matter for caps and cool-downs; ``state``, ``postal_code`` and ``time_zone`` locate
        the callee more precisely than the number can. ``sector`` names what the call
        sells, for sector bans (French energy-renovation canvassing); ``caller_id`` the
        number the call presents, for caller-ID rules (Spain: no mobile CLI). A number
        that cannot be parsed is denied with ``number.invalid``; it never raises.

        Raises:
            NaiveDatetimeError: ``at`` has no time zone.
            ConfigurationError: an unknown purpose, channel, technology, country or hint.
            DatabaseError: the database cannot be reached (nothing is allowed then).
        """
        call = self._call(
            number,
            at=at,
            country=country,
            campaign=campaign,
            brand=brand,
            purpose=purpose,
            channel=channel,
            technology=technology,
            person=person,
            debt=debt,
            subject=subject,
            state=state,
            postal_code=postal_code,
            time_zone=time_zone,
            sector=sector,
            caller_id=caller_id,
        )
        if isinstance(call, Decision):
            decision = call
        else:
            with translate_errors(self._engine), self._reading() as conn:
                decision = self._decide(conn, call)
        if self.ledger.wants(decision):
            inputs = _ledger_inputs(
                number,
                api="can_call",
                at=at,
                country=country,
                campaign=campaign,
                brand=brand,
                purpose=purpose,
                channel=channel,
                technology=technology,
                person=person,
                debt=debt,
                subject=subject,
                state=state,
                postal_code=postal_code,
                time_zone=time_zone,
                sector=sector,
                caller_id=caller_id,
            )
            with writing(self._engine) as conn:
                self.ledger.append(conn, decision, inputs)
        return decision

    def decide_many(self, numbers: Sequence[object], **kwargs: Any) -> BatchDecisions:
        """Decide a whole list at one instant: every row gets the :meth:`can_call` answer.

        Takes the keyword arguments of :meth:`can_call`, with ``at`` required (read it once
        for the whole list). Numbers are normalized, deduplicated and decided in bulk; see
        :class:`optout.BatchDecisions` for the columns.
        """
        from optout._batch import decide_many  # noqa: PLC0415 - _batch imports this module

        return decide_many(self, numbers, **kwargs)

    def reserve(self, number: object, **kwargs: Any) -> Reservation:
        """Decide and, when allowed, record the attempt, in one transaction.

        Takes the arguments of :meth:`can_call`. Workers racing to call the same number
        are serialized (SQLite: the database write lock; PostgreSQL: transaction-scoped
        advisory locks on the number and the person), so no cap can be exceeded by two
        workers deciding at once. The attempt is stored with no outcome yet; it counts for
        every cap until :meth:`record_outcome` is given its ``attempt_id``.
        """
        inputs = _ledger_inputs(number, api="reserve", **kwargs)
        call = self._call(number, **kwargs)
        if isinstance(call, Decision):
            if self.ledger.wants(call):
                with writing(self._engine) as conn:
                    self.ledger.append(conn, call, inputs)
            return Reservation(decision=call, attempt_id=None)
        # Abandonment counts are campaign-wide, so the locks below do not protect them
        # anyway, and a count that misses the cache scans the campaign's whole period: read
        # them first, so that SQLite's write lock is never held across that scan.
        _, needs = call_needs(self._rules, call, call.location())
        early: dict[dt.timedelta, tuple[int, int, int]] = {}
        if needs.abandonment:
            with translate_errors(self._engine), self._reading() as conn:
                for period in needs.abandonment:
                    early[period] = self._abandonment.counts(conn, call.campaign, period, call.at)
        with writing(self._engine) as conn:
            if self._postgres:
                keys = sorted(
                    {f"n:{call.phone.e164}"} | ({f"p:{call.person}"} if call.person else set())
                )
                for key in keys:
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key}
                    )
            decision = self._decide(conn, call, abandonment=early)
            if not decision.allowed:
                if self.ledger.wants(decision):
                    self.ledger.append(conn, decision, inputs)
                return Reservation(decision=decision, attempt_id=None)
            attempt_id = conn.execute(
                _attempts.insert()
                .values(
                    number=self._privacy.stored(call.phone.e164),
                    at=call.at,
                    outcome=None,
                    raw_code=None,
                    campaign=call.campaign,
                    brand=call.brand,
                    purpose=call.purpose.value,
                    channel=call.channel.value,
                    technology=call.technology.value,
                    person=call.person,
                    debt=call.debt,
                    subject=call.subject,
                    actor=None,
                    recorded_at=utcnow(),
                )
                .returning(_attempts.c.id)
            ).scalar_one()
            if self.ledger.wants(decision):
                # Last in the transaction: the ledger lock follows the number/person locks.
                self.ledger.append(conn, decision, {**inputs, "attempt_id": int(attempt_id)})
        return Reservation(decision=decision, attempt_id=int(attempt_id))

    def _call(
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
        person: str | None = None,
        debt: str | None = None,
        subject: str | None = None,
        state: str | None = None,
        postal_code: str | None = None,
        time_zone: str | None = None,
        sector: Sector | str | None = None,
        caller_id: str | None = None,
    ) -> RuleCall | Decision:
        """Check the arguments; a number that does not parse becomes a denial at once."""
        when = instant(at)
        the_purpose = coerce(Purpose, purpose, name="purpose")
        the_channel = coerce(Channel, channel, name="channel")
        the_technology = coerce(Technology, technology, name="technology")
        region = normalize_region(country) if country is not None else self._region
        texts = _optional_texts(
            campaign=campaign,
            brand=brand,
            person=person,
            debt=debt,
            subject=subject,
            state=state,
            postal_code=postal_code,
            time_zone=time_zone,
        )
        the_sector, the_caller = call_context(sector, caller_id, region)
        try:
            phone = normalize(number, region)  # type: ignore[arg-type]
        except InvalidNumberError as exc:
            return invalid_decision(str(exc), when)
        call = RuleCall(
            phone=phone,
            at=when,
            purpose=the_purpose,
            channel=the_channel,
            technology=the_technology,
            sector=the_sector,
            caller_id=the_caller,
            **texts,
        )
        call.location()  # a hint that cannot be used is misuse: raise before any I/O
        return call

    def _decide(
        self,
        conn: sa.Connection,
        call: RuleCall,
        abandonment: Mapping[dt.timedelta, tuple[int, int, int]] | None = None,
    ) -> Decision:
        """The decision for ``call``, reading its facts on ``conn``.

        ``abandonment`` holds counts already read for this call, by period; any other
        period the rules need is read here.
        """
        phone, when = call.phone, call.at
        suppressions = tuple(
            entry
            for entry in sorted(self.suppressions.matching(conn, phone.e164), key=lambda e: e.id)
            if entry.applies(
                at=when, brand=call.brand, campaign=call.campaign, channel=call.channel.value
            )
        )
        location = call.location()
        _, needs = call_needs(self._rules, call, location)
        attempts = (
            []
            if needs.history is None
            else load_attempts(conn, phone.e164, call.person, when - needs.history, self._privacy)
        )
        registered = self.registrations.for_call(conn, phone.e164) if needs.registrations else []
        registry = [self._registry_fact(n, phone.e164, when) for n in sorted(needs.registries)]
        consents = self.consents.for_call(conn, phone.e164, call.person) if needs.consents else []
        early = abandonment or {}
        counts = [
            early[period]
            if period in early
            else self._abandonment.counts(conn, call.campaign, period, when)
            for period in needs.abandonment
        ]
        facts = CallFacts(
            suppressions=suppressions,
            registry=tuple(registry),
            consents=tuple(consents),
            registered=tuple(registered),
            attempts=tuple(attempts),
            abandonment=tuple(counts),
            blackouts=self.blackouts.for_call(conn, when),
        )
        return assemble(self._rules, call, location, needs, facts, conn.dialect.name)

    def _registry_fact(self, registry: str, e164: str, at: dt.datetime) -> RegistryFact:
        """What the configured backend says; never an exception (fail closed)."""
        backend = self._registries.get(registry)
        if backend is None:
            return no_backend(registry)
        try:
            (fact,) = backend.facts([e164], at)
        except Exception as exc:
            return backend_failed(registry, exc, fail_open=backend.options.fail_open)
        return fact

    def record_registry_answer(
        self,
        registry: str,
        number: str,
        listed: bool,
        *,
        checked_at: dt.datetime,
        source: str,
        reference: str | None = None,
        registered_at: dt.datetime | None = None,
        region: str | None = None,
    ) -> Answer:
        """Record what ``registry`` said about one number when it was looked up on its own
        (the FTC's interactive search, a TPS screening bureau, an offline Lista Robinson
        consultation), with its provenance; return the stored answer.

        Only this number gets the answer: a snapshot registry's other numbers keep the
        snapshot's answer (or stay not consulted without one). A number's newest answer
        wins, the snapshot's or a recorded one; on the same instant ``listed`` wins.

        Raises:
            ConfigurationError: no backend for ``registry`` in use (or one that does not
                read recorded answers), ``checked_at`` in the future, a registration date
                for a number not listed or after ``checked_at``, an empty ``source``.
            NaiveDatetimeError: a date without a time zone.
            InvalidNumberError: ``number`` is not a valid phone number.
        """
        backend = self._registries.get(registry)
        if backend is None:
            raise ConfigurationError(
                f"no registry {registry!r} in use; in use: {', '.join(sorted(self._registries))}"
            )
        record = getattr(backend, "record_answer", None)
        if not callable(record):
            raise ConfigurationError(
                f"the {registry} backend does not read recorded answers: nothing was stored"
            )
        answer: Answer = record(
            number,
            listed,
            checked_at=checked_at,
            source=source,
            reference=reference,
            registered_at=registered_at,
            region=region or getattr(backend, "country", None) or self._region,
        )
        return answer

    # -- history ----------------------------------------------------------------------------

    def record_outcome(
        self,
        number: str,
        outcome: Outcome | str,
        *,
        at: dt.datetime | None = None,
        attempt_id: int | None = None,
        country: str | None = None,
        campaign: str | None = None,
        brand: str | None = None,
        purpose: Purpose | str = Purpose.MARKETING,
        channel: Channel | str = Channel.VOICE,
        technology: Technology | str = Technology.AUTODIALED,
        person: str | None = None,
        debt: str | None = None,
        subject: str | None = None,
        raw_code: str | None = None,
        actor: str | None = None,
    ) -> Attempt:
        """Store how a call attempt ended; return it once it is durably stored.

        ``outcome`` is a member of :class:`optout.Outcome` or, with an ``outcome_map`` on
        the client, a dialer's own code (kept as ``raw_code``). With ``attempt_id`` (from
        :meth:`reserve`) the reserved attempt gets its outcome; otherwise a new attempt is
        stored at ``at``. A ``dnc_request`` outcome also adds a suppression in the same
        transaction (scoped to ``brand`` when one is given, else global), so the opt-out is
        stored before this method returns and no later outcome or mapping can undo it.

        Raises:
            InvalidNumberError: ``number`` is not a valid phone number.
            NotFoundError: ``attempt_id`` is not a reserved attempt of this number.
            NaiveDatetimeError, ConfigurationError: bad ``at``, codes or vocabulary values.
        """
        when = instant(at)
        the_outcome, mapped_code = self._outcome(outcome)
        region = normalize_region(country) if country is not None else self._region
        e164 = normalize(number, region).e164
        raw = _optional_text(raw_code, "raw_code") or mapped_code
        actor_text = _optional_text(actor, "actor")
        brand_text = _optional_text(brand, "brand")
        stored = self._privacy.stored(e164)
        values: dict[str, Any] = {
            "number": stored,
            "at": when,
            "outcome": the_outcome.value,
            "raw_code": raw,
            "campaign": _optional_text(campaign, "campaign"),
            "brand": brand_text,
            "purpose": coerce(Purpose, purpose, name="purpose").value,
            "channel": coerce(Channel, channel, name="channel").value,
            "technology": coerce(Technology, technology, name="technology").value,
            "person": _optional_text(person, "person"),
            "debt": _optional_text(debt, "debt"),
            "subject": _optional_text(subject, "subject"),
            "actor": actor_text,
            "recorded_at": utcnow(),
            "outcome_at": when,
        }
        suppression_id: int | None = None
        with writing(self._engine) as conn:
            if attempt_id is None:
                attempt_id = int(
                    conn.execute(
                        _attempts.insert().values(**values).returning(_attempts.c.id)
                    ).scalar_one()
                )
                started = when
            else:
                row = conn.execute(
                    sa.select(_attempts.c.at, _attempts.c.brand).where(
                        _attempts.c.id == attempt_id,
                        _attempts.c.number == stored,
                        _attempts.c.outcome.is_(None),
                    )
                ).one_or_none()
                if row is None:
                    raise NotFoundError(
                        f"no reserved attempt {attempt_id} for {e164} awaits an outcome"
                    )
                started, brand_text = row.at, brand_text or row.brand
                conn.execute(
                    sa.update(_attempts)
                    .where(_attempts.c.id == attempt_id)
                    .values(
                        outcome=the_outcome.value,
                        raw_code=raw,
                        outcome_at=when,
                        # Keep the reservation's actor unless this report names one.
                        **({"actor": actor_text} if actor_text else {}),
                    )
                )
            if the_outcome is Outcome.DNC_REQUEST:
                suppression_id = self.suppressions.add_on(
                    conn,
                    e164,
                    reason="dnc_request",
                    source="outcome",
                    actor=actor_text,
                    scope=Scope.BRAND if brand_text else Scope.GLOBAL,
                    scope_value=brand_text,
                    at=when,
                ).id
        if the_outcome is Outcome.ABANDONED:
            self._abandonment.clear()
        return Attempt(
            id=attempt_id,
            number=e164,
            at=started,
            outcome=the_outcome,
            suppression_id=suppression_id,
        )

    def _outcome(self, value: Outcome | str) -> tuple[Outcome, str | None]:
        if isinstance(value, Outcome):
            return value, None
        if self._outcome_map is not None and isinstance(value, str):
            mapped = self._outcome_map.get(value)
            if mapped is not None:
                return mapped, value.strip()
        return coerce(Outcome, value, name="outcome"), None

    # -- erasure (GDPR Art. 17; see optout._erasure) ----------------------------------------

    def erase(
        self,
        number: str,
        *,
        actor: str,
        reason: str,
        region: str | None = None,
        compact: bool = True,
    ) -> ErasureReport:
        """Honour an erasure request: forget ``number`` but keep its opt-out, hashed.

        Deletes its consents, attempts, registrations and cached registry answers, keeps
        (or adds) a permanent global opt-out stored only as the number's keyed hash, and
        in clear storage rewrites its ledger entries to the hash (the chain still
        verifies). Needs a hash key (``$OPTOUT_HASH_KEY``, ``$OPTOUT_HASH_KEY_FILE`` or the
        OS keyring) when numbers are stored in clear. See :func:`optout._erasure.erase`.
        """
        from optout._erasure import erase  # noqa: PLC0415 - _erasure imports this module's deps

        return erase(
            self,
            number,
            actor=actor,
            reason=reason,
            region=region if region is not None else self._region,
            compact=compact,
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
