"""``optout doctor``: is this installation able to give lawful answers right now?

:func:`run_doctor` inspects a client and returns a list of :class:`Check` values: the
database and its schema, the freshness of every registry's data against the legal
validity in the packs, the time-zone, holiday and numbering data in use, the integrity of
the decision ledger, how phone numbers are stored (clear or keyed hashes, with the key's
fingerprint, never the key), and every condition under which decisions currently fail
closed (deny because optout cannot tell) or are loosened on purpose.

Statuses: ``ok``; ``warn`` (works, but look: data about to expire, a loosening in force,
time-zone data that differs between sources); ``fail`` (some or all calls are denied
for want of data, or the database or ledger is broken).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import importlib.metadata
import pathlib
import zoneinfo
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import phonenumbers
import sqlalchemy as sa

from optout._db import current_revision, head_revision, translate_errors
from optout._errors import OptoutError, SchemaError
from optout._ledger import Ledger
from optout._ledger_schema import change_log
from optout._privacy import erased_number_hasher
from optout._registries._base import RegistryKind
from optout._rules._calendar import holidays_version
from optout._rules._model import BlackoutRule, Confidence, RegistryRule
from optout._settings import ERASURE_KEY, NUMBER_STORAGE, read_setting
from optout._timeutil import utcnow

if TYPE_CHECKING:
    from optout._client import Compliance

__all__ = ["Check", "Status", "checks_without_client", "fail_closed_conditions", "run_doctor"]

Status = Literal["ok", "warn", "fail"]

#: Data that expires within this share of its validity window is reported as a warning.
_EXPIRY_WARNING = 0.25


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """One finding of the doctor.

    Attributes:
        name: what was checked (``"database"``, ``"registry us_dnc"``, ...).
        status: ``"ok"``, ``"warn"`` or ``"fail"``.
        detail: one or two sentences for people.
    """

    name: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-ready dict."""
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclasses.dataclass(frozen=True, slots=True)
class _Need:
    """A registry the packs in force require, the strictest validity, and which packs."""

    validity: dt.timedelta
    packs: tuple[str, ...]


def _in_force(rule: RegistryRule, today: dt.date) -> bool:
    return (rule.effective_from is None or rule.effective_from <= today) and (
        rule.effective_to is None or today < rule.effective_to
    )


def _required_registries(client: Compliance, now: dt.datetime) -> dict[str, _Need]:
    """Every registry a rule in force names, with its shortest validity and its packs."""
    book = client.rules
    today = now.date()
    found: dict[str, tuple[dt.timedelta, set[str]]] = {}
    for pack in book.packs.values():
        for rule in pack.rules:
            if not isinstance(rule, RegistryRule) or not _in_force(rule, today):
                continue
            if f"{pack.id}:{rule.id}" in book.disabled:
                continue
            if rule.confidence is Confidence.UNCONFIRMED and not book.include_unconfirmed:
                continue
            validity, packs = found.get(rule.registry, (rule.validity, set()))
            found[rule.registry] = (min(validity, rule.validity), packs | {pack.id})
    return {
        name: _Need(validity=validity, packs=tuple(sorted(packs)))
        for name, (validity, packs) in sorted(found.items())
    }


def _days(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.0f} days" if abs(days) >= 2 else f"{delta.total_seconds() / 3600:.0f} hours"


def _freshness(
    name: str, label: str, dated: dt.datetime, validity: dt.timedelta, now: dt.datetime
) -> Check:
    expires = dated + validity
    left = expires - now
    if left <= dt.timedelta(0):
        return Check(
            f"registry {name}",
            "fail",
            f"{label} of {dated:%Y-%m-%d} expired on {expires:%Y-%m-%d} (valid {_days(validity)})"
            f": calls that need {name} are denied with registry.expired",
        )
    status: Status = "warn" if left < validity * _EXPIRY_WARNING else "ok"
    return Check(
        f"registry {name}",
        status,
        f"{label} of {dated:%Y-%m-%d}, valid until {expires:%Y-%m-%d} ({_days(left)} left)",
    )


