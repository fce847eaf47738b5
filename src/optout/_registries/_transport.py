"""HTTP submit-and-receive for consultation registries (Italy RPO, France Bloctel, Australia
DNCR), for operators who automate the upload and the download of the returned list.

.. warning::
   **The registries' APIs are NOT CONFIRMED.** None publishes a REST API for this (the RPO
   has a web area with client-certificate authentication, Bloctel a web upload page, the
   DNCR a web form and SFTP). This transport speaks an *assumed* protocol, meant for an
   in-house gateway or a bureau that fronts the registry, and every part is overridable
   (:class:`Endpoints`, or subclass and override :meth:`SubmitReceiveTransport.job_id`)::

       POST {base_url}/submissions              multipart/form-data, field "file": the upload
            -> 200/201/202, application/json     {"id": "<consultation id>"}
       GET  {base_url}/submissions/{id}
            -> 202                               not ready yet (poll again)
            -> 200, text/plain | text/csv | application/zip | application/octet-stream
                                                 the returned file

HTTP behaviour: every request has a timeout; 429 (honouring ``Retry-After``), 408, 5xx,
timeouts and connection failures are retried a bounded number of times with exponential
backoff, then raise :class:`optout.RegistryUnavailableError`; a body that is not what the
protocol says (not JSON, no id, a wrong content type, a file the codec cannot read) raises
:class:`optout.RegistryFormatError`, and so does an ambiguous one: JSON with a repeated key
(two ids), or HTTP/1.1 framing that RFC 9112 forbids (``Content-Length`` with
``Transfer-Encoding``, differing ``Content-Length`` values, a body of another length).
Nothing is recorded on any error, so the numbers stay unconsulted and calls to them are
denied. Each submission carries an ``Idempotency-Key`` header that stays the same across its
retries, so a gateway can avoid billing a retried upload twice. TLS certificates are always
verified (``ca_bundle`` adds a private CA; ``client_cert`` presents a client certificate, as
the RPO requires); only ``insecure=True`` turns verification off, and it logs a WARNING.
Phone numbers are never logged.

Needs ``httpx`` (``pip install httpx``); the registries themselves do not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import ipaddress
import logging
import os
import pathlib
import re
import ssl
import tempfile
import time
import urllib.parse
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

import httpx

from optout._errors import (
    ConfigurationError,
    RegistryError,
    RegistryFormatError,
    RegistryUnavailableError,
)
from optout._registries._http import check_framing, decode_json
from optout._registries._kinds import ConsultationCodec, ConsultationRegistry, ConsultationReport
from optout._timeutil import utcnow

__all__ = ["Endpoints", "SubmitReceiveTransport", "consult"]

_log = logging.getLogger("optout.registries.transport")
_T = TypeVar("_T")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}$")
_LONG_DIGITS = re.compile(r"\d[\d\s().+\-]{4,}\d")
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoints:
    """The assumed API's shape (NOT CONFIRMED); change any part for your gateway.

    Attributes:
        submit: path (relative to the base URL) the upload is POSTed to.
        result: path of a consultation's returned file; ``{id}`` is the consultation id.
        file_field: the multipart field carrying the upload.
        upload_name: the upload's file name.
        upload_type: the upload's content type.
        id_field: the JSON field of the submit answer holding the consultation id.
        pending_statuses: statuses of the result URL meaning "not ready yet".
        file_types: content types the returned file may have.
    """

    submit: str = "submissions"
    result: str = "submissions/{id}"
    file_field: str = "file"
    upload_name: str = "submission.txt"
    upload_type: str = "text/plain"
    id_field: str = "id"
    pending_statuses: frozenset[int] = frozenset({202})
    file_types: frozenset[str] = frozenset(
        {
            "text/plain",
            "text/csv",
            "application/csv",
            "application/zip",
            "application/x-zip-compressed",
            "application/octet-stream",
        }
    )


class _Retry(Exception):
    """A failure worth another attempt."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class SubmitReceiveTransport:
    """Uploads a consultation's list and downloads the returned file over HTTPS.

    Args:
        base_url: the gateway's base URL (``https://...``; plain ``http`` only to a loopback
            address, or with ``insecure=True``).
        codec: writes the upload (use the registry's own: ``registry.codec``) and checks the
            returned file before it is handed back.
        client: an ``httpx.Client`` to use (its TLS settings then apply, so ``ca_bundle``,
            ``client_cert`` and ``insecure`` cannot be combined with it; it is not closed).
        endpoints: the API's shape (see :class:`Endpoints`).
        timeout: seconds for each request (connect, read, write, pool).
        retries: further attempts after a retryable failure (so ``retries + 1`` at most).
        backoff: the first wait between attempts, doubled after each (capped at
            ``max_backoff``); a longer ``Retry-After`` is honoured up to ``max_retry_after``,
            beyond which the request fails at once.
        headers: extra headers on every request (``{"Authorization": "Bearer ..."}``).
        auth: an ``httpx`` auth (``("user", "password")`` for basic auth).
        ca_bundle: a PEM file of CAs to trust (a private gateway; default
            ``$OPTOUT_CA_BUNDLE``, else the system store); verification stays on.
        client_cert: a PEM client certificate (with its key), or ``(cert, key)`` paths.
        insecure: turn TLS verification off (logged as a WARNING). Never in production.
        download_dir: where returned files are kept (default: a private temporary folder).
            They are the proof of the consultation; they hold phone numbers.
        max_bytes: the largest returned file accepted.
        validate: read the returned file with the codec before handing it back, so a
            garbled body is reported by :meth:`fetch` (and the file removed).
        sleep: the wait function (tests may pass a fake).
    """

    def __init__(
        self,
        base_url: str,
        *,
        codec: ConsultationCodec,
        client: httpx.Client | None = None,
        endpoints: Endpoints | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | tuple[str, str] | None = None,
        insecure: bool = False,
        download_dir: str | os.PathLike[str] | None = None,
        max_bytes: int = 4 * 1024**3,
        validate: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url = urllib.parse.urlsplit(str(base_url).strip())
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigurationError(f"base_url must be an https:// URL, got {base_url!r}")
        if url.scheme == "http" and not insecure and not _is_loopback(url.hostname):
            raise ConfigurationError(
                "plain http would send phone numbers in clear: use https (http is only "
                "accepted for a loopback address, or with insecure=True)"
            )
        if timeout <= 0 or retries < 0 or backoff < 0 or max_backoff < 0 or max_bytes <= 0:
            raise ConfigurationError(
                "timeout and max_bytes must be positive; retries and backoffs not negative"
            )
        if client is not None and (ca_bundle or client_cert or insecure):
            raise ConfigurationError(
                "ca_bundle, client_cert and insecure configure the client optout creates; "
                "set them on your own httpx.Client instead"
            )
        self.base_url = url.geturl().rstrip("/") + "/"
        self.codec = codec
        self.endpoints = endpoints or Endpoints()
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_retry_after = float(max_retry_after)
        self.max_bytes = int(max_bytes)
        self.validate = validate
        self._headers = dict(headers or {})
        self._auth = auth
        self._sleep = sleep
        self._download_dir = None if download_dir is None else pathlib.Path(download_dir)
        self._owns_client = client is None
        if insecure:
            _log.warning(
                "TLS certificate verification is OFF for %s (insecure=True): anyone on the "
                "path can read and alter the lists; never use this in production",
                url.hostname,
            )
        if ca_bundle is None and client is None:
            ca_bundle = os.environ.get("OPTOUT_CA_BUNDLE", "").strip() or None
        self._client = client or httpx.Client(
            verify=_tls_context(ca_bundle, client_cert, insecure=insecure),
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            trust_env=False,
        )

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client optout created (a client passed in is left open)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SubmitReceiveTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol -----------------------------------------------------------------------

    def submit(self, numbers: Sequence[str]) -> str:
        """Upload ``numbers`` (E.164, as :meth:`ConsultationRegistry.prepare` returns them)
        in the codec's format; return the registry's consultation id.

        Raises:
            ConfigurationError: nothing to submit.
            RegistryUnavailableError: the gateway could not be reached, or kept failing or
                throttling beyond the retries, or refused the credentials.
            RegistryFormatError: the answer was not the JSON object with an id the protocol
                expects, or the gateway rejected the file (400, 413, 415, 422). When the
                answer is garbled the upload may have been accepted: check before
                submitting again (the registry may bill each upload).
        """
        if not numbers:
            raise ConfigurationError("nothing to submit")
        ep = self.endpoints
        url = self._url(ep.submit)
        key = uuid.uuid4().hex
        headers = {**self._headers, "Accept": "application/json", "Idempotency-Key": key}
        with tempfile.TemporaryDirectory(prefix="optout-submit-") as folder:
            upload = pathlib.Path(folder) / ep.upload_name
            self.codec.write_submission(numbers, upload)

            def attempt() -> str:
                with upload.open("rb") as body:
                    files = {ep.file_field: (ep.upload_name, body, ep.upload_type)}
                    response = self._call(
                        lambda: self._client.post(
                            url, files=files, headers=headers, timeout=self.timeout, auth=self._a()
                        )
                    )
                check_framing("submission", response, received=response.num_bytes_downloaded)
                self._check_status(response, "submission")
                if response.status_code not in (200, 201, 202):
                    raise RegistryFormatError(
                        f"submission: unexpected HTTP {response.status_code}", path=url
                    )
                return self.job_id(response)

            job = self._with_retries("submission", attempt)
        _log.info("submitted %d numbers to %s as consultation %s", len(numbers), self._host, job)
        return job

    def fetch(self, job_id: str, dest: str | os.PathLike[str] | None = None) -> pathlib.Path | None:
        """Download the returned file of consultation ``job_id``, or ``None`` while pending.

        The file is written atomically to ``dest`` (default: ``download_dir``) and, with
        ``validate``, read once with the codec.

        Raises:
            RegistryUnavailableError: unreachable, failing, throttling, or refused.
            RegistryFormatError: a wrong content type, a body larger than ``max_bytes``, or
                a file the codec cannot read.
        """
        if not _ID.match(str(job_id)):
            raise ConfigurationError(f"not a consultation id: {job_id!r}")
        url = self._url(self.endpoints.result.format(id=urllib.parse.quote(job_id, safe="")))
        headers = {**self._headers, "Accept": ", ".join(sorted(self.endpoints.file_types))}

        def attempt() -> pathlib.Path | None:
            return self._call(lambda: self._download(url, headers, job_id, dest))

        path = self._with_retries(f"consultation {job_id}", attempt)
        if path is None:
            _log.debug("consultation %s is not ready yet", job_id)
            return None
        if self.validate:
            try:
                for _ in self.codec.read_returned(path):
                    pass
            except RegistryError:
                path.unlink(missing_ok=True)
                raise
        _log.info("received the returned file of consultation %s", job_id)
        return path

    def job_id(self, response: httpx.Response) -> str:
        """The consultation id in the submit answer (override for another body)."""
        ctype = _content_type(response)
        if ctype != "application/json" and not ctype.endswith("+json"):
            raise RegistryFormatError(
                f"submission: expected a JSON answer, got {ctype or 'no content type'}; the "
                "upload may have been accepted: check before submitting again",
                path=str(response.url),
            )
        try:
            data = decode_json("submission", response.content)
        except RegistryFormatError as exc:
            raise RegistryFormatError(
                f"the JSON answer is garbled or ambiguous ({exc}); the upload may have been "
                "accepted: check before submitting again",
                path=str(response.url),
            ) from None
        value = data.get(self.endpoints.id_field) if isinstance(data, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _ID.match(value):
            raise RegistryFormatError(
                f"submission: the answer has no usable {self.endpoints.id_field!r}",
                path=str(response.url),
            )
        return value

    # -- internals --------------------------------------------------------------------------

    @property
    def _host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc

    def _a(self) -> httpx.Auth | tuple[str, str] | httpx._client.UseClientDefault:
        return httpx.USE_CLIENT_DEFAULT if self._auth is None else self._auth

    def _url(self, path: str) -> str:
        return urllib.parse.urljoin(self.base_url, path.lstrip("/"))

    def _downloads(self) -> pathlib.Path:
        if self._download_dir is None:
            self._download_dir = pathlib.Path(tempfile.mkdtemp(prefix="optout-returns-"))
        self._download_dir.mkdir(parents=True, exist_ok=True)
        return self._download_dir

    def _download(
        self,
        url: str,
        headers: Mapping[str, str],
        job_id: str,
        dest: str | os.PathLike[str] | None,
    ) -> pathlib.Path | None:
        what = f"consultation {job_id}"
        with self._client.stream(
            "GET", url, headers=headers, timeout=self.timeout, auth=self._a()
        ) as response:
            if response.status_code in self.endpoints.pending_statuses:
                return None
            if response.status_code != 200:
                response.read()
                self._check_status(response, what)
                raise RegistryFormatError(f"{what}: unexpected HTTP {response.status_code}")
            check_framing(what, response)
            ctype = _content_type(response)
            if ctype not in self.endpoints.file_types:
                raise RegistryFormatError(
                    f"{what}: the returned file has the wrong content type "
                    f"{ctype or '(none)'}; expected one of "
                    f"{', '.join(sorted(self.endpoints.file_types))}",
                    path=url,
                )
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise RegistryFormatError(
                    f"{what}: the returned file is larger than max_bytes", path=url
                )
            zipped = "zip" in ctype
            target = (
                pathlib.Path(dest)
                if dest is not None
                else self._downloads() / f"{_safe_name(job_id)}{'.zip' if zipped else '.txt'}"
            )
            _write_atomically(target, _framed_body(response, what), self.max_bytes, what)
        if zipped or zipfile.is_zipfile(target):
            _check_zip(target, what)
        return target

    def _call(self, send: Callable[[], _T]) -> _T:
        """Run one HTTP exchange, turning transport failures into retries."""
        try:
            return send()
        except httpx.TimeoutException:
            raise _Retry(f"no answer within {self.timeout:g}s") from None
        except httpx.TransportError as exc:
            if _tls_failure(exc):
                raise RegistryUnavailableError(
                    f"TLS verification of {self._host} failed ({exc}); set ca_bundle for a "
                    "private CA"
                ) from None
            raise _Retry(f"connection failed ({type(exc).__name__}: {exc})") from None

    def _check_status(self, response: httpx.Response, what: str) -> None:
        code = response.status_code
        if code < 400:
            return
        if code in _RETRY_STATUSES or code >= 500:
            after = _retry_after(response.headers.get("retry-after"))
            label = "rate limited" if code == 429 else "server error" if code >= 500 else "timeout"
            raise _Retry(f"HTTP {code} ({label})", after)
        detail = _redacted(response.text) if response.content else ""
        if code in (401, 403):
            raise RegistryUnavailableError(
                f"{what}: HTTP {code}: the registry refused the credentials{detail}"
            )
        if code in (400, 413, 415, 422):
            raise RegistryFormatError(
                f"{what}: the registry rejected the request: HTTP {code}{detail}"
            )
        raise RegistryUnavailableError(f"{what}: HTTP {code} from {self._host}{detail}")

    def _with_retries(self, what: str, attempt: Callable[[], _T]) -> _T:
        last = ""
        for n in range(self.retries + 1):
            try:
                return attempt()
            except _Retry as exc:
                last = exc.reason
                if n == self.retries:
                    break
                delay = min(self.max_backoff, self.backoff * 2**n)
                if exc.retry_after is not None:
                    if exc.retry_after > self.max_retry_after:
                        raise RegistryUnavailableError(
                            f"{what}: {last}; the registry asks to wait "
                            f"{exc.retry_after:.0f}s, more than max_retry_after "
                            f"({self.max_retry_after:g}s)"
                        ) from None
                    delay = max(delay, exc.retry_after)
                _log.info(
                    "%s at %s: %s; attempt %d of %d in %.2fs",
                    what,
                    self._host,
                    last,
                    n + 2,
                    self.retries + 1,
                    delay,
                )
                self._sleep(delay)
        raise RegistryUnavailableError(
            f"{what}: {self._host} failed {self.retries + 1} times; last: {last}"
        )


def consult(
    registry: ConsultationRegistry,
    transport: SubmitReceiveTransport,
    numbers: Iterable[str],
    *,
    poll_every: float = 60.0,
    timeout: float = 2 * 86400.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ConsultationReport:
    """Submit ``numbers`` to ``registry`` through ``transport``, wait for the returned file
    and ingest it.

    The numbers are prepared as for an export (this registry's country, deduplicated);
    ``poll_every`` seconds separate the polls, and after ``timeout`` seconds the wait stops.
    The consultation is recorded with its id as reference and the *submission* instant as
    ``checked_at`` (the earliest the answer can be from, so its validity is never
    overstated). The returned file stays in the transport's ``download_dir`` as proof.

    Raises:
        ConfigurationError: no number of the registry's country to submit.
        RegistryUnavailableError: the gateway failed, or the file did not come back in time
            (fetch it later with ``transport.fetch(id)`` and ``registry.ingest``).
        RegistryFormatError: a garbled answer or returned file; nothing is recorded.
    """
    if poll_every <= 0 or timeout <= 0:
        raise ConfigurationError("poll_every and timeout must be positive")
    unique, report = registry.prepare(numbers)
    if not unique:
        raise ConfigurationError(f"no {registry.country} numbers to submit to {registry.id}")
    submitted_at = utcnow()
    job = transport.submit(unique)
    _log.info(
        "%s consultation %s: %d unique numbers submitted (%d duplicates, %d other countries, "
        "%d invalid left out)",
        registry.id,
        job,
        report.unique,
        report.duplicates,
        report.skipped_other_country,
        report.invalid,
    )
    deadline = clock() + timeout
    while True:
        path = transport.fetch(job)
        if path is not None:
            break
        if clock() + poll_every > deadline:
            raise RegistryUnavailableError(
                f"{registry.id} consultation {job} did not come back within {timeout:g}s; "
                f"fetch it later with transport.fetch({job!r}) and registry.ingest(...)"
            )
        sleep(poll_every)
    result = registry.ingest(
        unique, path, reference=job, checked_at=submitted_at, submitted_at=submitted_at
    )
    _log.info(
        "%s consultation %s recorded: %d listed, %d clear",
        registry.id,
        job,
        result.listed,
        result.clear,
    )
    return result


# -- helpers --------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_context(
    ca_bundle: str | os.PathLike[str] | None,
    client_cert: str | os.PathLike[str] | tuple[str, str] | None,
    *,
    insecure: bool,
) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(
            cafile=None if ca_bundle is None else os.fspath(ca_bundle)
        )
        if client_cert is not None:
            if isinstance(client_cert, tuple):
                context.load_cert_chain(client_cert[0], client_cert[1])
            else:
                context.load_cert_chain(os.fspath(client_cert))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"cannot load the TLS files: {exc}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _content_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (a number of seconds or an HTTP date), if usable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - utcnow()).total_seconds())


def _redacted(text: str) -> str:
    """A short, single-line excerpt of an error body with anything number-like masked."""
    snippet = " ".join(text.split())[:200]
    snippet = _LONG_DIGITS.sub("<number>", snippet)
    return f": {snippet}" if snippet else ""


def _framed_body(response: httpx.Response, what: str) -> Iterator[bytes]:
    """The body's chunks; once they are all read, a body of another length than its
    ``Content-Length`` raises (before the file replaces anything)."""
    yield from response.iter_bytes()
    check_framing(what, response, received=response.num_bytes_downloaded)


def _safe_name(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", job_id)[:120]


def _write_atomically(
    target: pathlib.Path, chunks: Iterable[bytes], max_bytes: int, what: str
) -> None:
    folder = target.resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    tmp = pathlib.Path(name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise RegistryFormatError(
                        f"{what}: the returned file is larger than max_bytes", path=str(target)
                    )
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _check_zip(path: pathlib.Path, what: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        path.unlink(missing_ok=True)
        raise RegistryFormatError(f"{what}: the returned zip is corrupt: {exc}") from None
    if bad is not None:
        path.unlink(missing_ok=True)
        raise RegistryFormatError(f"{what}: the returned zip is corrupt ({bad})")
