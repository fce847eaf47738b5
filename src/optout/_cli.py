"""The ``optout`` command line.

Exit codes: 0 allowed / success, 1 denied (``check``), 2 usage, input or database error.
Errors are printed as one line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from optout._client import Compliance
from optout._db import (
    create_engine,
    current_revision,
    default_database_url,
    head_revision,
    redact_url,
    upgrade,
)
from optout._decision import Decision
from optout._errors import ConfigurationError, DatabaseError, OptoutError
from optout._ledger import DEFAULT_RETENTION
from optout._numbers import normalize
from optout._rules._book import RuleBook, builtin_packs, load_pack
from optout._rules._model import ConsentScope, RegistryRule
from optout._rules._policy import Policy
from optout._scrub import add_scrub_arguments, run_scrub
from optout._suppressions import entries_to_rows
from optout._timeutil import parse_instant, utcnow
from optout._version import __version__
from optout._vocab import Channel, Outcome, Purpose, Scope, Sector, Technology

__all__ = ["ENV_HASH_NUMBERS", "main"]

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_ERROR = 2

#: ``optout audit purge --retention-days`` default: the ledger's five calendar years.
_RETENTION_DAYS = DEFAULT_RETENTION.days


class _Parser(argparse.ArgumentParser):
    """argparse that prints usage errors as one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: Set to 1 to store and look up phone numbers as keyed hashes (like ``--hash-numbers``).
ENV_HASH_NUMBERS = "OPTOUT_HASH_NUMBERS"

_HASH_HELP = (
    "store and look up phone numbers only as keyed hashes (HMAC-SHA256); the key comes "
    "from $OPTOUT_HASH_KEY, $OPTOUT_HASH_KEY_FILE (a file only its owner can read) or the "
    f"OS keyring (default: ${ENV_HASH_NUMBERS}, else off)"
)


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        default=None,
        help="database URL (default: $OPTOUT_DATABASE_URL, else the user's SQLite file)",
    )
    # Also accepted after the command; SUPPRESS keeps the global value when it is absent.
    parser.add_argument(
        "--hash-numbers",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help=_HASH_HELP,
    )


def _add_context(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        metavar="ISO8601",
        default=None,
        help="the instant to decide for, with offset (default: now)",
    )
    parser.add_argument(
        "--country",
        metavar="CC",
        default=None,
        help="region for numbers without +country code, e.g. IT",
    )
    parser.add_argument("--campaign", default=None, help="campaign identifier")
    parser.add_argument("--brand", default=None, help="brand or seller identifier")
    parser.add_argument(
        "--purpose",
        default=Purpose.MARKETING.value,
        choices=[p.value for p in Purpose],
        help="call purpose (default: marketing)",
    )
    parser.add_argument(
        "--channel",
        default=Channel.VOICE.value,
        choices=[c.value for c in Channel],
        help="channel (default: voice)",
    )
    parser.add_argument(
        "--technology",
        default=Technology.AUTODIALED.value,
        choices=[t.value for t in Technology],
        help="how the call is placed (default: autodialed)",
    )
    for flag, text in (
        ("--person", "the callee's id, for per-person caps (default: the number)"),
        ("--debt", "the debt's id, for per-debt caps (debt collection)"),
        ("--subject", "the subject matter, for same-subject caps"),
        ("--state", "the callee's state/province/region code, e.g. FL (narrows time zones)"),
        ("--postal-code", "the callee's ZIP or postal code (US, CA)"),
        ("--time-zone", "the callee's IANA time zone, e.g. America/Chicago"),
        ("--caller-id", "the number the call presents (CLI), for caller-ID rules"),
    ):
        parser.add_argument(flag, default=None, help=text)
    parser.add_argument(
        "--sector",
        default=None,
        choices=[s.value for s in Sector],
        help="what the call sells, for sector bans (e.g. energy_renovation)",
    )
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help="a company policy file (TOML); repeat for several",
    )
    parser.add_argument(
        "--skip-unconfirmed",
        action="store_true",
        help="do not apply rules whose legal source is unconfirmed "
        "(a loosening; recorded as evidence)",
    )