def _registry_checks(client: Compliance, now: dt.datetime) -> tuple[list[Check], list[str]]:
    """One check per backend and per required registry without one; fail-closed notes."""
    needs = _required_registries(client, now)
    backends = client.registries
    checks: list[Check] = []
    closed: list[str] = []
    for name in sorted(set(needs) | set(backends)):
        need = needs.get(name)
        backend = backends.get(name)
        packs = ", ".join(need.packs) if need else ""
        if backend is None:
            assert need is not None
            checks.append(
                Check(
                    f"registry {name}",
                    "fail",
                    f"no backend configured; packs {packs} require it, so their calls are "
                    "denied with registry.not_consulted",
                )
            )
            closed.append(f"{name} has no backend: calls under packs {packs} are denied")
            continue
        validity = backend.options.validity or (need.validity if need else None)
        check = _backend_check(client, name, backend.kind, validity, now)
        if need is None and check.status != "ok":
            check = Check(check.name, "ok", f"no pack in force requires it; {check.detail}")
        if backend.options.fail_open:
            check = Check(
                check.name,
                "warn" if check.status == "ok" else check.status,
                f"{check.detail}; FAILS OPEN: missing or stale data lets calls through "
                "(a loosening)",
            )
        elif need is not None and check.status == "fail":
            state = "expired data" if "expired" in check.detail else "no data"
            closed.append(f"{name} has {state}: calls under packs {packs} are denied")
        if (
            need is not None
            and backend.options.validity is not None
            and backend.options.validity > need.validity
        ):
            check = Check(
                check.name,
                "warn" if check.status == "ok" else check.status,
                f"{check.detail}; its validity is set to {_days(backend.options.validity)}, "
                f"longer than the law's {_days(need.validity)} (a loosening)",
            )
        checks.append(check)
    return checks, closed


def _backend_check(
    client: Compliance,
    name: str,
    kind: RegistryKind | Any,
    validity: dt.timedelta | None,
    now: dt.datetime,
) -> Check:
    store = client.registry_store
    if kind == RegistryKind.SNAPSHOT:
        info = store.active_snapshot(name)
        if info is None:
            return Check(
                f"registry {name}",
                "fail",
                "no snapshot imported: calls that need it are denied with "
                "registry.not_consulted ('optout registry import')",
            )
        label = f"snapshot {info.version} ({info.count} numbers)"
        if validity is None:
            return Check(f"registry {name}", "ok", f"{label} of {info.taken_at:%Y-%m-%d}")
        return _freshness(name, label, info.taken_at, validity, now)
    if kind == RegistryKind.CONSULTATION:
        done = store.consultations(name)
        if not done:
            return Check(
                f"registry {name}",
                "fail",
                "never consulted: calls that need it are denied with registry.not_consulted "
                "('optout registry export' then 'ingest')",
            )
        last = max(done, key=lambda c: c["checked_at"])
        label = f"consultation {last['reference']} ({last['submitted']} numbers)"
        if validity is None:
            return Check(f"registry {name}", "ok", f"{label} of {last['checked_at']:%Y-%m-%d}")
        check = _freshness(name, label, last["checked_at"], validity, now)
        if check.status == "ok":
            check = Check(
                check.name,
                "ok",
                f"{check.detail}; numbers not in a consultation are denied until consulted",
            )
        return check
    if kind == RegistryKind.REMOTE:
        return Check(f"registry {name}", "ok", "answers on demand (per-number remote queries)")
    return Check(f"registry {name}", "warn", f"unknown kind {kind!r}: freshness not checked")


def _database_checks(client: Compliance) -> list[Check]:
    engine = client.engine
    url = engine.url.render_as_string(hide_password=True)
    try:
        with translate_errors(engine), engine.connect() as conn:
            conn.execute(sa.select(1)).scalar_one()
        current = current_revision(engine)
    except OptoutError as exc:
        return [Check("database", "fail", f"{url}: {exc}")]
    head = head_revision()
    checks = [Check("database", "ok", f"{url} ({engine.dialect.name}) answers")]
    if current == head:
        checks.append(Check("schema", "ok", f"at the newest revision, {head}"))
    else:
        checks.append(
            Check(
                "schema",
                "fail",
                f"at revision {current or '(none)'}, optout needs {head}: run 'optout db upgrade'",
            )
        )
    return checks


def _system_tz_version() -> tuple[str | None, str | None]:
    """The folder zoneinfo reads first on this system, and its IANA version if it says."""
    for folder in zoneinfo.TZPATH:
        base = pathlib.Path(folder)
        if not (base / "UTC").exists() and not (base / "Etc" / "UTC").exists():
            continue
        version = None
        try:
            with (base / "tzdata.zi").open(encoding="ascii", errors="replace") as handle:
                first = handle.readline().strip()
            if first.startswith("# version "):
                version = first.removeprefix("# version ").strip()
        except OSError:
            pass
        return folder, version
    return None, None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _timezone_check() -> Check:
    try:
        module = importlib.import_module("tzdata")
        package: str | None = str(getattr(module, "IANA_VERSION", None) or _version("tzdata"))
    except ImportError:
        package = None
    folder, system = _system_tz_version()
    if folder is None and package is None:
        return Check(
            "time zones",
            "fail",
            "no time-zone database: neither a system zoneinfo folder nor the tzdata package",
        )
    if folder is None:
        return Check("time zones", "ok", f"zoneinfo uses the tzdata package, IANA {package}")
    detail = (
        f"zoneinfo reads the system database in {folder} first (IANA {system or 'version unknown'})"
        f"; the tzdata package (IANA {package or 'not installed'}) is the fallback"
    )
    if package is not None and system is not None and system != package:
        return Check(
            "time zones",
            "warn",
            f"{detail}. They differ: hosts with other system data may decide differently "
            "(set PYTHONTZPATH='' to use the package everywhere)",
        )
    return Check("time zones", "ok", detail)


