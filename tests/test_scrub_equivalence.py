"""A whole scrub, chunk by chunk on the decider threads, equals can_call() row for row.

The list is generated: thousands of random numbers over many US and Canadian area codes
and seven other countries, written in clean and messy ways, with garbage rows. The
database holds a registry snapshot listing some of them (with and without registration
dates inside the US grace period), global and scoped suppressions, prefix suppressions,
consents and call history. The scrub runs with small chunks, so every run-level cache
(locations, rule groups, stored-fact sets) is shared across many chunks and threads.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import pathlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import phonenumbers
import pytest
from phonenumbers.geodata import GEOCODE_DATA

import optout
from _fakes import StaticRegistry, all_clear
from optout._scrub import scrub_file
from optout.registries import file_registry

AT = dt.datetime(2026, 3, 3, 16, 30, tzinfo=dt.UTC)  # a Tuesday: US windows open
OTHER = ["GB", "IT", "FR", "DE", "ES", "AU", "BR"]


def _numbers(rng: random.Random, count: int) -> list[str]:
    """Random E.164 numbers: NANP area codes libphonenumber knows, and other countries'
    example numbers with random trailing digits (some of them invalid, as in real lists)."""
    npas = sorted({k[1:4] for k in GEOCODE_DATA if k.startswith("1")})
    out = []
    for _ in range(count):
        if rng.random() < 0.7:
            out.append(f"+1{rng.choice(npas)}{rng.randint(2, 9)}{rng.randint(0, 999999):06d}")
        else:
            region = rng.choice(OTHER)
            kind = rng.choice(
                [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
            )
            ex = phonenumbers.example_number_for_type(region, kind)
            assert ex is not None
            nsn = phonenumbers.national_significant_number(ex)
            tail = "".join(rng.choice("0123456789") for _ in range(4))
            out.append(f"+{ex.country_code}{nsn[:-4]}{tail}")
    return out


def _typed(e164: str, rng: random.Random) -> str:
    """One way a lead file might hold the number (the scrub runs with country US)."""
    digits = e164[1:]
    style = rng.randrange(9)
    if style == 0 and digits.startswith("1"):
        return f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
    if style == 1:
        return f"+{digits[:2]} {digits[2:6]} {digits[6:]}"
    if style == 2:
        return f"011 {digits}" if not digits.startswith("1") else f"1-{digits[1:]}"
    if style == 3:
        return f"tel: {e164}"
    if style == 4:
        return f"{e164} ext. {rng.randint(1, 99)}"
    if style == 5:
        return f" {e164} (mobile)"
    return e164


@pytest.fixture
def world(backend_url: str, tmp_path: pathlib.Path) -> Iterator[tuple[optout.Compliance, Any]]:
    rng = random.Random(20261130)
    numbers = _numbers(rng, 2500)
    us = [n for n in numbers if n.startswith("+1")]
    # A third of the US numbers listed: some long ago, some inside the 31-day grace period
    # before AT (their registration does not bind yet), some undated. An undated snapshot
    # and a dated one are both tried below through the two registries' answers.
    listed = us[: len(us) // 3]
    keys = np.array([int(n[1:]) for n in listed], dtype=np.uint64)
    epoch = dt.date(1970, 1, 1)
    days = np.array(
        [
            ((AT - dt.timedelta(days=3 if i % 4 == 0 else 400)).date() - epoch).days
            for i in range(len(listed))
        ],
        dtype=np.uint32,
    )
    snapshot = file_registry(id="us_dnc", country="US")
    backends: list[Any] = [snapshot, StaticRegistry("it_rpo", "listed")]
    backends += [r for r in all_clear() if r.id not in ("us_dnc", "it_rpo")]
    with optout.Compliance(backend_url, migrate=True, registries=backends) as c:
        c.registry_store.activate(
            "us_dnc", keys, days, taken_at=AT - dt.timedelta(days=2), source="test list"
        )
        before = AT - dt.timedelta(days=30)
        for n in rng.sample(numbers, 60):
            c.suppressions.add(n, reason="asked", at=before)
        for n in rng.sample(numbers, 10):
            c.suppressions.add(n, reason="x", scope="brand", scope_value="acme", at=before)
        for n in rng.sample(numbers, 10):
            c.suppressions.add(n, reason="y", at=before, expires_at=AT + dt.timedelta(days=3))
        c.suppressions.add_prefix(us[0][:6], reason="block", at=before)
        for n in rng.sample(us, 40):
            c.consents.add(n, "express_written", given_at=before)
        for n in rng.sample(numbers, 40):
            for hours in (1, 30, 200):
                c.record_outcome(n, "no_answer", at=AT - dt.timedelta(hours=hours))
        yield c, numbers


def test_every_scrubbed_row_equals_can_call(
    world: tuple[optout.Compliance, Any], tmp_path: pathlib.Path
) -> None:
    client, numbers = world
    rng = random.Random(7)
    typed = [_typed(n, rng) for n in numbers]
    typed += [typed[i] for i in range(0, 200, 7)]  # repeats: same decision, flagged
    typed += ["", "n/a", "12", "+", "x" * 200, "0044 20"]
    source = tmp_path / "leads.csv"
    with source.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "phone"])
        writer.writerows((i, t) for i, t in enumerate(typed))
    target = tmp_path / "out.csv"
    summary = scrub_file(client, source, target, at=AT, country="US", chunk_rows=97)
    assert summary.rows == len(typed)
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["phone"] for r in rows] == typed
    seen: set[str] = set()
    for row in rows:
        expected = client.can_call(row["phone"], at=AT, country="US")
        assert row["optout_allowed"] == str(expected.allowed).lower(), row
        assert row["optout_reasons"] == ";".join(expected.codes), row
        assert row["optout_reason"] == (expected.primary_code or ""), row
        assert row["optout_number"] == (expected.number or ""), row
        nxt = expected.next_allowed_at
        assert row["optout_next_allowed_at"] == ("" if nxt is None else nxt.isoformat()), row
        phone = expected.phone
        if phone is not None and phone.extension is None:
            assert row["optout_duplicate"] == str(phone.e164 in seen).lower(), row
            seen.add(phone.e164)
    # The list exercises every kind of answer.
    codes = {c for r in rows for c in r["optout_reasons"].split(";") if c}
    assert {"registry.listed", "suppression.number", "number.invalid"} <= codes
    assert any(r["optout_allowed"] == "true" for r in rows)
    # The summary (counted once for each distinct answer) agrees with the rows written.
    denied = [r for r in rows if r["optout_allowed"] == "false"]
    assert (summary.allowed, summary.denied) == (len(rows) - len(denied), len(denied))
    assert summary.invalid == sum(r["optout_reason"] == "number.invalid" for r in rows)
    assert summary.duplicates == sum(r["optout_duplicate"] == "true" for r in rows)
    assert summary.by_reason == collections.Counter(r["optout_reason"] for r in denied)
    by_registry: collections.Counter[str] = collections.Counter()
    for r in denied:
        if "registry." in r["optout_reasons"]:
            for entry in r["optout_registry"].split(";"):
                name, _, status = entry.partition(":")
                status = status.split("@", 1)[0]
                if name and status != "clear":
                    by_registry[f"{name} ({status})"] += 1
    assert by_registry
    assert summary.by_registry == by_registry
