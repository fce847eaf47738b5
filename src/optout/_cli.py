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
from optout._errors import OptoutError
from optout._suppressions import entries_to_rows
from optout._timeutil import parse_instant
from optout._version import __version__
from optout._vocab import Channel, Purpose, Scope, Technology

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

    db = commands.add_parser("db", help="database schema management")
    db_sub = db.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    up = db_sub.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    _add_db(up)
    status = db_sub.add_parser("status", help="show the URL and schema revision")
    _add_db(status)
    return parser


def _client(args: argparse.Namespace, **kwargs: Any) -> Compliance:
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


_COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "check": _cmd_check,
    "scrub": _cmd_scrub,
    "suppress": _cmd_suppress,
    "db": _cmd_db,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    out = Console(highlight=False, soft_wrap=True)
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
