"""The one exception hierarchy of optout.

Every exception the library raises on purpose derives from :class:`OptoutError`.
Errors that are also a programming mistake subclass the matching built-in too, so
``except ValueError`` keeps working for callers who already catch that.

A *denial* is never an exception: :func:`optout.can_call` returns a
:class:`optout.Decision` with ``allowed=False``. Exceptions are for misuse (a naive
datetime, an unknown purpose) and for failures (a database that cannot be reached).
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DatabaseError",
    "InvalidNumberError",
    "NaiveDatetimeError",
    "NotFoundError",
    "OptoutError",
    "PackError",
    "RegistryError",
    "RegistryFormatError",
    "RegistryUnavailableError",
    "SchemaError",
]


class OptoutError(Exception):
    """Base class of every error raised by optout."""


class ConfigurationError(OptoutError, ValueError):
    """A setting, URL or argument is not usable (unknown scheme, bad enum value, ...)."""


class NaiveDatetimeError(ConfigurationError):
    """A datetime without a time zone was passed where an instant is required."""


class InvalidNumberError(OptoutError, ValueError):
    """A phone number could not be parsed or is not a valid number.

    Raised by the low-level :func:`optout.normalize`. :func:`optout.can_call` never
    raises it: it returns a denial with the ``number.invalid`` reason instead.
    """

    def __init__(self, message: str, *, raw: object = None) -> None:
        super().__init__(message)
        self.raw = raw


class PackError(ConfigurationError):
    """A rule pack or policy file is not valid.

    The message names the file, the rule (by id and position) and what is wrong.
    """


class RegistryError(OptoutError):
    """A national registry backend failed: a bad file, a broken answer, an unreachable API."""


class RegistryFormatError(RegistryError, ValueError):
    """A registry file or answer is not in the expected format.

    ``path`` and ``line`` say where, when known; ``rejected`` counts the lines that could
    not be used. The snapshot or answers in force are left untouched.
    """

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, rejected: int = 0
    ) -> None:
        where = f"{path}" if path else ""
        if line is not None:
            where += f", line {line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.rejected = rejected


class RegistryUnavailableError(RegistryError):
    """A registry could not be consulted (timeouts, 5xx, 429, open circuit breaker).

    :meth:`optout.Compliance.can_call` turns it into a ``registry.unavailable`` denial.
    """


class DatabaseError(OptoutError):
    """The database could not be reached or a statement failed."""


class SchemaError(DatabaseError):
    """The database schema is missing, or not the revision this version of optout uses.

    An older or missing schema is migrated with ``optout db upgrade`` (or
    :meth:`optout.Compliance.upgrade`); a newer one needs a newer optout.
    """


class NotFoundError(OptoutError, LookupError):
    """An entry that was asked for by id does not exist."""
