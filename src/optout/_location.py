"""Where is the callee? Country, candidate subdivisions and candidate time zones.

The number gives the country, and for some countries the state or province (the area code:
Florida, Oklahoma and Connecticut presume an in-state area code means an in-state resident).
Hints from the caller (``state``, ``postal_code``, ``time_zone``) narrow the time zones.
Subdivisions only ever accumulate: an area-code state and a hinted state both apply, which
is the strict reading when the two disagree.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optout._errors import ConfigurationError
from optout._fastnum import NANP_WIDTH, dense_nanp, once
from optout._numbers import PhoneNumber
from optout._tablecache import cached_arrays
from optout._vocab import NumberType

__all__ = ["Location", "country_zones", "locate", "nanp_states"]

US_STATES = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "District of Columbia": "DC",
    "Washington D.C.": "DC",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington": "WA",
    "Washington State": "WA",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
}
CA_PROVINCES = {
    "Alberta": "AB",
    "British Columbia": "BC",
    "Manitoba": "MB",
    "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL",
    "Newfoundland": "NL",
    "Nova Scotia": "NS",
    "Northwest Territories": "NT",
    "Nunavut": "NU",
    "Ontario": "ON",
    "Prince Edward Island": "PE",
    "Quebec": "QC",
    "Saskatchewan": "SK",
    "Yukon": "YT",
    "Yukon Territory": "YT",
}
# Brazilian DDD (the two-digit area code) to state.
_BR_DDD: dict[str, str] = {}
for _state, _codes in {
    "SP": "11 12 13 14 15 16 17 18 19",
    "RJ": "21 22 24",
    "ES": "27 28",
    "MG": "31 32 33 34 35 37 38",
    "PR": "41 42 43 44 45 46",
    "SC": "47 48 49",
    "RS": "51 53 54 55",
    "DF": "61",
    "GO": "62 64",
    "TO": "63",
    "MT": "65 66",
    "MS": "67",
    "AC": "68",
    "RO": "69",
    "BA": "71 73 74 75 77",
    "SE": "79",
    "PE": "81 87",
    "AL": "82",
    "PB": "83",
    "RN": "84",
    "CE": "85 88",
    "PI": "86 89",
    "PA": "91 93 94",
    "AM": "92 97",
    "RR": "95",
    "AP": "96",
    "MA": "98 99",
}.items():
    for _code in _codes.split():
        _BR_DDD[_code] = _state

# US ZIP code prefixes (first three digits) to state, as inclusive ranges.
_ZIP3 = (
    (10, 27, "MA"),
    (28, 29, "RI"),
    (30, 38, "NH"),
    (39, 49, "ME"),
    (50, 54, "VT"),
    (55, 55, "MA"),
    (56, 59, "VT"),
    (60, 69, "CT"),
    (70, 89, "NJ"),
    (100, 149, "NY"),
    (150, 196, "PA"),
    (197, 199, "DE"),
    (200, 205, "DC"),
    (206, 219, "MD"),
    (220, 246, "VA"),
    (247, 268, "WV"),
    (270, 289, "NC"),
    (290, 299, "SC"),
    (300, 319, "GA"),
    (320, 339, "FL"),
    (341, 349, "FL"),
    (350, 369, "AL"),
    (370, 385, "TN"),
    (386, 397, "MS"),
    (398, 399, "GA"),
    (400, 427, "KY"),
    (430, 459, "OH"),
    (460, 479, "IN"),
    (480, 499, "MI"),
    (500, 528, "IA"),
    (530, 549, "WI"),
    (550, 567, "MN"),
    (570, 577, "SD"),
    (580, 588, "ND"),
    (590, 599, "MT"),
    (600, 629, "IL"),
    (630, 658, "MO"),
    (660, 679, "KS"),
    (680, 693, "NE"),
    (700, 715, "LA"),
    (716, 729, "AR"),
    (730, 749, "OK"),
    (750, 799, "TX"),
    (800, 816, "CO"),
    (820, 831, "WY"),
    (832, 838, "ID"),
    (840, 847, "UT"),
    (850, 865, "AZ"),
    (870, 884, "NM"),
    (885, 885, "TX"),
    (889, 898, "NV"),
    (900, 961, "CA"),
    (967, 968, "HI"),
    (970, 979, "OR"),
    (980, 994, "WA"),
    (995, 999, "AK"),
)
# Canadian postal codes: the first letter gives the province (X is NT or NU).
_CA_POSTAL = {
    "A": "NL",
    "B": "NS",
    "C": "PE",
    "E": "NB",
    "G": "QC",
    "H": "QC",
    "J": "QC",
    "K": "ON",
    "L": "ON",
    "M": "ON",
    "N": "ON",
    "P": "ON",
    "R": "MB",
    "S": "SK",
    "T": "AB",
    "V": "BC",
    "Y": "YT",
}

_A = "America/"
# The IANA zones each subdivision spans (used to narrow a number's candidate zones).
SUBDIVISION_ZONES: dict[str, tuple[str, ...]] = {
    "US-AL": (_A + "Chicago",),
    "US-AK": (
        _A + "Anchorage",
        _A + "Juneau",
        _A + "Nome",
        _A + "Sitka",
        _A + "Yakutat",
        _A + "Adak",
    ),
    "US-AZ": (_A + "Phoenix", _A + "Denver"),
    "US-AR": (_A + "Chicago",),
    "US-CA": (_A + "Los_Angeles",),
    "US-CO": (_A + "Denver",),
    "US-CT": (_A + "New_York",),
    "US-DE": (_A + "New_York",),
    "US-DC": (_A + "New_York",),
    "US-FL": (_A + "New_York", _A + "Chicago"),
    "US-GA": (_A + "New_York",),
    "US-HI": ("Pacific/Honolulu",),
    "US-ID": (_A + "Boise", _A + "Los_Angeles"),
    "US-IL": (_A + "Chicago",),
    "US-IN": (_A + "Indiana/Indianapolis", _A + "Chicago"),
    "US-IA": (_A + "Chicago",),
    "US-KS": (_A + "Chicago", _A + "Denver"),
    "US-KY": (_A + "New_York", _A + "Chicago"),
    "US-LA": (_A + "Chicago",),
    "US-ME": (_A + "New_York",),
    "US-MD": (_A + "New_York",),
    "US-MA": (_A + "New_York",),
    "US-MI": (_A + "Detroit", _A + "Chicago"),
    "US-MN": (_A + "Chicago",),
    "US-MS": (_A + "Chicago",),
    "US-MO": (_A + "Chicago",),
    "US-MT": (_A + "Denver",),
    "US-NE": (_A + "Chicago", _A + "Denver"),
    "US-NV": (_A + "Los_Angeles", _A + "Denver"),
    "US-NH": (_A + "New_York",),
    "US-NJ": (_A + "New_York",),
    "US-NM": (_A + "Denver",),
    "US-NY": (_A + "New_York",),
    "US-NC": (_A + "New_York",),
    "US-ND": (_A + "Chicago", _A + "Denver"),
    "US-OH": (_A + "New_York",),
    "US-OK": (_A + "Chicago",),
    "US-OR": (_A + "Los_Angeles", _A + "Boise"),
    "US-PA": (_A + "New_York",),
    "US-RI": (_A + "New_York",),
    "US-SC": (_A + "New_York",),
    "US-SD": (_A + "Chicago", _A + "Denver"),
    "US-TN": (_A + "Chicago", _A + "New_York"),
    "US-TX": (_A + "Chicago", _A + "Denver"),
    "US-UT": (_A + "Denver",),
    "US-VT": (_A + "New_York",),
    "US-VA": (_A + "New_York",),
    "US-WA": (_A + "Los_Angeles",),
    "US-WV": (_A + "New_York",),
    "US-WI": (_A + "Chicago",),
    "US-WY": (_A + "Denver",),
    "CA-AB": (_A + "Edmonton",),
    "CA-BC": (_A + "Vancouver", _A + "Edmonton"),
    "CA-MB": (_A + "Winnipeg",),
    "CA-NB": (_A + "Moncton",),
    "CA-NL": (_A + "St_Johns", _A + "Goose_Bay"),
    "CA-NS": (_A + "Halifax",),
    "CA-NT": (_A + "Yellowknife",),
    "CA-NU": (_A + "Iqaluit", _A + "Rankin_Inlet"),
    "CA-ON": (_A + "Toronto", _A + "Winnipeg"),
    "CA-PE": (_A + "Halifax",),
    "CA-QC": (_A + "Toronto", _A + "Halifax"),
    "CA-SK": (_A + "Regina", _A + "Edmonton"),
    "CA-YT": (_A + "Whitehorse",),
    "AU-NSW": ("Australia/Sydney", "Australia/Broken_Hill"),
    "AU-ACT": ("Australia/Sydney",),
    "AU-VIC": ("Australia/Melbourne",),
    "AU-QLD": ("Australia/Brisbane",),
    "AU-SA": ("Australia/Adelaide",),
    "AU-WA": ("Australia/Perth", "Australia/Eucla"),
    "AU-TAS": ("Australia/Hobart",),
    "AU-NT": ("Australia/Darwin",),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Location:
    """Where the callee may be.

    Attributes:
        country: ISO region of the number (``None`` for non-geographic numbers).
        subdivisions: candidate states or provinces (ISO 3166-2 suffixes such as ``"FL"``);
            empty when none could be determined.
        zones: candidate IANA time zones; every one must allow a call.
        basis: how the zones were found (``"number"``, ``"hint:time_zone"``, ...).
    """

    country: str | None
    subdivisions: frozenset[str]
    zones: frozenset[str]
    basis: str


#: New York City's area codes (a first cut of the city as a sub-state jurisdiction: the
#: DCWP debt-collection rules bind calls into the city). A number with one of them is
#: read as possibly in the city: subdivision "NYC" beside "NY".
NYC_AREA_CODES = frozenset({"212", "332", "347", "646", "718", "917", "929"})
#: ZIP code prefixes (ZIP3) wholly or mostly inside the five boroughs.
#: 110 holds Queens ZIP codes beside Nassau County ones: in, the strict reading.
NYC_ZIP3 = frozenset({100, 101, 102, 103, 104, 110, 111, 112, 113, 114, 116})


def _with_city(prefix: str, states: frozenset[str]) -> frozenset[str]:
    """``states`` plus ``"NYC"`` for a ``+1`` prefix (digits, country code first) in one
    of New York City's area codes that the geocoder places in New York."""
    if "NY" in states and len(prefix) >= 4 and prefix[1:4] in NYC_AREA_CODES:
        return states | {"NYC"}
    return states


