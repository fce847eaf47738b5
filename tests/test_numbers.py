"""Number normalization: E.164, region, type, candidate time zones, typed errors."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optout
from optout import NumberType

REGIONS = ["IT", "US", "GB", "FR", "DE", "ES", "AU", "BR", "CA"]


@pytest.mark.parametrize(
    ("raw", "region", "e164", "country", "iso", "kind"),
    [
        ("+39 06 1234 5678", None, "+390612345678", 39, "IT", NumberType.FIXED_LINE),
        ("06 1234 5678", "IT", "+390612345678", 39, "IT", NumberType.FIXED_LINE),
        ("0039 06 1234 5678", "DE", "+390612345678", 39, "IT", NumberType.FIXED_LINE),
        ("(202) 555-0123", "US", "+12025550123", 1, "US", NumberType.FIXED_LINE_OR_MOBILE),
        ("202.555.0123", "us", "+12025550123", 1, "US", NumberType.FIXED_LINE_OR_MOBILE),
        ("+44 20 7946 0123", None, "+442079460123", 44, "GB", NumberType.FIXED_LINE),
        ("+61 491 570 006", None, "+61491570006", 61, "AU", NumberType.MOBILE),
        ("+1 613 555 0100", None, "+16135550100", 1, "CA", NumberType.FIXED_LINE_OR_MOBILE),
        ("+800 1234 5678", None, "+80012345678", 800, None, NumberType.TOLL_FREE),
    ],
)
def test_normalize_known_forms(
    raw: str, region: str | None, e164: str, country: int, iso: str | None, kind: NumberType
) -> None:
    number = optout.normalize(raw, region)
    assert number.e164 == e164
    assert number.country_code == country
    assert number.region == iso
    assert number.number_type is kind
    assert number.valid


def test_time_zones_are_a_set_of_candidates() -> None:
    # Idaho's 208 spans Mountain and Pacific time; Spanish mobiles span the Canaries.
    assert optout.normalize("+1 208 555 0199").time_zones == {
        "America/Boise",
        "America/Los_Angeles",
    }
    assert optout.normalize("+34 600 000 000").time_zones == {"Atlantic/Canary", "Europe/Madrid"}
    assert optout.normalize("+39 06 1234 5678").time_zones == {"Europe/Rome"}
    # A number with no geography has no zone rather than the "Etc/Unknown" placeholder.
    assert optout.normalize("+800 1234 5678").time_zones == frozenset()


def test_extension_is_kept_apart() -> None:
    number = optout.normalize("+1 202 555 0123 ext. 12")
    assert number.e164 == "+12025550123"
    assert number.extension == "12"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not a number", "not a phone number"),
        ("06 1234 5678", "no country code and no default region"),
        ("+39 06", "not a valid phone number"),
        ("1" * 65, "at most 64"),
        ("+999 1234 5678", "country"),
    ],
)
def test_bad_numbers_raise_a_typed_error(raw: str, message: str) -> None:
    with pytest.raises(optout.InvalidNumberError, match=message) as info:
        optout.normalize(raw)
    assert info.value.raw == raw


@pytest.mark.parametrize("raw", [None, 390612345678, b"+390612345678", ["+39"]])
def test_non_strings_raise_a_typed_error(raw: object) -> None:
    with pytest.raises(optout.InvalidNumberError, match="must be a string"):
        optout.normalize(raw)  # type: ignore[arg-type]


def test_non_strict_returns_invalid_numbers() -> None:
    number = optout.normalize("+39 06", strict=False)
    assert not number.valid


@pytest.mark.parametrize("region", ["XX", "ITA", "", 39])
def test_unknown_region_is_a_configuration_error(region: object) -> None:
    with pytest.raises(optout.ConfigurationError, match="region"):
        optout.normalize("06 1234 5678", region)  # type: ignore[arg-type]


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    """Valid numbers built from libphonenumber's own example numbers, last digits varied."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(
        st.sampled_from(
            [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    tail = draw(st.text(alphabet="0123456789", min_size=2, max_size=2))
    candidate = e164[:-2] + tail
    return candidate if phonenumbers.is_valid_number(phonenumbers.parse(candidate)) else e164


@st.composite
def formatted(draw: st.DrawFn) -> tuple[str, str | None]:
    """A valid number written the way people write it: E.164, international or national."""
    e164 = draw(valid_numbers())
    parsed = phonenumbers.parse(e164)
    region = phonenumbers.region_code_for_number(parsed)
    style = draw(
        st.sampled_from(
            [
                phonenumbers.PhoneNumberFormat.E164,
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL,
                phonenumbers.PhoneNumberFormat.RFC3966,
            ]
        )
    )
    return phonenumbers.format_number(parsed, style), region


@settings(max_examples=300, deadline=None)
@given(formatted())
def test_normalization_is_idempotent(case: tuple[str, str | None]) -> None:
    raw, region = case
    first = optout.normalize(raw, region)
    again = optout.normalize(first.e164)
    assert again == first
    assert optout.normalize(again.e164, region) == first


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80), st.sampled_from([None, *REGIONS]))
def test_any_text_normalizes_or_raises_the_typed_error(raw: str, region: str | None) -> None:
    try:
        number = optout.normalize(raw, region)
    except optout.InvalidNumberError:
        return
    assert number.e164.startswith("+")
    assert number.e164[1:].isdigit()
    assert number.valid
