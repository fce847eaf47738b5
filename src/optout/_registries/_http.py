"""Shared HTTP behaviour for remote registries: timeouts, retries, a circuit breaker, TLS.

Every remote backend (``es_robinson``, ``us_rnd``, ``http_json``) talks to its API through
an :class:`HttpClient`, which applies one :class:`HttpPolicy`:

- **timeouts**: a connect and a read timeout per socket operation, plus a ``deadline``
  for a whole attempt, so a server that trickles its answer byte by byte is cut off too;
- **retries**: on transport errors (refused, reset, timed out), HTTP 5xx and HTTP 429
  only, at most ``max_attempts`` attempts, with exponential backoff and jitter capped at
  ``backoff_max``. ``Retry-After`` (seconds or an HTTP date) is honoured on 429 and 503;
  when it asks for longer than ``max_retry_after`` the call gives up at once rather than
  waiting less than the server asked. Other 4xx answers are never retried;
- **circuit breaker**: after ``breaker_failures`` consecutive failed calls the client fails
  fast for ``breaker_cooldown`` seconds, then lets one trial call through (half-open); a
  success closes the breaker, a failure opens it again;
- **TLS**: certificates are always verified, against the system store or a CA bundle
  (``ca_bundle=`` or ``$OPTOUT_CA_BUNDLE``). Verification is off only with an explicit
  ``insecure=True``, which logs a WARNING every time a client is built.

Errors map to the library's exceptions: exhausted retries, timeouts, resets, HTTP errors
and an open breaker raise :class:`optout.RegistryUnavailableError`; a body that is not
what the API promises (wrong content type, garbled JSON, missing fields) raises
:class:`optout.RegistryFormatError`. :class:`HttpRemoteRegistry` turns both into
``unavailable`` facts, so a broken API never lets a call through.

Ambiguous answers are malformed answers too, never read one way or the other: JSON with
a repeated key (:func:`decode_json`; ``{"listed": true, "listed": false}`` is not "the
last one wins"), ``NaN``/``Infinity``, and HTTP/1.1 framing that RFC 9112 section 6.3
forbids or calls an error (:func:`check_framing`: ``Content-Length`` together with
``Transfer-Encoding``, differing ``Content-Length`` values, a body of another length than
its ``Content-Length``). The backends refuse, in the same way, a number answered twice
with different answers and an answer for a number that was not asked about.

Logging (logger ``optout.registries.http``) names the registry, the host and path, the
HTTP status and the attempt; never credentials, request bodies or phone numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import ipaddress
import json
import logging
import math
import os
import random
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from optout._errors import (
    ConfigurationError,
    RegistryError,
    RegistryFormatError,
    RegistryUnavailableError,
)
from optout._registries._base import RegistryFact, RegistryOptions, unavailable
from optout._registries._kinds import RemoteRegistry
from optout._registries._store import Answer
from optout._timeutil import utcnow

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ConfigurationError(
        "remote registries need httpx; install it with: pip install httpx"
    ) from exc

__all__ = [
    "ENV_CA_BUNDLE",
    "CircuitBreaker",
    "HttpClient",
    "HttpPolicy",
    "HttpRemoteRegistry",
    "Signer",
    "check_endpoint",
    "check_framing",
    "decode_json",
    "env_secret",
    "positive_timedelta",
]

_log = logging.getLogger("optout.registries.http")

T = TypeVar("T")


class _RedactQuery(logging.Filter):
    """Drop query strings from the URLs httpx logs (``HTTP Request: POST <url>``): they
    may carry SigV4 credentials and signatures, or tokens of customer services."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, httpx.URL) and a.query for a in record.args
        ):
            record.args = tuple(
                f"{a.copy_with(query=None)}?<redacted>"
                if isinstance(a, httpx.URL) and a.query
                else a
                for a in record.args
            )
        return True


_HTTPX_LOG = logging.getLogger("httpx")
if not any(isinstance(f, _RedactQuery) for f in _HTTPX_LOG.filters):
    _HTTPX_LOG.addFilter(_RedactQuery())

#: A CA bundle (PEM file) to verify registry servers with, instead of the system store.
ENV_CA_BUNDLE = "OPTOUT_CA_BUNDLE"

#: Signs a request in place (headers or URL) just before each attempt is sent.
Signer = Callable[[httpx.Request], None]


