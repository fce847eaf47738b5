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
    }
)


def is_known_code(code: str) -> bool:
    """Return whether ``code`` belongs to the documented vocabulary."""
    return code in REASON_CODES