def _state_of(text: str, region: str) -> frozenset[str]:
    """The subdivision a geocoder description names (``"Florida"``, ``"Miami, FL"``)."""
    names = US_STATES if region == "US" else CA_PROVINCES
    if text in names:
        return frozenset({names[text]})
    m = re.search(r",\s*([A-Z]{2})$", text)
    if m and m.group(1) in names.values():
        return frozenset({m.group(1)})
    return frozenset()


def _geocoder_states() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """NANP geocoder prefixes -> (US reading, CA reading) of their English description, from
    libphonenumber's geocoder data (the prefixes of ``+1`` numbers that have an English
    name); ``description_for_number`` of a geographic number is the name of its longest
    listed prefix (else the country's name, which names no subdivision)."""
    from phonenumbers.geodata import GEOCODE_DATA  # noqa: PLC0415 - large, loaded on demand

    table: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for prefix, names in GEOCODE_DATA.items():
        if prefix.startswith("1"):
            text = names.get("en")
            if text is not None:
                us = _with_city(prefix, _state_of(str(text), "US"))
                table[prefix] = (us, _state_of(str(text), "CA"))
    return table


@once
def _geo_states() -> tuple[dict[str, tuple[frozenset[str], frozenset[str]]], int]:
    """:func:`_geocoder_states` (read back from the table cache through :func:`_geo_arrays`),
    with the longest prefix length."""
    readings, arrays = _geo_arrays()
    table = {
        str(prefix): (readings[us], readings[ca])
        for prefixes, u, c in arrays.values()
        for prefix, us, ca in zip(prefixes.tolist(), u.tolist(), c.tolist(), strict=True)
    }
    return table, max(arrays, default=0)


