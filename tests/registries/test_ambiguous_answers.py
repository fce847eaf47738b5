"""Ambiguous, contradictory and malformed registry answers are ``registry.unavailable``.

Issue 13: a JSON answer with a repeated key (``{"listed": true, "listed": false}``), a
number answered twice with different answers, an answer for a number that was not asked
about, or a response whose HTTP/1.1 framing is forbidden (RFC 9112 section 6.3: both
``Content-Length`` and ``Transfer-Encoding``, differing ``Content-Length`` values, a body
shorter than its ``Content-Length``) must never be read as a clean answer. Each case runs
against a real server on 127.0.0.1 that writes its answer byte for byte (so it can send
what ``http.server`` and ``json.dumps`` never would), and the decision is asked of the
public client: denied with ``registry.unavailable``, never allowed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pathlib
import socket
import threading
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from optout import Compliance, RegistryFormatError, RegistryUnavailableError, RuleBook
from optout._registries._http import (
    HttpPolicy,
    HttpRemoteRegistry,
    check_framing,
    decode_json,
)
from optout._registries._kinds import ConsultationRegistry
from optout._registries._transport import SubmitReceiveTransport, consult
from optout._registries.au import au_dncr
from optout._registries.es import _parse_answer, es_robinson, robinson_hash
from optout._registries.generic_http import http_json_registry
from optout._registries.us_rnd import RndFormat, us_rnd
from optout._rules._book import load_pack

FAST = HttpPolicy(
    connect_timeout=1.0,
    read_timeout=1.0,
    deadline=2.0,
    max_attempts=2,
    backoff=0.01,
    backoff_max=0.02,
    breaker_failures=50,
    breaker_cooldown=0.3,
)
NOW = dt.datetime.now(dt.UTC)

# -- a loopback server that sends its answers byte for byte -------------------------------

Respond = Callable[[str, str, bytes], bytes]


class RawServer:
    """Reads one HTTP/1.1 request per connection, sends ``respond(method, path, body)``
    as it is, and closes the connection. Listens on 127.0.0.1 only."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.seen: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn:
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    got = conn.recv(65536)
                    if not got:
                        return
                    data += got
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                while len(body) < length:
                    got = conn.recv(65536)
                    if not got:
                        return
                    body += got
                self.seen.append((method, path))
                conn.sendall(self.respond(method, path, body))
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                return


def http_answer(
    body: bytes, *, framing: str = "plain", ctype: str = "application/json", status: int = 200
) -> bytes:
    """A whole HTTP/1.1 response for ``body`` with the ``framing`` named:

    - ``plain``: one correct ``Content-Length``;
    - ``cl_and_te``: ``Content-Length`` and ``Transfer-Encoding: chunked`` (chunked body);
    - ``two_lengths``: two ``Content-Length`` headers with different values;
    - ``length_list``: one ``Content-Length: n, m`` header with different values;
    - ``short``: a ``Content-Length`` longer than the body, then the connection closes.
    """
    reason = {200: "OK", 201: "Created"}.get(status, "Whatever")
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {ctype}", "Connection: close"]
    payload = body
    n = len(body)
    if framing == "plain":
        head.append(f"Content-Length: {n}")
    elif framing == "cl_and_te":
        head += [f"Content-Length: {n}", "Transfer-Encoding: chunked"]
        payload = f"{n:x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    elif framing == "two_lengths":
        head += [f"Content-Length: {n}", f"Content-Length: {n + 7}"]
    elif framing == "length_list":
        head.append(f"Content-Length: {n}, {n + 7}")
    elif framing == "short":
        head.append(f"Content-Length: {n + 16}")
    else:  # pragma: no cover - a typo in a test
        raise AssertionError(framing)
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


FRAMINGS = ("cl_and_te", "two_lengths", "length_list", "short")

# -- the HTTP backends that parse answers --------------------------------------------------


def _pack(jurisdiction: str, rule: str) -> str:
    return f"""
[pack]
id = "{jurisdiction}"
name = "{jurisdiction} (test)"
version = "test"

{rule}
"""


def _registry_rule(registry: str) -> str:
    return f"""
[[rules]]
id = "test.{registry}.registry"
kind = "registry"
title = "Check {registry} before marketing calls"
registry = "{registry}"
validity = "30d"
purposes = ["marketing"]
confidence = "secondary"
citation = "test"
"""


RND_RULE = """
[[rules]]
id = "us.consent.reassigned"
kind = "consent"
title = "Autodialed calls need prior express written consent from the current subscriber"
accepted = ["express_written"]
voided_by = ["us_rnd"]
purposes = ["marketing"]
confidence = "secondary"
citation = "47 CFR 64.1200(a)(2), (m)"
"""


