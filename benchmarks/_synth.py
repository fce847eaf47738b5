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


def us_area_codes() -> list[int]:
    """Area codes libphonenumber accepts as US geographic (fixed-line or mobile) numbers."""
    kinds = {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
    codes = []
    for npa in range(200, 1000):
        number = phonenumbers.parse(f"+1{npa}2345678")
        if phonenumbers.region_code_for_number(number) == "US" and (
            phonenumbers.number_type(number) in kinds
        ):
            codes.append(npa)
    return codes


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
        npas = np.array(us_area_codes(), dtype=np.int64)
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
