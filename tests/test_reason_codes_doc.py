"""Every reason code the library can emit is in REASON_CODES and documented."""

from __future__ import annotations

import pathlib
import re

from optout import REASON_CODES

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reason-codes.md"
SRC = ROOT / "src" / "optout"


def _documented() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+(?:\.[a-z_]+)+)` \|", DOC.read_text(), re.MULTILINE))


def _emitted() -> set[str]:
    """Codes written as literals in the source (``code="..."`` and ternaries of them)."""
    codes: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        for match in re.finditer(r"code=(?:\(|)([^,)\n]+)", text):
            codes.update(re.findall(r'"([a-z_]+(?:\.[a-z_]+)+)"', match.group(1)))
    return codes


def test_every_known_code_is_documented() -> None:
    assert set(REASON_CODES) <= _documented()


def test_the_doc_lists_no_unknown_code() -> None:
    assert _documented() <= set(REASON_CODES)


def test_every_emitted_code_is_known() -> None:
    emitted = _emitted()
    assert emitted, "the scan found no code literal: the pattern is broken"
    assert emitted <= set(REASON_CODES)
