"""Keyed hashing of stored phone numbers, hash keys, and redaction for log messages.

With ``Compliance(hash_numbers=True)`` every phone number optout writes to the database
(suppression values, number entries and prefix blocks alike; consents; registry
registrations; attempts; registry answers; the number and the raw input in ledger
payloads) is stored as ``"h1:" + HMAC-SHA256(key, e164).hexdigest()`` instead of the
E.164 text. Lookups hash the query: a number's suppression lookup hashes each of its
prefixes (``"+3"``, ``"+39"``, ...) and matches them exactly, which is how prefixes were
matched already, so prefix blocks keep working. ``h1`` names the scheme, so a stored value
says whether it is hashed and a later scheme can be told apart.

What stays clear:

- Values optout computes from the caller's input: ``Decision.number``, ``Attempt.number``,
  the ``number`` of an evidence bundle. They are never read back from the database.
- Registry snapshot indexes (the compact files of national do-not-call lists) keep their
  integer keys: they hold public registry data, not the company's customers, and must stay
  sorted integers for the vectorized lookups.
- Exports that a registry needs in clear (the Italian RPO, French Bloctel and Australian
  DNCR submission files) are built from the caller's own list of numbers, never from the
  database, which cannot give clear numbers back.

What returns the stored (hashed) form: ``SuppressionList.list()``, ``iter_active()``,
``export_csv()`` (an export imports into another database hashed with the same key),
``Consent.number``, ``Registration.number``, ledger payloads and the change history.

The key: :func:`load_key` reads ``$OPTOUT_HASH_KEY`` (hex or base64), else the file named
by ``$OPTOUT_HASH_KEY_FILE`` (which must not be readable or writable by group or others),
else the OS keyring (service ``optout``, user ``hash_key``) when the ``keyring`` package
is installed. The key is never stored in the database, the ledger or a log; the database
records only the mode and the key's *fingerprint* (an HMAC of a fixed label) in the
``settings`` table (key ``number_storage``), so a client with no key or another key is
refused instead of silently finding nothing.

Erased numbers in a clear database: :mod:`optout._erasure` keeps the opt-out of an erased
number as its keyed hash even when the database otherwise stores numbers in clear, and
records that key's fingerprint under the ``erasure_key`` setting. From then on every
client of that database needs the same key (:func:`erasure_hasher`), so that suppression
lookups also match the hashed opt-outs; a client without it is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import logging
import os
import pathlib
import re
import stat
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optout._db import translate_errors, writing
from optout._errors import ConfigurationError
from optout._ledger_schema import ledger
from optout._schema import attempts, consents, registrations, registry_answers, suppressions
from optout._settings import ERASURE_KEY, NUMBER_STORAGE, insert_setting, read_setting

__all__ = [
    "CLEAR",
    "ENV_KEY",
    "ENV_KEY_FILE",
    "HASH_PREFIX",
    "KEYRING_SERVICE",
    "KEYRING_USER",
    "KEY_HELP",
    "NumberHasher",
    "Privacy",
    "check_database",
    "erased_number_hasher",
    "find_key",
    "load_key",
    "read_key_file",
    "redact",
]

_log = logging.getLogger("optout")

ENV_KEY = "OPTOUT_HASH_KEY"
ENV_KEY_FILE = "OPTOUT_HASH_KEY_FILE"
KEYRING_SERVICE = "optout"
KEYRING_USER = "hash_key"

#: The scheme tag of stored hashes: ``"h1:"`` + 64 hex digits.
HASH_PREFIX = "h1:"
_HASH_RE = re.compile(r"^h1:[0-9a-f]{64}$")
_MIN_KEY = 16
_FINGERPRINT_LABEL = b"optout/number-hash-key-fingerprint/v1"


class NumberHasher:
    """HMAC-SHA256 of E.164 text (numbers and prefixes) under a secret key.

    Args:
        key: at least 16 bytes (32 random bytes recommended:
            ``python -c "import secrets; print(secrets.token_hex(32))"``).
    """

    __slots__ = ("_key", "fingerprint")

    def __init__(self, key: bytes) -> None:
        given: object = key
        if not isinstance(given, bytes | bytearray) or len(given) < _MIN_KEY:
            raise ConfigurationError(f"the number hash key must be at least {_MIN_KEY} bytes")
        self._key = bytes(key)
        #: Identifies the key without revealing it (safe to store and to show).
        self.fingerprint = hmac.new(self._key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:32]

    @classmethod
    def from_environment(cls) -> NumberHasher:
        """A hasher with the key :func:`load_key` finds."""
        return cls(load_key())

    def hash(self, value: str) -> str:
        """``"h1:"`` + the hex HMAC-SHA256 of ``value`` (an E.164 number or prefix)."""
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return HASH_PREFIX + digest

    def __repr__(self) -> str:
        return f"NumberHasher(fingerprint={self.fingerprint!r})"


class Privacy:
    """How a database stores phone numbers: clear E.164 text, or keyed hashes."""

    __slots__ = ("hasher",)

    def __init__(self, hasher: NumberHasher | None = None) -> None:
        self.hasher = hasher

    @classmethod
    def of(cls, hash_numbers: bool | NumberHasher | Privacy) -> Privacy:
        """The setting for ``Compliance(hash_numbers=...)``; ``True`` loads the key."""
        if isinstance(hash_numbers, Privacy):
            return hash_numbers
        if isinstance(hash_numbers, NumberHasher):
            return cls(hash_numbers)
        if hash_numbers is True:
            return cls(NumberHasher.from_environment())
        if hash_numbers is False:
            return CLEAR
        raise ConfigurationError(
            f"hash_numbers must be a bool or a NumberHasher, got {type(hash_numbers).__name__}"
        )

    @property
    def hashed(self) -> bool:
        return self.hasher is not None

    @property
    def mode(self) -> str:
        """``"clear"`` or ``"hmac-sha256"``."""
        return "clear" if self.hasher is None else "hmac-sha256"

    def stored(self, value: str) -> str:
        """``value`` (an E.164 number or prefix) as the database stores it."""
        return value if self.hasher is None else self.hasher.hash(value)

    def stored_many(self, values: Iterable[str]) -> list[str]:
        if self.hasher is None:
            return list(values)
        return [self.hasher.hash(v) for v in values]

    def accepts_stored(self, value: str) -> bool:
        """Whether ``value`` is an already hashed value this database can take as is."""
        return self.hasher is not None and _HASH_RE.match(value) is not None

    def scrub(self, data: Any, secrets: Mapping[str, str]) -> Any:
        """``data`` (JSON-ready) with every occurrence of each ``secrets`` key replaced."""
        if not secrets:
            return data
        if isinstance(data, str):
            for clear, replacement in secrets.items():
                if clear in data:
                    data = data.replace(clear, replacement)
            return data
        if isinstance(data, Mapping):
            return {k: self.scrub(v, secrets) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.scrub(v, secrets) for v in data]
        return data

    def ledger_record(
        self, decision: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], str | None]:
        """A decision's dict, its inputs and the ``number`` column, as the ledger stores them.

        Clear mode returns them unchanged, except for an erased number (a denial whose
        evidence is a suppression entry stored as a keyed hash, see
        :mod:`optout._erasure`): that one is recorded under that hash, as in hashed mode, so
        checking an erased number again does not store it in clear. Hashed mode replaces
        the E.164 number and the raw input wherever they occur (the ``number`` fields,
        reason messages, evidence) by the number's hash; an input that did not parse is
        replaced by the hash of its text.
        """
        e164: str | None = decision.get("number")
        raw = inputs.get("number")
        raw_text = None if raw is None else str(raw)
        if self.hasher is None:
            erased = _erased_hash(decision) if e164 is not None else None
            if erased is None:
                return decision, inputs, e164
            hashed = erased
        else:
            hashed = self.hasher.hash(e164 if e164 is not None else (raw_text or ""))
        secrets: dict[str, str] = {}
        if raw_text and sum(c.isdigit() for c in raw_text) >= 3:
            secrets[raw_text] = hashed
        if e164 is not None:
            secrets[e164] = hashed
            secrets[e164[1:]] = hashed  # the digits alone
        out_decision = self.scrub(decision, secrets)
        out_inputs = self.scrub(inputs, secrets)
        if e164 is not None:
            out_decision["number"] = hashed
        if raw is not None:
            out_inputs["number"] = hashed
        return out_decision, out_inputs, None if e164 is None else hashed

    def __repr__(self) -> str:
        return f"Privacy({self.hasher!r})"


#: Numbers stored as clear E.164 text (the default).
CLEAR = Privacy()


def _erased_hash(decision: Mapping[str, Any]) -> str | None:
    """The keyed hash of an erased number, from the suppression evidence of its denial."""
    for item in decision.get("evidence", ()):
        detail = item.get("detail") if isinstance(item, Mapping) else None
        if item.get("kind") != "suppression" or not isinstance(detail, Mapping):
            continue
        value = detail.get("value")
        if detail.get("kind") == "number" and isinstance(value, str) and _HASH_RE.match(value):
            return value
    return None


# -- keys -----------------------------------------------------------------------------------


def _decode_key(text: str, where: str) -> bytes:
    """Hex or base64 key text (optionally tagged ``hex:`` / ``base64:``) as bytes."""
    body = text.strip()
    kind: str | None = None
    for tag in ("hex:", "base64:"):
        if body.lower().startswith(tag):
            kind, body = tag[:-1], body[len(tag) :].strip()
    key: bytes | None = None
    if kind in (None, "hex") and re.fullmatch(r"(?:[0-9a-fA-F]{2})+", body):
        key = bytes.fromhex(body)
    elif kind in (None, "base64"):
        padded = (body + "=" * (-len(body) % 4)).replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(padded.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            key = None
    if key is None:
        raise ConfigurationError(f"the number hash key in {where} is neither hex nor base64")
    if len(key) < _MIN_KEY:
        raise ConfigurationError(
            f"the number hash key in {where} is {len(key)} bytes; it needs at least {_MIN_KEY}"
        )
    return key


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path`` (hex or base64 text), if only its owner can read it.

    Raises:
        ConfigurationError: a missing file, a file group or others may read or write
            (``chmod 600`` it), or a key that is not hex or base64 of at least 16 bytes.
    """
    file = pathlib.Path(path).expanduser()
    try:
        info = file.stat()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the number hash key file {file}: {exc.strerror}"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigurationError(f"the number hash key file {file} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if os.name != "nt" and mode & 0o077:
        raise ConfigurationError(
            f"the number hash key file {file} has mode {mode:04o}: group or others may "
            f"access it; make it private with 'chmod 600 {file}'"
        )
    try:
        text = file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the number hash key file {file}: {exc}") from None
    return _decode_key(text, str(file))