def _library_checks() -> list[Check]:
    return [
        Check("holidays", "ok", f"holidays {holidays_version()} (public holiday calendars)"),
        Check(
            "phonenumbers",
            "ok",
            f"phonenumbers {phonenumbers.__version__} (numbering plans and time zones)",
        ),
    ]


def _blackout_checks(client: Compliance, today: dt.date) -> list[Check]:
    """Pack blackout rules whose dates are all past (a date list nobody kept up: Louisiana
    listed 2023 only), and the declared blackouts in force today."""
    stale = []
    for pack in client._rules.packs.values():
        for rule in pack.rules:
            if not isinstance(rule, BlackoutRule) or not (rule.dates or rule.ranges):
                continue
            if rule.declared:
                continue  # its coming days are declared at run time (optout blackout add)
            if rule.effective_to is not None and rule.effective_to <= today:
                continue
            last = max([*rule.dates, *(b for _, b in rule.ranges)])
            if last < today:
                stale.append(f"{pack.id}:{rule.id} (last date {last.isoformat()})")
    checks = []
    if stale:
        checks.append(
            Check(
                "blackout lists",
                "warn",
                "no date ahead, so nothing is blocked any more: "
                + "; ".join(sorted(stale))
                + ". Add the coming dates (a policy or an updated pack) or declare them "
                "with 'optout blackout add'",
            )
        )
    else:
        checks.append(Check("blackout lists", "ok", "every pack date list reaches today"))
    try:
        active = [
            b
            for b in client.blackouts.list()
            if b.first_day <= today + dt.timedelta(days=1)
            and (b.last_day is None or b.last_day >= today - dt.timedelta(days=1))
        ]
    except OptoutError as exc:
        return [*checks, Check("declared blackouts", "fail", f"cannot be read: {exc}")]
    detail = (
        "; ".join(f"{b.id} {b.kind} {b.area} from {b.first_day} ({b.source})" for b in active)
        if active
        else "none in force"
    )
    checks.append(Check("declared blackouts", "ok", detail))
    return checks


def _ledger_check(client: Compliance) -> Check:
    ledger = getattr(client, "ledger", None)
    if not isinstance(ledger, Ledger):
        ledger = Ledger(client.engine, privacy=client.privacy)
    try:
        report = ledger.verify()
    except OptoutError as exc:
        return Check("ledger", "fail", f"cannot be read: {exc}")
    mode = f"mode {ledger.mode}"
    if not report.ok:
        return Check(
            "ledger",
            "fail",
            f"TAMPERED OR DAMAGED at entry {report.first_broken_id}: {report.problem} "
            f"({report.checked} entries check out before it)",
        )
    if report.checked == 0:
        return Check("ledger", "ok", f"empty ({mode})")
    return Check(
        "ledger",
        "ok",
        f"{report.checked} entries, chain intact, head {report.head_id} "
        f"{(report.head_hash or '')[:16]}... ({mode})",
    )


def _storage_check(client: Compliance) -> Check:
    """How numbers are stored, the key's fingerprint, and erased numbers' opt-outs."""
    privacy = client.privacy
    try:
        with translate_errors(client.engine), client.engine.connect() as conn:
            stored = read_setting(conn, NUMBER_STORAGE)
            erasure = read_setting(conn, ERASURE_KEY)
            erasures = conn.execute(
                sa.select(sa.func.count()).where(change_log.c.table_name == "erasures")
            ).scalar_one()
            erased_hasher = erased_number_hasher(conn, privacy)
    except OptoutError as exc:
        return Check("number storage", "fail", str(exc))
    if privacy.hasher is not None:
        recorded = stored.get("key_fingerprint") if isinstance(stored, dict) else None
        detail = (
            "phone numbers are stored as keyed hashes (HMAC-SHA256, scheme h1); key "
            f"fingerprint {privacy.hasher.fingerprint}"
            + (", as the database records" if recorded == privacy.hasher.fingerprint else "")
        )
    else:
        detail = "phone numbers are stored in clear (E.164 text); no hash key in use"
    if erasures:
        detail += f"; {erasures} erasure request{'s' if erasures != 1 else ''} honoured"
    if erased_hasher is not None and isinstance(erasure, dict):
        detail += (
            "; the opt-outs of erased numbers are keyed hashes under key fingerprint "
            f"{erased_hasher.fingerprint}, and this client has that key"
        )
    return Check("number storage", "ok", detail)


