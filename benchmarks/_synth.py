"""Synthetic data and machine details shared by the benchmark scripts.

Everything here is generated from a seed, so runs on the same machine use the same data.
The numbers are random, drawn from libphonenumber's numbering plans, not from any list of
real subscribers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import platform
from typing import Any

import numpy as np
import numpy.typing as npt
import phonenumbers

import optout

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

#: Local numbers per area code: exchanges 200-999 times 10,000 lines.
LOCALS = 8_000_000
#: No area code is filled beyond this share (so every one has unlisted numbers to query).
MAX_FILL = 0.9
#: Lines per generated file (the FTC ships the full list in several files).
LINES_PER_FILE = 25_000_000
#: Bytes per line: ``NPA,NXXXXXX\n``.
LINE = 12
NANP = 10_000_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """How many numbers each area code holds, and its permutation of local numbers.

    The ``k``-th listed number of area code ``i`` is local number ``(mult[i] * k + add[i])
    mod 8,000,000`` (a bijection, so the numbers are distinct); ``k`` past ``counts[i]``
    gives valid numbers that are not listed.
    """

    npas: I64
    counts: I64
    mult: I64
    add: I64

    @classmethod
    def make(cls, numbers: int, seed: int) -> Plan:
        rng = np.random.default_rng(seed)
        npas = np.array(nanp_area_codes("US"), dtype=np.int64)
        if numbers > MAX_FILL * LOCALS * len(npas):
            raise SystemExit(f"at most {int(MAX_FILL * LOCALS * len(npas)):,} numbers")
        # a log-normal spread: big metropolitan codes hold several times the median
        weights = rng.lognormal(0.0, 0.7, len(npas))
        cap = int(MAX_FILL * LOCALS)
        counts = np.zeros(len(npas), dtype=np.int64)
        free = np.ones(len(npas), dtype=bool)
        left = numbers
        while left:
            share = np.where(free, weights, 0.0)
            add = np.floor(share / share.sum() * left).astype(np.int64)
            add[np.flatnonzero(free)[: left - int(add.sum())]] += 1  # the rounding remainder
            counts = np.minimum(counts + add, cap)
            free = counts < cap
            left = numbers - int(counts.sum())
        mult = rng.integers(LOCALS // 4, 3 * LOCALS // 4, len(npas), dtype=np.int64)
        mult += (mult % 2 == 0).astype(np.int64)  # odd...
        mult[mult % 5 == 0] += 2  # ...and not a multiple of 5: coprime with 8,000,000
        add = rng.integers(0, LOCALS, len(npas), dtype=np.int64)
        return cls(npas=npas, counts=counts, mult=mult, add=add)

    def keys(self, area: npt.NDArray[np.intp], k: I64) -> U64:
        """The E.164 keys (``1NPANXXXXXX``) of the ``k``-th numbers of some area codes."""
        local = (self.mult[area] * k + self.add[area]) % LOCALS
        ten = self.npas[area] * 10_000_000 + 2_000_000 + local
        return (ten + NANP).astype(np.uint64)


def digit_table(width: int) -> npt.NDArray[np.uint8]:
    """ASCII digits of ``0 .. 10**width - 1``, zero-padded, one row each."""
    values = np.arange(10**width)
    powers = 10 ** np.arange(width - 1, -1, -1)
    return (values[:, None] // powers % 10 + 48).astype(np.uint8)


def write_lists(plan: Plan, folder: pathlib.Path) -> list[pathlib.Path]:
    """The FTC flat files, ``LINES_PER_FILE`` lines each (area codes in order, numbers in
    their permuted order within an area code)."""
    folder.mkdir(parents=True, exist_ok=True)
    three, four = digit_table(3), digit_table(4)
    paths: list[pathlib.Path] = []
    out = None
    in_file = 0
    step = 4_000_000
    try:
        for area, count in enumerate(plan.counts.tolist()):
            for start in range(0, count, step):
                if out is None or in_file >= LINES_PER_FILE:
                    if out is not None:
                        out.close()
                    paths.append(folder / f"dnc-{len(paths) + 1:03d}.txt")
                    out = paths[-1].open("wb")
                    in_file = 0
                k = np.arange(start, min(count, start + step), dtype=np.int64)
                local = plan.keys(np.full(len(k), area, dtype=np.intp), k) % 10_000_000
                rows = np.empty((len(k), LINE), dtype=np.uint8)
                rows[:, 0:3] = three[int(plan.npas[area])]
                rows[:, 3] = ord(",")
                rows[:, 4:7] = three[local // 10_000]
                rows[:, 7:11] = four[local % 10_000]
                rows[:, 11] = ord("\n")
                out.write(rows.data)
                in_file += len(k)
    finally:
        if out is not None:
            out.close()
    return paths


def proc_status(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmHWM``, ``VmRSS``), in bytes."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def machine_details(**versions: str) -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python and optout, plus the ``versions`` given."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib: float | None = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 2**20, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "optout": optout.__version__,
        "phonenumbers": phonenumbers.__version__,
        "numpy": np.__version__,
        **versions,
    }


# -- lead lists -----------------------------------------------------------------------------

#: Share of each country in a generated lead list (a US-centred contact centre's mix).
LEAD_COUNTRIES: dict[str, float] = {
    "US": 0.72,
    "CA": 0.05,
    "GB": 0.05,
    "IT": 0.05,
    "FR": 0.04,
    "DE": 0.04,
    "ES": 0.02,
    "AU": 0.02,
    "BR": 0.01,
}
#: Messy formats: (name, share of the messy rows, needs libphonenumber).
MESSY_STYLES: tuple[tuple[str, float, bool], ...] = (
    ("spaces", 0.20, False),  # (202) 555-0123  |  +44 207 946 0123
    ("dashes", 0.15, False),  # 202-555-0123    |  +44-207-946-0123
    ("dots", 0.10, False),  # 202.555.0123    |  +44.207.946.0123
    ("trunk", 0.10, False),  # 1-202-555-0123  |  011 44 2079460123 (dialled from the US)
    ("national", 0.15, False),  # 2025550123      |  +442079460123 with inner spaces
    ("text", 0.10, True),  # tel: +1 202 555 0123
    ("extension", 0.05, True),  # +1 202 555 0123 ext. 12
    ("label", 0.10, True),  # 202-555-0123 (mobile)
    ("garbage", 0.05, True),  # n/a, unknown, 12345, empty
)
_FIRST = ["Ada", "Bruno", "Chiara", "Dev", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jun"]
_LAST = ["Rossi", "Smith", "Garcia", "Muller", "Martin", "Silva", "Brown", "Tanaka", "Ngata"]
_CITIES = ["Springfield", "Riverton", "Lakeside", "Hillview", "Bayport", "Oakdale"]
_NOTES = ["", "", "", "", "", "", "", "", 'asked to "call back", later', "web form, 2026"]


def nanp_area_codes(region: str) -> list[int]:
    """Area codes libphonenumber accepts as geographic numbers of ``region`` (US or CA)."""
    kinds = {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
    codes = []
    for npa in range(200, 1000):
        number = phonenumbers.parse(f"+1{npa}2345678")
        if phonenumbers.region_code_for_number(number) == region and (
            phonenumbers.number_type(number) in kinds
        ):
            codes.append(npa)
    return codes


def _patterns(region: str) -> list[tuple[int, int, int]]:
    """(head, random digits, head length) from the region's example fixed and mobile numbers:
    ``+<country code><head>`` followed by random digits."""
    out = []
    cc = phonenumbers.country_code_for_region(region)
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        nsn = phonenumbers.national_significant_number(example)
        tail = min(6, len(nsn) - 2)
        head = f"{cc}{nsn[:-tail]}"
        out.append((int(head), tail, len(head)))
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Leads:
    """A generated lead list: E.164 keys, each row's country, and the phone text."""

    keys: U64
    country: npt.NDArray[np.int8]  # index into LEAD_COUNTRIES
    listed: npt.NDArray[np.bool_]  # a US number the registry plan lists
    phone: list[str] | None  # the phone column as typed (None: clean, "+" + key)
    messy_rows: I64


