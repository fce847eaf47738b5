"""Exact prefix tables for libphonenumber's digit patterns.

Most numbering-plan patterns decide a number by its first few digits: the US fixed-line
pattern is a tree of area codes and exchange digits followed by ``\\d{6}``. For a pattern,
a number length ``L`` and a prefix length ``p``, :func:`prefix_table` returns, for every
``p``-digit prefix, whether *every* ``L``-digit string that starts with it matches
(:data:`ALL`), *none* does (:data:`NONE`), or it depends on the later digits
(:data:`MIXED`). The batch normalizer (:mod:`optout._fastnum`) then answers most numbers
with one array look-up and runs the pattern itself only on the :data:`MIXED` ones, so the
answers are exactly the pattern's.

The table is computed from the pattern, not sampled: the pattern is parsed with Python's
own regular-expression parser and compiled to a nondeterministic automaton over the ten
digits; a prefix's verdict is found by exploring every continuation, with sets of automaton
states memoized (numbering-plan patterns give few distinct sets). Patterns that use
anything beyond literals, digit classes, alternation, groups and bounded repetition get no
table (``None``), and the caller runs the pattern.
"""

from __future__ import annotations

import functools
import re._parser as sre_parse  # type: ignore[import-not-found]  # the stdlib's parser
import threading
from re import _constants as sre_constants  # type: ignore[attr-defined]
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ALL", "MIXED", "NONE", "prefix_table"]

NONE = 0
ALL = 1
MIXED = 2

_ALL_DIGITS = (1 << 10) - 1
#: Explored states per table; a pattern past this gets no table (the regex runs instead).
_BUDGET = 200_000


class _Unsupported(Exception):
    """The pattern uses a construct the automaton does not model."""


