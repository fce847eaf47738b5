"""The US FCC Reassigned Numbers Database (RND).

The RND answers, for a telephone number and a date, whether the number was permanently
disconnected on or after that date: **yes** (it may have been reassigned since: a consent
obtained before the disconnection came from someone else), **no** (not disconnected since:
the caller keeps the FCC's safe harbour), or **no data** (nothing known, for instance a
date before the RND's data begins; no safe harbour either). Providers report monthly and
numbers age at least 45 days before reassignment. API calls take at most 1,000 numbers.

**It is not a do-not-call list.** It only tells whether consents obtained before a date
still reach the same person. It is modelled so that the consent rules can use it: a
``ConsentRule`` with ``voided_by = ["us_rnd"]`` voids consents given before the date a
*listed* answer carries:

- **yes** -> status ``listed`` with ``registered_at`` = the disconnection date when the
  API returns one, else the query date (the disconnection happened on or after it;
  ``undated="checked_at"`` is the stricter choice that voids every earlier consent);
- **no** -> ``clear``;
- **no data** -> ``clear`` with evidence saying there was no data: nothing voids the
  consent, but nothing confirms it either (no safe harbour). Rules that want "no data" to
  deny can match on the evidence, or a pack can add a ``kind = "registry"`` rule.

The query date is ``since``: a fixed date, or a look-back from the instant decided. The
default is :data:`RND_DATA_START` (27 Jan 2021, the start of complete data), so any
recorded disconnection is found.

**The official API layout is not confirmed** (the FCC user guides were not read). The
assumed JSON layout, patterned on resellers' APIs, is::

    POST <url>            Authorization: Bearer <api key>     Content-Type: application/json
    {"company_id": "ACME1",                       # only when company_id is given
     "queries": [{"tn": "2025550123", "date": "2024-01-31"}, ...]}     # <= 1,000

    200 application/json
    {"results": [{"tn": "2025550123", "result": "yes" | "no" | "no_data",
                  "disconnect_date": "2024-03-15" | null, "query_id": "..." | null}, ...]}

``result`` may also be ``true`` / ``false`` / ``null`` (``IsReassigned`` style) and
``"no data"`` / ``"no_data_available"``. A number answered twice alike is read once; an
answer that gives a number two different results, answers a number that was not asked
about or repeats a key in a JSON object is not used (the numbers are ``unavailable``).
Another layout is supported by subclassing :class:`RndFormat` and passing ``format=``; the
header carrying the key is ``api_key_header`` / ``api_key_prefix``.

Credentials: ``api_key=`` or ``$OPTOUT_US_RND_API_KEY``; endpoint ``url=`` or
``$OPTOUT_US_RND_URL`` (no default: the official endpoint is not confirmed); company id
``company_id=`` or ``$OPTOUT_US_RND_COMPANY_ID``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
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

__all__ = [
    "DEFAULT_CACHE_FOR",
    "ENV_API_KEY",
    "ENV_COMPANY_ID",
    "ENV_URL",
    "MAX_BATCH",
    "RND_DATA_START",
    "RndFormat",
    "RndRegistry",
    "RndResult",
    "us_rnd",
]

ENV_API_KEY = "OPTOUT_US_RND_API_KEY"
ENV_URL = "OPTOUT_US_RND_URL"
ENV_COMPANY_ID = "OPTOUT_US_RND_COMPANY_ID"

#: "API <= 1,000 TNs per call" (RND FAQ).
MAX_BATCH = 1000

#: The RND's data is complete from this date; an earlier query date gives "no data".
RND_DATA_START = dt.date(2021, 1, 27)

#: optout's choice: providers report monthly (on the 15th), so an answer older than a
#: month may miss a disconnection.
DEFAULT_CACHE_FOR = dt.timedelta(days=30)

_NANP = re.compile(r"^\+1([2-9][0-9]{2}[2-9][0-9]{6})$")
_COMPANY = re.compile(r"^[A-Za-z0-9]{3,10}$")


@dataclasses.dataclass(frozen=True, slots=True)
class RndResult:
    """One RND answer: ``"yes"``, ``"no"`` or ``"no_data"``, and what came with it."""

    result: Literal["yes", "no", "no_data"]
    disconnected_on: dt.date | None = None
    reference: str | None = None


class RndFormat:
    """The request and response layout of the RND API (see the module documentation).

    Override :meth:`request` and :meth:`results` for another layout.
    """

    def request(
        self, queries: Sequence[tuple[str, dt.date]], company_id: str | None
    ) -> dict[str, Any]:
        """The JSON body for ``(10-digit number, query date)`` pairs."""
        body: dict[str, Any] = {
            "queries": [{"tn": tn, "date": day.isoformat()} for tn, day in queries]
        }
        if company_id:
            body["company_id"] = company_id
        return body

    def results(self, body: Any) -> dict[str, RndResult]:
        """10-digit number -> its result, from the decoded JSON answer."""
        rows = body.get("results") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise RegistryFormatError("us_rnd: the answer has no 'results' list")
        out: dict[str, RndResult] = {}
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("tn"), str):
                raise RegistryFormatError("us_rnd: a result has no 'tn'")
            got = RndResult(
                result=_result(row.get("result", "missing")),
                disconnected_on=_date(row.get("disconnect_date")),
                reference=_reference(row.get("query_id")),
            )
            seen = out.get(row["tn"])
            if seen is None:
                out[row["tn"]] = got
            elif (seen.result, seen.disconnected_on) != (got.result, got.disconnected_on):
                # Reading the first or the last would be a guess: fail closed.
                raise RegistryFormatError(
                    "us_rnd: a number is answered twice with different results; the answer "
                    "is not used"
                )
        return out


def _result(value: object) -> Literal["yes", "no", "no_data"]:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return "no_data"
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "_")
        if text == "yes":
            return "yes"
        if text == "no":
            return "no"
        if text in ("no_data", "no_data_available", "nodata"):
            return "no_data"
    raise RegistryFormatError(f"us_rnd: unknown result {value!r} (yes, no or no data)")


def _date(value: object) -> dt.date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RegistryFormatError("us_rnd: 'disconnect_date' is not a date")
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise RegistryFormatError("us_rnd: 'disconnect_date' is not a YYYY-MM-DD date") from None


def _reference(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RegistryFormatError("us_rnd: 'query_id' is not a string")
    return str(value)[:200]


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


class RndRegistry(HttpRemoteRegistry):
    """The Reassigned Numbers Database over its API (see the module documentation)."""

    def __init__(
        self,
        *,
        url: str,
        http: HttpClient,
        since: dt.date | dt.timedelta,
        undated: Literal["query_date", "checked_at"],
        company_id: str | None,
        format: RndFormat,
        headers: Mapping[str, str],
        batch: int,
        cache_for: dt.timedelta,
        options: RegistryOptions | None = None,
    ) -> None:
        super().__init__("us_rnd", http=http, batch=batch, cache_for=cache_for, options=options)
        self.url = url
        self.since = since
        self.undated = undated
        self.company_id = company_id
        self.format = format
        self._headers = dict(headers)

    def query_date(self, at: dt.datetime) -> dt.date:
        """The date the RND is asked about: disconnected on or after it?"""
        if isinstance(self.since, dt.timedelta):
            return (at - self.since).astimezone(dt.UTC).date()
        return self.since

    def query_batch(self, numbers: Sequence[str], at: dt.datetime) -> list[Answer]:
        checked = self.checked_now(at)
        day = self.query_date(at)
        answers: dict[str, Answer] = {}
        asked: dict[str, str] = {}
        for number in numbers:
            match = _NANP.match(number)
            if match is None:
                answers[number] = Answer(
                    registry=self.id,
                    number=number,
                    status="clear",
                    checked_at=checked,
                    evidence="us_rnd: not a US (+1) number; outside the RND, not consulted",
                    source="us_rnd",
                )
            else:
                asked[match.group(1)] = number
        if asked:
            body = self.format.request([(tn, day) for tn in asked], self.company_id)
            results = self.http.post_json(
                self.url,
                self.format.results,
                content=_json(body),
                headers=self._headers,
            )
            missing = [tn for tn in asked if tn not in results]
            if missing:
                raise RegistryFormatError(f"us_rnd: {len(missing)} numbers have no result")
            extra = [tn for tn in results if tn not in asked]
            if extra:
                raise RegistryFormatError(
                    f"us_rnd: {len(extra)} results are for numbers that were not asked about; "
                    "the answer does not match the request"
                )
            for tn, number in asked.items():
                answers[number] = self._answer(number, results[tn], day, checked)
        return [answers[n] for n in numbers]

    def _answer(self, number: str, got: RndResult, day: dt.date, checked: dt.datetime) -> Answer:
        ref = f"; query {got.reference}" if got.reference else ""
        base = f"RND query for {day.isoformat()}"
        if got.result == "yes":
            if got.disconnected_on is not None:
                since = _midnight(got.disconnected_on)
                how = f"disconnected on {got.disconnected_on.isoformat()}"
            elif self.undated == "checked_at":
                since, how = checked, "disconnected on or after the query date (undated)"
            else:
                since, how = _midnight(day), "disconnected on or after the query date (undated)"
            return Answer(
                registry=self.id,
                number=number,
                status="listed",
                checked_at=checked,
                registered_at=since,
                evidence=f"{base}: yes, {how}{ref}",
                source="us_rnd",
            )
        text = (
            "no, not disconnected since (safe harbour)"
            if got.result == "no"
            else "no data (no disconnection known; no safe harbour)"
        )
        return Answer(
            registry=self.id,
            number=number,
            status="clear",
            checked_at=checked,
            evidence=f"{base}: {text}{ref}",
            source="us_rnd",
        )


def _json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def us_rnd(
    *,
    url: str | None = None,
    api_key: str | None = None,
    options: RegistryOptions | None = None,
    company_id: str | None = None,
    since: dt.date | dt.timedelta = RND_DATA_START,
    undated: Literal["query_date", "checked_at"] = "query_date",
    cache_for: dt.timedelta = DEFAULT_CACHE_FOR,
    batch: int = MAX_BATCH,
    format: RndFormat | None = None,
    api_key_header: str = "Authorization",
    api_key_prefix: str = "Bearer ",
    policy: HttpPolicy | None = None,
    ca_bundle: str | os.PathLike[str] | None = None,
    insecure: bool = False,
) -> RndRegistry:
    """The Reassigned Numbers Database backend (registry id ``us_rnd``).

    Args:
        url: the API endpoint (default ``$OPTOUT_US_RND_URL``; required).
        api_key: the API key (default ``$OPTOUT_US_RND_API_KEY``; required).
        options: fail-open and validity settings.
        company_id: the caller's RND company id, 3 to 10 letters or digits (default
            ``$OPTOUT_US_RND_COMPANY_ID``; sent only when set).
        since: the query date: a date, or a look-back from the instant decided.
        undated: the ``registered_at`` of a "yes" without a disconnection date.
        cache_for: how long an answer is reused (default 30 days, optout's choice).
        batch: numbers per request, at most 1,000.
        format: the request/response layout (default: the assumed layout above).
        api_key_header, api_key_prefix: how the key is sent.
        policy, ca_bundle, insecure: HTTP settings (see ``optout._registries._http``).

    Raises:
        ConfigurationError: missing URL or key, or bad settings.
    """
    endpoint = env_secret(url, ENV_URL)
    if endpoint is None:
        raise ConfigurationError(
            f"us_rnd needs the API URL: pass url= or set ${ENV_URL} (the official RND API "
            "endpoint is not built in)"
        )
    check_endpoint("us_rnd", endpoint, insecure=insecure)
    key = env_secret(api_key, ENV_API_KEY)
    if key is None:
        raise ConfigurationError(f"us_rnd needs an API key: pass api_key= or set ${ENV_API_KEY}")
    company = env_secret(company_id, ENV_COMPANY_ID)
    if company is not None and not _COMPANY.match(company):
        raise ConfigurationError("us_rnd: company_id is 3 to 10 letters or digits")
    if not 1 <= batch <= MAX_BATCH:
        raise ConfigurationError(f"us_rnd: batch must be between 1 and {MAX_BATCH}")
    if undated not in ("query_date", "checked_at"):
        raise ConfigurationError("us_rnd: undated must be 'query_date' or 'checked_at'")
    given: object = since
    if isinstance(given, dt.datetime) or not isinstance(given, dt.date | dt.timedelta):
        raise ConfigurationError("us_rnd: since must be a date or a timedelta")
    positive_timedelta(cache_for, "us_rnd: cache_for")
    http = HttpClient("us_rnd", policy=policy, ca_bundle=ca_bundle, insecure=insecure)
    return RndRegistry(
        url=endpoint,
        http=http,
        since=since,
        undated=undated,
        company_id=company,
        format=format or RndFormat(),
        headers={api_key_header: f"{api_key_prefix}{key}"},
        batch=batch,
        cache_for=cache_for,
        options=options,
    )