def make_leads(plan: Plan, rows: int, messy: float, seed: int, listed_share: float) -> Leads:
    """Distinct-ish numbers from nine countries; ``messy`` of the rows formatted badly.

    US numbers come from ``plan``'s area codes, ``listed_share`` of them listed in its
    registry; the other countries' numbers are libphonenumber example numbers with random
    trailing digits (a few turn out invalid, like real lists).
    """
    rng = np.random.default_rng(seed)
    names = list(LEAD_COUNTRIES)
    country = rng.choice(len(names), size=rows, p=np.array(list(LEAD_COUNTRIES.values()))).astype(
        np.int8
    )
    keys = np.zeros(rows, dtype=np.uint64)
    listed = np.zeros(rows, dtype=bool)
    us = np.flatnonzero(country == names.index("US"))
    share = plan.counts / plan.counts.sum()
    area = rng.choice(len(plan.npas), size=len(us), p=share).astype(np.intp)
    wants = rng.random(len(us)) < listed_share
    span = np.where(wants, plan.counts[area], LOCALS - plan.counts[area])
    k = np.floor(rng.random(len(us)) * span).astype(np.int64)
    k += np.where(wants, 0, plan.counts[area])
    keys[us] = plan.keys(area, k)
    listed[us] = wants
    ca = np.flatnonzero(country == names.index("CA"))
    ca_codes = np.array(nanp_area_codes("CA"), dtype=np.uint64)
    local = rng.integers(2_000_000, 10_000_000, len(ca)).astype(np.uint64)
    keys[ca] = (
        np.uint64(NANP)
        + ca_codes[rng.integers(0, len(ca_codes), len(ca))] * np.uint64(10_000_000)
        + local
    )
    for index, region in enumerate(names):
        if region in ("US", "CA"):
            continue
        rows_of = np.flatnonzero(country == index)
        patterns = _patterns(region)
        which = rng.integers(0, len(patterns), len(rows_of))
        for p, (head, tail, _) in enumerate(patterns):
            sel = rows_of[which == p]
            keys[sel] = np.uint64(head) * np.uint64(10**tail) + rng.integers(
                0, 10**tail, len(sel)
            ).astype(np.uint64)
    messy_rows = np.flatnonzero(rng.random(rows) < messy)
    phone: list[str] | None = None
    if len(messy_rows):
        phone = ["+" + str(k) for k in keys.tolist()]
        styles = rng.choice(
            len(MESSY_STYLES), size=len(messy_rows), p=[s for _, s, _ in MESSY_STYLES]
        )
        extras = rng.integers(0, 100, len(messy_rows))
        for i, style, extra in zip(
            messy_rows.tolist(), styles.tolist(), extras.tolist(), strict=True
        ):
            phone[i] = _messy(phone[i], MESSY_STYLES[style][0], extra)
    return Leads(keys=keys, country=country, listed=listed, phone=phone, messy_rows=messy_rows)