class _Automaton:
    """Thompson construction over the digits 0-9: epsilon moves and digit-set edges."""

    def __init__(self) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[int, int]]] = []  # (digit mask, target)

    def state(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def build(self, items: Any, start: int) -> int:
        """Add ``items`` (a parsed sequence) after ``start``; return the end state."""
        at = start
        for op, av in items:
            at = self._one(op, av, at)
        return at

    def _one(self, op: object, av: object, at: int) -> int:
        if op is sre_constants.LITERAL:
            assert isinstance(av, int)
            return self._edge(at, _literal_mask(av))
        if op is sre_constants.IN:
            assert isinstance(av, list)
            return self._edge(at, _class_mask(av))
        if op is sre_constants.SUBPATTERN:
            assert isinstance(av, tuple)
            return self.build(av[3], at)
        if op is sre_constants.BRANCH:
            assert isinstance(av, tuple)
            end = self.state()
            for branch in av[1]:
                self.eps[self.build(branch, self._split(at))].append(end)
            return end
        if op is sre_constants.MAX_REPEAT or op is sre_constants.MIN_REPEAT:
            assert isinstance(av, tuple)
            low, high, item = av
            for _ in range(low):
                at = self.build(item, at)
            if high is sre_constants.MAXREPEAT:
                loop = self.state()
                self.eps[at].append(loop)
                self.eps[self.build(item, loop)].append(loop)
                return loop
            end = self.state()
            for _ in range(int(high) - low):
                self.eps[at].append(end)
                at = self.build(item, at)
            self.eps[at].append(end)
            return end
        raise _Unsupported(str(op))

    def _split(self, at: int) -> int:
        new = self.state()
        self.eps[at].append(new)
        return new

    def _edge(self, at: int, mask: int) -> int:
        target = self.state()
        if mask:
            self.edges[at].append((mask, target))
        return target


def _literal_mask(code: int) -> int:
    return 1 << (code - 48) if 48 <= code <= 57 else 0


def _class_mask(items: list[tuple[object, object]]) -> int:
    mask = 0
    for op, av in items:
        if op is sre_constants.LITERAL:
            assert isinstance(av, int)
            mask |= _literal_mask(av)
        elif op is sre_constants.RANGE:
            assert isinstance(av, tuple)
            for code in range(max(av[0], 48), min(av[1], 57) + 1):
                mask |= _literal_mask(code)
        elif op is sre_constants.CATEGORY and av is sre_constants.CATEGORY_DIGIT:
            mask |= _ALL_DIGITS
        else:  # a negated class, another category: not modelled
            raise _Unsupported(str(op))
    return mask


class _Analysis:
    """Verdicts for sets of automaton states, memoized."""

    def __init__(self, nfa: _Automaton, final: int, prefix_match: bool) -> None:
        self.nfa = nfa
        self.final = final
        self.prefix_match = prefix_match
        self._closure: dict[int, frozenset[int]] = {}
        self._steps: dict[frozenset[int], tuple[frozenset[int], ...]] = {}
        self._verdicts: dict[tuple[frozenset[int], int], int] = {}
        self.spent = 0

    def closure(self, states: frozenset[int] | set[int]) -> frozenset[int]:
        out: set[int] = set()
        todo = list(states)
        while todo:
            s = todo.pop()
            if s in out:
                continue
            out.add(s)
            todo.extend(self.nfa.eps[s])
        return frozenset(out)

    def step(self, states: frozenset[int]) -> tuple[frozenset[int], ...]:
        """The closed state set after each digit 0-9."""
        found = self._steps.get(states)
        if found is None:
            self.spent += 1
            if self.spent > _BUDGET:
                raise _Unsupported("too many states")
            nexts: list[set[int]] = [set() for _ in range(10)]
            for s in states:
                for mask, target in self.nfa.edges[s]:
                    for d in range(10):
                        if mask >> d & 1:
                            nexts[d].add(target)
            found = self._steps[states] = tuple(self.closure(n) for n in nexts)
        return found

    def accepting(self, states: frozenset[int]) -> bool:
        return self.final in states

    def verdict(self, states: frozenset[int], remaining: int) -> int:
        """Whether every / no string of ``remaining`` more digits is accepted from here."""
        if self.prefix_match and self.accepting(states):
            return ALL  # a prefix already matched: every continuation matches
        if not states:
            return NONE
        if remaining == 0:
            return ALL if self.accepting(states) else NONE
        key = (states, remaining)
        found = self._verdicts.get(key)
        if found is None:
            seen: set[int] = set()
            for nxt in set(self.step(states)):
                seen.add(self.verdict(nxt, remaining - 1))
                if MIXED in seen or len(seen) > 1:
                    break
            found = seen.pop() if len(seen) == 1 else MIXED
            self._verdicts[key] = found
        return found


def prefix_table(
    pattern: str, length: int, prefix: int, prefix_match: bool = False
) -> npt.NDArray[np.int8] | None:
    """Per ``prefix``-digit prefix, the verdict for ``length``-digit strings.

    ``pattern`` is a libphonenumber pattern without anchors. It must match a whole string
    (``re.fullmatch``), or with ``prefix_match`` only its beginning (``re.match``, as
    libphonenumber's leading-digit patterns are used). Index ``i`` of the table is the
    prefix whose digits are ``i`` written with ``prefix`` digits (leading zeros kept).
    ``prefix`` must not exceed ``length``. ``None``: the pattern cannot be analysed.

    Tables are kept (the 512 most recent); one is built at a time, so threads that need the
    same table at once (a scrub's first chunks) build it once: the work is pure Python.
    """
    with _BUILDING:
        return _prefix_table(pattern, length, prefix, prefix_match)


_BUILDING = threading.Lock()


@functools.lru_cache(maxsize=512)
def _prefix_table(
    pattern: str, length: int, prefix: int, prefix_match: bool
) -> npt.NDArray[np.int8] | None:
    if not 0 < prefix <= length:
        raise ValueError("the prefix must be 1 to length digits long")
    try:
        parsed = sre_parse.parse(pattern)
        nfa = _Automaton()
        start = nfa.state()
        final = nfa.build(parsed, start)
        analysis = _Analysis(nfa, final, prefix_match)
        table = np.full(10**prefix, NONE, dtype=np.int8)
        _fill(analysis, analysis.closure({start}), 0, 0, prefix, length, table)
    except (_Unsupported, RecursionError, sre_parse.error):
        return None
    return table


def _fill(
    analysis: _Analysis,
    states: frozenset[int],
    depth: int,
    value: int,
    prefix: int,
    length: int,
    table: npt.NDArray[np.int8],
) -> None:
    """Fill the table entries under the prefix ``value`` (``depth`` digits long)."""
    verdict = analysis.verdict(states, length - depth)
    if verdict != MIXED or depth == prefix:
        span = 10 ** (prefix - depth)
        table[value * span : (value + 1) * span] = verdict
        return
    for digit, nxt in enumerate(analysis.step(states)):
        _fill(analysis, nxt, depth + 1, value * 10 + digit, prefix, length, table)
