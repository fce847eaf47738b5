"""The vectorized normalizer defers or agrees with ``optout.normalize`` (strict=False)."""

from __future__ import annotations

import dataclasses
import random
import re
from typing import Any

import numpy as np
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone
from phonenumbers.geodata import GEOCODE_DATA

from optout._batch import (
    _KEEP,
    _KEEP_KEYPAD,
    _LETTER,
    _NOT_VALID,
    _UNUSABLE,
    _byte_counts,
    _digits,
    _extension_ids,
    _fast_reads,
    _finish_reads,
    _Interner,
    _parse,
    _plain,
    _read,
    _trimmed,
    _well_formed,
)
from optout._errors import InvalidNumberError
from optout._fastnum import (
    LANE_FROM,
    _key_parts,
    _nanp_lane,
    _nanp_rows,
    _plan,
    _plus_one_digits,
    _strip_idd,
    distinct,
    e164_strings,
    fast_normalize,
    key_digits,
    key_prefix,
    normalize_keys,
    plain_nanp,
)
from optout._location import (
    _from_number,
    _from_number_slow,
    _geo_states,
    _nanp_states,
    locate,
    nanp_states,
)
from optout._numbers import PhoneNumber, normalize

_TYPES = [
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.PAGER,
    phonenumbers.PhoneNumberType.UAN,
    phonenumbers.PhoneNumberType.VOICEMAIL,
]
_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _examples(region: str) -> list[tuple[int, str]]:
    """(country code, national significant number) of every example number of a region."""
    out: list[tuple[int, str]] = []
    for kind in _TYPES:
        ex = phonenumbers.example_number_for_type(region, kind)
        if ex is not None:
            out.append((int(ex.country_code or 0), phonenumbers.national_significant_number(ex)))
    return out


def _nongeo_examples() -> list[tuple[int, str]]:
    out = []
    for cc in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        ex = phonenumbers.example_number_for_non_geo_entity(cc)
        if ex is not None:
            out.append((cc, phonenumbers.national_significant_number(ex)))
    return out


def _variants(nsn: str, rng: random.Random) -> list[str]:
    """The number, with trailing digits changed, cut short and made longer."""
    out = [nsn]
    for _ in range(3):
        keep = rng.randint(max(1, len(nsn) - 4), len(nsn))
        tail = "".join(rng.choice("0123456789") for _ in range(len(nsn) - keep))
        out.append(nsn[:keep] + tail)
    out.append(nsn[:-1])
    out.append(nsn + rng.choice("0123456789"))
    out.append(rng.choice("0123456789") + nsn[1:])
    return out


def _keys(region: str, cc: int, nsn: str) -> list[tuple[str, str | None]]:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    prefix = (meta.national_prefix or "") if meta is not None else ""
    keys = [
        (f"+{cc}{nsn}", None),
        (f"+{cc}{nsn}", region),
        (nsn, region),
        (f"{prefix}{nsn}", region),
        (f"{cc}{nsn}", region),
        (f"+{cc}0{nsn}", None),
    ]
    # Dialled from another region with its international prefix (00, 011, 0011 ...).
    for home in ("US", "IT", "AU", "JP", region):
        home_meta = phonenumbers.PhoneMetadata.metadata_for_region(home, None)
        idd = home_meta.international_prefix if home_meta is not None else None
        if idd and idd.isdigit():
            keys += [(f"{idd}{cc}{nsn}", home), (f"{idd}0{cc}{nsn}", home), (idd, home)]
    return keys


def _expected(key: str, region: str | None) -> PhoneNumber | None:
    try:
        return normalize(key, region, strict=False)
    except InvalidNumberError:
        return None


def _check(pairs: list[tuple[str, str | None]]) -> int:
    """Assert agreement; return how many keys the fast path decided."""
    by_region: dict[str | None, list[str]] = {}
    for key, region in pairs:
        by_region.setdefault(region, []).append(key)
    decided = 0
    for region, keys in by_region.items():
        batch = normalize_keys(keys, region)
        for i, key in enumerate(keys):
            got = batch.phone(i)
            if got is None:
                continue
            decided += 1
            assert got == _expected(key, region), (key, region)
    return decided


