"""A generic JSON-over-HTTP registry: customer-provided services, Brazil's Não Me Perturbe.

The service implements one endpoint::

    POST <url>                       Content-Type: application/json
    {"numbers": ["+5521912345678", ...]}                       # at most ``batch`` numbers

    200 application/json
    {"results": [{"number": "+5521912345678",     # as sent
                  "listed": true,                  # required, true or false
                  "registered_at": "2025-06-01T00:00:00Z" | "2025-06-01" | null,
                  "proof": "ticket 123" | null}, ...],
     "proof": "consultation 42" | null}            # optional, for the whole answer

Every number sent must come back exactly once; an answer that repeats a number, answers a
number that was not sent, repeats a key in a JSON object or lacks a field is not used (the
numbers are ``unavailable``). ``registered_at`` is the registration date (an ISO 8601
date or instant; a naive one is read as UTC); ``proof`` what the service
returns as evidence of the answer (the per-number one wins over the global one). Numbers
are sent as ``number_format``: ``"e164"`` (``+5521912345678``), ``"digits"`` (E.164
without the ``+``) or ``"national"`` (the national significant number, ``21912345678``).
When ``country`` is set, numbers of other countries are not sent and are answered
``clear`` with evidence saying so (the registry does not cover them).

Authentication: ``headers=`` (sent with every request), and a bearer token from
``token=`` or ``$OPTOUT_<ID>_TOKEN`` (``$OPTOUT_HTTP_JSON_TOKEN``, ``$OPTOUT_BR_NMP_TOKEN``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import phonenumbers

from optout._errors import ConfigurationError, RegistryFormatError
from optout._numbers import normalize_region
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

__all__ = ["DEFAULT_CACHE_FOR", "JsonHttpRegistry", "http_json_registry"]

#: optout's choice for services that say nothing about freshness.
DEFAULT_CACHE_FOR = dt.timedelta(days=1)

NumberFormat = Literal["e164", "digits", "national"]
_ID = re.compile(r"^[a-z0-9_]{1,32}$")


def _instant(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RegistryFormatError("'registered_at' is not an ISO 8601 string")
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RegistryFormatError(f"'registered_at' {text[:40]!r} is not ISO 8601") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


class JsonHttpRegistry(HttpRemoteRegistry):
    """A registry service speaking the JSON layout of this module."""

    def __init__(
        self,
        id: str,
        *,
        url: str,
        http: HttpClient,
        country: str | None,
        number_format: NumberFormat,
        headers: Mapping[str, str],
        batch: int,
        cache_for: dt.timedelta,
        options: RegistryOptions | None = None,
    ) -> None:
        super().__init__(id, http=http, batch=batch, cache_for=cache_for, options=options)
        self.url = url
        self.country = country
        self.number_format = number_format
        self._headers = dict(headers)

    def _covers(self, number: str) -> bool:
        if self.country is None:
            return True
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return False
        return bool(phonenumbers.region_code_for_number(parsed) == self.country)

    def _format(self, number: str) -> str:
        if self.number_format == "e164":
            return number
        if self.number_format == "digits":
            return number.lstrip("+")
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return number.lstrip("+")
        return str(phonenumbers.national_significant_number(parsed))

    def query_batch(self, numbers: Sequence[str], at: dt.datetime) -> list[Answer]:
        checked = self.checked_now(at)
        answers: dict[str, Answer] = {}
        sent: dict[str, str] = {}
        for number in numbers:
            if self._covers(number):
                key = self._format(number)
                held = sent.setdefault(key, number)
                if held != number:
                    # Two numbers of different countries with one national form: the
                    # registry's answer could be for either (fail closed, and say why).
                    raise RegistryFormatError(
                        f"{self.id}: two numbers share the national form sent to the "
                        "registry; give the backend country= or number_format='e164'"
                    )
            else:
                answers[number] = Answer(
                    registry=self.id,
                    number=number,
                    status="clear",
                    checked_at=checked,
                    evidence=f"{self.id}: not a {self.country} number; outside this registry",
                    source=self.id,
                )
        if sent:
            keys = list(sent)
            body = json.dumps({"numbers": keys}, separators=(",", ":")).encode("utf-8")

            def parse(data: Any) -> dict[str, tuple[bool, dt.datetime | None, str | None]]:
                return self._parse(data, keys)

            results = self.http.post_json(self.url, parse, content=body, headers=self._headers)
            for key, number in sent.items():
                listed, registered, proof = results[key]
                answers[number] = Answer(
                    registry=self.id,
                    number=number,
                    status="listed" if listed else "clear",
                    checked_at=checked,
                    registered_at=registered,
                    evidence=proof or f"{self.id} answer of {checked:%Y-%m-%dT%H:%M:%SZ}",
                    source=self.id,
                )
        return [answers[n] for n in numbers]

    def _parse(
        self, data: Any, keys: Sequence[str]
    ) -> dict[str, tuple[bool, dt.datetime | None, str | None]]:
        rows = data.get("results") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise RegistryFormatError(f"{self.id}: the answer has no 'results' list")
        common = data.get("proof")
        if common is not None and not isinstance(common, str):
            raise RegistryFormatError(f"{self.id}: 'proof' is not a string")
        out: dict[str, tuple[bool, dt.datetime | None, str | None]] = {}
        asked = set(keys)
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("number"), str):
                raise RegistryFormatError(f"{self.id}: a result has no 'number'")
            if row["number"] not in asked:
                raise RegistryFormatError(
                    f"{self.id}: a result is for a number that was not asked about; the "
                    "answer does not match the request"
                )
            listed = row.get("listed")
            if not isinstance(listed, bool):
                raise RegistryFormatError(f"{self.id}: 'listed' is not true or false")
            proof = row.get("proof", common)
            if proof is not None and not isinstance(proof, str):
                raise RegistryFormatError(f"{self.id}: 'proof' is not a string")
            try:
                registered = _instant(row.get("registered_at"))
            except RegistryFormatError as exc:
                raise RegistryFormatError(f"{self.id}: {exc}") from None
            if row["number"] in out:
                raise RegistryFormatError(f"{self.id}: a number is answered twice")
            out[row["number"]] = (listed, registered, (proof or "")[:1900] or None)
        missing = [k for k in keys if k not in out]
        if missing:
            raise RegistryFormatError(f"{self.id}: {len(missing)} numbers have no result")
        return out


def http_json_registry(
    *,
    url: str,
    id: str = "http_json",
    country: str | None = None,
    number_format: NumberFormat = "e164",
    batch: int = 100,
    headers: Mapping[str, str] | None = None,
    options: RegistryOptions | None = None,
    token: str | None = None,
    cache_for: dt.timedelta = DEFAULT_CACHE_FOR,
    policy: HttpPolicy | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    insecure: bool = False,
) -> JsonHttpRegistry:
    """A registry served over HTTP in the JSON layout of this module.

    Args:
        url: the endpoint (``json+https://host/path`` selects this backend by URL).
        id: the registry id the packs name (``"br_nmp"``, ``"acme_dnc"``).
        country: the ISO region the registry covers (others are answered ``clear`` without
            being sent); ``None`` sends every number.
        number_format: ``"e164"``, ``"digits"`` or ``"national"``.
        batch: numbers per request.
        headers: extra headers sent with every request (never logged).
        options: fail-open and validity settings.
        token: a bearer token (default ``$OPTOUT_<ID>_TOKEN``).
        cache_for: how long an answer is reused (default one day).
        policy, ca_bundle, insecure: HTTP settings (see ``optout._registries._http``).
    """
    given: dict[str, object] = {"id": id, "url": url, "batch": batch}
    if not isinstance(given["id"], str) or not _ID.match(id):
        raise ConfigurationError(f"registry id {id!r}: lowercase letters, digits and _ only")
    if not isinstance(given["url"], str):
        raise ConfigurationError(f"{id}: url must be an http(s) URL")
    check_endpoint(id, url, insecure=insecure)
    if number_format not in ("e164", "digits", "national"):
        raise ConfigurationError(f"{id}: number_format must be e164, digits or national")
    if not isinstance(given["batch"], int) or batch < 1:
        raise ConfigurationError(f"{id}: batch must be a positive integer")
    positive_timedelta(cache_for, f"{id}: cache_for")
    sent = dict(headers or {})
    bearer = env_secret(token, f"OPTOUT_{id.upper()}_TOKEN")
    if bearer is not None:
        sent.setdefault("Authorization", f"Bearer {bearer}")
    return JsonHttpRegistry(
        id,
        url=url,
        http=HttpClient(id, policy=policy, ca_bundle=ca_bundle, insecure=insecure),
        country=normalize_region(country),
        number_format=number_format,
        headers=sent,
        batch=batch,
        cache_for=cache_for,
        options=options,
    )
