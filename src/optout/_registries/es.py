"""Spain's Lista Robinson (Adigital): the hashed per-record API.

Implemented from Adigital's own open-source client (``github.com/adigital-org/slr-client``,
``src/util/SLRUtils.js``, ``Requester.js``, ``Signing.js``, ``config.js``):

- **normalisation** of a phone number: keep the digits; a number written with ``+``
  becomes ``"00" + digits``, one starting with ``00`` stays as its digits, anything else
  is Spanish and gets ``"0034"`` in front (``+34932404070`` and ``93 240 40 70`` both give
  ``0034932404070``). optout passes E.164 numbers, so the hashed form is ``00`` + country
  code + national number;
- **hash**: ``sha256(channel id + normalised fields)``, lowercase hex; the channel id is
  ``04`` for calls (``"phone"``) and ``03`` for SMS (``"sms"``);
- **request**: ``POST https://api.listarobinson.es/v1/api/user`` whose body is the hashes
  joined by commas, at most 20 distinct hashes per request (duplicates make the API answer
  400), signed with AWS Signature Version 4 (API Gateway, region ``eu-west-1``, service
  ``execute-api``). The signature goes in an ``Authorization`` header by default, signing
  ``host;x-amz-date`` (Adigital's ``Signing.js`` recommends headers outside browsers, and
  the URL then carries no credentials); ``sign_in="query"`` puts it in the query string
  signing ``host`` only, exactly as Adigital's client sends it by default;
- **answer**: a JSON object keyed by hash, each ``{"found": bool, "sectors": [...],
  "signature": "..."}``. ``found`` means listed (in any sector: sectors are kept in the
  evidence, not used to narrow the listing). The ``signature`` is Adigital's proof of the
  consultation, from which it issues certificates; it is kept whole in the evidence. An
  answer that repeats a hash (or any key), has an entry for a hash that was not queried or
  lacks one for a queried hash is not used: the numbers are ``unavailable``;
- **errors**: HTTP 500/502 happen (about one in 150,000 requests) and are retried; HTTP
  429 means slow down, and Adigital's client waits 15 s (``rate_limit_wait``).

How long an answer may be relied on is **not confirmed** (the service regulation was not
read; the law asks for a consultation before each campaign). optout caches answers for
:data:`DEFAULT_CACHE_FOR` (30 days) by default; pass ``cache_for=`` to change it, and the
``kind = "registry"`` rule's ``validity`` bounds it further.

Credentials: ``access_key=`` / ``secret_key=`` or ``$OPTOUT_ES_ROBINSON_ACCESS_KEY`` /
``$OPTOUT_ES_ROBINSON_SECRET_KEY`` (generated on the company's subscription page, "GENERAR
ACCESO AL API"); the endpoint may be overridden with ``url=`` or
``$OPTOUT_ES_ROBINSON_URL``. Credentials are never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from optout._errors import ConfigurationError, RegistryFormatError
from optout._registries._base import RegistryOptions
from optout._registries._http import (
    HttpClient,
    HttpPolicy,
    HttpRemoteRegistry,
    check_endpoint,
    env_secret,
    positive_timedelta,
)
from optout._registries._store import Answer
from optout._timeutil import utcnow

try:
    import httpx
except ImportError as exc:  # pragma: no cover - _http raises first
    raise ConfigurationError("remote registries need httpx: pip install httpx") from exc

__all__ = [
    "CHANNELS",
    "DEFAULT_CACHE_FOR",
    "DEFAULT_URL",
    "ENV_ACCESS_KEY",
    "ENV_SECRET_KEY",
    "ENV_URL",
    "HASHES_PER_REQUEST",
    "RobinsonRegistry",
    "es_robinson",
    "normalize_phone",
    "normalize_text",
    "robinson_hash",
    "sigv4_signing_key",
    "sigv4_sign",
]

DEFAULT_URL = "https://api.listarobinson.es/v1/api/user"
ENV_ACCESS_KEY = "OPTOUT_ES_ROBINSON_ACCESS_KEY"
ENV_SECRET_KEY = "OPTOUT_ES_ROBINSON_SECRET_KEY"  # noqa: S105 - a variable's name
ENV_URL = "OPTOUT_ES_ROBINSON_URL"

#: "As SLR API documentation indicates" (Adigital's client, ``config.js``).
HASHES_PER_REQUEST = 20

#: optout's choice, not a documented rule: the Robinson validity window is not confirmed.
DEFAULT_CACHE_FOR = dt.timedelta(days=30)

#: Channel name -> the id prefixed to the hashed string.
CHANNELS: Mapping[str, str] = {"phone": "04", "sms": "03"}

#: Adigital's client: 3 attempts, 15 s after a 429.
DEFAULT_POLICY = HttpPolicy(max_attempts=3, rate_limit_wait=15.0)

_TEXT_SRC = "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÇÈÉÌÍÑÒÓÙÚÜàáçèéìíñòóùúü"
_TEXT_DST = "abcdefghijklmnopqrstuvwxyzaaceeiinoouuuaaceeiinoouuu"
_TEXT = str.maketrans(_TEXT_SRC, _TEXT_DST)
_NOT_DIGIT = re.compile(r"[^0-9]")
_NOT_TEXT = re.compile(r"[^a-z]")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_ALGORITHM = "AWS4-HMAC-SHA256"


# -- normalisation and hashing (SLRUtils.js) ----------------------------------------------


def normalize_phone(raw: str) -> str:
    """A phone number as Lista Robinson hashes it (``+34 93...`` -> ``003493...``)."""
    digits = _NOT_DIGIT.sub("", raw)
    if raw.startswith("+"):
        return "00" + digits
    if raw.startswith("00"):
        return digits
    return "0034" + digits


def normalize_text(raw: str) -> str:
    """A name or surname as Lista Robinson hashes it: lowercase ASCII letters only."""
    return _NOT_TEXT.sub("", raw.translate(_TEXT))


def robinson_hash(
    phone: str,
    *,
    channel: str = "phone",
    name: str | None = None,
    surname1: str | None = None,
    surname2: str | None = None,
) -> str:
    """The hash Lista Robinson is queried with: ``sha256(channel id + fields)``, hex.

    With no name it is the *simple* record (phone only); with a name, surnames and phone
    it is the *full* record of the same channel.
    """
    if channel not in CHANNELS:
        raise ConfigurationError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    fields = [normalize_phone(phone)]
    if name is not None or surname1 is not None or surname2 is not None:
        fields = [normalize_text(x or "") for x in (name, surname1, surname2)] + fields
    return hashlib.sha256((CHANNELS[channel] + "".join(fields)).encode("utf-8")).hexdigest()


# -- AWS Signature Version 4 (Signing.js, and the AWS specification) ------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sigv4_signing_key(secret_key: str, datestamp: str, region: str, service: str) -> bytes:
    """The derived SigV4 signing key for a day (``YYYYMMDD``), region and service."""
    k_date = _hmac(("AWS4" + secret_key).encode("utf-8"), datestamp)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "aws4_request")


def _uri_encode(text: str) -> str:
    return urllib.parse.quote(text, safe="-_.~")


def _canonical_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    encoded = sorted((_uri_encode(k), _uri_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def sigv4_sign(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_hash: str,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
) -> tuple[str, str, str]:
    """Sign a request; return ``(credential scope, signed headers, signature)``.

    ``path`` is the URI-encoded path, ``query`` the raw query string (it is decoded,
    re-encoded and sorted), ``headers`` the headers to sign (every one given is signed),
    ``amz_date`` the ``YYYYMMDDTHHMMSSZ`` instant.
    """
    canon_headers = {
        name.strip().lower(): " ".join(value.strip().split()) for name, value in headers.items()
    }
    names = sorted(canon_headers)
    signed = ";".join(names)
    canonical = "\n".join(
        [
            method.upper(),
            path or "/",
            _canonical_query(query),
            "".join(f"{n}:{canon_headers[n]}\n" for n in names),
            signed,
            payload_hash,
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = sigv4_signing_key(secret_key, amz_date[:8], region, service)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return scope, signed, signature


class _SigV4:
    """Signs httpx requests for API Gateway, in the query string or in headers."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        region: str,
        service: str,
        where: Literal["query", "headers"],
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self.service = service
        self.where = where

    def __repr__(self) -> str:  # never show the credentials
        return f"_SigV4(region={self.region!r}, service={self.service!r}, where={self.where!r})"

    def __call__(self, request: httpx.Request) -> None:
        amz_date = utcnow().strftime("%Y%m%dT%H%M%SZ")
        payload_hash = hashlib.sha256(request.content).hexdigest()
        host = request.url.netloc.decode("ascii")
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        query = request.url.query.decode("ascii")
        sign = {
            "method": request.method,
            "path": path,
            "payload_hash": payload_hash,
            "access_key": self._access_key,
            "secret_key": self._secret_key,
            "region": self.region,
            "service": self.service,
            "amz_date": amz_date,
        }
        if self.where == "headers":
            headers = {"host": host, "x-amz-date": amz_date}
            scope, signed, signature = sigv4_sign(query=query, headers=headers, **sign)
            request.headers["X-Amz-Date"] = amz_date
            request.headers["Authorization"] = (
                f"{_ALGORITHM} Credential={self._access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature={signature}"
            )
            return
        scope = f"{amz_date[:8]}/{self.region}/{self.service}/aws4_request"
        params = [
            ("X-Amz-Algorithm", _ALGORITHM),
            ("X-Amz-Credential", f"{self._access_key}/{scope}"),
            ("X-Amz-Date", amz_date),
            ("X-Amz-SignedHeaders", "host"),
        ]
        signed_query = "&".join(
            x for x in (query, urllib.parse.urlencode(params, quote_via=urllib.parse.quote)) if x
        )
        _scope, _signed, signature = sigv4_sign(query=signed_query, headers={"host": host}, **sign)
        full = f"{_canonical_query(signed_query)}&X-Amz-Signature={signature}"
        request.url = request.url.copy_with(query=full.encode("ascii"))