def test_every_region_examples_and_variants() -> None:
    rng = random.Random(1)
    pairs: list[tuple[str, str | None]] = []
    for region in _REGIONS:
        for cc, nsn in _examples(region):
            for variant in _variants(nsn, rng):
                pairs.extend(_keys(region, cc, variant))
    for cc, nsn in _nongeo_examples():
        for variant in _variants(nsn, rng):
            pairs.append((f"+{cc}{variant}", None))
            pairs.append((f"+{cc}{variant}", "US"))
    decided = _check(pairs)
    assert decided > len(pairs) // 2  # the fast path decides most of them


@st.composite
def _random_key(draw: st.DrawFn) -> tuple[str, str | None]:
    region = draw(st.sampled_from(_REGIONS))
    examples = _examples(region)
    if not examples:
        return ("+1", None)
    cc, nsn = draw(st.sampled_from(examples))
    keep = draw(st.integers(0, len(nsn)))
    tail = draw(st.text("0123456789", min_size=0, max_size=len(nsn) - keep + 2))
    choices = _keys(region, cc, nsn[:keep] + tail)
    return draw(st.sampled_from(choices))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_random_key(), min_size=1, max_size=20))
def test_random_keys_agree(pairs: list[tuple[str, str | None]]) -> None:
    _check(pairs)


@pytest.mark.parametrize(
    ("key", "region"),
    [
        ("+12025550123", None),
        ("2025550123", "US"),
        ("12025550123", "US"),
        ("+390612345678", None),
        ("0612345678", "IT"),
        ("+3900", None),
        ("02079460123", "GB"),
        ("+5511912345678", None),
        ("+80012345678", None),
        ("6135550123", "CA"),
        ("+12685550123", None),
        ("011442079460123", "US"),
        ("00390612345678", "IT"),
    ],
)
def test_known_numbers(key: str, region: str | None) -> None:
    got = fast_normalize(key, region)
    assert got is not None
    assert got == normalize(key, region, strict=False)


@pytest.mark.parametrize(
    ("key", "region"),
    [("+", None), ("+0123", None), ("12", None), ("abc", "US"), ("0110442079460123", "US")],
)
def test_deferred(key: str, region: str | None) -> None:
    assert fast_normalize(key, region) is None


def test_locate_unchanged_for_us_ca_br() -> None:
    rng = random.Random(3)
    npas = sorted({k[1:4] for k in GEOCODE_DATA if k.startswith("1")})
    phones: list[PhoneNumber] = []
    for npa in npas:
        for _ in range(3):
            text = f"+1{npa}{rng.randint(2, 9)}{rng.randint(0, 999999):06d}"
            phones.append(normalize(text, strict=False))
    for ddd in range(11, 100):
        phones.append(normalize(f"+55{ddd}9{rng.randint(0, 99999999):08d}", strict=False))
    for phone in phones:
        assert _from_number(phone) == _from_number_slow(phone), phone.e164
        assert locate(phone).subdivisions == frozenset(_from_number_slow(phone))


_NOISE = st.sampled_from(
    [
        *["", " ", "tel: ", "Tel.", "(mobile)", " ext. 12", " x 7", "#", "+", "-", "/", "abc"],
        *["(0)", "Phone: ", "Mob. ", ".", " (", ";", "5 ", "No. 1: ", "\u0663", "\uff0b"],
        *[" /x 12", "_"],
        *[" (mobile)", " EXT: 5", ", extension 0123", " ext", " Extn. 7", "xt9", " (m)", " ab"],
        *[" ext. 123456789012345678901", " ext. 12 (desk)", "-HOME", " x", "(cell) 5"],
    ]
)


@st.composite
def _messy_text(draw: st.DrawFn) -> tuple[str, str | None]:
    """A number typed the way lead files hold them: labels, extensions, letters, IDD."""
    region = draw(st.sampled_from(["US", "GB", "IT", "FR", "DE", "BR", "AU", "CA"]))
    examples = _examples(region)
    cc, nsn = draw(st.sampled_from(examples))
    keep = draw(st.integers(max(0, len(nsn) - 4), len(nsn)))
    nsn = nsn[:keep] + draw(st.text("0123456789", max_size=len(nsn) - keep + 1))
    body = draw(
        st.sampled_from(
            [
                *[f"+{cc} {nsn}", nsn, f"00{cc}{nsn}", f"011 {cc} {nsn}", f"{cc}-{nsn}"],
                *[f"+{cc} {nsn[:-4]}LOVE", f"{nsn[:-3]}-ABC", f"{nsn[:3]} FLOWERS"],
            ]
        )
    )
    text = draw(_NOISE) + body + draw(_NOISE)
    home = draw(st.sampled_from([None, "US", region]))
    return text, home


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_messy_text(), min_size=1, max_size=12))
def test_parse_then_vectorized_equals_normalize(items: list[tuple[str, str | None]]) -> None:
    """The batch's slow path (parse, then the vectorized normalizer on the E.164 form) gives
    exactly what normalize gives, message for message."""
    for home in {h for _, h in items}:
        texts = [t for t, h in items if h == home]
        assert _finish_reads(texts, _read(texts, home), home) == _parse(texts, home)