def positive_timedelta(value: object, what: str) -> dt.timedelta:
    """``value`` when it is a positive :class:`datetime.timedelta`; else a clear error."""
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ConfigurationError(f"{what} must be a positive timedelta, got {value!r}")
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(name: str, url: str, *, insecure: bool) -> str:
    """``url`` when it is an ``https://`` URL, or plain ``http://`` to a loopback address.

    Plain ``http`` elsewhere would send phone numbers (or their registry hashes) and
    credentials without TLS, so it is refused unless ``insecure=True``, which is logged as
    a WARNING like every other way of turning TLS verification off.

    Raises:
        ConfigurationError: not an http(s) URL, or plain http to another host.
    """
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{name}: url must be an https:// URL, got {url!r}")
    if scheme == "http" and not _is_loopback(parts.hostname):
        if not insecure:
            raise ConfigurationError(
                f"{name}: plain http to {parts.hostname} would send numbers and credentials "
                "without TLS: use https (http is accepted for a loopback address, or with "
                "insecure=True)"
            )
        _log.warning(
            "%s: plain http to %s (insecure=True): numbers and credentials travel without TLS",
            name,
            parts.hostname,
        )
    return url


def _certificate_failure(exc: BaseException) -> str | None:
    """The reason when ``exc`` comes from a refused server certificate, else ``None``."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or "certificate refused")
        seen = seen.__cause__ or seen.__context__
    return None


def env_secret(value: str | None, *names: str) -> str | None:
    """``value`` when given, else the first non-empty environment variable of ``names``."""
    if value is not None and value.strip():
        return value.strip()
    for name in names:
        found = os.environ.get(name, "").strip()
        if found:
            return found
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class HttpPolicy:
    """How a remote registry is called: timeouts, retries, backoff and circuit breaker.

    Attributes:
        connect_timeout: seconds to open a connection (TLS included).
        read_timeout: seconds to wait for each piece of the answer.
        deadline: seconds one attempt may take in all, however the bytes trickle in.
        max_attempts: attempts per call, the first included (1 disables retries).
        backoff: the first retry delay; each later one doubles it.
        backoff_max: the cap on a computed retry delay.
        jitter: the share of each delay that is random (0 to 1), so that many clients
            do not retry in step.
        rate_limit_wait: the delay after a 429 without ``Retry-After`` (the backoff
            otherwise). Lista Robinson's own client waits 15 s.
        max_retry_after: the longest ``Retry-After`` honoured; a longer one ends the call
            (the registry is reported unavailable) instead of blocking the caller.
        breaker_failures: consecutive failed calls that open the circuit breaker.
        breaker_cooldown: seconds the breaker stays open before a trial call.
        max_body: the largest answer accepted, in bytes.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 30.0
    max_attempts: int = 3
    backoff: float = 0.5
    backoff_max: float = 10.0
    jitter: float = 0.5
    rate_limit_wait: float | None = None
    max_retry_after: float = 60.0
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0
    max_body: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline", "breaker_cooldown"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigurationError(f"HttpPolicy.{name} must be a positive number")
        for name in ("backoff", "backoff_max", "max_retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"HttpPolicy.{name} must be zero or more")
        if self.rate_limit_wait is not None and not self.rate_limit_wait >= 0:
            raise ConfigurationError("HttpPolicy.rate_limit_wait must be zero or more")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError("HttpPolicy.jitter must be between 0 and 1")
        if self.max_attempts < 1 or self.breaker_failures < 1 or self.max_body < 1:
            raise ConfigurationError(
                "HttpPolicy.max_attempts, breaker_failures and max_body must be at least 1"
            )

    def retry_delay(self, attempt: int) -> float:
        """The wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        base = min(self.backoff_max, self.backoff * (2.0 ** (attempt - 1)))
        return float(base * (1 - self.jitter * random.random()))  # noqa: S311 - not cryptographic

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )


class CircuitBreaker:
    """Fails fast after repeated failures, and tries again after a cool-down.

    ``closed``: calls go through. ``open``: calls fail at once until ``cooldown`` seconds
    have passed since the breaker opened. ``half_open``: one trial call goes through
    (others still fail fast); its success closes the breaker, its failure reopens it.
    Thread-safe.
    """

    def __init__(
        self, failures: int, cooldown: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._trial or self._clock() - self._opened_at >= self.cooldown:
                return "half_open"
            return "open"

    def before(self, name: str) -> None:
        """Let a call through, or raise :class:`RegistryUnavailableError` at once."""
        with self._lock:
            if self._opened_at is None:
                return
            waited = self._clock() - self._opened_at
            if waited >= self.cooldown and not self._trial:
                self._trial = True  # this caller makes the half-open trial call
                return
            left = max(0.0, self.cooldown - waited)
        raise RegistryUnavailableError(
            f"{name}: circuit breaker open after {self.failures} consecutive failures; "
            f"next try in {left:.1f}s"
        )

    def success(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._opened_at = None
            self._trial = False

    def failure(self, name: str) -> None:
        with self._lock:
            self._consecutive += 1
            if self._trial or self._consecutive >= self.failures:
                if self._opened_at is None or self._trial:
                    _log.warning(
                        "%s: circuit breaker open for %.1fs after %d consecutive failures",
                        name,
                        self.cooldown,
                        self._consecutive,
                    )
                self._opened_at = self._clock()
                self._trial = False


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - utcnow()).total_seconds())


class _Refused(RegistryUnavailableError):
    """The API answered with an error status that is not worth retrying (4xx)."""


class _Retry(Exception):
    """One attempt failed in a way worth another attempt."""

    def __init__(self, why: str, wait: float | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.wait = wait


class HttpClient:
    """An httpx client with the policy, breaker and TLS rules of this module.

    Args:
        name: the registry id, used in messages and logs.
        policy: timeouts, retries and breaker settings.
        ca_bundle: a PEM file of CA certificates to trust instead of the system store
            (default ``$OPTOUT_CA_BUNDLE``).
        insecure: turn TLS certificate verification off (logged as a WARNING every time
            a client is built). Never needed with a proper ``ca_bundle``.
        headers: sent with every request (authentication headers, for instance).
        transport: an httpx transport (tests, proxies).
    """

    def __init__(
        self,
        name: str,
        *,
        policy: HttpPolicy | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        insecure: bool = False,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.policy = policy or HttpPolicy()
        bundle = os.fspath(ca_bundle) if ca_bundle is not None else None
        self.ca_bundle = bundle or os.environ.get(ENV_CA_BUNDLE, "").strip() or None
        if self.ca_bundle is not None and not os.path.isfile(self.ca_bundle):
            raise ConfigurationError(f"{name}: CA bundle {self.ca_bundle!r} is not a file")
        if not isinstance(insecure, bool):
            raise ConfigurationError(f"{name}: insecure must be True or False")
        self.insecure = insecure
        self.breaker = CircuitBreaker(self.policy.breaker_failures, self.policy.breaker_cooldown)
        self._headers = dict(headers or {})
        self._transport = transport
        self._sleep = sleep
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    def _verify(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        return ssl.create_default_context(cafile=self.ca_bundle)

    @property
    def client(self) -> httpx.Client:
        """The underlying httpx client (built on first use)."""
        with self._lock:
            if self._client is None:
                if self.insecure:
                    _log.warning(
                        "%s: TLS certificate verification is OFF (insecure=True); the "
                        "registry's identity is not checked",
                        self.name,
                    )
                self._client = httpx.Client(
                    timeout=self.policy.timeout,
                    verify=self._verify(),
                    headers=self._headers,
                    transport=self._transport,
                    follow_redirects=False,
                    trust_env=False,
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def request(
        self,
        method: str,
        url: str,
        parse: Callable[[bytes], T],
        *,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
        sign: Signer | None = None,
        expect: str = "application/json",
    ) -> T:
        """Send a request with retries; return ``parse(body)`` of the 2xx answer.

        ``parse`` validates the body and raises :class:`RegistryFormatError` when it is
        not what the API promises. A call counts as a success for the circuit breaker only
        once its answer parsed; garbled answers count as failures.

        Raises:
            RegistryUnavailableError: the breaker is open, retries are exhausted, or the
                API refused the request (4xx other than 429).
            RegistryFormatError: the answer does not have the ``expect`` content type, is
                larger than the policy allows, or ``parse`` rejected it.
        """
        self.breaker.before(self.name)
        try:
            result = parse(self._with_retries(method, url, content, headers, sign, expect))
        except _Refused:
            self.breaker.success()  # the API is up and answering; the request is refused
            raise
        except BaseException:
            self.breaker.failure(self.name)
            raise
        self.breaker.success()
        return result

    def _with_retries(
        self,
        method: str,
        url: str,
        content: bytes,
        headers: Mapping[str, str] | None,
        sign: Signer | None,
        expect: str,
    ) -> bytes:
        where = _where(url)
        policy = self.policy
        last = "no attempt made"
        attempt = 0
        for attempt in range(1, policy.max_attempts + 1):
            try:
                response, body = self._attempt(method, url, content, headers, sign)
            except _Retry as retry:
                last = retry.why
                if attempt >= policy.max_attempts:
                    break
                wait = retry.wait if retry.wait is not None else policy.retry_delay(attempt)
                if wait > policy.max_retry_after:
                    last = f"{retry.why}; the server asks to wait {wait:.0f}s"
                    break
                _log.warning(
                    "%s: %s from %s (attempt %d of %d); retrying in %.2fs",
                    self.name,
                    retry.why,
                    where,
                    attempt,
                    policy.max_attempts,
                    wait,
                )
                self._sleep(wait)
            else:
                return self._accept(response, body, expect)
        _log.warning("%s: %s unavailable: %s", self.name, where, last)
        raise RegistryUnavailableError(
            f"{self.name}: {where} unavailable after {attempt} attempt(s): {last}"
        )

    def _attempt(
        self,
        method: str,
        url: str,
        content: bytes,
        headers: Mapping[str, str] | None,
        sign: Signer | None,
    ) -> tuple[httpx.Response, bytes]:
        policy = self.policy
        request = self.client.build_request(method, url, content=content, headers=headers)
        if sign is not None:
            sign(request)
        start = time.monotonic()
        chunks: list[bytes] = []
        try:
            response = self.client.send(request, stream=True)
            try:
                check_framing(self.name, response)
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > policy.max_body:
                        raise RegistryFormatError(
                            f"{self.name}: the answer is larger than {policy.max_body} bytes"
                        )
                    if time.monotonic() - start > policy.deadline:
                        raise _Retry(f"answer not complete within {policy.deadline:g}s")
                    chunks.append(chunk)
                check_framing(self.name, response, received=response.num_bytes_downloaded)
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            failed = _certificate_failure(exc)
            if failed is not None:
                # Not transient: retrying cannot make the certificate trusted.
                _log.warning(
                    "%s: TLS certificate of %s not trusted: %s", self.name, _where(url), failed
                )
                raise RegistryUnavailableError(
                    f"{self.name}: {_where(url)}: TLS certificate verification failed "
                    f"({failed}); trust a private CA with ca_bundle= or ${ENV_CA_BUNDLE}"
                ) from None
            raise _Retry(f"connection failed ({type(exc).__name__})") from None
        if time.monotonic() - start > policy.deadline:
            raise _Retry(f"answer not complete within {policy.deadline:g}s")
        status = response.status_code
        if status in (429, 503):
            wait = _retry_after(response)
            if wait is None and status == 429:
                wait = policy.rate_limit_wait
            raise _Retry(f"HTTP {status}", wait)
        if status >= 500:
            raise _Retry(f"HTTP {status}")
        return response, b"".join(chunks)

    def _accept(self, response: httpx.Response, body: bytes, expect: str) -> bytes:
        status = response.status_code
        if not 200 <= status < 300:
            hint = " (check the credentials)" if status in (401, 403) else ""
            where = _where(str(response.url))
            _log.warning("%s: %s answered HTTP %d%s", self.name, where, status, hint)
            raise _Refused(f"{self.name}: the API refused the request: HTTP {status}{hint}")
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if expect and ctype != expect:
            raise RegistryFormatError(
                f"{self.name}: expected {expect}, the API answered {ctype or 'no content type'}"
            )
        return body

    def post_json(
        self,
        url: str,
        parse: Callable[[Any], T],
        *,
        content: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        sign: Signer | None = None,
    ) -> T:
        """POST ``content``; decode the JSON answer and return ``parse(decoded)``."""
        sent = {"content-type": content_type, "accept": "application/json", **(headers or {})}
        return self.request(
            "POST",
            url,
            lambda body: parse(decode_json(self.name, body)),
            content=content,
            headers=sent,
            sign=sign,
        )

    def __repr__(self) -> str:
        return f"HttpClient({self.name!r}, breaker={self.breaker.state})"


class _RepeatedKey(ValueError):
    """A JSON object of the answer has the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NotJsonNumber(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python accepts them, JSON does not."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _NotJsonNumber(name)


#: Keys safe to name in a message: field names, never phone numbers or their hashes.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z_-]{0,39}$")


def decode_json(name: str, body: bytes) -> Any:
    """Decode a JSON answer, or raise :class:`RegistryFormatError`.

    Stricter than :func:`json.loads`, because an ambiguous answer must never be read as
    a clean one: an object with a repeated key (``{"listed": true, "listed": false}``,
    at any depth) is refused instead of keeping the last value, and so are ``NaN`` and
    ``Infinity`` (not JSON) and answers nested too deeply to decode. Every backend that
    reads JSON decodes it here.
    """
    try:
        return json.loads(
            body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except _RepeatedKey as exc:
        # Keys may be phone numbers or their hashes (Lista Robinson): name field names only.
        which = f" {exc.key!r}" if _FIELD_NAME.match(exc.key) else ""
        raise RegistryFormatError(
            f"{name}: the answer repeats a key{which} in one JSON object, so it says two "
            "things at once; it is not used"
        ) from None
    except _NotJsonNumber as exc:
        raise RegistryFormatError(f"{name}: the answer is not valid JSON ({exc})") from None
    except RecursionError:
        raise RegistryFormatError(f"{name}: the answer is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryFormatError(f"{name}: the answer is not valid JSON ({exc})") from None


def check_framing(name: str, response: httpx.Response, *, received: int | None = None) -> None:
    """Refuse an HTTP/1.1 answer whose framing RFC 9112 forbids or calls an error.

    - ``Content-Length`` together with ``Transfer-Encoding`` (section 6.1: a sender MUST
      NOT; section 6.3: "ought to be handled as an error"; h11 silently lets
      ``Transfer-Encoding`` win);
    - several ``Content-Length`` values that differ (section 6.3, item 5);
    - with ``received`` (the raw body bytes read), a body of another length than the
      ``Content-Length`` (section 6.3: incomplete). h11 already refuses the last two; the
      checks stay so that no client library can make them an answer.

    Raises:
        RegistryFormatError: the framing is ambiguous or the body incomplete.
    """
    lengths = [v.strip() for v in response.headers.get_list("content-length", split_commas=True)]
    if lengths and "transfer-encoding" in response.headers:
        raise RegistryFormatError(
            f"{name}: the answer has both Content-Length and Transfer-Encoding, which "
            "HTTP/1.1 forbids (RFC 9112 section 6.1); it is not used"
        )
    if len(set(lengths)) > 1:
        raise RegistryFormatError(
            f"{name}: the answer has differing Content-Length values (RFC 9112 section 6.3); "
            "it is not used"
        )
    if received is not None and lengths and lengths[0].isdigit() and int(lengths[0]) != received:
        raise RegistryFormatError(
            f"{name}: the answer has {received} bytes where its Content-Length says "
            f"{int(lengths[0])} (RFC 9112 section 6.3); it is not used"
        )


def _where(url: str) -> str:
    """The host and path of ``url`` (no query string, no credentials) for messages."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "the registry API"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.host}{port}{parsed.path}"


class HttpRemoteRegistry(RemoteRegistry):
    """A :class:`RemoteRegistry` over HTTP: batching, partial results and fail-closed facts.

    Subclasses implement :meth:`query_batch` for at most ``batch`` numbers. :meth:`query`
    splits the numbers into batches; when a later batch fails, the answers of the batches
    already received are stored before the error propagates (they are proof of a real
    consultation), and every number of the failed call gets an ``unavailable`` fact. A
    malformed answer (:class:`RegistryFormatError`) is reported ``unavailable`` too.
    """

    def __init__(
        self,
        id: str,
        *,
        http: HttpClient,
        batch: int,
        cache_for: dt.timedelta,
        options: RegistryOptions | None = None,
    ) -> None:
        super().__init__(id, cache_for=cache_for, options=options)
        if batch < 1:
            raise ConfigurationError(f"{id}: batch must be at least 1")
        self.http = http
        self.batch = batch

    def query_batch(self, numbers: Sequence[str], at: dt.datetime) -> list[Answer]:
        """Answers for at most :attr:`batch` distinct numbers (one per number)."""
        raise NotImplementedError

    def query(self, numbers: Sequence[str], at: dt.datetime) -> list[Answer]:
        unique = list(dict.fromkeys(numbers))
        done: list[Answer] = []
        for start in range(0, len(unique), self.batch):
            chunk = unique[start : start + self.batch]
            try:
                answers = self.query_batch(chunk, at)
            except RegistryError:
                if done and self._store is not None:
                    self.store.save_answers(done)
                raise
            got = {a.number for a in answers}
            if got != set(chunk) or len(answers) != len(chunk):
                if done and self._store is not None:
                    self.store.save_answers(done)
                raise RegistryFormatError(f"{self.id}: the answer does not cover the batch")
            done.extend(answers)
        return done

    def facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        try:
            return super().facts(numbers, at)
        except RegistryFormatError as exc:
            _log.warning("%s: malformed answer: %s", self.id, exc)
            return unavailable(
                self.id, numbers, f"malformed answer: {exc}", fail_open=self.options.fail_open
            )

    def close(self) -> None:
        """Close the HTTP connections (the registry can still be used; it reconnects)."""
        self.http.close()

    @staticmethod
    def checked_now(at: dt.datetime) -> dt.datetime:
        """The consultation instant: now, but never later than the instant decided."""
        return min(utcnow(), at)
