"""optout: may this number be called, by us, for this purpose, right now?

The public API is re-exported here; everything else lives in private modules.

>>> import optout
>>> client = optout.Compliance("sqlite:///optout.sqlite3")      # doctest: +SKIP
>>> decision = client.can_call("+39 06 1234 5678")               # doctest: +SKIP
>>> decision.allowed, decision.codes                             # doctest: +SKIP
(True, ())
"""

from optout import _ledger_schema as _ledger_schema
from optout import registries
from optout._async import AsyncCompliance
from optout._batch import BatchDecisions, decide_many
from optout._blackouts import Blackout, BlackoutList
from optout._client import (
    Attempt,
    Compliance,
    Reservation,
    can_call,
    default_client,
    record_outcome,
)
from optout._consents import Consent, ConsentList, Registration, RegistrationList
from optout._db import default_database_url
from optout._decision import Decision, Evidence, Reason
from optout._erasure import ErasureReport
from optout._errors import (
    ConfigurationError,
    DatabaseError,
    InvalidNumberError,
    NaiveDatetimeError,
    NotFoundError,
    OptoutError,
    PackError,
    RegistryError,
    RegistryFormatError,
    RegistryUnavailableError,
    SchemaError,
)
from optout._frames import scrub
from optout._ledger import Ledger, VerifyReport
from optout._numbers import PhoneNumber, normalize
from optout._outcomes import OutcomeMap
from optout._reasons import REASON_CODES
from optout._rules._book import RuleBook, builtin_packs, load_pack
from optout._rules._model import ConsentKind, ConsentScope, Pack
from optout._rules._policy import Policy, builtin_policy
from optout._suppressions import ImportReport, Suppression, SuppressionList
from optout._version import __version__
from optout._vocab import Channel, NumberType, Outcome, Purpose, Scope, Sector, Technology

__all__ = [
    "AsyncCompliance",
    "Attempt",
    "BatchDecisions",
    "Blackout",
    "BlackoutList",
    "Channel",
    "Compliance",
    "ConfigurationError",
    "Consent",
    "ConsentKind",
    "ConsentList",
    "ConsentScope",
    "DatabaseError",
    "Decision",
    "ErasureReport",
    "Evidence",
    "ImportReport",
    "InvalidNumberError",
    "Ledger",
    "NaiveDatetimeError",
    "NotFoundError",
    "NumberType",
    "OptoutError",
    "Outcome",
    "OutcomeMap",
    "Pack",
    "PackError",
    "PhoneNumber",
    "Policy",
    "Purpose",
    "REASON_CODES",
    "Reason",
    "Registration",
    "RegistrationList",
    "RegistryError",
    "RegistryFormatError",
    "RegistryUnavailableError",
    "Reservation",
    "RuleBook",
    "SchemaError",
    "Scope",
    "Sector",
    "Suppression",
    "SuppressionList",
    "Technology",
    "VerifyReport",
    "__version__",
    "builtin_packs",
    "builtin_policy",
    "can_call",
    "decide_many",
    "default_client",
    "default_database_url",
    "load_pack",
    "normalize",
    "record_outcome",
    "registries",
    "scrub",
]