def fail_closed_conditions(client: Compliance, *, now: dt.datetime | None = None) -> list[str]:
    """Every condition under which decisions currently deny for want of data or coverage.

    Each item is a sentence: a registry with no data or expired data, the setting that
    denies numbers of countries no pack covers, and whether unconfirmed rules apply.
    """
    when = now or utcnow()
    _, closed = _registry_checks(client, when)
    return closed + _rule_conditions(client)[0]


def _rule_conditions(client: Compliance) -> tuple[list[str], list[str]]:
    """(fail-closed conditions, loosenings) of the rule book's settings."""
    book = client.rules
    closed: list[str] = []
    loose: list[str] = []
    countries = sorted({p.country for p in book.packs.values()})
    if book.unsupported == "deny":
        covered = ", ".join(countries) if countries else "none"
        closed.append(
            "numbers of countries no pack covers are denied with jurisdiction.unsupported "
            f"(unsupported='deny'; covered: {covered})"
        )
    else:
        loose.append("numbers of countries no pack covers are allowed (unsupported='allow')")
    unconfirmed = [
        f"{p.id}:{r.id}"
        for p in book.packs.values()
        for r in p.rules
        if r.confidence is Confidence.UNCONFIRMED
    ]
    if book.include_unconfirmed:
        if unconfirmed:
            closed.append(
                f"{len(unconfirmed)} rules of unconfirmed legal source are applied "
                "(include_unconfirmed=True, the strict choice)"
            )
    elif unconfirmed:
        loose.append(f"{len(unconfirmed)} rules of unconfirmed legal source are skipped")
    if book.disabled:
        loose.append(f"rules switched off: {', '.join(sorted(book.disabled))}")
    if not book.consent_lifts:
        closed.append("consent never lifts a rule (consent_lifts=False)")
    return closed, loose


def _condition_checks(client: Compliance, registry_closed: Iterable[str]) -> list[Check]:
    closed, loose = _rule_conditions(client)
    registry_list = list(registry_closed)
    everything = registry_list + closed
    checks = [
        Check(
            "fail-closed conditions",
            "warn" if registry_list else "ok",
            "; ".join(everything) if everything else "none: every denial comes from a rule",
        )
    ]
    if loose:
        checks.append(Check("loosenings", "warn", "; ".join(loose)))
    return checks


def run_doctor(client: Compliance, *, now: dt.datetime | None = None) -> list[Check]:
    """Inspect ``client`` and its database; return every finding, in a stable order.

    Never raises for a broken database or ledger: those are ``fail`` findings.
    """
    when = now or utcnow()
    checks = _database_checks(client)
    reachable = checks[0].status == "ok"
    closed: list[str] = []
    if reachable:
        checks.append(_storage_check(client))
        try:
            registry_checks, closed = _registry_checks(client, when)
        except OptoutError as exc:
            registry_checks = [Check("registries", "fail", f"cannot be read: {exc}")]
        checks += registry_checks
    checks.append(_timezone_check())
    checks += _library_checks()
    if reachable:
        checks += _blackout_checks(client, when.date())
        checks.append(_ledger_check(client))
    checks += _condition_checks(client, closed)
    return checks


def checks_without_client(url: str, error: OptoutError) -> list[Check]:
    """The doctor's findings when no client can be opened on ``url`` because of ``error``.

    A database that cannot be reached, or whose schema is not the one this optout needs,
    stops every client before :func:`run_doctor` could inspect it; this reports that
    (``fail``), the checks that need no database (time zones, holidays, numbering plans),
    and the consequence: every call is refused until it is fixed.
    """
    if isinstance(error, SchemaError):
        checks = [
            Check("database", "ok", f"{url} answers"),
            Check("schema", "fail", str(error)),
        ]
        why = "the schema is not the one this optout needs"
    else:
        checks = [Check("database", "fail", str(error))]
        why = "the database cannot be used"
    checks.append(_timezone_check())
    checks += _library_checks()
    checks.append(Check("ledger", "fail", f"not checked: {why}"))
    checks.append(
        Check(
            "fail-closed conditions",
            "fail",
            f"every decision fails: {why}, so can_call(), reserve() and scrubs raise "
            "DatabaseError (nothing is allowed)",
        )
    )
    return checks
