"""The ``optout`` command line.

Exit codes: 0 allowed / success, 1 denied (``check``), 2 usage, input or database error.
Errors are printed as one line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from optout._client import Compliance
from optout._db import create_engine, current_revision, default_database_url, head_revision, upgrade
from optout._decision import Decision
from optout._errors import ConfigurationError, OptoutError
from optout._rules._book import RuleBook, builtin_packs, load_pack
from optout._rules._policy import Policy
from optout._suppressions import entries_to_rows
from optout._timeutil import parse_instant
from optout._version import __version__
from optout._vocab import Channel, Outcome, Purpose, Scope, Technology

__all__ = ["main"]

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse that prints usage errors as one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        default=None,
        help="database URL (default: $OPTOUT_DATABASE_URL, else the user's SQLite file)",
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
    ):
        parser.add_argument(flag, default=None, help=text)
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
        help="decide every row of a CSV lead list",
        description="Read a CSV lead list, decide every row with the same rules as 'check', "
        "and write the rows with decision columns added (atomically).",
    )
    scrub.add_argument("input", metavar="INPUT", help="CSV file with a header row")
    scrub.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="CSV file to write")
    scrub.add_argument(
        "--column",
        default=None,
        help="the phone column (default: the first whose name looks like one)",
    )
    _add_context(scrub)
    scrub.add_argument("--quiet", action="store_true", help="print no summary")
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

    db = commands.add_parser("db", help="database schema management")
    db_sub = db.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    up = db_sub.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    _add_db(up)
    status = db_sub.add_parser("status", help="show the URL and schema revision")
    _add_db(status)
    return parser


def _client(args: argparse.Namespace, **kwargs: Any) -> Compliance:
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
        version = f" v{e.version}" if e.version else ""
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
    from optout._scrub import scrub_csv  # noqa: PLC0415 - only this command needs it

    context = _context(args)
    with _client(args) as client:
        summary = scrub_csv(client, args.input, args.output, column=args.column, **context)
    if not args.quiet:
        out.print(summary.render(), highlight=False)
    return EXIT_OK


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
            if args.json:
                for row in rows:
                    print(json.dumps(row))
            else:
                table = Table(*(rows[0].keys() if rows else ["id", "value"]))
                for row in rows:
                    table.add_row(*row.values())
                out.print(table)
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
        if args.json:
            for row in rows:
                print(json.dumps(row))
        else:
            table = Table(*(rows[0].keys() if rows else ["id", "number"]))
            for row in rows:
                table.add_row(*row.values())
            out.print(table)
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
    }


def _cmd_outcome(args: argparse.Namespace, out: Console) -> int:
    context = _context(args)
    for hint in ("state", "postal_code", "time_zone"):
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


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None


_COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "check": _cmd_check,
    "scrub": _cmd_scrub,
    "suppress": _cmd_suppress,
    "consent": _cmd_consent,
    "outcome": _cmd_outcome,
    "rules": _cmd_rules,
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