# -- the registry ---------------------------------------------------------------------------


class RobinsonRegistry(HttpRemoteRegistry):
    """Lista Robinson over its hashed API (see the module documentation)."""

    def __init__(
        self,
        *,
        url: str,
        signer: _SigV4,
        channel: str,
        http: HttpClient,
        cache_for: dt.timedelta,
        options: RegistryOptions | None = None,
    ) -> None:
        super().__init__(
            "es_robinson",
            http=http,
            batch=HASHES_PER_REQUEST,
            cache_for=cache_for,
            options=options,
        )
        self.url = url
        self.channel = channel
        self._signer = signer

    def query_batch(self, numbers: Sequence[str], at: dt.datetime) -> list[Answer]:
        by_hash: dict[str, str] = {}
        for number in numbers:
            by_hash.setdefault(robinson_hash(number, channel=self.channel), number)
        hashes = list(by_hash)
        if len(hashes) > HASHES_PER_REQUEST:  # pragma: no cover - query() batches
            raise ConfigurationError(f"at most {HASHES_PER_REQUEST} hashes per request")
        checked = self.checked_now(at)

        def parse(body: Any) -> dict[str, tuple[bool, list[str], str]]:
            return _parse_answer(body, hashes)

        results = self.http.post_json(
            self.url,
            parse,
            content=",".join(hashes).encode("ascii"),
            content_type="text/plain;charset=UTF-8",
            sign=self._signer,
        )
        answers: dict[str, Answer] = {}
        for digest, number in by_hash.items():
            found, sectors, signature = results[digest]
            answers[number] = Answer(
                registry=self.id,
                number=number,
                status="listed" if found else "clear",
                checked_at=checked,
                evidence=(
                    f"sha256={digest}; channel={self.channel}; found={int(found)}; "
                    f"sectors={'#'.join(sectors)}; signature={signature}"
                ),
                source="api.listarobinson.es",
            )
        return [answers[n] for n in numbers]


