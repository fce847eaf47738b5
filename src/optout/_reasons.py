"""The reason-code vocabulary.

Every reason the library can put in a :class:`optout.Decision` has a stable dotted code
listed here with a one-line meaning. Codes are part of the public contract: dialers
route on them, so a code is never renamed or reused for another meaning. New codes may
be added; each must also be documented in ``docs/reason-codes.md`` (a test checks it).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["REASON_CODES", "is_known_code"]

REASON_CODES: Final = MappingProxyType(
    {
        "number.invalid": "The input is not a valid phone number, or not one at all.",
        "number.extension": "The number has an extension; the line cannot be cleared alone.",
        "suppression.number": "The number is on one of the company's own suppression lists.",
        "suppression.prefix": "The number falls in a suppressed prefix block (area code or range).",
        "window.outside_hours": "Outside the calling hours in the callee's local time.",
        "window.day_banned": "No calls on this day of the week in the callee's local time.",
        "window.holiday": "A public holiday on which calls are banned in the callee's location.",
        "blackout.declared": "A declared no-call day (state of emergency, declared holiday).",
        "cap.reached": "Too many attempts in a rolling period for this scope.",
        "cooldown.active": "Too soon after an attempt whose outcome starts a cool-down.",
        "cooldown.outcome_pending": "An earlier attempt's outcome is not recorded yet; it may "
        "have started a cool-down: record it.",
        "consent.missing": "The call needs a consent (or relationship) and none is on record.",
        "consent.revoked": "The consent the call needs was revoked.",
        "consent.expired": "The consent the call needs has expired or is too old.",
        "consent.voided_by_registry": "A registry registration voided the consents given before.",
        "abandonment.rate_exceeded": "The campaign's abandoned-call rate is over the limit.",
        "registry.listed": "A national do-not-call registry lists the number.",
        "registry.not_consulted": "The number was never checked against a registry that covers it.",
        "registry.expired": "The registry answer (snapshot or consultation) is too old to rely on.",
        "registry.unavailable": "The registry could not be consulted; calls wait until it can be.",
        "cli.not_permitted": "The caller ID the call would present is not allowed for it.",
        "jurisdiction.unsupported": "No rule pack covers the callee's country.",
        "location.unknown_time_zone": "The callee's time zone is unknown: hours cannot be checked.",
    }
)


def is_known_code(code: str) -> bool:
    """Return whether ``code`` belongs to the documented vocabulary."""
    return code in REASON_CODES
