"""docs/rules.md states the built-in packs as they are, and names every rule kind.

The numbers are derived from ``builtin_packs()``: adding, removing or re-versioning a pack
without updating the page fails here.
"""

from __future__ import annotations

import pathlib
import re
import typing
from collections import defaultdict

from optout import REASON_CODES
from optout._rules._book import builtin_packs
from optout._rules._model import Confidence, Rule

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "rules.md"
CODES_DOC = ROOT / "docs" / "reason-codes.md"
RULES_SRC = ROOT / "src" / "optout" / "_rules"
_PACK_ID = re.compile(r"`([A-Z]{2}(?:-[A-Z0-9]{1,3})?)`")


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _section(heading: str) -> str:
    text = _text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _table_rows(section: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``section``, split into cells."""
    rows: list[list[str]] = []
    started = False
    for line in section.splitlines():
        if not line.startswith("|"):
            if started:
                break
            continue
        started = True
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the separator row
        rows.append(cells)
    return rows[1:]  # without the header


def _packs_by_country() -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for pack in builtin_packs().values():
        out[pack.country].add(pack.id)
    return dict(out)


def test_the_headline_counts_match_the_packs() -> None:
    packs = builtin_packs().values()
    rules = [r for p in packs for r in p.rules]
    match = re.search(
        r"ships\s+\*\*(\d+)\s+packs\s+with\s+(\d+)\s+rules,\s+(\d+)\s+of\s+them\s+"
        r"unconfirmed\s+and\s+(\d+)\s+proposed\*\*",
        _section("The packs that ship"),
    )
    assert match, "the 'This version ships N packs with M rules, ...' sentence is missing"
    stated = tuple(int(g) for g in match.groups())
    actual = (
        len(packs),
        len(rules),
        sum(r.confidence is Confidence.UNCONFIRMED for r in rules),
        sum(r.proposed for r in rules),
    )
    assert stated == actual, f"docs/rules.md says {stated}, the packs give {actual}"


def test_the_country_rows_list_exactly_the_packs() -> None:
    listed: dict[str, set[str]] = {}
    for cells in _table_rows(_section("The packs that ship")):
        ids = _PACK_ID.findall(cells[1])
        assert ids, f"row {cells[0]!r} names no pack"
        countries = {i[:2] for i in ids}
        assert len(countries) == 1, f"row {cells[0]!r} mixes countries: {sorted(ids)}"
        (country,) = countries
        assert country not in listed, f"country {country} has two rows"
        assert len(ids) == len(set(ids)), f"row {cells[0]!r} names a pack twice"
        listed[country] = set(ids)
        subs = re.search(r"and (\d+) (?:states|provinces)", cells[1])
        if subs:
            assert int(subs.group(1)) == len(ids) - 1, f"row {cells[0]!r} miscounts"
    assert listed == _packs_by_country()


def test_the_pack_versions_are_stated() -> None:
    line = next(
        (
            line
            for line in _section("The packs that ship").splitlines()
            if line.startswith("Pack versions in this release:")
        ),
        None,
    )
    assert line is not None, "the 'Pack versions in this release:' line is missing"
    stated = set(re.findall(r"`([^`]+)`", line))
    assert stated == {p.pack.version for p in builtin_packs().values()}


def _rule_kinds() -> set[str]:
    (union, *_) = typing.get_args(Rule)
    return {typing.get_args(m.model_fields["kind"].annotation)[0] for m in typing.get_args(union)}


def test_every_rule_kind_is_described_and_audited() -> None:
    kinds = _rule_kinds()
    assert "registry" in kinds
    described = {
        c[0].strip("`") for c in _table_rows(_section("Rule kinds and their reason codes"))
    }
    assert kinds <= described
    audit = _section("When a fact is missing, unknown, stale, in the future or contradictory")
    read = {
        k.strip("`")
        for cells in _table_rows(audit)
        for k in cells[0].split(", ")
        if k.startswith("`")
    }
    assert kinds <= read


def test_the_false_note_is_gone() -> None:
    assert "not checked yet" not in _text()


def test_every_code_the_rules_write_is_documented() -> None:
    """Codes the engine passes positionally (``_reason(bound, "cap.reached", ...)``), which
    the ``code=`` scan of test_reason_codes_doc.py does not see."""
    families = {code.split(".")[0] for code in REASON_CODES}
    pattern = re.compile(r'"((?:' + "|".join(sorted(families)) + r')\.[a-z_]+)"')
    written = {
        code
        for path in [*RULES_SRC.glob("*.py"), RULES_SRC.parent / "_core.py"]
        for code in pattern.findall(path.read_text(encoding="utf-8"))
    }
    assert written, "the scan found no code literal: the pattern is broken"
    documented = set(
        re.findall(r"^\| `([a-z_]+(?:\.[a-z_]+)+)` \|", CODES_DOC.read_text(), re.MULTILINE)
    )
    assert written <= set(REASON_CODES)
    assert written <= documented


def test_the_overview_pages_count_the_packs_and_rules() -> None:
    packs = builtin_packs()
    rules = sum(len(p.rules) for p in packs.values())
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert f"**A rules engine with {len(packs)} jurisdiction packs** ({rules} rules)" in index
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"rule packs for {len(packs)} jurisdictions" in readme
