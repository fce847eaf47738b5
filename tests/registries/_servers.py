"""A loopback HTTP server emulating a submit-and-receive registry gateway, with faults.

``POST /submissions`` takes a multipart upload (field ``file``) and answers ``{"id": ...}``;
``GET /submissions/<id>`` answers 202 for the first ``pending_polls`` polls, then 200 with
the returned file ``answer(lines)`` computes from the uploaded lines. Faults are scripted
per request (``faults``, consumed in order) or for every request (``always``):

- ``"slow"``: sleep ``slow_seconds`` before answering (longer than the client timeout);
- ``"500"``, ``"503"``, ``"404"``, ``"401"``: that status;
- ``"429"``: 429 with ``Retry-After: retry_after``;
- ``"reset"``: close the connection without an answer (RST);
- ``"garbled"``: 200 with a truncated JSON body (submit) or binary junk as text (fetch);
- ``"truncated"``: a body shorter than its ``Content-Length``, then close;
- ``"html"``: 200 ``text/html`` (a login page instead of the answer).

The server listens on 127.0.0.1 only, on a free port, in a daemon thread; ``close`` stops
it and wakes any sleeping handler.
"""

from __future__ import annotations

import collections
import email.parser
import email.policy
import http.server
import json
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

Answer = Callable[[list[str]], tuple[bytes, str]]


class FakeGateway:
    def __init__(self, answer: Answer, *, pending_polls: int = 1) -> None:
        self.answer = answer
        self.pending_polls = pending_polls
        self.faults: collections.deque[str] = collections.deque()
        self.always: str | None = None
        self.slow_seconds = 1.0
        self.retry_after = "1"
        self.requests: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.uploads: list[list[str]] = []
        self._jobs: dict[str, bytes] = {}
        self._types: dict[str, str] = {}
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                gateway._handle(self, "POST")

            def do_GET(self) -> None:
                gateway._handle(self, "GET")

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for m, _ in self.requests if method is None or m == method)

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- handling ---------------------------------------------------------------------------

    def _handle(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, h.path))
            self.headers.append({k.lower(): v for k, v in h.headers.items()})
            fault = self.faults.popleft() if self.faults else self.always
        try:
            if fault is not None and self._fault(h, fault, method):
                return
            if method == "POST" and h.path == "/submissions":
                self._submit(h, body)
            elif method == "GET" and h.path.startswith("/submissions/"):
                self._result(h, h.path.rsplit("/", 1)[1])
            else:
                self._send(h, 404, b"not found", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _fault(self, h: http.server.BaseHTTPRequestHandler, fault: str, method: str) -> bool:
        if fault == "slow":
            self._stop.wait(self.slow_seconds)
            return False
        if fault in ("500", "503", "404", "401"):
            self._send(h, int(fault), b'{"error": "x"}', "application/json")
        elif fault == "429":
            self._send(h, 429, b"slow down", "text/plain", {"Retry-After": self.retry_after})
        elif fault == "reset":
            h.close_connection = True
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif fault == "garbled":
            if method == "POST":
                self._send(h, 200, b'{"id": "abc', "application/json")
            else:
                self._send(h, 200, b"\xff\xfe\x00garbage\x00\x81\n", "text/plain")
        elif fault == "truncated":
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", "1000")
            h.end_headers()
            h.wfile.write(b"0612345")
            h.wfile.flush()
            h.close_connection = True
        elif fault == "html":
            self._send(h, 200, b"<html><body>Login</body></html>", "text/html")
        else:  # pragma: no cover - a typo in a test
            raise AssertionError(f"unknown fault {fault}")
        return True

    def _submit(self, h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        ctype = h.headers.get("Content-Type", "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
        )
        upload: bytes | None = None
        for part in message.iter_parts() if message.is_multipart() else []:
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                upload = payload if isinstance(payload, bytes) else None
        if upload is None:
            self._send(h, 400, b'{"error": "no file"}', "application/json")
            return
        lines = [ln for ln in upload.decode("utf-8").splitlines() if ln.strip()]
        with self._lock:
            self.uploads.append(lines)
            job = f"job-{len(self._jobs) + 1}"
            content, content_type = self.answer(lines)
            self._jobs[job] = content
            self._types[job] = content_type
            self._polls[job] = 0
        self._send(h, 201, json.dumps({"id": job}).encode(), "application/json")

    def _result(self, h: http.server.BaseHTTPRequestHandler, job: str) -> None:
        with self._lock:
            if job not in self._jobs:
                ready: bytes | None = None
                found = False
            else:
                found = True
                self._polls[job] += 1
                ready = self._jobs[job] if self._polls[job] > self.pending_polls else None
            content_type = self._types.get(job, "text/plain")
        if not found:
            self._send(h, 404, b'{"error": "unknown"}', "application/json")
        elif ready is None:
            self._send(h, 202, b'{"status": "pending"}', "application/json")
        else:
            self._send(h, 200, ready, content_type)

    @staticmethod
    def _send(
        h: http.server.BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(body)