def test_dense_nanp_tables_agree_with_the_prefix_data() -> None:
    """The dense 1NPANXX tables give the geocoder's state and libphonenumber's zones for
    every +1 number, as the per-number functions do."""
    rng = random.Random(9)
    npas = sorted({k[1:4] for k in GEOCODE_DATA if k.startswith("1")})
    e164s = [f"+1{npa}{rng.randint(0, 9999999):07d}" for npa in npas for _ in range(4)]
    keys = np.array([int(e[1:]) for e in e164s], dtype=np.uint64)
    digits = key_digits(keys)
    table, longest = _geo_states()

    def longest_prefix(region: str, e164: str) -> frozenset[str]:
        for length in range(min(longest, len(e164) - 1), 0, -1):
            found = table.get(e164[1 : 1 + length])
            if found is not None:
                return found[0 if region == "US" else 1]
        return frozenset()

    for region in ("US", "CA"):
        states = [longest_prefix(region, e) for e in e164s]
        readings, index = nanp_states(region, digits, lambda n: key_prefix(keys, digits, n))
        assert [readings[i] for i in index.tolist()] == states
        assert [_nanp_states(region, e) for e in e164s] == states
    batch = normalize_keys(e164s, None)
    for i, e164 in enumerate(e164s):
        if batch.decided[i]:
            want = set(timezone.time_zones_for_number(phonenumbers.parse(e164)))
            assert set(batch.zone_sets[int(batch.zones[i])]) == want - {"Etc/Unknown"}, e164


@pytest.mark.parametrize("region", [None, "US", "CA", "JM", "GB"])
def test_nanp_lane_agrees_with_normalize(region: str | None) -> None:
    """Batches of LANE_FROM keys or more classify most +1 numbers from a table of their
    first digits; every one must still be what normalize() says."""
    rng = random.Random(13)
    keys: list[str] = []
    while len(keys) < LANE_FROM + 500:
        npa = rng.randint(200, 999)
        local = f"{rng.randint(0, 9999999):07d}"
        keys.append(rng.choice([f"+1{npa}{local}", f"{npa}{local}", f"1{npa}{local}"]))
    batch = normalize_keys(keys, region)
    decided = 0
    for i in rng.sample(range(len(keys)), 3000):
        got = batch.phone(i)
        if got is not None:
            decided += 1
            assert got == _expected(keys[i], region), (keys[i], region)
    assert decided > 500


def _outcome(text: str, region: str | None) -> PhoneNumber | str:
    try:
        return normalize(text, region)
    except InvalidNumberError as exc:
        return str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_messy_text(), min_size=1, max_size=12))
def test_well_formed_rows_read_as_libphonenumber_reads_them(
    items: list[tuple[str, str | None]],
) -> None:
    """A text the batch reduces to its digits (plain, well-formed, or a label around a
    well-formed number, with letters or an extension) is read by libphonenumber exactly as
    those digits are: the same number with that extension, or the same error."""
    texts = [t for t, _ in items]
    rows, digits, extensions = _well_formed(pa.array(texts, pa.string()))
    exts = extensions.to_pylist() if extensions is not None else [None] * len(rows)
    for row, key, extension in zip(rows.tolist(), digits.to_pylist(), exts, strict=True):
        text, region = items[row]
        want = _outcome(key, region)
        if isinstance(want, PhoneNumber):
            want = dataclasses.replace(want, extension=extension)
        assert _outcome(text, region) == want, (text, key, region)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=30),
    st.integers(0, 5),
    st.booleans(),
)
def test_digits_keeps_digits_and_plus(texts: list[str | None], start: int, keypad: bool) -> None:
    """The byte-level clean-up keeps exactly the ASCII digits and ``+`` of any text (and
    maps ASCII letters to their keypad digits when asked), on sliced arrays and nulls."""
    arr = pa.array(["x"] * start + texts, pa.string()).slice(start)
    got = _digits(arr, _KEEP_KEYPAD if keypad else _KEEP).to_pylist()

    def expected(text: str) -> str:
        if keypad:
            text = "".join(
                phonenumbers.convert_alpha_characters_in_number(c) if c.isascii() else c
                for c in text
            )
        return re.sub(r"[^0-9+]", "", text)

    assert got == [None if t is None else expected(t) for t in texts]