_NO_STATE: frozenset[str] = frozenset()


def _nanp_states(region: str, e164: str) -> frozenset[str]:
    """The subdivisions the geocoder names for a geographic ``+1`` number (longest prefix;
    for the usual 11 digits, one look-up in the dense table, as :func:`nanp_states` does,
    instead of building the prefix dictionary)."""
    digits = e164[1:]
    if len(digits) == 11 and digits.isascii() and digits.isdigit():
        dense = _nanp_dense(region)
        if dense is not None:
            at = int(dense[int(digits[:NANP_WIDTH]) - 10 ** (NANP_WIDTH - 1)])
            readings: list[frozenset[str]] = _geo_arrays()[0]
            return readings[max(at, 0)]
    table, longest = _geo_states()
    reading = 0 if region == "US" else 1
    for length in range(min(longest, len(digits)), 0, -1):
        found = table.get(digits[:length])
        if found is not None:
            return found[reading]
    return _NO_STATE


@once
def _geo_arrays() -> tuple[list[frozenset[str]], dict[int, tuple[Any, Any, Any]]]:
    """The geocoder's ``+1`` readings (:func:`_geocoder_states`) as sorted numpy arrays per
    prefix length: the distinct readings, and per length the prefixes with the index of
    their US and CA readings (kept in the table cache, :mod:`optout._tablecache`)."""
    stored = cached_arrays("nanp-geo", _build_geo_arrays, _geo_ok)
    readings = [frozenset(r.split(",")) if r else _NO_STATE for r in stored["readings"].tolist()]
    arrays = {
        int(key[1:]): (stored[key], stored[f"u{key[1:]}"], stored[f"c{key[1:]}"])
        for key in stored
        if key.startswith("p")
    }
    return readings, arrays


