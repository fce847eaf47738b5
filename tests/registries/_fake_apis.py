"""Loopback fakes of the remote registry APIs, on real HTTP servers on 127.0.0.1.

Each fake runs a ``ThreadingHTTPServer`` on an ephemeral port in a thread. It answers as
the real API is documented to (see the backends' module docs), counts the requests and
the batch sizes it saw, and can be told to misbehave: HTTP 500 / 503 / 429 (with or
without ``Retry-After``), a reset connection, a garbled body, a wrong content type, a
handler that sleeps past the client's timeout, or one that trickles its answer.

Until :meth:`FakeApi.loaded` is set the fakes refuse with HTTP 403 (no subscription), so a
backend that was never given data reports ``unavailable``, never ``clear``.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import socket
import ssl
import struct
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("ok", "500", "502", "503", "429", "reset", "garbage", "wrong_type", "sleep", "slow")


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    #: Serve HTTPS with this context (the handshake runs in the handler's thread).
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        conn, address = self.socket.accept()
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out and hang up are expected here (and failed handshakes)


class FakeApi:
    """A fake registry API. Subclasses implement :meth:`answer`. With ``tls`` (a server
    context) it speaks HTTPS and :attr:`url` starts with ``https://127.0.0.1``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.lock = threading.Lock()
        self.requests: list[Seen] = []
        self.mode = "ok"
        self.script: collections.deque[str] = collections.deque()
        self.retry_after: str | None = None
        self.sleep_for = 1.0
        self.trickle = 0.05
        self.loaded = False
        self.stop = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                api._handle(self)

            def do_GET(self) -> None:
                api._handle(self)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.tls = tls
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://{host!s}:{port}/v1/api/user"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def fail(self, mode: str, *, times: int | None = None) -> None:
        """Misbehave ``times`` times (then behave), or from now on when ``times`` is None."""
        assert mode in FAULTS
        with self.lock:
            if times is None:
                self.script.clear()
                self.mode = mode
            else:
                self.script.extend([mode] * times)

    def heal(self) -> None:
        with self.lock:
            self.script.clear()
            self.mode = "ok"

    # -- the request cycle ------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(h.path)
        seen = Seen(
            method=h.command,
            path=split.path,
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        with self.lock:
            self.requests.append(seen)
            mode = self.script.popleft() if self.script else self.mode
        if mode == "reset":
            # Close the socket with an RST and no response at all.
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if mode == "sleep":
            self.stop.wait(self.sleep_for)
        if mode in ("500", "502"):
            self._send(h, int(mode), "text/plain", b"internal error")
            return
        if mode in ("503", "429"):
            extra = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            self._send(h, int(mode), "application/json", b'{"message":"slow down"}', extra)
            return
        if mode == "garbage":
            self._send(h, 200, "application/json", b"\x00\xff{not json at all")
            return
        if mode == "wrong_type":
            self._send(h, 200, "text/html", b"<html><body>maintenance</body></html>")
            return
        if not self.loaded:
            self._send(h, 403, "application/json", b'{"message":"no subscription"}')
            return
        status, payload = self.answer(seen)
        data = json.dumps(payload).encode("utf-8")
        if mode == "slow":
            self._trickle(h, status, data)
            return
        self._send(h, status, "application/json", data)

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        ctype: str,
        data: bytes,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in (extra or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up

    def _trickle(self, h: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.flush()
            for i in range(len(data)):
                if self.stop.wait(self.trickle):
                    return
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
        except OSError:
            pass

    def answer(self, seen: Seen) -> tuple[int, Any]:
        raise NotImplementedError


# -- Lista Robinson --------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def expected_sigv4(
    *,
    secret: str,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed: str,
    body: bytes,
    amz_date: str,
    scope: str,
) -> str:
    """Recompute a SigV4 signature on the server side, independently of the client code."""

    def enc(s: str) -> str:
        return urllib.parse.quote(s, safe="-_.~")

    canon_query = "&".join(
        f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()) if k != "X-Amz-Signature"
    )
    names = signed.split(";")
    values = {**{k.lower(): v for k, v in headers.items()}, "host": host}
    canon_headers = "".join(f"{n}:{values[n].strip()}\n" for n in names)
    canonical = "\n".join(
        [method, path, canon_query, canon_headers, signed, hashlib.sha256(body).hexdigest()]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    day, region, service, _ = scope.split("/")
    key = _hmac(
        _hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), service), "aws4_request"
    )
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeRobinson(FakeApi):
    """``POST /v1/api/user`` with comma-separated hashes, SigV4-signed (query or headers)."""

    def __init__(self, access_key: str = "AKTEST", secret_key: str = "s3cr3t/KEY+x") -> None:
        super().__init__()
        self.access_key = access_key
        self.secret_key = secret_key
        self.listed: dict[str, list[str]] = {}  # hash -> sectors
        self.batches: list[int] = []
        self.signature_checks: list[str] = []  # "query" / "headers" per verified request

    def verify(self, seen: Seen) -> str | None:
        """Why the signature is wrong, or None."""
        host = seen.headers.get("host", "")
        if "X-Amz-Signature" in seen.query:
            q = seen.query
            credential = q.get("X-Amz-Credential", "")
            key, _, scope = credential.partition("/")
            amz_date = q.get("X-Amz-Date", "")
            signed = q.get("X-Amz-SignedHeaders", "")
            given = q["X-Amz-Signature"]
            where = "query"
            if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
                return "bad algorithm"
        elif seen.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
            parts = dict(
                p.strip().split("=", 1)
                for p in seen.headers["authorization"][len("AWS4-HMAC-SHA256 ") :].split(",")
            )
            key, _, scope = parts.get("Credential", "").partition("/")
            signed, given = parts.get("SignedHeaders", ""), parts.get("Signature", "")
            amz_date = seen.headers.get("x-amz-date", "")
            where = "headers"
        else:
            return "not signed"
        if key != self.access_key:
            return "unknown access key"
        if not scope.endswith("/eu-west-1/execute-api/aws4_request") or not scope.startswith(
            amz_date[:8]
        ):
            return f"bad scope {scope}"
        stamp = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        if abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) > 300:
            return "request too old"
        want = expected_sigv4(
            secret=self.secret_key,
            method=seen.method,
            host=host,
            path=seen.path,
            query=seen.query,
            headers=seen.headers,
            signed=signed,
            body=seen.body,
            amz_date=amz_date,
            scope=scope,
        )
        if not hmac.compare_digest(want, given):
            return "signature mismatch"
        with self.lock:
            self.signature_checks.append(where)
        return None

    def answer(self, seen: Seen) -> tuple[int, Any]:
        problem = self.verify(seen)
        if problem is not None:
            return 403, {"message": problem}
        hashes = seen.body.decode().split(",")
        if len(hashes) > 20 or len(set(hashes)) != len(hashes):
            return 400, {"message": "too many or duplicated hashes"}
        with self.lock:
            self.batches.append(len(hashes))
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out = {}
        for h in hashes:
            sectors = self.listed.get(h)
            found = sectors is not None
            joined = "#".join(sectors or [])
            mac = hashlib.sha256(f"{h}{int(found)}{now}{self.secret_key}{joined}".encode())
            proof = base64.b64encode(f"{now}:{h}:{joined}:{mac.hexdigest()}".encode()).decode()
            out[h] = {"found": found, "sectors": sectors or [], "signature": proof}
        return 200, out