def _parse_answer(body: Any, hashes: Sequence[str]) -> dict[str, tuple[bool, list[str], str]]:
    """The decoded answer by hash. A hash repeated in the answer is refused when it is
    decoded (``decode_json``); one that was not queried is refused here: either means the
    answer is not the one to this request."""
    if not isinstance(body, dict):
        raise RegistryFormatError("es_robinson: the answer is not a JSON object keyed by hash")
    extra = len(set(body) - set(hashes))
    if extra:
        raise RegistryFormatError(
            f"es_robinson: the answer has {extra} entries for hashes that were not queried; "
            "it does not match the request"
        )
    out: dict[str, tuple[bool, list[str], str]] = {}
    for digest in hashes:
        entry = body.get(digest)
        if not isinstance(entry, dict):
            raise RegistryFormatError("es_robinson: the answer has no entry for a queried hash")
        found = entry.get("found")
        sectors = entry.get("sectors", [])
        signature = entry.get("signature")
        if not isinstance(found, bool):
            raise RegistryFormatError("es_robinson: 'found' is not true or false")
        if not isinstance(sectors, list) or not all(
            isinstance(s, str | int) and not isinstance(s, bool) for s in sectors
        ):
            raise RegistryFormatError("es_robinson: 'sectors' is not a list of codes")
        if not isinstance(signature, str) or not signature.strip():
            raise RegistryFormatError("es_robinson: an answer has no signature (proof)")
        if len(signature) > 1500:
            raise RegistryFormatError("es_robinson: the signature is longer than 1500 characters")
        out[digest] = (found, [str(s) for s in sectors], signature.strip())
    return out