def _scope_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scope",
        default=Scope.GLOBAL.value,
        choices=[s.value for s in Scope],
        help="where the entry applies (default: global)",
    )
    parser.add_argument(
        "--scope-value",
        default=None,
        metavar="NAME",
        help="the brand, campaign or channel a scoped entry is limited to",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and the tests)."""
    parser = _Parser(
        prog="optout",
        description="May this number be called, by us, for this purpose, right now?",
        epilog="Exit codes: 0 allowed/ok, 1 denied, 2 usage, input or database error.",
    )
    parser.add_argument("--version", action="version", version=f"optout {__version__}")
    parser.add_argument(
        "--hash-numbers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=_HASH_HELP,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser(
        "check",
        help="decide whether one number may be called",
        description="Decide whether NUMBER may be called; exit 0 if allowed, 1 if denied.",
    )
    check.add_argument("number", metavar="NUMBER", help="the phone number, e.g. '+39 06 1234 5678'")
    _add_context(check)
    check.add_argument("--json", action="store_true", help="print the decision as JSON")
    _add_db(check)

    scrub = commands.add_parser(
        "scrub",
        help="decide every row of a lead list (CSV/TSV, Parquet, JSON Lines, Excel)",
        description="Read a lead list, decide every row with the same rules as 'check', and "
        "write the rows with decision columns added (atomically), with a summary.",
    )
    add_scrub_arguments(scrub)
    _add_context(scrub)
    _add_db(scrub)

    suppress = commands.add_parser(
        "suppress",
        help="manage the company's suppression lists",
        description="Add, remove, list, import and export entries.",
    )
    sub = suppress.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, required=True
    )
    add = sub.add_parser("add", help="suppress a number (or a prefix with --prefix)")
    add.add_argument("target", metavar="NUMBER")
    add.add_argument(
        "--prefix",
        action="store_true",
        help="treat the argument as an E.164 prefix such as +1212555",
    )
    add.add_argument("--reason", required=True, help="why, e.g. customer_request")
    add.add_argument(
        "--source",
        default="cli",
        help="where the request came from: agent, ivr, email, web_form, sms, "
        "letter, import, api, cli (default: cli)",
    )
    add.add_argument("--actor", default=None, help="who records it")
    add.add_argument("--expires", default=None, metavar="ISO8601", help="optional expiry instant")
    add.add_argument("--country", default=None, metavar="CC", help="region for national numbers")
    _scope_args(add)
    add.add_argument("--json", action="store_true", help="print the entry as JSON")
    _add_db(add)

    remove = sub.add_parser("remove", help="lift the active entries of a number (recorded)")
    remove.add_argument("target", metavar="NUMBER")
    remove.add_argument("--prefix", action="store_true", help="the argument is a prefix")
    remove.add_argument("--reason", required=True, help="why the entry is lifted")
    remove.add_argument("--actor", default=None, help="who lifts it (default: the login name)")
    remove.add_argument("--country", default=None, metavar="CC", help="region for national numbers")
    _scope_args(remove)
    _add_db(remove)

    lst = sub.add_parser("list", help="list entries")
    lst.add_argument(
        "number",
        nargs="?",
        default=None,
        metavar="NUMBER",
        help="only the entries matching this number",
    )
    lst.add_argument("--all", action="store_true", help="include lifted entries")
    lst.add_argument("--country", default=None, metavar="CC", help="region for national numbers")
    lst.add_argument("--limit", type=int, default=None, help="at most this many")
    lst.add_argument("--json", action="store_true", help="print JSON lines")
    _add_db(lst)

    imp = sub.add_parser(
        "import",
        help="add the entries of a CSV file",
        description="CSV with a header: number or prefix, and optionally reason,"
        " scope, scope_value, expires_at, actor.",
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--reason", default="import", help="reason for rows without one")
    imp.add_argument("--source", default="import", help="provenance (default: import)")
    imp.add_argument("--actor", default=None, help="who imports")
    imp.add_argument("--country", default=None, metavar="CC", help="region for national numbers")
    _add_db(imp)

    exp = sub.add_parser("export", help="write the active entries as CSV")
    exp.add_argument("file", metavar="FILE", help="output path, or - for stdout")
    _add_db(exp)

    consent = commands.add_parser(
        "consent",
        help="record, revoke and list consents",
        description="Consent and business-relationship records.",
    )
    csub = consent.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, required=True
    )
    cadd = csub.add_parser("add", help="record a consent (it must already have been given)")
    cadd.add_argument("number", metavar="NUMBER")
    cadd.add_argument(
        "--kind",
        required=True,
        choices=["express", "express_written", "contract", "ebr_purchase", "ebr_inquiry"],
        help="what the record proves",
    )
    cadd.add_argument(
        "--given-at",
        required=True,
        metavar="ISO8601",
        help="when it was given (with offset; not in the future)",
    )
    cadd.add_argument(
        "--purpose",
        action="append",
        default=None,
        choices=[p.value for p in Purpose],
        help="purpose covered (repeat; default: every purpose)",
    )
    cadd.add_argument(
        "--channel",
        action="append",
        default=None,
        choices=[c.value for c in Channel],
        help="channel covered (repeat; default: every channel)",
    )
    cadd.add_argument(
        "--brand", default=None, help="the brand it was given to (default: the whole company)"
    )
    cadd.add_argument("--person", default=None, help="the person's id")
    cadd.add_argument(
        "--scope",
        action="append",
        default=[],
        choices=[s.value for s in ConsentScope],
        help="what it covers beyond the call itself (repeat): outside_hours is consent to "
        "calls outside the law's regular days and hours (France, Minas Gerais, New York)",
    )
    cadd.add_argument(
        "--sector",
        action="append",
        default=None,
        choices=[s.value for s in Sector],
        help="a product sector the consent is specific to (repeat; default: not specific)",
    )
    cadd.add_argument("--expires", default=None, metavar="ISO8601", help="expiry instant")
    cadd.add_argument(
        "--proof", default=None, help="a reference to the proof (form id, recording id)"
    )
    cadd.add_argument("--source", default="cli", help="where it came from (default: cli)")
    cadd.add_argument("--actor", default=None, help="who records it")
    cadd.add_argument("--country", default=None, metavar="CC", help="region for national numbers")
    cadd.add_argument("--json", action="store_true", help="print the record as JSON")
    _add_db(cadd)
    crev = csub.add_parser("revoke", help="revoke a consent by id (the record is kept)")
    crev.add_argument("id", type=int, metavar="ID")
    crev.add_argument("--reason", required=True, help="why")
    crev.add_argument("--actor", default=None, help="who (default: the login name)")
    crev.add_argument("--at", default=None, metavar="ISO8601", help="from when (default: now)")
    _add_db(crev)
    clist = csub.add_parser("list", help="list consents (revoked ones too)")
    clist.add_argument("number", nargs="?", default=None, metavar="NUMBER")
    clist.add_argument("--country", default=None, metavar="CC", help="region for national numbers")
    clist.add_argument("--json", action="store_true", help="print JSON lines")
    _add_db(clist)

    outcome = commands.add_parser(
        "outcome",
        help="record how a call attempt ended",
        description="Store an attempt and its outcome (dnc_request also suppresses the number).",
    )
    outcome.add_argument("number", metavar="NUMBER")
    outcome.add_argument(
        "outcome",
        metavar="OUTCOME",
        choices=[o.value for o in Outcome],
        help=", ".join(o.value for o in Outcome),
    )
    outcome.add_argument(
        "--attempt-id", type=int, default=None, help="complete an attempt made with reserve()"
    )
    outcome.add_argument("--actor", default=None, help="who records it")
    _add_context(outcome)
    _add_db(outcome)

    rules = commands.add_parser(
        "rules",
        help="inspect the jurisdiction packs and policies",
        description="List the built-in packs, show a pack's rules, "
        "or validate a pack or policy file.",
    )
    rsub = rules.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, required=True
    )
    rlist = rsub.add_parser("list", help="list packs, or the rules of one pack")
    rlist.add_argument("pack", nargs="?", default=None, metavar="PACK", help="e.g. IT or US-FL")
    rvalid = rsub.add_parser("validate", help="validate a pack or policy TOML file")
    rvalid.add_argument("file", metavar="FILE")

    registry = commands.add_parser(
        "registry",
        help="national do-not-call registries: import, consult, status",
        description="Import registry lists, export lists to submit, ingest returned lists, "
        "and see how fresh each registry's data is.",
    )
    gsub = registry.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, required=True
    )
    glist = gsub.add_parser("list", help="the available registry backends")
    _add_db(glist)
    gstatus = gsub.add_parser("status", help="each registry's data, its date and expiry")
    gstatus.add_argument("--json", action="store_true", help="print JSON lines")
    _add_db(gstatus)
    gimport = gsub.add_parser("import", help="import full-list files as a new snapshot")
    gimport.add_argument("registry", metavar="REGISTRY", help="e.g. us_dnc, gb_tps, ca_dncl")
    gimport.add_argument("files", nargs="+", metavar="FILE", help="list files (zip or not)")
    gimport.add_argument(
        "--taken-at",
        required=True,
        metavar="ISO8601",
        help="the date of the list (its download date), with offset",
    )
    gimport.add_argument(
        "--changes",
        action="store_true",
        help="the files are change lists to apply to the snapshot in force",
    )
    gimport.add_argument(
        "--full-list",
        action="store_true",
        help="the files are the whole registry even if they hold fewer than 1,000 numbers "
        "(a smaller import is refused as a partial list; see 'registry record')",
    )
    _add_db(gimport)
    gexport = gsub.add_parser(
        "export",
        help="write the snapshot in force, or the list to submit to a submit-and-receive registry",
    )
    gexport.add_argument("registry", metavar="REGISTRY")
    gexport.add_argument("output", metavar="OUTPUT")
    gexport.add_argument(
        "--numbers",
        metavar="FILE",
        default=None,
        help="for it_rpo, fr_bloctel, au_dncr: the numbers to submit (one "
        "per line or a CSV with a phone column)",
    )
    _add_db(gexport)
    gingest = gsub.add_parser("ingest", help="record a consultation from a returned list")
    gingest.add_argument("registry", metavar="REGISTRY", help="it_rpo, fr_bloctel or au_dncr")
    gingest.add_argument("submitted", metavar="SUBMITTED", help="the file that was submitted")
    gingest.add_argument("returned", metavar="RETURNED", help="the file the registry returned")
    gingest.add_argument("--reference", required=True, help="the consultation id")
    gingest.add_argument(
        "--checked-at",
        required=True,
        metavar="ISO8601",
        help="when the registry answered, with offset",
    )
    _add_db(gingest)
    grecord = gsub.add_parser(
        "record",
        help="record what a registry said about one number (a single look-up)",
        description="Record one registry answer for one number, with its provenance (the "
        "FTC's interactive search, a TPS screening bureau, an offline Robinson "
        "consultation). Only that number gets it; every other number keeps the registry's "
        "data. The newest answer wins; on the same instant, listed wins.",
    )
    grecord.add_argument("registry", metavar="REGISTRY")
    grecord.add_argument("number", metavar="NUMBER")
    glisted = grecord.add_mutually_exclusive_group(required=True)
    glisted.add_argument(
        "--listed", dest="listed", action="store_true", default=None, help="the number is listed"
    )
    glisted.add_argument(
        "--not-listed", dest="listed", action="store_false", help="the number is not listed"
    )
    grecord.add_argument(
        "--checked-at", required=True, metavar="ISO8601", help="when the registry answered"
    )
    grecord.add_argument("--source", required=True, help="who or what answered")
    grecord.add_argument("--reference", default=None, help="the look-up's reference")
    grecord.add_argument(
        "--registered-at",
        default=None,
        metavar="ISO8601",
        help="the registration date the registry gave, for a listed number",
    )
    grecord.add_argument("--country", default=None, metavar="CC")
    _add_db(grecord)
    gcheck = gsub.add_parser("check", help="what a registry says about one number")
    gcheck.add_argument("registry", metavar="REGISTRY")
    gcheck.add_argument("number", metavar="NUMBER")
    gcheck.add_argument("--country", default=None, metavar="CC")
    _add_db(gcheck)

    audit = commands.add_parser(
        "audit",
        help="the decision ledger: verify, export evidence, purge",
        description="Check the hash chain of recorded decisions, export the evidence for a "
        "number, or purge entries older than the retention period.",
    )
    asub = audit.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, required=True
    )
    averify = asub.add_parser("verify", help="recompute every hash; exit 1 if the chain is broken")
    averify.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_db(averify)
    aexport = asub.add_parser("export", help="the evidence bundle for one number (JSON or HTML)")
    aexport.add_argument("number", metavar="NUMBER")
    aexport.add_argument(
        "--from", dest="start", required=True, metavar="ISO8601", help="first instant (inclusive)"
    )
    aexport.add_argument(
        "--to", dest="end", required=True, metavar="ISO8601", help="last instant (exclusive)"
    )
    aexport.add_argument(
        "--country", default=None, metavar="CC", help="region for national numbers"
    )
    aexport.add_argument("--html", action="store_true", help="write a human-readable page")
    aexport.add_argument(
        "-o", "--output", default="-", metavar="FILE", help="where to write it (default: stdout)"
    )
    _add_db(aexport)
    apurge = asub.add_parser("purge", help="delete old entries (never younger than the retention)")
    apurge.add_argument(
        "--older-than",
        required=True,
        metavar="ISO8601",
        help="delete entries recorded before this instant",
    )
    apurge.add_argument(
        "--retention-days",
        type=int,
        default=_RETENTION_DAYS,
        help=f"the retention period in days (default: {_RETENTION_DAYS}, five calendar years)",
    )
    apurge.add_argument("--actor", default=None, help="who purges (recorded in the checkpoint)")
    _add_db(apurge)

    erase = commands.add_parser(
        "erase",
        help="honour a right-to-erasure request: forget a number, keep its opt-out hashed",
        description="Delete the number's consents, attempts, registrations and cached "
        "registry answers; keep a permanent global opt-out stored only as the number's "
        "keyed hash (HMAC-SHA256), so it is never called again; in clear storage, rewrite "
        "its ledger entries to the hash (the chain still verifies). Recorded with who and "
        "why. Needs the hash key ($OPTOUT_HASH_KEY, $OPTOUT_HASH_KEY_FILE or the keyring).",
    )
    erase.add_argument("number", metavar="NUMBER", help="the number to forget")
    erase.add_argument("--actor", required=True, help="who carries out the request")
    erase.add_argument(
        "--reason", required=True, help="why, e.g. the request's ticket (not the number)"
    )
    erase.add_argument("--country", default=None, metavar="CC", help="region for national numbers")
    erase.add_argument(
        "--no-vacuum",
        dest="vacuum",
        action="store_false",
        help="SQLite: do not rewrite the file afterwards (VACUUM holds the write lock; run it "
        "later, or deleted copies may survive in free pages)",
    )
    erase.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_db(erase)

    blackout = commands.add_parser(
        "blackout",
        help="declare, end and list no-call periods (states of emergency, no-call days)",
        description="Declared blackouts: no calls into an area on these local dates. Pack "
        "rules with declared kinds (New York's emergency ban) apply them on the law's terms; "
        "any other applies to every call into the area for the purposes it names.",
    )
    bsub = blackout.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, required=True
    )
    badd = bsub.add_parser("add", help="declare a no-call period")
    badd.add_argument("--area", required=True, help="jurisdiction id: US-NY, US, IT, ...")
    badd.add_argument(
        "--from", dest="first", required=True, metavar="DATE", help="first local day (2026-12-08)"
    )
    badd.add_argument(
        "--until",
        dest="last",
        default=None,
        metavar="DATE",
        help="last local day, included (default: until ended with 'optout blackout end')",
    )
    badd.add_argument(
        "--kind", default="emergency", choices=["emergency", "no_call_day"], help="what it is"
    )
    badd.add_argument(
        "--source", required=True, help="who declared it (executive order, notice, officer)"
    )
    badd.add_argument("--reference", default=None, help="the declaration's number or link")
    badd.add_argument(
        "--purpose",
        action="append",
        default=None,
        choices=[p.value for p in Purpose],
        help="purpose it bans (repeat; default: every purpose)",
    )
    badd.add_argument("--actor", default=None, help="who records it (default: the login name)")
    badd.add_argument("--json", action="store_true", help="print the record as JSON")
    _add_db(badd)
    bend = bsub.add_parser("end", help="set the last day of a blackout (recorded)")
    bend.add_argument("id", type=int, metavar="ID")
    bend.add_argument("--on", dest="last", required=True, metavar="DATE", help="last local day")
    bend.add_argument("--reason", required=True, help="why (the declaration was lifted, ...)")
    bend.add_argument("--actor", default=None, help="who (default: the login name)")
    _add_db(bend)
    blist = bsub.add_parser("list", help="list blackouts (ended ones too)")
    blist.add_argument("--area", default=None, help="only this jurisdiction id")
    blist.add_argument("--json", action="store_true", help="print JSON lines")
    _add_db(blist)

    doctor = commands.add_parser(
        "doctor",
        help="check the database, registry data, time-zone data and the ledger",
        description="Report everything that makes decisions fail closed or unreliable; "
        "exit 1 when a check fails.",
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object per check")
    _add_db(doctor)

    db = commands.add_parser("db", help="database schema management")
    db_sub = db.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    up = db_sub.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    _add_db(up)
    status = db_sub.add_parser("status", help="show the URL and schema revision")
    _add_db(status)
    return parser


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _hash_numbers(args: argparse.Namespace) -> bool:
    """``--hash-numbers`` / ``--no-hash-numbers``, else ``$OPTOUT_HASH_NUMBERS``, else off."""
    chosen = getattr(args, "hash_numbers", None)
    if chosen is not None:
        return bool(chosen)
    text = os.environ.get(ENV_HASH_NUMBERS, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(
        f"${ENV_HASH_NUMBERS} must be 1 (hash numbers) or 0 (clear), got {text!r}"
    )


def _client(args: argparse.Namespace, **kwargs: Any) -> Compliance:
    # The CLI records every decision it makes in the ledger (the library's default is off).
    kwargs.setdefault("ledger", "all")
    kwargs.setdefault("hash_numbers", _hash_numbers(args))
    policies = tuple(Policy.load(p) for p in getattr(args, "policy", []))
    skip = getattr(args, "skip_unconfirmed", False)
    if policies or skip:
        kwargs["rules"] = RuleBook(policies=policies, include_unconfirmed=not skip)
    return Compliance(args.database, **kwargs)


def _context(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "at": None if args.at is None else parse_instant(args.at),
        "country": args.country,
        "campaign": args.campaign,
        "brand": args.brand,
        "purpose": args.purpose,
        "channel": args.channel,
        "technology": args.technology,
        "person": args.person,
        "debt": args.debt,
        "subject": args.subject,
        "state": args.state,
        "postal_code": args.postal_code,
        "time_zone": args.time_zone,
        "sector": args.sector,
        "caller_id": args.caller_id,
    }


def _print_decision(console: Console, decision: Decision) -> None:
    verdict = "[bold green]ALLOWED[/]" if decision.allowed else "[bold red]DENIED[/]"
    console.print(
        f"{decision.number or '(invalid number)'}: {verdict} at {decision.checked_at.isoformat()}"
    )
    if decision.reasons:
        table = Table("code", "reason", "source", "until")
        for r in decision.reasons:
            table.add_row(r.code, r.message, r.source, r.until.isoformat() if r.until else "-")
        console.print(table)
    if decision.next_allowed_at is not None:
        console.print(f"next allowed at {decision.next_allowed_at.isoformat()}")
    elif not decision.allowed:
        console.print("no time at which it becomes allowed by itself")
    for e in decision.evidence:
        when = f" {e.date.isoformat()}" if e.date else ""
        # "v2026.1" for a pack version; registry proof ("us_dnc snapshot ...") as it is.
        version = f" {'v' if e.version[:1].isdigit() else ''}{e.version}" if e.version else ""
        console.print(f"  evidence: {e.kind} {e.id} ({e.source}{version}{when})", highlight=False)


def _cmd_check(args: argparse.Namespace, out: Console) -> int:
    context = _context(args)
    with _client(args) as client:
        decision = client.can_call(args.number, **context)
    if args.json:
        print(decision.to_json())
    else:
        _print_decision(out, decision)
    return EXIT_OK if decision.allowed else EXIT_DENIED


def _cmd_scrub(args: argparse.Namespace, out: Console) -> int:
    # A scrub's record is its output file and report; it does not write one ledger entry
    # per row (see docs/security.md).
    return run_scrub(args, functools.partial(_client, ledger="off"), out)


def _login() -> str:
    try:
        import getpass  # noqa: PLC0415

        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return "unknown"


def _cmd_suppress(args: argparse.Namespace, out: Console) -> int:
    with _client(args) as client:
        lists = client.suppressions
        if args.action == "add":
            common: dict[str, Any] = {
                "reason": args.reason,
                "source": args.source,
                "actor": args.actor or _login(),
                "scope": args.scope,
                "scope_value": args.scope_value,
                "expires_at": None
                if args.expires is None
                else parse_instant(args.expires, name="--expires"),
            }
            entry = (
                lists.add_prefix(args.target, **common)
                if args.prefix
                else lists.add(args.target, region=args.country, **common)
            )
            row = entries_to_rows([entry])[0]
            if args.json:
                print(json.dumps(row))
            else:
                out.print(
                    f"suppressed {row['value']} ({row['scope']}) as entry {row['id']}",
                    highlight=False,
                )
            return EXIT_OK
        if args.action == "remove":
            who = args.actor or _login()
            count = (
                lists.remove_prefix(
                    args.target,
                    actor=who,
                    reason=args.reason,
                    scope=args.scope,
                    scope_value=args.scope_value,
                )
                if args.prefix
                else lists.remove(
                    args.target,
                    actor=who,
                    reason=args.reason,
                    scope=args.scope,
                    scope_value=args.scope_value,
                    region=args.country,
                )
            )
            out.print(f"lifted {count} entr{'y' if count == 1 else 'ies'}", highlight=False)
            return EXIT_OK
        if args.action == "list":
            rows = entries_to_rows(
                lists.list(
                    number=args.number,
                    include_removed=args.all,
                    region=args.country,
                    limit=args.limit,
                )
            )
            _print_rows(out, rows, as_json=args.json, empty=["id", "value"])
            return EXIT_OK
        if args.action == "import":
            report = lists.import_csv(
                args.file,
                reason=args.reason,
                source=args.source,
                actor=args.actor or _login(),
                region=args.country,
            )
            out.print(
                f"added {report.added}, already present {report.already_present}, "
                f"rejected {len(report.rejected)}",
                highlight=False,
            )
            for line, why in report.rejected[:20]:
                out.print(f"  line {line}: {why}", highlight=False)
            if len(report.rejected) > 20:
                out.print(f"  ... and {len(report.rejected) - 20} more", highlight=False)
            return EXIT_OK
        # export
        if args.file == "-":
            count = lists.export_csv(sys.stdout)
        else:
            count = lists.export_csv(args.file)
            out.print(f"exported {count} entries to {args.file}", highlight=False)
        return EXIT_OK


def _cmd_db(args: argparse.Namespace, out: Console) -> int:
    url = args.database or default_database_url()
    engine = create_engine(url)
    try:
        if args.action == "upgrade":
            upgrade(engine)
        current = current_revision(engine)
        out.print(
            f"database: {engine.url.render_as_string(hide_password=True)}\n"
            f"revision: {current or '(empty)'} (newest: {head_revision()})",
            highlight=False,
        )
    finally:
        engine.dispose()
    return EXIT_OK


def _cmd_consent(args: argparse.Namespace, out: Console) -> int:
    with _client(args) as client:
        if args.action == "add":
            record = client.consents.add(
                args.number,
                args.kind,
                given_at=parse_instant(args.given_at, name="--given-at"),
                purposes=args.purpose,
                channels=args.channel,
                brand=args.brand,
                person=args.person,
                proof=args.proof,
                source=args.source,
                actor=args.actor or _login(),
                region=args.country,
                expires_at=None
                if args.expires is None
                else parse_instant(args.expires, name="--expires"),
                scopes=args.scope,
                sectors=args.sector,
            )
            if args.json:
                print(json.dumps(_consent_row(record)))
            else:
                out.print(f"recorded consent {record.id} ({record.kind}) for {record.number}")
            return EXIT_OK
        if args.action == "revoke":
            record = client.consents.revoke(
                args.id,
                actor=args.actor or _login(),
                reason=args.reason,
                at=None if args.at is None else parse_instant(args.at),
            )
            out.print(f"revoked consent {record.id} from {record.revoked_at}")
            return EXIT_OK
        rows = [
            _consent_row(c) for c in client.consents.list(number=args.number, region=args.country)
        ]
        _print_rows(out, rows, as_json=args.json, empty=["id", "number"])
        return EXIT_OK


def _consent_row(c: Any) -> dict[str, str]:
    return {
        "id": str(c.id),
        "number": c.number,
        "kind": c.kind.value,
        "given_at": c.given_at.isoformat(),
        "purposes": ",".join(sorted(c.purposes)) if c.purposes else "*",
        "channels": ",".join(sorted(c.channels)) if c.channels else "*",
        "brand": c.brand or "*",
        "proof": c.proof or "",
        "expires_at": c.expires_at.isoformat() if c.expires_at else "",
        "revoked_at": c.revoked_at.isoformat() if c.revoked_at else "",
        "scopes": ",".join(sorted(c.scopes)),
        "sectors": ",".join(sorted(c.sectors)) if c.sectors is not None else "*",
    }


def _print_rows(
    out: Console, rows: list[dict[str, str]], *, as_json: bool, empty: list[str]
) -> None:
    """Records as JSON lines, or as a table (``empty`` names its columns when none)."""
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table(*(rows[0].keys() if rows else empty))
    for row in rows:
        table.add_row(*row.values())
    out.print(table)


def _blackout_row(b: Any) -> dict[str, str]:
    return {
        "id": str(b.id),
        "area": b.area,
        "kind": b.kind,
        "first_day": b.first_day.isoformat(),
        "last_day": b.last_day.isoformat() if b.last_day else "",
        "purposes": ",".join(sorted(b.purposes)) if b.purposes else "*",
        "source": b.source,
        "reference": b.reference or "",
    }


def _cmd_blackout(args: argparse.Namespace, out: Console) -> int:
    with _client(args) as client:
        if args.action == "add":
            record = client.blackouts.add(
                args.area,
                args.first,
                args.last,
                source=args.source,
                kind=args.kind,
                purposes=args.purpose,
                reference=args.reference,
                actor=args.actor or _login(),
            )
            if args.json:
                print(json.dumps(_blackout_row(record)))
            else:
                until = record.last_day.isoformat() if record.last_day else "until ended"
                out.print(
                    f"declared blackout {record.id} ({record.kind}) for {record.area}: "
                    f"{record.first_day.isoformat()} .. {until}"
                )
            return EXIT_OK
        if args.action == "end":
            record = client.blackouts.end(
                args.id, args.last, actor=args.actor or _login(), reason=args.reason
            )
            out.print(f"blackout {record.id} ends on {record.last_day}")
            return EXIT_OK
        rows = [_blackout_row(b) for b in client.blackouts.list(area=args.area)]
        _print_rows(out, rows, as_json=args.json, empty=["id", "area"])
        return EXIT_OK


def _cmd_outcome(args: argparse.Namespace, out: Console) -> int:
    context = _context(args)
    # Where the callee is, what the call sells and its caller ID decide; an outcome
    # records none of them.
    for hint in ("state", "postal_code", "time_zone", "sector", "caller_id"):
        context.pop(hint)
    with _client(args) as client:
        attempt = client.record_outcome(
            args.number, args.outcome, attempt_id=args.attempt_id, actor=args.actor, **context
        )
    extra = f"; suppression {attempt.suppression_id} added" if attempt.suppression_id else ""
    out.print(f"recorded attempt {attempt.id}: {attempt.outcome.value}{extra}")
    return EXIT_OK


def _cmd_rules(args: argparse.Namespace, out: Console) -> int:
    if args.action == "validate":
        text = _read_text(args.file)
        if "[policy]" in text:
            policy = Policy.load(args.file)
            out.print(
                f"{args.file}: valid policy {policy.name} v{policy.version} "
                f"({len(policy.rules())} rules)"
            )
        else:
            pack = load_pack(args.file)
            out.print(
                f"{args.file}: valid pack {pack.id} v{pack.pack.version} ({len(pack.rules)} rules)"
            )
        return EXIT_OK
    packs = builtin_packs()
    if args.pack is None:
        table = Table("pack", "name", "version", "rules", "unconfirmed")
        for pack in packs.values():
            unconfirmed = sum(r.confidence == "unconfirmed" for r in pack.rules)
            table.add_row(
                pack.id, pack.pack.name, pack.pack.version, str(len(pack.rules)), str(unconfirmed)
            )
        out.print(table)
        return EXIT_OK
    chosen = packs.get(args.pack.upper())
    if chosen is None:
        raise ConfigurationError(f"no built-in pack {args.pack!r}; see 'optout rules list'")
    table = Table("rule", "kind", "title", "in force", "confidence")
    for rule in chosen.rules:
        since = str(rule.effective_from or "")
        until = f" to {rule.effective_to}" if rule.effective_to else ""
        table.add_row(
            rule.id, rule.kind, rule.title, f"{since}{until}" or "always", rule.confidence.value
        )
    out.print(table)
    return EXIT_OK


def _backend(client: Compliance, name: str) -> Any:
    found = client.registries.get(name)
    if found is None:
        raise ConfigurationError(
            f"no registry {name!r} in use; in use: {', '.join(sorted(client.registries))}"
        )
    return found


def _registry_validity() -> dict[str, Any]:
    """Each registry's legal validity window, from the built-in packs."""
    out: dict[str, Any] = {}
    for pack in builtin_packs().values():
        for rule in pack.rules:
            if isinstance(rule, RegistryRule):
                out[rule.registry] = rule.validity
    return out