def _geo_ok(stored: Mapping[str, Any]) -> bool:
    """Readings as text, and per prefix length three int64 arrays of one length whose
    reading indexes are in range."""
    readings = stored.get("readings")
    if readings is None or readings.dtype.kind != "U" or readings.ndim != 1:
        return False
    lengths = {key[1:] for key in stored if key != "readings"}
    if set(stored) != {"readings"} | {f"{c}{n}" for n in lengths for c in "puc"}:
        return False
    for n in lengths:
        p, u, c = stored[f"p{n}"], stored[f"u{n}"], stored[f"c{n}"]
        if not n.isdigit() or any(a.dtype != np.int64 or a.shape != p.shape for a in (u, c)):
            return False
        if (
            p.dtype != np.int64
            or p.ndim != 1
            or (
                len(p)
                and not (min(u.min(), c.min()) >= 0 and max(u.max(), c.max()) < len(readings))
            )
        ):
            return False
    return True


def _build_geo_arrays() -> dict[str, Any]:
    table = _geocoder_states()
    readings: list[frozenset[str]] = [_NO_STATE]
    index: dict[frozenset[str], int] = {_NO_STATE: 0}
    rows: dict[int, list[tuple[int, int, int]]] = {}

    def ident(reading: frozenset[str]) -> int:
        k = index.get(reading)
        if k is None:
            k = index[reading] = len(readings)
            readings.append(reading)
        return k

    for prefix, (us, ca) in table.items():
        rows.setdefault(len(prefix), []).append((int(prefix), ident(us), ident(ca)))
    out: dict[str, Any] = {"readings": np.array([",".join(sorted(r)) for r in readings])}
    for length, items in rows.items():
        items.sort()
        out[f"p{length}"] = np.array([i[0] for i in items], dtype=np.int64)
        out[f"u{length}"] = np.array([i[1] for i in items], dtype=np.int64)
        out[f"c{length}"] = np.array([i[2] for i in items], dtype=np.int64)
    return out


@once
def _nanp_dense(region: str) -> Any:
    """The geocoder readings of ``region`` as a dense table over 1NPANXX (None when a +1
    prefix is longer than seven digits, which libphonenumber's data has none of)."""
    _readings, arrays = _geo_arrays()
    if any(length > NANP_WIDTH for length in arrays):
        return None
    column = 1 if region == "US" else 2
    return dense_nanp({n: (a[0], a[column]) for n, a in arrays.items()}, -1)


def nanp_states(
    region: str, e164_digits: Any, prefixes: Callable[[int], Any]
) -> tuple[list[frozenset[str]], Any]:
    """:func:`_nanp_states` for many numbers at once (numpy longest-prefix match).

    ``e164_digits`` are the numbers' lengths in digits (an int array) and ``prefixes(n)``
    their first ``n`` digits as int64 (an array aligned with them). Returns the readings and,
    per number, the index of its reading.
    """
    readings, arrays = _geo_arrays()
    lengths = np.asarray(e164_digits, dtype=np.int64)
    result = np.full(len(lengths), -1, dtype=np.int64)
    dense = _nanp_dense(region)
    if dense is not None:
        # Every +1 number has 11 digits: one look-up of its first seven (1NPANXX).
        eleven = np.flatnonzero(lengths == 11)
        if len(eleven):
            found = dense[np.asarray(prefixes(7))[eleven] - 10**6]
            result[eleven] = np.where(found >= 0, found, 0)
    for length in sorted(arrays, reverse=True):
        keys, us, ca = arrays[length]
        open_ = np.flatnonzero((result < 0) & (lengths >= length))
        if not len(open_):
            continue
        probe = prefixes(length)[open_]
        at = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
        hit = keys[at] == probe
        result[open_[hit]] = (us if region == "US" else ca)[at[hit]]
    return readings, np.where(result >= 0, result, 0)


_GEOGRAPHIC = (NumberType.FIXED_LINE, NumberType.FIXED_LINE_OR_MOBILE)