def _keyring_key() -> bytes | None:
    """The key in the OS keyring, if the optional ``keyring`` package is installed."""
    try:
        keyring: Any = importlib.import_module("keyring")
    except ImportError:
        return None
    try:
        text = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
    except Exception as exc:  # any keyring backend failure: treat as "no key there"
        _log.debug("keyring lookup failed: %s", type(exc).__name__)
        return None
    if not text:
        return None
    return _decode_key(str(text), f"the OS keyring ({KEYRING_SERVICE}/{KEYRING_USER})")


#: How to configure the key, for error messages.
KEY_HELP = (
    f"set ${ENV_KEY} (hex or base64), or ${ENV_KEY_FILE} to a file only its owner can "
    f"read, or store it in the OS keyring (service {KEYRING_SERVICE!r}, user "
    f"{KEYRING_USER!r}, with the keyring package)"
)


def find_key(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The number hash key, like :func:`load_key`, or ``None`` when none is configured.

    Raises:
        ConfigurationError: a key file with loose permissions, or a key that is not hex
            or base64 of at least 16 bytes.
    """
    env = os.environ if environ is None else environ
    text = env.get(ENV_KEY, "").strip()
    if text:
        return _decode_key(text, f"${ENV_KEY}")
    path = env.get(ENV_KEY_FILE, "").strip()
    if path:
        return read_key_file(path)
    return _keyring_key()


def load_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The number hash key: ``$OPTOUT_HASH_KEY``, ``$OPTOUT_HASH_KEY_FILE``, or the keyring.

    Raises:
        ConfigurationError: no key anywhere, a key file with loose permissions, or a key
            that is not hex or base64 of at least 16 bytes.
    """
    key = find_key(environ)
    if key is None:
        raise ConfigurationError(f"hashed number storage needs a key: {KEY_HELP}")
    return key


# -- the database's mode ----------------------------------------------------------------------


def _marker(conn: sa.Connection) -> dict[str, Any] | None:
    data = read_setting(conn, NUMBER_STORAGE)
    if data is not None and not isinstance(data, dict):
        raise ConfigurationError("the database's number storage setting is damaged")
    return data


_NUMBER_COLUMNS = (
    suppressions.c.value,
    consents.c.number,
    registrations.c.number,
    attempts.c.number,
    registry_answers.c.number,
    ledger.c.number,
)


def _holds_clear_numbers(conn: sa.Connection) -> bool:
    for column in _NUMBER_COLUMNS:
        stmt = sa.select(column).where(column.is_not(None), ~column.startswith(HASH_PREFIX))
        if conn.execute(stmt.limit(1)).first() is not None:
            return True
    return False


def _check(marker: dict[str, Any] | None, privacy: Privacy) -> bool:
    """Whether the marker agrees with ``privacy``; raises if it does not. False: none yet."""
    if marker is None:
        return False
    mode = marker.get("numbers")
    fingerprint = marker.get("key_fingerprint")
    if privacy.hasher is None:
        if mode != "clear":
            raise ConfigurationError(
                "this database stores phone numbers as keyed hashes (key fingerprint "
                f"{fingerprint}); open it with hash_numbers=True and that key "
                f"(${ENV_KEY}, ${ENV_KEY_FILE} or the OS keyring)"
            )
        return True
    if mode != privacy.mode or marker.get("scheme") != HASH_PREFIX[:-1]:
        raise ConfigurationError(
            f"this database stores phone numbers as {mode!r}; it cannot be opened with "
            "hash_numbers=True"
        )
    if fingerprint != privacy.hasher.fingerprint:
        raise ConfigurationError(
            f"this database's numbers were hashed with another key (fingerprint {fingerprint}, "
            f"this key's is {privacy.hasher.fingerprint}); lookups would find nothing"
        )
    return True


def _fingerprint_of(setting: object) -> str:
    """The key fingerprint in the ``erasure_key`` setting."""
    if (
        not isinstance(setting, dict)
        or setting.get("scheme") != HASH_PREFIX[:-1]
        or not isinstance(setting.get("key_fingerprint"), str)
    ):
        raise ConfigurationError("the database's erasure key setting is damaged")
    return str(setting["key_fingerprint"])


def _hasher_for(fingerprint: str, privacy: Privacy) -> NumberHasher:
    """The client's key (hashed mode) or the configured key, if its fingerprint matches."""
    hasher = privacy.hasher
    if hasher is None:
        key = find_key()
        if key is None:
            raise ConfigurationError(
                "this database keeps the opt-outs of erased numbers as keyed hashes (key "
                f"fingerprint {fingerprint}); every client needs that key to match them: "
                f"{KEY_HELP}"
            )
        hasher = NumberHasher(key)
    if hasher.fingerprint != fingerprint:
        raise ConfigurationError(
            "the opt-outs of erased numbers in this database were hashed with another key "
            f"(fingerprint {fingerprint}, this key's is {hasher.fingerprint}); they would "
            "not be found"
        )
    return hasher


def erased_number_hasher(conn: sa.Connection, privacy: Privacy) -> NumberHasher | None:
    """In a clear database that holds erased numbers, the hasher of their opt-outs.

    ``None`` when the database stores numbers in clear and no number was erased yet, and
    for a hashed client (every number it stores is hashed with its own key already).

    Raises:
        ConfigurationError: erased numbers exist and no key, or another key, is configured.
    """
    if privacy.hasher is not None:
        return None
    setting = read_setting(conn, ERASURE_KEY)
    if setting is None:
        return None
    return _hasher_for(_fingerprint_of(setting), privacy)


def check_database(engine: Engine, privacy: Privacy) -> None:
    """Refuse a database stored in the other mode or under another key; record the mode
    (and the key's fingerprint, never the key) the first time a hashed client opens it.

    The mode lives in the ``settings`` table (key ``number_storage``). A clear client only
    reads. A hashed client refuses a database that already holds clear numbers (the two
    must never mix). Any client of a database that keeps erased numbers' opt-outs as
    keyed hashes (setting ``erasure_key``) needs that key.

    Raises:
        ConfigurationError: the database and ``privacy`` disagree, or erased numbers need a
            key this client does not have.
    """
    with translate_errors(engine), engine.connect() as conn:
        recorded = _check(_marker(conn), privacy)
        erasure = read_setting(conn, ERASURE_KEY)
    if erasure is not None:
        _hasher_for(_fingerprint_of(erasure), privacy)
    if recorded or privacy.hasher is None:
        return
    with writing(engine) as conn:
        if _check(_marker(conn), privacy):
            return  # another client recorded it meanwhile
        if _holds_clear_numbers(conn):
            raise ConfigurationError(
                "this database already holds phone numbers in clear; hashed storage can "
                "only be switched on for a new database (export, then import the entries "
                "into a new hashed one)"
            )
        stored = insert_setting(
            conn,
            NUMBER_STORAGE,
            {
                "numbers": privacy.mode,
                "scheme": HASH_PREFIX[:-1],
                "key_fingerprint": privacy.hasher.fingerprint,
            },
            actor=None,
            reason="number storage mode",
        )
        _check(stored if isinstance(stored, dict) else None, privacy)


# -- logs -----------------------------------------------------------------------------------

_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{4,}(\d{2})(?![0-9A-Za-z])")


def redact(text: str) -> str:
    """``text`` with every run of 6 or more digits masked but its last 2.

    ``redact("no answer from +393471234567")`` gives ``"no answer from +**********67"``.
    Digits inside words or hex (hash values, ids such as ``a1234567b``) are left alone.
    Use it for any message that may carry a phone number at INFO level or above.
    """
    return _DIGITS.sub(lambda m: "*" * (len(m.group(0)) - 2) + m.group(1), text)