_TYPED = st.tuples(
    st.sampled_from(["", "+1 202 555 01", "202555", "+44 20 7946 ", "06 1234 ", "1-800-"]),
    st.text("0123456789+ ().-xXeEtTnNsSiIoO,:#abmMlL\t", max_size=24),
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TYPED, min_size=1, max_size=12), st.sampled_from([None, "US", "GB", "IT"]))
def test_typed_texts_read_as_their_digits(texts: list[str], region: str | None) -> None:
    """Arbitrary mixes of digits, formatting, letters and extension labels: every text the
    batch reduces to digits is read by libphonenumber exactly as those digits."""
    rows, digits, extensions = _well_formed(pa.array(texts, pa.string()))
    exts = extensions.to_pylist() if extensions is not None else [None] * len(rows)
    for row, key, extension in zip(rows.tolist(), digits.to_pylist(), exts, strict=True):
        want = _outcome(key, region)
        if isinstance(want, PhoneNumber):
            want = dataclasses.replace(want, extension=extension)
        assert _outcome(texts[row], region) == want, (texts[row], key, region)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_messy_text(), min_size=1, max_size=12))
def test_fast_reads_decide_as_normalize(items: list[tuple[str, str | None]]) -> None:
    """Every row the batch's vectorized reading decides is what normalize() gives for its
    text: the number (with its extension) when valid, normalize's error when not."""
    for home in {h for _, h in items}:
        texts = [t for t, h in items if h == home]
        for rows, batch, extensions in _fast_reads(pa.array(texts, pa.string()), home):
            exts = extensions.to_pylist() if extensions is not None else [None] * len(rows)
            for k, row in enumerate(rows.tolist()):
                got = batch.phone(k)
                if got is None:
                    continue
                want = _outcome(texts[row], home)
                if batch.valid[k]:
                    assert dataclasses.replace(got, extension=exts[k]) == want, texts[row]
                else:
                    assert want == _NOT_VALID, texts[row]
            if extensions is not None:
                use = batch.decided & batch.valid
                interner = _Interner[str]()
                at, ids = _extension_ids(extensions, use, interner)
                assert at.tolist() == [k for k in range(len(rows)) if use[k] and exts[k]]
                assert [interner.values[i] for i in ids] == [exts[k] for k in at]


def test_fast_reads_take_labels_letters_and_extensions() -> None:
    """The usual lead-file forms are read without libphonenumber's parse."""
    texts = [
        "202-555-0123 (mobile)",
        "(202) 555-0123 x",
        "1-800-FLOWERS",
        "+1 202 555 0123 ext. 12",
        "tel: +44 20 7946 0123, Extension: 007",
        "+1 202 555 0123 ext. 123456789012345678901",  # too long for an extension
        "202 555 0123 x 7",  # an ambiguous label: parsed
        "1 2",  # two digits with a space: not viable
    ]
    decided: dict[int, PhoneNumber | str] = {}
    for rows, batch, extensions in _fast_reads(pa.array(texts, pa.string()), "US"):
        exts = extensions.to_pylist() if extensions is not None else [None] * len(rows)
        for k, row in enumerate(rows.tolist()):
            got = batch.phone(k)
            if got is not None:
                valid = dataclasses.replace(got, extension=exts[k])
                decided[row] = valid if batch.valid[k] else _NOT_VALID
    assert sorted(decided) == [0, 1, 2, 3, 4]
    assert decided == {i: _outcome(texts[i], "US") for i in range(5)}
    assert decided[0] == _NOT_VALID  # "mobile" is six more keypad digits
    assert isinstance(decided[2], PhoneNumber)
    assert decided[2].e164 == "+18003569377"
    assert isinstance(decided[4], PhoneNumber)
    assert decided[4].extension == "007"


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=300), st.integers(1, 40))
def test_distinct_is_unique_with_first_positions(values: list[int], spread: int) -> None:
    """distinct() (an unstable sort, ties settled afterwards) gives np.unique's sorted values
    and inverse, and each value's first position: what duplicate flags and groups rely on."""
    keys = np.array([v % (spread * 1_000_003) for v in values], dtype=np.uint64)
    uniq, first, inverse = distinct(keys)
    expected, expected_inverse = np.unique(keys, return_inverse=True)
    assert uniq.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.reshape(-1).tolist()
    assert first.tolist() == [keys.tolist().index(v) for v in uniq.tolist()]