@dataclasses.dataclass(frozen=True)
class Backend:
    """One HTTP backend: how to build it, its pack, and its answers as raw JSON text.

    ``answers[case](request_body)`` is the JSON text of an answer; ``clear`` and
    ``listed`` are the clean ones, the rest are ambiguous or malformed.
    """

    name: str
    number: str
    jurisdiction: str
    rule: str
    make: Callable[[str], HttpRemoteRegistry]
    answers: dict[str, Callable[[bytes], str]]
    listed_code: str = "registry.listed"

    def prepare(self, client: Compliance) -> None:
        if self.name == "us_rnd":
            client.consents.add(
                self.number,
                "express_written",
                given_at=dt.datetime(2023, 5, 1, tzinfo=dt.UTC),
                proof="form 1",
            )


def _j(value: Any) -> str:
    return json.dumps(value)


# Brazil's Não Me Perturbe through the generic JSON backend (national numbers sent).
BR_NUMBER, BR_KEY, BR_OTHER = "+5521912345678", "21912345678", "11912345678"


def _br_row(number: str, listed: bool) -> str:
    return (
        f'{{"number": {_j(number)}, "listed": {_j(listed)}, '
        f'"registered_at": "2025-06-01", "proof": "t-1"}}'
    )


BR_ANSWERS: dict[str, Callable[[bytes], str]] = {
    "clear": lambda _: f'{{"results": [{_br_row(BR_KEY, False)}]}}',
    "listed": lambda _: f'{{"results": [{_br_row(BR_KEY, True)}]}}',
    "duplicate_field": lambda _: (
        f'{{"results": [{{"number": {_j(BR_KEY)}, "listed": true, "listed": false}}]}}'
    ),
    "duplicate_top_key": lambda _: (
        f'{{"results": [{_br_row(BR_KEY, True)}], "results": [{_br_row(BR_KEY, False)}]}}'
    ),
    "contradictory_rows": lambda _: (
        f'{{"results": [{_br_row(BR_KEY, True)}, {_br_row(BR_KEY, False)}]}}'
    ),
    "unasked_row": lambda _: (
        f'{{"results": [{_br_row(BR_KEY, False)}, {_br_row(BR_OTHER, True)}]}}'
    ),
    "ill_typed": lambda _: f'{{"results": [{{"number": {_j(BR_KEY)}, "listed": "false"}}]}}',
    "missing_field": lambda _: f'{{"results": [{{"number": {_j(BR_KEY)}}}]}}',
}

# Spain's Lista Robinson: an object keyed by the hash of each number.
ES_NUMBER = "+34612345670"
ES_HASH = robinson_hash(ES_NUMBER)
ES_OTHER = robinson_hash("+34612345672")


def _es_entry(found: bool) -> str:
    return f'{{"found": {_j(found)}, "sectors": ["1"], "signature": "c2lnbmVk"}}'


ES_ANSWERS: dict[str, Callable[[bytes], str]] = {
    "clear": lambda _: f"{{{_j(ES_HASH)}: {_es_entry(False)}}}",
    "listed": lambda _: f"{{{_j(ES_HASH)}: {_es_entry(True)}}}",
    "duplicate_field": lambda _: (
        f'{{{_j(ES_HASH)}: {{"found": true, "found": false, "sectors": [], "signature": "s"}}}}'
    ),
    # Keyed by hash: the same number answered twice is the same key twice.
    "duplicate_top_key": lambda _: (
        f"{{{_j(ES_HASH)}: {_es_entry(True)}, {_j(ES_HASH)}: {_es_entry(False)}}}"
    ),
    "unasked_row": lambda _: (
        f"{{{_j(ES_HASH)}: {_es_entry(False)}, {_j(ES_OTHER)}: {_es_entry(True)}}}"
    ),
    "ill_typed": lambda _: f'{{{_j(ES_HASH)}: {{"found": "false", "signature": "s"}}}}',
    "missing_field": lambda _: f'{{{_j(ES_HASH)}: {{"sectors": [], "signature": "s"}}}}',
}

# The US Reassigned Numbers Database: "yes" (disconnected since) voids an older consent.
US_NUMBER, US_TN, US_OTHER = "+12025550170", "2025550170", "2025550172"


def _us_row(tn: str, result: str) -> str:
    date = "2024-03-15" if result == "yes" else None
    return f'{{"tn": {_j(tn)}, "result": {_j(result)}, "disconnect_date": {_j(date)}}}'


