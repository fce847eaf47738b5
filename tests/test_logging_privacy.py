"""No phone number in any log record at INFO or above (DESIGN.md, principle 8).

The main operations run with every logger captured at DEBUG, including failure paths that
log (a registry backend that raises, an HTTP registry that errors or answers garbage
echoing the number). Then every record at INFO or above is checked: its formatted message,
and its exception text if any, must not contain a number in E.164, in international
digits or in national digits.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import pathlib
import re
import threading
import zoneinfo
from collections.abc import Iterator, Sequence

import pytest

import optout
from _fakes import NO_RULES, StaticRegistry, all_clear
from optout._registries._http import HttpPolicy
from optout.registries import RegistryFact

ROME = zoneinfo.ZoneInfo("Europe/Rome")
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, tzinfo=ROME)
YESTERDAY = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
NUMBERS = ("+390612345678", "+390612345679", "+390698765432")
FAST = HttpPolicy(
    connect_timeout=0.5,
    read_timeout=0.5,
    deadline=1.0,
    max_attempts=2,
    backoff=0.01,
    backoff_max=0.02,
    breaker_failures=2,
    breaker_cooldown=0.2,
)


def _forms(e164: str) -> list[str]:
    digits = e164.lstrip("+")
    national = "0" + digits[2:] if digits.startswith("39") else digits[1:]
    return [e164, digits, national]


FORBIDDEN = [form for n in NUMBERS for form in _forms(n)]


class _Echo(http.server.BaseHTTPRequestHandler):
    """``/garbage`` answers with the number where a date belongs; ``/down`` fails (500)."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/down":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        results = [{"number": n, "listed": False, "registered_at": n} for n in body["numbers"]]
        data = json.dumps({"results": results}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _LeakyBug(StaticRegistry):
    """A backend whose exception message names the number it failed on."""

    def facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        raise RuntimeError(f"lookup of {', '.join(numbers)} failed")


def _run_operations(url: str, tmp_path: pathlib.Path, echo_url: str) -> None:
    from optout._registries.generic_http import http_json_registry  # noqa: PLC0415
    from optout._registries.us import us_dnc  # noqa: PLC0415
    from optout._scrub import scrub_file  # noqa: PLC0415

    first, second, third = NUMBERS
    backends = [b for b in all_clear() if b.id != "it_rpo"] + [_LeakyBug("it_rpo")]
    with optout.Compliance(url, migrate=True, registries=backends, ledger="all") as client:
        client.can_call(first, at=TUESDAY_10)
        client.can_call("06 1234 5679", country="IT", at=TUESDAY_10)
        client.reserve(second, at=TUESDAY_10)
        optout.decide_many(client, list(NUMBERS), at=TUESDAY_10)
    with optout.Compliance(url, rules=NO_RULES, registries=(), ledger="all") as client:
        reservation = client.reserve(first)
        assert reservation.attempt_id is not None
        client.record_outcome(first, "busy", attempt_id=reservation.attempt_id)
        client.record_outcome(second, "dnc_request", brand="acme")
        client.suppressions.add(third, reason="asked", actor="agent 7")
        client.suppressions.remove(third, actor="supervisor", reason="mistake")
        client.suppressions.add_prefix("+3906987", reason="block")
        client.consents.add(
            first, "express", purposes=["marketing"], given_at=YESTERDAY, source="web_form"
        )
        leads = tmp_path / "leads.csv"
        leads.write_text("id,phone\n" + "".join(f"{i},{n}\n" for i, n in enumerate(NUMBERS)))
        scrub_file(client, str(leads), str(tmp_path / "out.csv"), at=TUESDAY_10)
        client.ledger.verify()
        client.ledger.export(first, TUESDAY_10 - dt.timedelta(days=1), dt.datetime.now(dt.UTC))
    us_list = tmp_path / "us.txt"
    us_list.write_text("2025550123\n")
    registry = us_dnc()
    with optout.Compliance(
        url, rules=NO_RULES, registries=[registry], snapshot_dir=tmp_path / "snap"
    ) as client:
        registry.import_files([us_list], taken_at=dt.datetime.now(dt.UTC), full_list=True)
        registry.facts(["+12025550123"], dt.datetime.now(dt.UTC))
    for path in ("/garbage", "/down"):
        remote = http_json_registry(url=echo_url + path, id="it_customer", policy=FAST)
        try:
            with optout.Compliance(url, rules=NO_RULES, registries=[remote]):
                remote.facts(list(NUMBERS), dt.datetime.now(dt.UTC))
        finally:
            remote.close()


def test_no_number_in_logs_at_info_or_above(
    backend_url: str,
    tmp_path: pathlib.Path,
    echo_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert "optout" in logging.Logger.manager.loggerDict
    assert isinstance(logging.getLogger("optout"), logging.Logger)
    caplog.set_level(logging.DEBUG)
    _run_operations(backend_url, tmp_path, echo_url)

    # The failure paths did log: the check below is not vacuous.
    assert any(r.name.startswith("optout") and r.levelno >= logging.WARNING for r in caplog.records)
    pattern = re.compile("|".join(re.escape(f) for f in FORBIDDEN))
    leaks = []
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        found = pattern.search(text)
        if found:
            leaks.append(f"{record.levelname} {record.name}: {text!r} (contains {found[0]!r})")
    assert not leaks, "phone numbers in log records:\n" + "\n".join(leaks)
