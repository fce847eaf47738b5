"""Local time: holiday calendars and the first instant at or after a wall-clock time."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable

import holidays as _holidays

from optout._rules._model import HolidaySpec

__all__ = ["HolidayCalendar", "first_instant_at", "holidays_version", "zone"]


@functools.lru_cache(maxsize=512)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """A cached ``ZoneInfo``."""
    return zoneinfo.ZoneInfo(name)


def holidays_version() -> str:
    """The version of the ``holidays`` package in use (recorded as evidence)."""
    return str(getattr(_holidays, "__version__", "unknown"))


class HolidayCalendar:
    """Public holidays for one or more subdivisions of a country, merged (their union).

    ``subdivisions=None`` means the national calendar. The union is the strict reading when
    the callee's subdivision is not known exactly: a day that is a holiday in any candidate
    subdivision is treated as a holiday.
    """

    def __init__(self, spec: HolidaySpec, subdivisions: Iterable[str] | None = None) -> None:
        self.spec = spec
        self._subdivs: tuple[str | None, ...] = (
            (spec.subdiv,) if subdivisions is None else tuple(sorted(set(subdivisions))) or (None,)
        )
        self._extra = frozenset(spec.extra)
        self._exclude = frozenset(spec.exclude)

    def __hash__(self) -> int:
        return hash((self.spec, self._subdivs))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, HolidayCalendar)
            and self.spec == other.spec
            and self._subdivs == other._subdivs
        )

    def name(self, day: dt.date) -> str | None:
        """The holiday's name on ``day``, or ``None`` when it is not a holiday."""
        if day in self._exclude:
            return None
        if day in self._extra:
            return "declared holiday"
        for subdiv in self._subdivs:
            found = _year_table(
                self.spec.country, subdiv, self.spec.observed, self.spec.categories, day.year
            ).get(day)
            if found is not None:
                return found
        return None

    def is_holiday(self, day: dt.date) -> bool:
        return self.name(day) is not None


@functools.lru_cache(maxsize=4096)
def _year_table(
    country: str, subdiv: str | None, observed: bool, categories: tuple[str, ...], year: int
) -> dict[dt.date, str]:
    table = _holidays.country_holidays(
        country, subdiv=subdiv, years=year, observed=observed, categories=categories
    )
    return {day: str(name) for day, name in table.items()}


def first_instant_at(day: dt.date, minute: int, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first UTC instant at which the wall clock in ``tz`` reads ``day`` + ``minute``, or later.

    ``minute`` may be 1440 (midnight at the end of ``day``). When that wall-clock time does not
    exist (a spring-forward gap), the instant the clock jumps past it is returned; when it
    happens twice (fall-back), the first occurrence.
    """
    if minute >= 1440:
        day, minute = day + dt.timedelta(days=1), minute - 1440
    local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
    first = local.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first  # exists (fold=0 is the first occurrence when ambiguous)
    # In a gap: fold=0 maps past it; search back for the jump (minute precision suffices,
    # transitions happen on whole minutes).
    lo = first - dt.timedelta(hours=3)
    hi = first
    while hi - lo > dt.timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= local:
            hi = mid
        else:
            lo = mid
    return hi.replace(second=0, microsecond=0) if hi.second or hi.microsecond else hi
