"""Translating a dialer's own disposition codes into optout's outcome vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from optout._errors import ConfigurationError
from optout._vocab import Outcome, coerce

__all__ = ["OutcomeMap"]


def _nonblank(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


class OutcomeMap:
    """A mapping from dialer codes (``"NA"``, ``"B"``, ``"DNC"``) to :class:`Outcome`.

    Codes are matched exactly after trimming spaces, and case-insensitively when
    ``case_sensitive`` is false (the default). A code the map does not know is refused
    when recorded, rather than guessed. A map can only name outcomes: it cannot undo an
    opt-out already stored.

    >>> m = OutcomeMap({"NA": "no_answer", "DNC": "dnc_request"})
    >>> m.get("na")
    <Outcome.NO_ANSWER: 'no_answer'>
    """

    def __init__(self, codes: Mapping[str, Outcome | str], *, case_sensitive: bool = False) -> None:
        table: dict[str, Outcome] = {}
        for code, outcome in codes.items():
            if not _nonblank(code):
                raise ConfigurationError(f"a dialer code must be a non-empty string: {code!r}")
            key = code.strip() if case_sensitive else code.strip().casefold()
            if key in table:
                raise ConfigurationError(f"dialer code {code!r} is mapped twice")
            table[key] = coerce(Outcome, outcome, name=f"outcome for code {code!r}")
        self._table = MappingProxyType(table)
        self._case_sensitive = case_sensitive

    def get(self, code: str) -> Outcome | None:
        """The outcome for ``code``, or ``None`` when the map does not know it."""
        key = code.strip() if self._case_sensitive else code.strip().casefold()
        return self._table.get(key)

    def __len__(self) -> int:
        return len(self._table)