@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=200),
    st.integers(1, 5_000),
    st.sampled_from([np.int64, np.uint64, np.int32]),
)
@example([2**63 + 5, 2**63 + 1, 2**63 + 5], 7, np.uint64)
def test_distinct_of_nearby_integers(values: list[int], spread: int, kind: type) -> None:
    """Integers within a small span (group signatures, location keys) are marked in a table
    instead of sorted: the same three answers as np.unique and first positions."""
    base = values[0] if kind is not np.uint64 else abs(values[0])
    if kind is np.int32:
        base = base % 2**20
    keys: np.ndarray[Any, Any] = np.array([base + v % spread for v in values], dtype=kind)
    uniq, first, inverse = distinct(keys)
    expected, expected_inverse = np.unique(keys, return_inverse=True)
    assert uniq.dtype == keys.dtype
    assert uniq.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.reshape(-1).tolist()
    assert first.tolist() == [keys.tolist().index(v) for v in uniq.tolist()]


@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=10**19 - 1), st.booleans()), max_size=200)
)
def test_e164_strings_are_plus_and_digits(items: list[tuple[int, bool]]) -> None:
    """The number column built from keys is "+" and the key's decimal digits, null where
    the key is marked missing."""
    keys = np.array([k for k, _ in items], dtype=np.uint64)
    missing = np.array([m for _, m in items], dtype=bool)
    assert e164_strings(keys).to_pylist() == [f"+{k}" for k, _ in items]
    got = e164_strings(keys, missing).to_pylist()
    assert got == [None if m else f"+{k}" for k, m in items]


@given(st.lists(st.tuples(st.integers(1, 10**15), st.booleans()), min_size=1, max_size=200))
def test_e164_strings_of_real_keys(items: list[tuple[int, bool]]) -> None:
    """Keys of E.164 numbers (1 to 15 digits, none zero) take the single-cast path: the
    same strings."""
    keys = np.array([k for k, _ in items], dtype=np.uint64)
    missing = np.array([m for _, m in items], dtype=bool)
    got = e164_strings(keys, missing)
    got.validate(full=True)
    assert got.to_pylist() == [None if m else f"+{k}" for k, m in items]
    assert e164_strings(keys).to_pylist() == [f"+{k}" for k, _ in items]