def es_robinson(
    *,
    url: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str = "eu-west-1",
    service: str = "execute-api",
    channel: str = "phone",
    options: RegistryOptions | None = None,
    cache_for: dt.timedelta = DEFAULT_CACHE_FOR,
    policy: HttpPolicy | None = None,
    sign_in: Literal["query", "headers"] = "headers",
    ca_bundle: str | os.PathLike[str] | None = None,
    insecure: bool = False,
) -> RobinsonRegistry:
    """The Lista Robinson backend (registry id ``es_robinson``).

    Args:
        url: the ``user`` endpoint (default ``$OPTOUT_ES_ROBINSON_URL``, else
            :data:`DEFAULT_URL`).
        access_key, secret_key: the API keys (default ``$OPTOUT_ES_ROBINSON_ACCESS_KEY``
            and ``$OPTOUT_ES_ROBINSON_SECRET_KEY``).
        region, service: the SigV4 scope of Adigital's API Gateway.
        channel: ``"phone"`` (calls, id ``04``) or ``"sms"`` (id ``03``).
        options: fail-open and validity settings.
        cache_for: how long an answer is reused without asking again (default 30 days,
            optout's choice: the registry's own window is not confirmed).
        policy: timeouts, retries and breaker (default: 3 attempts, 15 s after a 429).
        sign_in: put the SigV4 signature in ``"headers"`` (the default) or in the
            ``"query"`` string (what Adigital's browser client does).
        ca_bundle, insecure: TLS settings (see :class:`optout._registries._http.HttpClient`).

    Raises:
        ConfigurationError: missing credentials, unknown channel, bad settings.
    """
    if channel not in CHANNELS:
        raise ConfigurationError(
            f"es_robinson: channel must be one of {', '.join(CHANNELS)}, not {channel!r}"
        )
    if sign_in not in ("query", "headers"):
        raise ConfigurationError("es_robinson: sign_in must be 'query' or 'headers'")
    endpoint = env_secret(url, ENV_URL) or DEFAULT_URL
    check_endpoint("es_robinson", endpoint, insecure=insecure)
    key = env_secret(access_key, ENV_ACCESS_KEY)
    secret = env_secret(secret_key, ENV_SECRET_KEY)
    if key is None or secret is None:
        raise ConfigurationError(
            "es_robinson needs API credentials: pass access_key= and secret_key= or set "
            f"${ENV_ACCESS_KEY} and ${ENV_SECRET_KEY}"
        )
    positive_timedelta(cache_for, "es_robinson: cache_for")
    http = HttpClient(
        "es_robinson", policy=policy or DEFAULT_POLICY, ca_bundle=ca_bundle, insecure=insecure
    )
    return RobinsonRegistry(
        url=endpoint,
        signer=_SigV4(key, secret, region, service, sign_in),
        channel=channel,
        http=http,
        cache_for=cache_for,
        options=options,
    )
