"""optout: may this number be called, by us, for this purpose, right now?

The public API is re-exported here; everything else lives in private modules.

>>> import optout
>>> client = optout.Compliance("sqlite:///optout.sqlite3")      # doctest: +SKIP
>>> decision = client.can_call("+39 06 1234 5678")               # doctest: +SKIP
>>> decision.allowed, decision.codes                             # doctest: +SKIP
(True, ())
"""

from optout._async import AsyncCompliance
from optout._client import (
    Attempt,
    CallContext,
    Compliance,
    can_call,
    default_client,
    record_outcome,
)
from optout._db import default_database_url
from optout._decision import Decision, Evidence, Reason
from optout._errors import (
    ConfigurationError,
    DatabaseError,
    InvalidNumberError,
    NaiveDatetimeError,
    NotFoundError,
    OptoutError,
    SchemaError,
)
from optout._numbers import PhoneNumber, normalize
from optout._reasons import REASON_CODES
from optout._suppressions import ImportReport, Suppression, SuppressionList
from optout._version import __version__
from optout._vocab import Channel, NumberType, Outcome, Purpose, Scope, Technology

__all__ = [
    "AsyncCompliance",
    "Attempt",
    "CallContext",
    "Channel",
    "Compliance",
    "ConfigurationError",
    "DatabaseError",
    "Decision",
    "Evidence",
    "ImportReport",
    "InvalidNumberError",
    "NaiveDatetimeError",
    "NotFoundError",
    "NumberType",
    "OptoutError",
    "Outcome",
    "PhoneNumber",
    "Purpose",
    "REASON_CODES",
    "Reason",
    "SchemaError",
    "Scope",
    "Suppression",
    "SuppressionList",
    "Technology",
    "__version__",
    "can_call",
    "default_client",
    "default_database_url",
    "normalize",
    "record_outcome",
]
