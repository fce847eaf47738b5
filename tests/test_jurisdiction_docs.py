"""The generated jurisdiction pages are committed, current, and say what the packs say."""

from __future__ import annotations

import datetime as dt
import pathlib
import re

import pytest

from optout._rules._book import builtin_packs, load_pack
from optout._rules._docs import (
    GENERATED_MARKER,
    UNCONFIRMED_MARKER,
    render_index,
    render_pack,
    write_docs,
)
from optout._rules._model import Confidence, Pack

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "jurisdictions"
REGENERATE = "run python -m optout._rules._docs (from the repository root)"


def _rule_sections(page: str) -> dict[str, str]:
    """Each rule's section of a page, by rule id."""
    sections: dict[str, str] = {}
    for chunk in re.split(r"^(?=### )", page, flags=re.MULTILINE)[1:]:
        match = re.match(r"### `([^`]+)`", chunk)
        assert match, chunk[:80]
        sections[match.group(1)] = chunk
    return sections


def test_committed_pages_match_the_packs(tmp_path: pathlib.Path) -> None:
    written = write_docs(tmp_path)
    assert written == sorted(written)
    generated = {p.name: p.read_bytes() for p in tmp_path.glob("*.md")}
    committed = {p.name: p.read_bytes() for p in DOCS.glob("*.md")} if DOCS.is_dir() else {}
    missing = sorted(set(generated) - set(committed))
    extra = sorted(set(committed) - set(generated))
    assert not missing, f"pages missing from docs/jurisdictions: {missing}; {REGENERATE}"
    assert not extra, f"pages for no built-in pack in docs/jurisdictions: {extra}; {REGENERATE}"
    stale = sorted(name for name in generated if generated[name] != committed[name])
    assert not stale, f"stale pages in docs/jurisdictions: {stale}; {REGENERATE}"


