"""Decisions: frozen values that explain themselves."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from optout._errors import ConfigurationError
from optout._numbers import PhoneNumber
from optout._reasons import is_known_code

__all__ = ["Decision", "Evidence", "Reason"]

_EMPTY: Mapping[str, str] = MappingProxyType({})


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclasses.dataclass(frozen=True, slots=True)
class Reason:
    """Why a call is denied.

    Attributes:
        code: a stable dotted code from ``docs/reason-codes.md`` (``"suppression.number"``).
        message: a sentence for people; its wording may change between versions.
        source: the rule or data that produced the reason (``"suppression:17"``).
        citation: the legal citation, when the reason comes from a law or regulation.
        until: the instant the reason stops applying by itself; ``None`` when it does
            not lapse with time (a suppression without expiry, an invalid number).
        url: where the legal source can be read, when known.
        confidence: how well the rule's source is established: ``"primary"``,
            ``"secondary"`` or ``"unconfirmed"`` (rules from packs only).
    """

    code: str
    message: str
    source: str
    citation: str | None = None
    until: dt.datetime | None = None
    url: str | None = None
    confidence: str | None = None

    def __post_init__(self) -> None:
        if not is_known_code(self.code):
            raise ConfigurationError(f"undocumented reason code {self.code!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "code": self.code,
            "message": self.message,
            "source": self.source,
            "citation": self.citation,
            "until": _iso(self.until),
            "url": self.url,
            "confidence": self.confidence,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of data consulted for a decision.

    Attributes:
        kind: what was consulted: ``"suppression"``, ``"registry"``, ``"consent"``, ...
        id: the identifier of the record, snapshot or consultation.
        source: where the record came from (``"agent"``, ``"import"``, a registry name).
        date: when the record was created or the data was taken.
        version: a version label (snapshot version, rule pack version), if any.
        detail: further string facts (actor, reason, scope).
    """

    kind: str
    id: str
    source: str
    date: dt.datetime | None = None
    version: str | None = None
    detail: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "kind": self.kind,
            "id": self.id,
            "source": self.source,
            "date": _iso(self.date),
            "version": self.version,
            "detail": dict(self.detail),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may this number be called, by us, for this purpose, right now?".

    A denial is an ordinary return value: ``allowed`` is false and ``reasons`` says why.
    ``allowed`` is true exactly when ``reasons`` is empty.

    Attributes:
        allowed: whether the call may be placed at ``checked_at``.
        number: the E.164 form of the number, or ``None`` when it could not be parsed.
        reasons: every reason the call is denied, most important first.
        next_allowed_at: the earliest instant at which every reason has lapsed; ``None``
            when the call is allowed or when some reason never lapses by itself.
        evidence: the data that was consulted, with ids, versions and dates.
        checked_at: the instant the decision is for (the ``at`` argument).
        phone: the parsed number (type, region, time zones), when it could be parsed.
    """

    allowed: bool
    number: str | None
    reasons: tuple[Reason, ...]
    next_allowed_at: dt.datetime | None
    evidence: tuple[Evidence, ...]
    checked_at: dt.datetime
    phone: PhoneNumber | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.allowed == bool(self.reasons):
            raise ConfigurationError("a decision is allowed exactly when it has no reasons")
        if self.allowed and self.next_allowed_at is not None:
            raise ConfigurationError("an allowed decision has no next_allowed_at")

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes, in order."""
        return tuple(r.code for r in self.reasons)

    @property
    def primary_code(self) -> str | None:
        """The first reason code, or ``None`` when the call is allowed."""
        return self.reasons[0].code if self.reasons else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the shape ``optout check --json`` prints)."""
        phone = self.phone
        return {
            "allowed": self.allowed,
            "number": self.number,
            "reasons": [r.to_dict() for r in self.reasons],
            "next_allowed_at": _iso(self.next_allowed_at),
            "evidence": [e.to_dict() for e in self.evidence],
            "checked_at": self.checked_at.isoformat(),
            "phone": None
            if phone is None
            else {
                "country_code": phone.country_code,
                "region": phone.region,
                "type": phone.number_type.value,
                "time_zones": sorted(phone.time_zones),
                "extension": phone.extension,
            },
        }

    def to_json(self, **kwargs: Any) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)


def next_allowed(reasons: tuple[Reason, ...]) -> dt.datetime | None:
    """The instant every reason has lapsed, or ``None`` if one never lapses by itself."""
    if not reasons or any(r.until is None for r in reasons):
        return None
    return max(r.until for r in reasons if r.until is not None)
