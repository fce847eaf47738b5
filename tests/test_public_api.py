"""The public surface: a sorted, pinned ``__all__`` and one exception hierarchy."""

from __future__ import annotations

import inspect

import pytest

import optout

EXPECTED = [
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


def test_all_is_sorted_and_pinned() -> None:
    assert optout.__all__ == sorted(optout.__all__)
    assert optout.__all__ == EXPECTED


def test_every_exported_name_exists() -> None:
    for name in optout.__all__:
        assert hasattr(optout, name), name


def test_implementation_modules_are_private() -> None:
    for name in optout.__all__:
        obj = getattr(optout, name)
        module = getattr(obj, "__module__", None)
        if module is not None and module.startswith("optout"):
            assert module == "optout" or module.split(".")[1].startswith("_"), (name, module)


def test_every_error_derives_from_optout_error() -> None:
    errors = [
        obj
        for obj in vars(optout).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    ]
    assert len(errors) >= 7
    for error in errors:
        assert issubclass(error, optout.OptoutError), error


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (optout.ConfigurationError, ValueError),
        (optout.NaiveDatetimeError, ValueError),
        (optout.InvalidNumberError, ValueError),
        (optout.NotFoundError, LookupError),
    ],
)
def test_misuse_errors_are_also_builtin_errors(error: type, builtin: type) -> None:
    assert issubclass(error, builtin)


def test_schema_error_is_a_database_error() -> None:
    assert issubclass(optout.SchemaError, optout.DatabaseError)


def test_version_is_a_string() -> None:
    assert optout.__version__.count(".") >= 2
