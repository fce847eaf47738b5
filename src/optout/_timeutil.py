"""Instants: every time the library works with is timezone-aware."""

from __future__ import annotations

import datetime as dt

from optout._errors import ConfigurationError, NaiveDatetimeError

__all__ = ["instant", "parse_instant", "utcnow"]


def utcnow() -> dt.datetime:
    """The current instant, in UTC."""
    return dt.datetime.now(dt.UTC)


def instant(value: object, *, name: str = "at") -> dt.datetime:
    """Return ``value`` (a timezone-aware datetime, or ``None`` for now) as an instant.

    Raises:
        NaiveDatetimeError: the datetime has no time zone.
        ConfigurationError: the value is not a datetime.
    """
    if value is None:
        return utcnow()
    if not isinstance(value, dt.datetime):
        raise ConfigurationError(f"{name} must be a timezone-aware datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name}={value.isoformat()} has no time zone; give an offset such as "
            f"+01:00 or Z (in Python: a datetime with tzinfo)"
        )
    return value


def parse_instant(text: str, *, name: str = "--at") -> dt.datetime:
    """Parse an ISO 8601 instant with an offset (``2026-11-24T10:00:00+01:00`` or ``...Z``)."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{name} {text!r} is not an ISO 8601 date-time like 2026-11-24T10:00:00+01:00"
        ) from None
    return instant(value, name=name)