# -- US Reassigned Numbers Database ----------------------------------------------------------


class FakeRnd(FakeApi):
    """The assumed RND layout (``us_rnd`` module docs): ``queries`` in, ``results`` out."""

    def __init__(self, api_key: str = "rnd-key") -> None:
        super().__init__()
        self.api_key = api_key
        # 10-digit number -> ("yes", "2025-03-15" or None) / ("no", None) / ("no_data", None)
        self.data: dict[str, tuple[str, str | None]] = {}
        self.batches: list[int] = []
        self.dates: list[str] = []

    def answer(self, seen: Seen) -> tuple[int, Any]:
        if seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"message": "bad key"}
        body = json.loads(seen.body)
        queries = body["queries"]
        if len(queries) > 1000:
            return 413, {"message": "at most 1000"}
        with self.lock:
            self.batches.append(len(queries))
        results = []
        for q in queries:
            self.dates.append(q["date"])
            result, date = self.data.get(q["tn"], ("no", None))
            results.append(
                {"tn": q["tn"], "result": result, "disconnect_date": date, "query_id": "Q1"}
            )
        return 200, {"results": results}


# -- generic JSON registry -------------------------------------------------------------------


class FakeJson(FakeApi):
    """``{"numbers": [...]}`` in, ``{"results": [...]}`` out (``generic_http`` docs)."""

    def __init__(self, token: str | None = None, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls)
        self.token = token
        self.listed: dict[str, str | None] = {}  # number as sent -> registered_at
        self.batches: list[int] = []
        self.transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def answer(self, seen: Seen) -> tuple[int, Any]:
        if self.token is not None and seen.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "bad token"}
        numbers = json.loads(seen.body)["numbers"]
        with self.lock:
            self.batches.append(len(numbers))
        results = [
            {
                "number": n,
                "listed": n in self.listed,
                "registered_at": self.listed.get(n),
                "proof": f"fake-{n[-4:]}",
            }
            for n in numbers
        ]
        payload = {"results": results}
        return 200, self.transform(payload) if self.transform else payload