@given(
    st.lists(
        st.one_of(
            st.binary(min_size=12, max_size=12),
            st.text("+1234567890/:0", min_size=12, max_size=12).map(str.encode),
            st.tuples(
                st.sampled_from(["+1", "+2", "1+", "+1"]),
                st.text("0123456789", min_size=10, max_size=10),
            ).map(lambda t: (t[0] + t[1]).encode()),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_plus_one_digits_reads_twelve_byte_texts(texts: list[bytes]) -> None:
    """The word-at-a-time reader takes exactly the texts ``+1`` + ten ASCII digits with the
    first 2-9, and reads their digits as the number they spell."""
    matrix = np.frombuffer(b"".join(texts), dtype=np.uint8).reshape(-1, 12)
    ok, nsn = _plus_one_digits(matrix)

    def wanted(t: bytes) -> bool:
        return t[:2] == b"+1" and all(48 <= b <= 57 for b in t[2:]) and t[2] >= ord("2")

    assert ok.tolist() == [wanted(t) for t in texts]
    assert nsn.tolist() == [int(t[2:]) for t in texts if wanted(t)]


def _plain_mix(rng: random.Random, count: int) -> list[str | None]:
    """Texts around the plain +1 form: the form itself (any first digit, any area code),
    one digit short or long, formatted, another country, and nulls."""
    out: list[str | None] = []
    for _ in range(count):
        ten = f"{rng.randint(0, 9999999999):010d}"
        out.append(
            rng.choice(
                [f"+1{ten}"] * 6
                + [f"+1{ten[:9]}", f"+1{ten}5", f"+1 {ten}", f"1{ten}", ten, f"+44{ten}", None]
                + [f"+1{ten[:4]}x{ten[5:]}", f"+2{ten}", f"+1{ten[:3]}\u0663{ten[4:]}"]
            )
        )
    return out


@pytest.mark.parametrize("region", [None, "US", "GB"])
def test_plain_nanp_reads_what_the_lane_reads(region: str | None) -> None:
    """The buffer-level reader takes exactly the plain +1 texts the NANP lane decides (also
    from a sliced array), and gives each the answer normalize_keys() and normalize() give."""
    rng = random.Random(21)
    texts = _plain_mix(rng, LANE_FROM + 3000)
    for arr in (pa.array(texts, pa.string()), pa.array(texts, pa.string()).slice(7)):
        values = arr.to_pylist()
        got = plain_nanp(arr)
        assert got is not None
        rows, batch = got
        lane = _nanp_lane()
        wanted = [
            i
            for i, t in enumerate(values)
            if t is not None and re.fullmatch(r"\+1[2-9][0-9]{9}", t) and lane.decided[int(t[2:7])]
        ]
        assert rows.tolist() == wanted
        general = normalize_keys(arr, region)
        for j, i in enumerate(rows.tolist()):
            assert batch.phone(j) == general.phone(i), values[i]
        for j in rng.sample(range(len(rows)), 400):
            text = values[int(rows[j])]
            assert text is not None
            assert batch.phone(j) == _expected(text, region), text


def test_plain_nanp_leaves_small_and_other_batches_alone() -> None:
    assert plain_nanp(pa.array(["+12025550123"] * 10, pa.string())) is None
    assert plain_nanp(pa.array(["+442079460123"] * LANE_FROM, pa.string())) is None
    assert plain_nanp(pa.array([""] * LANE_FROM, pa.string())) is None
    assert plain_nanp(pa.array(["+12025550123"] * LANE_FROM, pa.large_string())) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text("0123456789+ -x\u0663", max_size=70)), max_size=40),
    st.integers(0, 4),
)
def test_plain_texts_are_digits_with_one_leading_plus(texts: list[str | None], start: int) -> None:
    """The byte-level test for plain keys agrees with its definition on any text (sliced
    arrays, nulls, non-ASCII digits, the length limit)."""
    arr = pa.array(["7"] * start + texts, pa.string()).slice(start)

    def plain(t: str | None) -> bool:
        if t is None or len(t) > 64:
            return False
        rest = t[1:] if t.startswith("+") else t
        return bool(rest) and rest.isascii() and rest.isdigit()

    want = [plain(t) for t in texts]
    assert _plain(arr).tolist() == want


def _key_text() -> st.SearchStrategy[str | None]:
    """Texts near the keys the normalizer reads: dialled with 00 or 011, +1 and national
    NANP numbers, other lengths, non-ASCII digits and nulls."""
    ten = st.text("0123456789", min_size=10, max_size=10)
    return st.one_of(
        st.none(),
        st.text("0123456789+\u0663\u00e9", max_size=16),
        st.tuples(st.sampled_from(["", "+1", "1", "0", "01", "011", "00", "0110"]), ten).map(
            "".join
        ),
        st.tuples(st.sampled_from(["011", "00"]), st.text("0123456789\u0663", max_size=14)).map(
            "".join
        ),
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_key_text(), max_size=40),
    st.integers(0, 3),
    st.one_of(st.sampled_from(["US", "CA", "JM", "GB", "IT"]), st.sampled_from(_REGIONS)),
)
@example(["2025550123", "+12025550124", "011442079460123", "0110442079460123"], 1, "US")
def test_idd_and_nanp_rows_from_bytes(texts: list[str | None], start: int, region: str) -> None:
    """Keys dialled with the region's international prefix are rewritten with "+", and the
    NANP lane's rows picked, exactly as their definitions on the characters say (sliced
    arrays, nulls, non-ASCII)."""
    arr = pa.array(["0"] * start + texts, pa.string()).slice(start)
    plan = _plan(region, 0)
    idd = plan.idd_literal if plan is not None else None

    def rewritten(t: str | None) -> str | None:
        if t is None or not idd or not t.startswith(idd) or len(t) <= len(idd):
            return t
        rest = t[len(idd) :]
        return t if rest.startswith("0") else "+" + rest

    stripped = _strip_idd(arr, region)
    assert stripped.to_pylist() == [rewritten(t) for t in texts]
    stripped.validate(full=True)
    national = plan is not None and plan.country_code == 1 and plan.npp_literals == ("1",)
    lane = _nanp_lane()

    def lane_digits(t: str | None) -> str | None:
        if t is None:
            return None
        if len(t) == 12 and t.startswith("+1"):
            digits = t[2:]
        elif national and len(t) == 10:
            digits = t
        else:
            return None
        if not (digits.isascii() and digits.isdigit()) or digits[0] in "01":
            return None
        return digits if lane.decided[int(digits[:5])] else None

    values = stripped.to_pylist()
    rows, nsn = _nanp_rows(stripped, region)
    want = [(i, lane_digits(t)) for i, t in enumerate(values) if lane_digits(t) is not None]
    assert rows.tolist() == [i for i, _ in want]
    assert nsn.tolist() == [int(d) for _, d in want if d is not None]