def _messy(e164: str, style: str, extra: int) -> str:
    digits = e164[1:]
    if digits.startswith("1") and len(digits) == 11:  # NANP, dialled from the US
        npa, nxx, line = digits[1:4], digits[4:7], digits[7:]
        return {
            "spaces": f"({npa}) {nxx}-{line}",
            "dashes": f"{npa}-{nxx}-{line}",
            "dots": f"{npa}.{nxx}.{line}",
            "trunk": f"1-{npa}-{nxx}-{line}",
            "national": f"{npa}{nxx}{line}",
            "text": f"tel: +1 {npa} {nxx} {line}",
            "extension": f"+1 {npa} {nxx} {line} ext. {extra}",
            "label": f"{npa}-{nxx}-{line} (mobile)",
            "garbage": ("n/a", "unknown", str(extra), "")[extra % 4],
        }[style]
    head, mid, rest = digits[:2], digits[2:5], digits[5:]
    return {
        "spaces": f"+{head} {mid} {rest[:3]} {rest[3:]}",
        "dashes": f"+{head}-{mid}-{rest}",
        "dots": f"+{head}.{mid}.{rest}",
        "trunk": f"011 {digits}",
        "national": f"+{head} {mid}{rest}",
        "text": f"tel: +{head} {mid} {rest}",
        "extension": f"+{head} {mid} {rest} ext. {extra}",
        "label": f"+{digits} (mobile)",
        "garbage": ("n/a", "unknown", str(extra), "")[extra % 4],
    }[style]


def write_leads(leads: Leads, path: pathlib.Path, seed: int) -> int:
    """Write ``leads`` as a CSV lead file (id, names, email, phone, city, notes)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.csv as pacsv  # noqa: PLC0415

    rng = np.random.default_rng(seed + 7)
    n = len(leads.keys)
    step = 1_000_000
    with pacsv.CSVWriter(
        str(path),
        pa.schema(
            [(c, pa.string()) for c in ("lead_id", "first_name", "last_name", "email")]
            + [(c, pa.string()) for c in ("phone", "city", "notes")]
        ),
    ) as out:
        for start in range(0, n, step):
            stop = min(n, start + step)
            ids = pc.cast(pa.array(np.arange(start, stop)), pa.string())
            first = pa.array(_FIRST).take(pa.array(rng.integers(0, len(_FIRST), stop - start)))
            last = pa.array(_LAST).take(pa.array(rng.integers(0, len(_LAST), stop - start)))
            email = pc.binary_join_element_wise(
                pc.utf8_lower(first), ".", pc.utf8_lower(last), ids, "@example.com", ""
            )
            if leads.phone is None:
                phone = pc.binary_join_element_wise(
                    "+", pc.cast(pa.array(leads.keys[start:stop]), pa.string()), ""
                )
            else:
                phone = pa.array(leads.phone[start:stop], pa.string())
            city = pa.array(_CITIES).take(pa.array(rng.integers(0, len(_CITIES), stop - start)))
            notes = pa.array(_NOTES).take(pa.array(rng.integers(0, len(_NOTES), stop - start)))
            out.write_table(
                pa.table(
                    {
                        "lead_id": ids,
                        "first_name": first,
                        "last_name": last,
                        "email": email,
                        "phone": phone,
                        "city": city,
                        "notes": notes,
                    }
                )
            )
    return path.stat().st_size
