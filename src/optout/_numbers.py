"""Phone-number normalization on top of libphonenumber (the ``phonenumbers`` package).

:func:`normalize` turns whatever a user typed (``"06 1234 5678"``, ``"+1 (202) 555-0123"``,
``"0044 20 7946 0123"``) plus a default region into a :class:`PhoneNumber`: the E.164
form, the country calling code, the ISO region, the line type and the *set* of IANA time
zones the number may be in. A US area code can span two zones and an Australian mobile
spans the whole continent, so callers must treat ``time_zones`` as a set of candidates.
"""

from __future__ import annotations

import dataclasses
import functools

import phonenumbers
from phonenumbers import timezone as _pn_timezone

from optout._errors import ConfigurationError, InvalidNumberError
from optout._vocab import NumberType

__all__ = ["MAX_INPUT_LENGTH", "PhoneNumber", "normalize", "normalize_region"]

#: Inputs longer than this are rejected before parsing (libphonenumber's own limit is 250).
MAX_INPUT_LENGTH = 64

_TYPE_MAP: dict[int, NumberType] = {
    phonenumbers.PhoneNumberType.FIXED_LINE: NumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE: NumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE: NumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE: NumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST: NumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP: NumberType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: NumberType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.PAGER: NumberType.PAGER,
    phonenumbers.PhoneNumberType.UAN: NumberType.UAN,
    phonenumbers.PhoneNumberType.VOICEMAIL: NumberType.VOICEMAIL,
}

_UNKNOWN_ZONE = "Etc/Unknown"


@dataclasses.dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A parsed, validated phone number.

    Attributes:
        e164: the number in E.164 form, e.g. ``"+390612345678"``.
        country_code: the ITU country calling code, e.g. ``39``.
        region: the ISO 3166-1 alpha-2 region (``"IT"``), or ``None`` for numbers that
            belong to no region (``+800`` international freephone).
        number_type: the line type libphonenumber assigns from the numbering plan.
        time_zones: every IANA zone the number may be in; empty when unknown.
        extension: the extension typed after the number (``"ext. 12"``), if any.
        valid: whether the number is valid in its numbering plan. :func:`normalize` only
            returns invalid numbers when called with ``strict=False``.
    """

    e164: str
    country_code: int
    region: str | None
    number_type: NumberType
    time_zones: frozenset[str]
    extension: str | None = None
    valid: bool = True


def normalize_region(region: str | None) -> str | None:
    """Check and upper-case a default region such as ``"it"``; ``None`` stays ``None``."""
    if region is None:
        return None
    if not isinstance(region, str):
        raise ConfigurationError(f"region must be a two-letter ISO code, got {region!r}")
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigurationError(f"unknown region {region!r}; expected an ISO 3166 code like 'IT'")
    return code


def normalize(raw: str, region: str | None = None, *, strict: bool = True) -> PhoneNumber:
    """Parse ``raw`` and return a :class:`PhoneNumber`.

    Args:
        raw: the number as entered. Numbers written with ``+`` need no region; national
            ones (``06 1234 5678``) and ones dialled with an international prefix
            (``0039 ...``) are read as dialled from ``region``.
        region: the default region for numbers written without a country code.
        strict: when true (the default), a number that parses but is not valid in its
            numbering plan raises; when false it is returned with ``valid=False``.

    Raises:
        InvalidNumberError: ``raw`` is not a string, is empty or too long, cannot be
            parsed, or (with ``strict``) is not a valid number.
        ConfigurationError: ``region`` is not a known ISO region code.
    """
    if not isinstance(raw, str):
        raise InvalidNumberError(
            f"a phone number must be a string, got {type(raw).__name__}", raw=raw
        )
    return _normalize_cached(raw, normalize_region(region), strict)


@functools.lru_cache(maxsize=65536)
def _normalize_cached(raw: str, region: str | None, strict: bool) -> PhoneNumber:
    text = raw.strip()
    if not text:
        raise InvalidNumberError("the phone number is empty", raw=raw)
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidNumberError(
            f"the phone number is {len(text)} characters long (at most {MAX_INPUT_LENGTH})", raw=raw
        )
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumberError(_parse_message(exc, region), raw=raw) from None
    valid = phonenumbers.is_valid_number(parsed)
    if strict and not valid:
        raise InvalidNumberError("not a valid phone number in its numbering plan", raw=raw)
    zones = _pn_timezone.time_zones_for_number(parsed)
    region_code = phonenumbers.region_code_for_number(parsed)
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        country_code=int(parsed.country_code or 0),
        region=region_code if region_code and region_code.isalpha() else None,
        number_type=_TYPE_MAP.get(phonenumbers.number_type(parsed), NumberType.UNKNOWN),
        time_zones=frozenset(z for z in zones if z != _UNKNOWN_ZONE),
        extension=parsed.extension or None,
        valid=valid,
    )


def _parse_message(exc: phonenumbers.NumberParseException, region: str | None) -> str:
    kind = exc.error_type
    if kind == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        if region is None:
            return "no country code and no default region: write +CC... or pass a region"
        return "unknown country calling code"
    if kind == phonenumbers.NumberParseException.NOT_A_NUMBER:
        return "not a phone number"
    if kind == phonenumbers.NumberParseException.TOO_SHORT_NSN:
        return "too short to be a phone number"
    if kind == phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD:
        return "too short after the international prefix"
    if kind == phonenumbers.NumberParseException.TOO_LONG:
        return "too long to be a phone number"
    return "not a phone number"