def _read_numbers(path: str) -> list[str]:
    import csv  # noqa: PLC0415

    text = _read_text(path)
    rows = list(csv.reader(text.splitlines()))
    if rows and rows[0] and not any(ch.isdigit() for ch in rows[0][0]):
        rows = rows[1:]
    return [row[0] for row in rows if row and row[0].strip()]


def _cmd_registry(args: argparse.Namespace, out: Console) -> int:
    from optout._registries import _catalog  # noqa: PLC0415
    from optout._registries._kinds import ConsultationRegistry, SnapshotRegistry  # noqa: PLC0415

    if args.action == "list":
        table = Table("registry", "kind", "used by default")
        for name in _catalog.available():
            kind = "plugin"
            if name in _catalog.BUILTIN:
                try:
                    kind = (
                        _catalog.create(name).kind.value
                        if name not in ("file", "http_json", "es_robinson", "us_rnd")
                        else "configurable"
                    )
                except OptoutError:
                    kind = "configurable"
            table.add_row(name, kind, "yes" if name in _catalog.DEFAULT_IDS else "")
        out.print(table)
        return EXIT_OK
    with _client(args) as client:
        if args.action == "status":
            validity = _registry_validity()
            now = utcnow()
            rows = []
            for name, backend in sorted(client.registries.items()):
                row = {
                    "registry": name,
                    "kind": backend.kind.value,
                    "data": "none",
                    "date": "",
                    "expires": "",
                    "state": "not consulted",
                }
                window = validity.get(name)
                if isinstance(backend, SnapshotRegistry):
                    info = client.registry_store.active_snapshot(name)
                    if info is not None:
                        row.update(
                            data=f"snapshot {info.version} ({info.count} numbers)",
                            date=info.taken_at.isoformat(),
                        )
                        if window is not None:
                            expires = info.taken_at + window
                            row.update(
                                expires=expires.isoformat(),
                                state="fresh" if now < expires else "EXPIRED",
                            )
                        else:
                            row.update(state="loaded")
                elif isinstance(backend, ConsultationRegistry):
                    done = client.registry_store.consultations(name)
                    if done:
                        last = done[0]
                        checked = last["checked_at"]
                        row.update(
                            data=f"consultation {last['reference']} ({last['submitted']} numbers)",
                            date=checked.isoformat(),
                        )
                        if window is not None:
                            expires = checked + window
                            row.update(
                                expires=expires.isoformat(),
                                state="fresh" if now < expires else "EXPIRED",
                            )
                else:
                    row.update(data="per-number API answers", state="on demand")
                rows.append(row)
            if args.json:
                for row in rows:
                    print(json.dumps(row))
            else:
                table = Table(*rows[0].keys()) if rows else Table("registry")
                for row in rows:
                    table.add_row(*row.values())
                out.print(table)
            return EXIT_OK
        backend = _backend(client, args.registry)
        if args.action == "import":
            if not isinstance(backend, SnapshotRegistry):
                raise ConfigurationError(f"{args.registry} is not a snapshot registry")
            taken = parse_instant(args.taken_at, name="--taken-at")
            with out.status(f"importing {args.registry} ..."):
                info = (
                    backend.apply_changes(args.files, taken_at=taken)
                    if args.changes
                    else backend.import_files(args.files, taken_at=taken, full_list=args.full_list)
                )
            out.print(
                f"{args.registry}: snapshot {info.version} in force: {info.count} numbers"
                f", {info.rejected} lines rejected, sha256 {info.checksum[:16]}"
            )
            return EXIT_OK
        if args.action == "export":
            if isinstance(backend, SnapshotRegistry):
                count = backend.export(args.output)
                out.print(f"wrote {count} numbers to {args.output}")
                return EXIT_OK
            if isinstance(backend, ConsultationRegistry):
                if args.numbers is None:
                    raise ConfigurationError("--numbers FILE is needed: the numbers to submit")
                report = backend.export_submission(_read_numbers(args.numbers), args.output)
                out.print(
                    f"wrote {report.unique} unique numbers to {args.output} (clear numbers;"
                    f" the registry bills per unique number); {report.duplicates} "
                    f"duplicates, {report.skipped_other_country} of other countries and "
                    f"{report.invalid} invalid left out"
                )
                return EXIT_OK
            raise ConfigurationError(f"{args.registry} has nothing to export")
        if args.action == "ingest":
            if not isinstance(backend, ConsultationRegistry):
                raise ConfigurationError(f"{args.registry} is not a submit-and-receive registry")
            consulted = backend.ingest(
                _read_numbers(args.submitted),
                args.returned,
                reference=args.reference,
                checked_at=parse_instant(args.checked_at, name="--checked-at"),
            )
            out.print(
                f"{args.registry} consultation {consulted.reference}: {consulted.submitted} "
                f"numbers, {consulted.listed} registered, {consulted.clear} clear"
            )
            return EXIT_OK
        if args.action == "record":
            answer = client.record_registry_answer(
                args.registry,
                args.number,
                bool(args.listed),
                checked_at=parse_instant(args.checked_at, name="--checked-at"),
                source=args.source,
                reference=args.reference,
                registered_at=(
                    None
                    if args.registered_at is None
                    else parse_instant(args.registered_at, name="--registered-at")
                ),
                region=args.country,
            )
            out.print(
                f"{args.registry} {answer.number}: recorded "
                f"{'listed' if answer.status == 'listed' else 'not listed'} as of "
                f"{answer.checked_at.isoformat()} ({answer.evidence})"
            )
            return EXIT_OK
        number = normalize(args.number, args.country).e164
        (fact,) = backend.facts([number], utcnow())
        out.print(
            f"{args.registry} {number}: {fact.status}"
            + (f", data of {fact.checked_at.isoformat()}" if fact.checked_at else "")
            + (f", registered {fact.registered_at.date()}" if fact.registered_at else "")
            + (f" ({fact.evidence})" if fact.evidence else "")
            + (f": {fact.detail}" if fact.detail else "")
        )
        return EXIT_OK


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None