def _from_number(phone: PhoneNumber) -> set[str]:
    if phone.region in ("US", "CA"):
        if phone.number_type is NumberType.UNKNOWN and not phone.valid:
            return set()  # the geocoder describes no invalid number
        if phone.number_type in _GEOGRAPHIC and phone.e164.startswith("+1"):
            return set(_nanp_states(phone.region, phone.e164))
        return _from_number_slow(phone)
    if phone.region == "BR":
        state = _BR_DDD.get(phone.e164[3:5])
        return {state} if state else set()
    return set()


def _from_number_slow(phone: PhoneNumber) -> set[str]:
    """:func:`_from_number` by geocoding the number itself (the reference)."""
    if phone.region in ("US", "CA"):
        states = _state_of(_describe(phone.e164), phone.region)
        if phone.region == "US":
            states = _with_city(phone.e164[1:], states)
        return set(states)
    if phone.region == "BR":
        state = _BR_DDD.get(phone.e164[3:5])
        return {state} if state else set()
    return set()


@functools.lru_cache(maxsize=8192)
def _describe(e164: str) -> str:
    import phonenumbers  # noqa: PLC0415 - already imported by _numbers
    from phonenumbers import geocoder  # noqa: PLC0415 - 0.3 s to import: only when needed

    return str(geocoder.description_for_number(phonenumbers.parse(e164), "en"))


def _state_from_postal(country: str | None, postal: str) -> str:
    text = postal.strip().upper()
    if country == "US" and re.fullmatch(r"\d{5}(-\d{4})?", text):
        prefix = int(text[:3])
        for first, last, state in _ZIP3:
            if first <= prefix <= last:
                return state
        raise ConfigurationError(f"ZIP code {postal!r} is not in a US state's range")
    if country == "CA" and re.fullmatch(r"[A-Z]\d[A-Z] ?\d[A-Z]\d", text):
        province = _CA_POSTAL.get(text[0])
        if province:
            return province
    raise ConfigurationError(
        f"cannot place postal code {postal!r} for country {country or 'unknown'}; "
        "pass state= instead"
    )


def locate(
    phone: PhoneNumber,
    *,
    state: str | None = None,
    postal_code: str | None = None,
    time_zone: str | None = None,
) -> Location:
    """Resolve where the callee may be, from the number and the caller's hints.

    Raises:
        ConfigurationError: a hint that cannot be used (unknown zone, unplaceable postal code).
    """
    subdivisions = _from_number(phone)
    hinted: set[str] = set()
    if state is not None:
        hinted.add(_check_state(state))
    if postal_code is not None:
        hinted.add(_state_from_postal(phone.region, postal_code))
        if phone.region == "US" and int(postal_code.strip()[:3]) in NYC_ZIP3:
            hinted.add("NYC")
    elif phone.region == "US" and "NY" in hinted:
        # A New York hint with no ZIP code may mean the city: its rules apply too.
        hinted.add("NYC")
    subdivisions |= hinted
    if time_zone is not None:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"unknown time zone {time_zone!r}") from None
        return Location(
            phone.region, frozenset(subdivisions), frozenset({time_zone}), "hint:time_zone"
        )
    zones = set(phone.time_zones)
    if phone.region and zones - set(country_zones(phone.region)):
        # libphonenumber gives a US toll-free number every NANP zone, Caribbean ones too.
        zones = (zones & set(country_zones(phone.region))) or zones
    basis = "number"
    if hinted and phone.region:
        spans = set().union(*(SUBDIVISION_ZONES.get(f"{phone.region}-{s}", ()) for s in hinted))
        if spans:
            # A hint narrows the number's zones; one that shares none of them contradicts
            # the number, and then both places are candidates (the strict reading).
            zones = (zones & spans) or (zones | spans)
            basis = "hint:state"
    if not zones and phone.region:
        zones = set(country_zones(phone.region))
        basis = "country"
    return Location(phone.region, frozenset(subdivisions), frozenset(zones), basis)


def _check_state(state: object) -> str:
    if not isinstance(state, str) or not re.fullmatch(r"[A-Za-z0-9]{1,3}", state.strip()):
        raise ConfigurationError(f"state must be a subdivision code such as 'FL', got {state!r}")
    return state.strip().upper()


@functools.cache
def country_zones(country: str) -> tuple[str, ...]:
    """Every IANA zone of a country, from the ``tzdata`` package's ``zone.tab``."""
    text = (importlib.resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text()
    zones = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if parts[0] == country:
                zones.append(parts[2])
    return tuple(sorted(zones))
