"""The acceptance test: every row of a scrub equals can_call() for that number at that instant.

Random lists mix clean and messy formats of fictional numbers from nine countries with
garbage, over a database holding suppressions, consents, history and registry answers.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import optout
from _fakes import StaticRegistry, all_clear
from optout import Compliance
from optout._batch import decide_many
from optout.registries import file_registry

# Fictional numbers (drama ranges where the plan has them), with their region.
BASE = [
    ("+390612345678", "IT"),
    ("+393471234567", "IT"),
    ("+12025550123", "US"),
    ("+12125550199", "US"),
    ("+13055550142", "US"),
    ("+442079460123", "GB"),
    ("+447911123456", "GB"),
    ("+33612345678", "FR"),
    ("+33140000000", "FR"),
    ("+4930123456", "DE"),
    ("+4915112345678", "DE"),
    ("+34912345678", "ES"),
    ("+34612345678", "ES"),
    ("+16135550123", "CA"),
    ("+16045550101", "CA"),
    ("+61212345678", "AU"),
    ("+61412345678", "AU"),
    ("+5511987654321", "BR"),
    ("+552123456789", "BR"),
]
GARBAGE = [None, 42, "", "n/a", "+", "12", "x" * 10_000, "+39 06", "call me", "\u0660\u0661"]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def messy(e164: str, style: int) -> str:
    digits = e164[1:]
    if style == 0:
        return e164
    if style == 1:
        return f"+{digits[:2]} {digits[2:5]} {digits[5:]}"
    if style == 2:
        return f"00{digits[:2]}-{digits[2:6]}.{digits[6:]}"
    if style == 3:
        return f" ({e164[:3]}) {e164[3:]} "
    if style == 4:
        return f"{e164} ext. 7"
    return f"+{digits}"


row = st.one_of(
    st.tuples(st.sampled_from(BASE), st.integers(0, 5)).map(lambda t: messy(t[0][0], t[1])),
    st.sampled_from(BASE).map(lambda b: b[0][3:] if b[1] in ("US", "CA") else "0" + b[0][3:]),
    st.sampled_from(GARBAGE),
)


@pytest.fixture
def world(backend_url: str, tmp_path: pathlib.Path) -> Any:
    listed = tmp_path / "dnc.txt"
    listed.write_text("2025550123\n3055550142\n")
    snapshot = file_registry(id="us_dnc", country="US")
    backends: list[Any] = [snapshot, StaticRegistry("it_rpo", "listed")]
    backends += [r for r in all_clear() if r.id not in ("us_dnc", "it_rpo")]
    with optout.Compliance(backend_url, migrate=True, registries=backends) as c:
        snapshot.import_files([listed], taken_at=START + dt.timedelta(days=100), full_list=True)
        t0 = START + dt.timedelta(days=120)
        c.suppressions.add("+390612345678", reason="asked", at=t0)
        c.suppressions.add_prefix(
            "+4930", reason="block", at=t0, expires_at=t0 + dt.timedelta(days=90)
        )
        c.suppressions.add("+447911123456", reason="b", scope="brand", scope_value="acme", at=t0)
        c.consents.add("+12125550199", "express_written", given_at=t0)
        c.consents.add("+33612345678", "express", given_at=t0)
        for days in range(0, 300, 7):
            for number in ("+33140000000", "+12125550199", "+34612345678"):
                c.record_outcome(number, "no_answer", at=START + dt.timedelta(days=days, hours=9))
        yield c


@seed(20260311)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    numbers=st.lists(row, min_size=50, max_size=200),
    offset=st.integers(0, 364 * 24 * 60),
    country=st.sampled_from([None, "IT", "US", "GB", "FR", "DE", "ES", "CA", "AU", "BR"]),
    brand=st.sampled_from([None, "acme"]),
)
def test_every_row_equals_can_call(
    world: Compliance,
    numbers: list[object],
    offset: int,
    country: str | None,
    brand: str | None,
) -> None:
    at = START + dt.timedelta(minutes=offset)
    batch = decide_many(world, numbers, at=at, country=country, brand=brand, workers=1)
    seen: set[tuple[str, str | None]] = set()
    for i, raw in enumerate(numbers):
        expected = world.can_call(raw, at=at, country=country, brand=brand)
        assert batch.allowed[i].as_py() == expected.allowed, raw
        assert batch.number[i].as_py() == expected.number, raw
        assert batch.reasons[i].as_py() == ";".join(expected.codes), raw
        nxt = expected.next_allowed_at
        assert batch.next_allowed_at[i].as_py() == (None if nxt is None else nxt.isoformat())
        assert batch.decision(i) == expected, raw
        phone = expected.phone
        if phone is not None:
            ident = (phone.e164, phone.extension)
            assert batch.duplicate[i].as_py() == (ident in seen)
            seen.add(ident)