def test_generation_is_deterministic(tmp_path: pathlib.Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_docs(first)
    write_docs(second)
    write_docs(second)  # rewriting in place changes nothing
    assert sorted(p.name for p in first.iterdir()) == sorted(p.name for p in second.iterdir())
    for page in first.iterdir():
        assert page.read_bytes() == (second / page.name).read_bytes()


def test_write_docs_removes_only_stale_generated_pages(tmp_path: pathlib.Path) -> None:
    (tmp_path / "zz.md").write_text(f"{GENERATED_MARKER}\n\n# ZZ: gone\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# hand-written\n", encoding="utf-8")
    write_docs(tmp_path)
    assert not (tmp_path / "zz.md").exists()
    assert (tmp_path / "notes.md").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_every_pack_has_a_page_linked_from_the_index() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for pack_id, pack in builtin_packs().items():
        page = DOCS / f"{pack_id.lower()}.md"
        assert page.is_file(), f"no page for {pack_id}; {REGENERATE}"
        assert f"[{pack_id}]({pack_id.lower()}.md)" in index
        text = page.read_text(encoding="utf-8")
        assert text.startswith(GENERATED_MARKER)
        assert f"# {pack_id}: {pack.pack.name}" in text
        assert set(_rule_sections(text)) == {r.id for r in pack.rules}


def test_every_unconfirmed_rule_is_marked() -> None:
    for pack_id, pack in builtin_packs().items():
        sections = _rule_sections(render_pack(pack))
        for rule in pack.rules:
            section = sections[rule.id]
            if rule.confidence is Confidence.UNCONFIRMED:
                assert UNCONFIRMED_MARKER in section.splitlines()[0], (pack_id, rule.id)
                assert "include_unconfirmed=False" in section
                assert f"{pack_id}:{rule.id}" in section
            else:
                assert UNCONFIRMED_MARKER not in section, (pack_id, rule.id)


SAMPLE = """
[pack]
id = "ZZ-AB"
name = "Zedland | Abbey"
version = "9.9"
summary = "A made-up pack that exercises every rule kind."

[pack.holidays]
country = "FR"
observed = false
extra = [2026-07-01]
exclude = [2026-12-25]
source = "Invented calendar"

[[rules]]
id = "zz.hours"
kind = "window"
title = "Weekdays 08:00-12:00 and 14:00-20:00"
purposes = ["marketing", "sales"]
channels = ["voice"]
effective_from = 2020-01-01
effective_to = 2023-10-01
confidence = "primary"
citation = "Zedland Calls Act s. 1"
url = "https://example.org/zz/1"
lifted_by_consent = ["express_written"]

[rules.schedule]
"mon-fri" = ["08:00-12:00", "14:00-20:00"]
sat-sun = []
holiday = []
pre_holiday = ["09:00-12:00"]

[[rules]]
id = "zz.cap"
kind = "cap"
title = "Three connected calls a week per person and debt"
purposes = ["debt_collection"]
max_attempts = 3
period = "7d"
scope = ["person", "debt"]
counts = "connected"
confidence = "secondary"
citation = "Zedland Collection Rule 7"
note = "Counts connected calls only."

[[rules]]
id = "zz.cooldown"
kind = "cooldown"
title = "Wait after a refusal"
purposes = ["marketing"]
after = ["refused", "dnc_request"]
duration = "72h"
scope = ["number", "campaign"]
confidence = "unconfirmed"
citation = "Zedland regulator guidance"
note = "Heard of, not read."

[[rules]]
id = "zz.consent"
kind = "consent"
title = "Prior consent for prerecorded calls"
purposes = ["marketing"]
technologies = ["prerecorded", "artificial_voice"]
accepted = ["express_written", "ebr_purchase"]
max_age = { ebr_purchase = "540d" }
registry = "zz_dnc"
survives_registration = ["express_written"]
confidence = "primary"
citation = "Zedland Calls Act s. 4"
url = "https://example.org/zz/4"

[[rules]]
id = "zz.blackout"
kind = "blackout"
title = "Declared emergency days"
purposes = ["marketing", "sales", "survey"]
dates = [2026-03-02, 2026-01-15]
ranges = [[2026-08-01, 2026-08-10]]
confidence = "primary"
citation = "Emergency order 12"
url = "https://example.org/zz/eo12"

[[rules]]
id = "zz.abandon"
kind = "abandonment"
title = "Abandoned calls at most 3 percent a month"
purposes = ["marketing", "sales"]
technologies = ["autodialed"]
max_rate = 0.03
period = "30d"
confidence = "primary"
citation = "Zedland Code 3.2"
url = "https://example.org/zz/3"
"""


@pytest.fixture(scope="module")
def sample() -> Pack:
    return load_pack("zz-ab.toml", text=SAMPLE)


@pytest.fixture(scope="module")
def sections(sample: Pack) -> dict[str, str]:
    return _rule_sections(render_pack(sample))


def test_page_header_and_calendar(sample: Pack) -> None:
    page = render_pack(sample)
    assert page.startswith(GENERATED_MARKER + "\n")
    assert page.endswith("\n")
    assert not page.endswith("\n\n")
    assert "# ZZ-AB: Zedland | Abbey" in page
    assert "9.9" in page
    assert "A made-up pack that exercises every rule kind." in page
    assert "[ZZ](zz.md)" in page  # a subdivision page links its country page
    calendar = page.split("## Holiday calendar", 1)[1].split("## Rules", 1)[0]
    for fact in (
        "`FR`",
        "national",
        "**Observed days:** no",
        "`public`",
        "2026-07-01",
        "2026-12-25",
        "Invented calendar",
    ):
        assert fact in calendar, fact
    assert render_pack(sample) == page  # deterministic


def test_window_section(sections: dict[str, str]) -> None:
    text = sections["zz.hours"]
    assert "| Monday | 08:00-12:00, 14:00-20:00 |" in text
    assert "| Friday | 08:00-12:00, 14:00-20:00 |" in text
    assert "| Saturday | no calls |" in text
    assert "| Sunday | no calls |" in text
    assert "| Public holiday | no calls |" in text
    assert "| Eve of a public holiday | 09:00-12:00" in text
    assert "`marketing`, `sales`" in text
    assert "**Channels:** `voice`" in text
    assert "**Technologies:** all" in text
    assert "**Number types:** all" in text
    assert "from 2020-01-01" in text
    assert "until 2023-09-30 inclusive" in text
    assert "Zedland Calls Act s. 1" in text
    assert "https://example.org/zz/1" in text
    assert "**Lifted by consent:** yes" in text
    assert "`express_written`" in text
    assert UNCONFIRMED_MARKER not in text


def test_cap_section(sections: dict[str, str]) -> None:
    text = sections["zz.cap"]
    assert "At most **3 attempts** in any rolling **7 days** per **person + debt**" in text
    assert "connected" in text
    assert "answering_machine" in text
    assert "no_answer" not in text  # not a connected outcome
    assert "a call that names no debt counts every attempt" in text
    assert "the number stands for the person" in text
    assert "**Purposes:** `debt_collection`" in text
    assert "Counts connected calls only." in text
    assert "**URL:** none" in text
    assert "**Lifted by consent:** no" in text
    assert "**In force:** always" in text


def test_cooldown_section_is_unconfirmed(sections: dict[str, str]) -> None:
    text = sections["zz.cooldown"]
    assert UNCONFIRMED_MARKER in text.splitlines()[0]
    assert "RuleBook(disabled=...) or include_unconfirmed=False" in text
    assert 'RuleBook(disabled={"ZZ-AB:zz.cooldown"})' in text
    assert "`refused`, `dnc_request`" in text
    assert "**72 hours**" in text
    assert "per **number + campaign**" in text
    assert "a call that names no campaign counts every attempt" in text


def test_consent_section(sections: dict[str, str]) -> None:
    text = sections["zz.consent"]
    assert "`express_written`, `ebr_purchase`" in text
    assert "**Maximum age of `ebr_purchase`:** 540 days" in text
    assert "`zz_dnc`" in text
    assert "**Consents that survive registration:** `express_written`" in text
    assert "**Technologies:** `prerecorded`, `artificial_voice`" in text


def test_blackout_section(sections: dict[str, str]) -> None:
    text = sections["zz.blackout"]
    assert text.index("2026-01-15") < text.index("2026-03-02")  # sorted
    assert "2026-08-01 to 2026-08-10 inclusive" in text


def test_abandonment_section(sections: dict[str, str]) -> None:
    text = sections["zz.abandon"]
    assert "**3%**" in text
    assert "**30 days**" in text
    assert "**Technologies:** `autodialed`" in text


def test_index_counts_rules_and_unconfirmed(sample: Pack) -> None:
    index = render_index([sample, *builtin_packs().values()])
    row = next(line for line in index.splitlines() if line.startswith("| [ZZ-AB]"))
    assert row == "| [ZZ-AB](zz-ab.md) | Zedland \\| Abbey | 9.9 | 6 | 1 |"
    ids = re.findall(r"^\| \[([A-Z-]+)\]", index, flags=re.MULTILINE)
    assert ids == sorted(ids)
    assert render_index({"ZZ-AB": sample}) == render_index([sample])


@pytest.mark.parametrize(
    ("period", "text"),
    [
        ("90s", "90 seconds"),
        ("30m", "30 minutes"),
        ("1h", "1 hour"),
        ("24h", "24 hours"),
        ("72h", "72 hours"),
        ("7d", "7 days"),
        ("2w", "14 days"),
        ("30d", "30 days"),
    ],
)
def test_durations_read_naturally(period: str, text: str) -> None:
    pack = load_pack(
        "d.toml",
        text=f"""
[pack]
id = "ZZ"
name = "Zedland"
version = "1"
[[rules]]
id = "zz.cap"
kind = "cap"
title = "a cap"
purposes = ["marketing"]
max_attempts = 1
period = "{period}"
scope = ["number"]
confidence = "primary"
citation = "none at all"
""",
    )
    assert f"At most **1 attempt** in any rolling **{text}** per **number**" in render_pack(pack)


def test_effective_to_is_rendered_inclusively() -> None:
    day = dt.date(2023, 10, 1)
    pack = load_pack(
        "e.toml",
        text=f"""
[pack]
id = "ZZ"
name = "Zedland"
version = "1"
[[rules]]
id = "zz.b"
kind = "blackout"
title = "a blackout"
purposes = ["marketing"]
dates = [2023-01-02]
effective_to = {day.isoformat()}
confidence = "primary"
citation = "none at all"
""",
    )
    page = render_pack(pack)
    assert "until 2023-09-30 inclusive" in page
    assert "This pack has no holiday calendar" in page