US_ANSWERS: dict[str, Callable[[bytes], str]] = {
    "clear": lambda _: f'{{"results": [{_us_row(US_TN, "no")}]}}',
    "listed": lambda _: f'{{"results": [{_us_row(US_TN, "yes")}]}}',
    "duplicate_field": lambda _: (
        f'{{"results": [{{"tn": {_j(US_TN)}, "result": "yes", "disconnect_date": "2024-03-15",'
        ' "result": "no"}]}'
    ),
    "duplicate_top_key": lambda _: (
        f'{{"results": [{_us_row(US_TN, "yes")}], "results": [{_us_row(US_TN, "no")}]}}'
    ),
    "contradictory_rows": lambda _: (
        f'{{"results": [{_us_row(US_TN, "yes")}, {_us_row(US_TN, "no")}]}}'
    ),
    "unasked_row": lambda _: f'{{"results": [{_us_row(US_TN, "no")}, {_us_row(US_OTHER, "yes")}]}}',
    "ill_typed": lambda _: f'{{"results": [{{"tn": {_j(US_TN)}, "result": 0}}]}}',
    "missing_field": lambda _: f'{{"results": [{{"tn": {_j(US_TN)}}}]}}',
}

BACKENDS = {
    "br_nmp": Backend(
        name="br_nmp",
        number=BR_NUMBER,
        jurisdiction="BR",
        rule=_registry_rule("br_nmp"),
        make=lambda url: http_json_registry(
            url=url, id="br_nmp", country="BR", number_format="national", policy=FAST
        ),
        answers=BR_ANSWERS,
    ),
    "es_robinson": Backend(
        name="es_robinson",
        number=ES_NUMBER,
        jurisdiction="ES",
        rule=_registry_rule("es_robinson"),
        make=lambda url: es_robinson(url=url, access_key="AK", secret_key="SK", policy=FAST),
        answers=ES_ANSWERS,
    ),
    "us_rnd": Backend(
        name="us_rnd",
        number=US_NUMBER,
        jurisdiction="US",
        rule=RND_RULE,
        make=lambda url: us_rnd(url=url, api_key="key", policy=FAST),
        answers=US_ANSWERS,
        listed_code="consent.voided_by_registry",
    ),
}

AMBIGUOUS = [
    (backend, case)
    for backend, spec in BACKENDS.items()
    for case in spec.answers
    if case not in ("clear", "listed")
]


def _decide(backend: Backend, respond: Respond, tmp_path: pathlib.Path) -> tuple[Any, RawServer]:
    server = RawServer(respond)
    registry = backend.make(server.url + "/check")
    pack = load_pack(
        f"test-{backend.jurisdiction}.toml", text=_pack(backend.jurisdiction, backend.rule)
    )
    try:
        with Compliance(
            f"sqlite:///{tmp_path / 'ambiguous.sqlite3'}",
            registries=[registry],
            rules=RuleBook(packs={backend.jurisdiction: pack}),
        ) as client:
            backend.prepare(client)
            decision = client.can_call(backend.number, at=NOW)
    finally:
        registry.close()
        server.close()
    return decision, server


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("case", ["clear", "listed"])
def test_clean_answers_still_decide(backend: str, case: str, tmp_path: pathlib.Path) -> None:
    """The harness itself: a clean answer is read (so the denials below are not an
    artefact of a broken server)."""
    spec = BACKENDS[backend]
    answer = spec.answers[case]
    decision, server = _decide(
        spec, lambda m, p, body: http_answer(answer(body).encode()), tmp_path
    )
    assert server.seen
    if case == "clear":
        assert decision.allowed, decision.codes
    else:
        assert decision.codes == (spec.listed_code,)


@pytest.mark.parametrize(("backend", "case"), AMBIGUOUS)
def test_ambiguous_json_is_unavailable(backend: str, case: str, tmp_path: pathlib.Path) -> None:
    spec = BACKENDS[backend]
    answer = spec.answers[case]
    decision, server = _decide(
        spec, lambda m, p, body: http_answer(answer(body).encode()), tmp_path
    )
    assert server.seen
    assert not decision.allowed
    assert decision.codes == ("registry.unavailable",)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("framing", FRAMINGS)
def test_forbidden_framing_is_unavailable(
    backend: str, framing: str, tmp_path: pathlib.Path
) -> None:
    """The body is a clean "clear" answer: only the framing is wrong."""
    spec = BACKENDS[backend]
    answer = spec.answers["clear"]
    decision, server = _decide(
        spec, lambda m, p, body: http_answer(answer(body).encode(), framing=framing), tmp_path
    )
    assert server.seen
    assert not decision.allowed
    assert decision.codes == ("registry.unavailable",)