def _cmd_audit(args: argparse.Namespace, out: Console) -> int:
    import datetime as dt  # noqa: PLC0415
    import pathlib  # noqa: PLC0415

    from optout._ledger import Ledger, render_html  # noqa: PLC0415

    with _client(args) as client:
        if args.action == "verify":
            report = Ledger(client.engine, privacy=client.privacy).verify()
            if args.json:
                print(json.dumps(report.to_dict()))
            elif report.ok:
                out.print(
                    f"ledger intact: {report.checked} entries, head {report.head_id} "
                    f"{report.head_hash or ''}",
                    highlight=False,
                )
            else:
                out.print(
                    f"[bold red]ledger BROKEN[/] at entry {report.first_broken_id}: "
                    f"{report.problem} ({report.checked} entries check out before it)",
                    highlight=False,
                )
            return EXIT_OK if report.ok else EXIT_DENIED
        if args.action == "export":
            book = Ledger(client.engine, privacy=client.privacy)
            bundle = book.export(
                args.number,
                parse_instant(args.start, name="--from"),
                parse_instant(args.end, name="--to"),
                region=args.country,
            )
            text = render_html(bundle) if args.html else json.dumps(bundle, indent=2)
            if args.output == "-":
                print(text)
            else:
                from optout._files import atomic_text_file  # noqa: PLC0415  (check its signature)

                with atomic_text_file(pathlib.Path(args.output)) as handle:
                    handle.write(text)
                out.print(
                    f"wrote {len(bundle['entries'])} entries for {bundle['number']} "
                    f"to {args.output}",
                    highlight=False,
                )
            return EXIT_OK
        # purge
        book = Ledger(
            client.engine, privacy=client.privacy, retention=dt.timedelta(days=args.retention_days)
        )
        result = book.purge(parse_instant(args.older_than, name="--older-than"), actor=args.actor)
        if result.deleted:
            out.print(
                f"purged entries {result.first_id} to {result.last_id} ({result.deleted}) "
                f"recorded before {result.cutoff.isoformat()}; checkpoint {result.checkpoint_id}",
                highlight=False,
            )
        else:
            out.print(f"nothing recorded before {result.cutoff.isoformat()}", highlight=False)
        return EXIT_OK