@settings(max_examples=300, deadline=None)
@given(st.lists(_key_text(), max_size=40), st.integers(0, 3))
@example(["+", "", "++1", "1+", "+\u0663", "+12", None, "007"], 1)
def test_key_parts_from_bytes(texts: list[str | None], start: int) -> None:
    """The byte-level reading of keys agrees with the key pattern on any text: which are
    keys, their lengths, signs and digits, and their first three digits."""
    arr = pa.array(["+1"] * start + texts, pa.string()).slice(start)
    ok, lens, plus, digits, head = _key_parts(arr)
    want_ok = [t is not None and re.fullmatch(r"\+?[0-9]+", t, re.ASCII) is not None for t in texts]
    assert ok.tolist() == want_ok
    keys = [t if k else None for t, k in zip(texts, want_ok, strict=True)]
    assert [n for n, k in zip(lens.tolist(), keys, strict=True) if k] == [len(k) for k in keys if k]
    assert [p for p, k in zip(plus.tolist(), keys, strict=True) if k] == [
        k.startswith("+") for k in keys if k
    ]
    want_digits = [k.lstrip("+") if k else "0" for k in keys]
    assert digits.to_pylist() == want_digits
    assert head.tolist() == [[int(c) for c in (d[:3] + "00")[:3]] for d in want_digits]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_random_key(), min_size=1, max_size=30))
def test_country_lanes_agree(pairs: list[tuple[str, str | None]]) -> None:
    """With every country's lanes in use (from one number on), the batch still gives
    exactly normalize()'s answers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("optout._fastnum.COUNTRY_LANE_FROM", 1)
        _check(pairs)


def test_country_lanes_on_examples_of_every_region() -> None:
    """Every region's example numbers and variants, through the country lanes."""
    rng = random.Random(5)
    pairs: list[tuple[str, str | None]] = []
    for region in _REGIONS:
        for cc, nsn in _examples(region):
            for variant in _variants(nsn, rng):
                pairs.append((f"+{cc}{variant}", None))
                pairs.append((variant, region))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("optout._fastnum.COUNTRY_LANE_FROM", 1)
        assert _check(pairs) > len(pairs) // 2


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text("0123456789+#abXZ -().;/\\\t", max_size=24), max_size=30),
    st.integers(0, 3),
)
def test_trimmed_is_the_two_regex_replaces(texts: list[str], start: int) -> None:
    """The byte-level trim keeps what libphonenumber's extraction keeps of an ASCII text:
    from its first "+" or digit to its last letter, digit or "#"."""
    arr = pa.array(["x1"] * start + texts, pa.string()).slice(start)
    want = [re.sub(r"[^#0-9A-Za-z]+$", "", re.sub(r"^[^+0-9]+", "", t)) for t in texts]
    got = _trimmed(arr)
    got.validate(full=True)
    assert got.to_pylist() == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text("ab1;/\\é\u0663 Z", max_size=12)), max_size=30))
def test_byte_counts_count_marked_bytes(texts: list[str | None]) -> None:
    arr = pa.array(texts, pa.string())
    letters = _byte_counts(arr, _LETTER)
    unusable = _byte_counts(arr, _UNUSABLE)
    assert letters.tolist() == [
        sum(c.isascii() and c.isalpha() for c in t) if t is not None else 0 for t in texts
    ]
    assert unusable.tolist() == [
        sum(len(c.encode()) if not c.isascii() else c in ";/\\" for c in t) if t is not None else 0
        for t in texts
    ]
