"""Closed vocabularies: call purposes, channels, technologies, outcomes, scopes.

They are :class:`enum.StrEnum` so that the plain strings (``"marketing"``) are accepted
wherever a member is, and so that they serialize as themselves.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from optout._errors import ConfigurationError

__all__ = [
    "Channel",
    "NumberType",
    "Outcome",
    "Purpose",
    "Scope",
    "Sector",
    "Technology",
    "coerce",
]


class Purpose(enum.StrEnum):
    """Why the call is made. Rules and consents key on it."""

    MARKETING = "marketing"
    SALES = "sales"
    DEBT_COLLECTION = "debt_collection"
    SURVEY = "survey"
    INFORMATIONAL = "informational"
    CHARITY = "charity"
    POLITICAL = "political"


class Sector(enum.StrEnum):
    """What a call sells or is about, where the law bans or restricts calls of a sector.

    A call names its sector (``can_call(sector=...)``) the way it names its purpose; a
    sector rule binds only the calls that name one of its sectors.
    """

    ENERGY_RENOVATION = "energy_renovation"  # energy-saving works, renewables, home adaptation
    ELECTRICITY_SUPPLY = "electricity_supply"
    TELECOM = "telecom"
    CONSUMER_CREDIT = "consumer_credit"
    OTHER = "other"


class Channel(enum.StrEnum):
    """How the contact reaches the person."""

    VOICE = "voice"
    SMS = "sms"


class Technology(enum.StrEnum):
    """How the call is placed; several laws treat autodialed or artificial voices apart."""

    MANUAL = "manual"
    AUTODIALED = "autodialed"
    PRERECORDED = "prerecorded"
    ARTIFICIAL_VOICE = "artificial_voice"


class Outcome(enum.StrEnum):
    """The disposition of one call attempt (see ``docs/concepts.md``)."""

    NO_ANSWER = "no_answer"
    BUSY = "busy"
    ANSWERING_MACHINE = "answering_machine"
    ABANDONED = "abandoned"
    CONVERSATION = "conversation"
    REFUSED = "refused"
    DNC_REQUEST = "dnc_request"
    WRONG_NUMBER = "wrong_number"
    INVALID_NUMBER = "invalid_number"
    CALLBACK_REQUESTED = "callback_requested"
    FAILED = "failed"


class Scope(enum.StrEnum):
    """Where a suppression entry applies."""

    GLOBAL = "global"
    BRAND = "brand"
    CAMPAIGN = "campaign"
    CHANNEL = "channel"


class NumberType(enum.StrEnum):
    """The kind of line a number is, as libphonenumber classifies it."""

    FIXED_LINE = "fixed_line"
    MOBILE = "mobile"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"


_E = TypeVar("_E", bound=enum.StrEnum)


def coerce(kind: type[_E], value: object, *, name: str) -> _E:
    """Return ``value`` as a member of ``kind`` or raise a clear ConfigurationError."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        try:
            return kind(value.strip().lower())
        except ValueError:
            pass
    allowed = ", ".join(m.value for m in kind)
    raise ConfigurationError(f"unknown {name} {value!r}; expected one of: {allowed}")