def _cmd_erase(args: argparse.Namespace, out: Console) -> int:
    from optout._erasure import erase  # noqa: PLC0415

    with _client(args) as client:
        report = erase(
            client,
            args.number,
            actor=args.actor,
            reason=args.reason,
            region=args.country,
            source="cli",
            compact=args.vacuum,
        )
        hashed = client.privacy.hashed
    if args.json:
        print(json.dumps(report.to_dict()))
        return EXIT_OK
    ledger = (
        f"; {len(report.ledger_redacted)} ledger entries redacted (entry "
        f"{report.redaction_entry} vouches for them)"
        if report.ledger_redacted
        else ""
    )
    out.print(
        f"erased: the opt-out is kept as entry {report.opt_out_id} under the keyed hash "
        f"{report.number_hash[:19]}...; deleted {report.consents} consents, "
        f"{report.attempts} attempts, {report.registrations} registrations, "
        f"{report.registry_answers} registry answers{ledger}; recorded as change "
        f"{report.change_id}",
        highlight=False,
    )
    if not hashed:
        out.print(
            "note: this database stores numbers in clear, so every client of it now needs "
            f"the hash key with fingerprint {report.key_fingerprint} to match erased numbers",
            highlight=False,
        )
    if report.compacted is False:
        out.print("warning: the SQLite file could not be compacted; run VACUUM later")
    return EXIT_OK