def test_the_same_rnd_answer_twice_is_accepted(tmp_path: pathlib.Path) -> None:
    spec = BACKENDS["us_rnd"]
    twice = f'{{"results": [{_us_row(US_TN, "yes")}, {_us_row(US_TN, "yes")}]}}'
    decision, _ = _decide(spec, lambda m, p, body: http_answer(twice.encode()), tmp_path)
    assert decision.codes == ("consent.voided_by_registry",)


# -- the parse errors themselves -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"listed": true, "listed": false}',
        '{"results": [{"number": "1", "listed": true, "listed": true}]}',
        '{"a": {"b": 1}, "a": {"b": 1}}',
    ],
)
def test_decode_json_refuses_repeated_keys(text: str) -> None:
    with pytest.raises(RegistryFormatError, match="repeats a key"):
        decode_json("test", text.encode())


def test_decode_json_names_field_keys_but_never_numbers_or_hashes() -> None:
    with pytest.raises(RegistryFormatError, match="'listed'"):
        decode_json("test", b'{"listed": true, "listed": false}')
    with pytest.raises(RegistryFormatError) as caught:
        decode_json("test", f'{{"{ES_HASH}": 1, "{ES_HASH}": 2}}'.encode())
    assert ES_HASH not in str(caught.value)
    with pytest.raises(RegistryFormatError) as caught:
        decode_json("test", b'{"+5521912345678": 1, "+5521912345678": 2}')
    assert "5521912345678" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"listed": NaN}', id="nan"),
        pytest.param("[Infinity]", id="infinity"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="deeply-nested"),
    ],
)
def test_decode_json_refuses_what_json_does_not_allow(text: str) -> None:
    with pytest.raises(RegistryFormatError):
        decode_json("test", text.encode())


def test_decode_json_still_reads_clean_answers() -> None:
    assert decode_json("test", b'{"a": [{"a": 1}, {"a": 2}], "b": {"a": 3}}') == {
        "a": [{"a": 1}, {"a": 2}],
        "b": {"a": 3},
    }


def test_generic_parse_refuses_unasked_and_repeated_numbers() -> None:
    registry = http_json_registry(url="http://127.0.0.1:9/x", id="br_nmp", country="BR")
    unasked = json.loads(BR_ANSWERS["unasked_row"](b""))
    with pytest.raises(RegistryFormatError, match="not asked about"):
        registry._parse(unasked, [BR_KEY])
    twice = json.loads(BR_ANSWERS["contradictory_rows"](b""))
    with pytest.raises(RegistryFormatError, match="twice"):
        registry._parse(twice, [BR_KEY])
    registry.close()


def test_robinson_parse_refuses_unasked_hashes() -> None:
    with pytest.raises(RegistryFormatError, match="not queried"):
        _parse_answer(json.loads(ES_ANSWERS["unasked_row"](b"")), [ES_HASH])


def test_rnd_results_refuse_contradictions_and_keep_agreements() -> None:
    fmt = RndFormat()
    with pytest.raises(RegistryFormatError, match="different results"):
        fmt.results(json.loads(US_ANSWERS["contradictory_rows"](b"")))
    same = {"results": [json.loads(_us_row(US_TN, "yes")), json.loads(_us_row(US_TN, "yes"))]}
    assert fmt.results(same)[US_TN].result == "yes"


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ([("Content-Length", "5"), ("Transfer-Encoding", "chunked")], "Transfer-Encoding"),
        ([("Transfer-Encoding", "chunked"), ("Content-Length", "5")], "Transfer-Encoding"),
        ([("Content-Length", "5"), ("Content-Length", "6")], "differing"),
        ([("Content-Length", "5, 6")], "differing"),
    ],
)
def test_check_framing_refuses_what_http11_forbids(
    headers: list[tuple[str, str]], problem: str
) -> None:
    response = httpx.Response(200, headers=headers, content=b"12345")
    with pytest.raises(RegistryFormatError, match=problem):
        check_framing("test", response)


def test_check_framing_refuses_a_body_of_another_length() -> None:
    response = httpx.Response(200, headers=[("Content-Length", "16")], content=b"12345")
    with pytest.raises(RegistryFormatError, match="Content-Length"):
        check_framing("test", response, received=5)


@pytest.mark.parametrize(
    "headers",
    [[("Content-Length", "5")], [("Content-Length", "5"), ("Content-Length", "5")], []],
)
def test_check_framing_accepts_clean_framing(headers: list[tuple[str, str]]) -> None:
    response = httpx.Response(200, headers=headers, content=b"12345")
    check_framing("test", response, received=5)


