"""The UK Telephone Preference Service (TPS) and Corporate TPS (CTPS), from the licensee files.

The file format is TPS Ltd's "Technical Specifications for File Formats" (reference section
3): numbers only, no names and no dates, in the national format with the leading 0 (up to
11 digits), one per fixed-width record ended by CR LF, in two variants:

1. *with spaces*: the dialling code in 5 characters, left-justified, then the rest in 7
   characters, right-justified (``0207 3787244``, ``01635 506160``);
2. *without spaces*: the number left-justified in 12 characters (``02073787244 ``).

Both are read by removing the spaces, so the variants may be mixed, and trailing spaces,
tabs, LF or CRLF (or mixed) line ends, a UTF-8 BOM, blank lines and a header line without
digits are tolerated. Files may be plain or zipped (one or several members). Numbers are
keyed as E.164 (``0207 3787244`` is ``+442073787244``). A line that is not a national
number of 10 or 11 digits starting with a single 0 is rejected. Parsing is vectorized.

The files carry no registration date, so the snapshot is undated (the 28-day rule is
applied from the date of the list). The layout of TPS change (delta) files is NOT
CONFIRMED: ``apply_changes`` treats every number in such a file as an addition.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import IO

import numpy as np

from optout._registries._base import RegistryOptions
from optout._registries._kinds import ParsedChunk, SnapshotRegistry
from optout._registries.us import (
    BLOCK,
    MAX_SAMPLES,
    digit_lines,
    has_header,
    line_blocks,
    line_texts,
    open_members,
    start_of,
)

__all__ = ["TpsCodec", "gb_ctps", "gb_tps"]

_SPACES = b" \t"


class TpsCodec:
    """Reads the TPS/CTPS fixed-width files (both variants), plain or zipped."""

    def __init__(self, *, block_size: int = BLOCK) -> None:
        self.block_size = block_size

    def read(self, path: pathlib.Path) -> Iterator[ParsedChunk]:
        for name, stream in open_members(path):
            yield from self._member(name, stream)

    def _member(self, name: str, stream: IO[bytes]) -> Iterator[ParsedChunk]:
        head = start_of(name, stream)
        first = True
        for block, line0 in line_blocks(name, head, stream, self.block_size):
            skip = first and has_header(block)
            first = False
            values, lengths, ok = digit_lines(block.translate(None, _SPACES), (10, 11))
            if skip:
                lengths[0] = 0
            # the national significant number: what follows the single leading 0
            scale = np.where(lengths == 11, np.uint64(10**10), np.uint64(10**9))
            ok &= (values < scale) & (values >= scale // np.uint64(10))
            bad = np.flatnonzero(~ok & (lengths > 0))
            shown = bad[:MAX_SAMPLES]
            samples = tuple(
                (line0 + int(i), f"{name}: not a UK national number (0 + 9-10 digits): {t!r}")
                for i, t in zip(shown, line_texts(block, shown), strict=True)
            )
            keys = (np.uint64(44) * scale + values)[ok]
            yield ParsedChunk(keys=keys, rejected=len(bad), samples=samples)


def gb_tps(
    *, options: RegistryOptions | None = None, max_rejected: float = 0.01
) -> SnapshotRegistry:
    """The UK Telephone Preference Service, from the licensed TPS file."""
    return SnapshotRegistry("gb_tps", TpsCodec(), options=options, max_rejected=max_rejected)


def gb_ctps(
    *, options: RegistryOptions | None = None, max_rejected: float = 0.01
) -> SnapshotRegistry:
    """The UK Corporate Telephone Preference Service, from the licensed CTPS file."""
    return SnapshotRegistry("gb_ctps", TpsCodec(), options=options, max_rejected=max_rejected)