def _cmd_doctor(args: argparse.Namespace, out: Console) -> int:
    from optout._doctor import checks_without_client, run_doctor  # noqa: PLC0415

    try:
        client = _client(args)
    except DatabaseError as exc:  # unreachable, or a schema this optout cannot use
        checks = checks_without_client(redact_url(args.database or default_database_url()), exc)
    else:
        with client:
            checks = run_doctor(client)
    if args.json:
        for check in checks:
            print(json.dumps(check.to_dict()))
    else:
        table = Table("check", "status", "detail")
        style = {"ok": "green", "warn": "yellow", "fail": "bold red"}
        for check in checks:
            table.add_row(check.name, f"[{style[check.status]}]{check.status}[/]", check.detail)
        out.print(table)
    return EXIT_DENIED if any(c.status == "fail" for c in checks) else EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "check": _cmd_check,
    "scrub": _cmd_scrub,
    "suppress": _cmd_suppress,
    "consent": _cmd_consent,
    "blackout": _cmd_blackout,
    "outcome": _cmd_outcome,
    "rules": _cmd_rules,
    "registry": _cmd_registry,
    "audit": _cmd_audit,
    "erase": _cmd_erase,
    "doctor": _cmd_doctor,
    "db": _cmd_db,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    # Wide enough for reason tables when the output is a file or a pipe (rich assumes 80).
    out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
    try:
        return _COMMANDS[args.command](args, out)
    except OptoutError as exc:
        print(f"optout: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("optout: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``optout suppress export - | head``); not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def command() -> NoReturn:
    """The installed ``optout`` command and ``python -m optout``: :func:`main` in a process
    of its own, exiting with its code."""
    # What is loaded by now (modules, numbering-plan metadata: about 170,000 objects) lives
    # as long as the process, so no garbage-collection pass needs to walk it again.
    gc.freeze()
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    command()