# -- the submit-and-receive transport (Australia's DNCR, flagged returns) ------------------

AU_NUMBER = "+61412345678"
AU_RETURNED = b"Number,Status\r\n0412345678,Not Registered\r\n"


def _gateway(submit: bytes, fetch: bytes) -> Respond:
    def respond(method: str, path: str, body: bytes) -> bytes:
        if method == "POST":
            return submit
        return fetch

    return respond


def _consult_au(respond: Respond, tmp_path: pathlib.Path) -> tuple[Any, Exception | None]:
    server = RawServer(respond)
    registry = au_dncr()
    pack = load_pack("test-au.toml", text=_pack("AU", _registry_rule("au_dncr")))
    failure: Exception | None = None
    try:
        with Compliance(
            f"sqlite:///{tmp_path / 'au.sqlite3'}",
            registries=[registry],
            rules=RuleBook(packs={"AU": pack}),
        ) as client:
            transport = SubmitReceiveTransport(
                server.url,
                codec=registry.codec,
                retries=1,
                backoff=0.0,
                download_dir=tmp_path / "returns",
            )
            try:
                consult(registry, transport, [AU_NUMBER], poll_every=0.01, timeout=5.0)
            except Exception as exc:
                failure = exc
            finally:
                transport.close()
            decision = client.can_call(AU_NUMBER, at=dt.datetime.now(dt.UTC))
    finally:
        server.close()
    return decision, failure


CLEAN_SUBMIT = http_answer(b'{"id": "job-1"}', status=201)
CLEAN_FETCH = http_answer(AU_RETURNED, ctype="text/csv")


def test_transport_clean_consultation_decides(tmp_path: pathlib.Path) -> None:
    decision, failure = _consult_au(_gateway(CLEAN_SUBMIT, CLEAN_FETCH), tmp_path)
    assert failure is None
    assert decision.allowed, decision.codes


@pytest.mark.parametrize(
    ("submit", "fetch"),
    [
        pytest.param(
            http_answer(b'{"id": "job-1", "id": "job-2"}', status=201),
            CLEAN_FETCH,
            id="submit-repeated-id",
        ),
        pytest.param(
            http_answer(b'{"id": "job-1"}', status=201, framing="cl_and_te"),
            CLEAN_FETCH,
            id="submit-cl_and_te",
        ),
        *(
            pytest.param(
                CLEAN_SUBMIT,
                http_answer(AU_RETURNED, ctype="text/csv", framing=framing),
                id=f"fetch-{framing}",
            )
            for framing in FRAMINGS
        ),
    ],
)
def test_transport_refuses_ambiguous_answers(
    submit: bytes, fetch: bytes, tmp_path: pathlib.Path
) -> None:
    decision, failure = _consult_au(_gateway(submit, fetch), tmp_path)
    assert isinstance(failure, RegistryFormatError | RegistryUnavailableError)
    assert not decision.allowed
    # Nothing was recorded: the number stays unconsulted (a denial).
    assert decision.codes == ("registry.not_consulted",)


def test_a_zipped_return_contradicting_itself_is_refused(tmp_path: pathlib.Path) -> None:
    """The same number, registered in one member of the returned zip and not in another."""
    returned = tmp_path / "washed.zip"
    with zipfile.ZipFile(returned, "w") as archive:
        archive.writestr("part1.csv", "Number,Status\r\n0412345678,Registered\r\n")
        archive.writestr("part2.csv", "Number,Status\r\n0412345678,Not Registered\r\n")
    registry: ConsultationRegistry = au_dncr()
    pack = load_pack("test-au.toml", text=_pack("AU", _registry_rule("au_dncr")))
    with Compliance(
        f"sqlite:///{tmp_path / 'au.sqlite3'}",
        registries=[registry],
        rules=RuleBook(packs={"AU": pack}),
    ) as client:
        with pytest.raises(RegistryFormatError, match="different answers"):
            registry.ingest([AU_NUMBER], returned, reference="W-1", checked_at=NOW)
        decision = client.can_call(AU_NUMBER, at=NOW)
    assert not decision.allowed
    assert decision.codes == ("registry.not_consulted",)


def test_two_numbers_with_one_national_form_are_unavailable_not_a_crash() -> None:
    registry = http_json_registry(url="http://127.0.0.1:9/unused", number_format="national")
    with pytest.raises(RegistryFormatError, match="national form"):
        registry.query_batch(["+442079460000", "+12079460000"], NOW)
