"""Fuzz targets: one function per parser of untrusted input, each taking ``bytes``.

Every target asserts optout's contract for its parser:

- only optout's own exceptions (:class:`optout.OptoutError` subclasses) escape; an
  ``IndexError``, ``KeyError``, ``UnicodeDecodeError``, ``zlib.error``, ... is a finding;
- :meth:`optout.Compliance.can_call` never raises for any number string;
- :func:`optout.normalize` is idempotent: the E.164 form of a parsed number parses to the
  same number;
- what a codec yields is well formed (NANP keys for US/CA, UK keys for TPS, one answer per
  number for the consultation codecs);
- the scrub reader either writes its output or raises :class:`optout.ConfigurationError`.

The mapping from bytes to input is deterministic and needs no fuzzing engine, so the corpus
and crash files replay under plain pytest (``tests/test_fuzz.py``) and under the
hypothesis fallback driver (``fuzz/run.py --engine hypothesis``).

Set ``OPTOUT_FUZZ_TOLERATE`` to a comma-separated list of finding signatures
(``ExceptionType@file.py:function``, as printed by :func:`signature`) to step over findings
already reported while looking for new ones; never set it in CI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import pathlib
import tempfile
import tomllib
import traceback
import zipfile
from collections.abc import Callable, Iterator

import optout
from optout._registries.au import DncrCodec
from optout._registries.ca import DnclCodec
from optout._registries.fr import BloctelCodec
from optout._registries.generic import LinesCodec
from optout._registries.it import RpoCodec
from optout._registries.uk import TpsCodec
from optout._registries.us import UsDncCodec
from optout._scrub import read_table, scrub_file

__all__ = ["TARGETS", "FuzzFinding", "run_target", "signature"]

#: Regions a number is read in (chosen by the first byte of the input).
REGIONS: tuple[str | None, ...] = (None, "US", "IT", "GB", "FR", "AU", "CA", "BR", "DE", "ES")
#: A fixed instant, so replays are deterministic.
AT = dt.datetime(2026, 3, 11, 15, 30, tzinfo=dt.UTC)
#: Codec inputs whose first bytes are this are wrapped in a zip (the rest is the member):
#: the fuzzer reaches the zip paths without having to forge CRCs.
ZIP_MAGIC = b"ZIP:"

NANP_LOW = 10_000_000_000 + 2_002_000_000
NANP_HIGH = 10_000_000_000 + 9_999_999_999


class FuzzFinding(AssertionError):
    """A target's contract does not hold (the input is a finding)."""


# -- shared state (created once per process) ----------------------------------------------


class _State:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="optout-fuzz-")
        self.dir = pathlib.Path(self._dir.name)
        self._clients: dict[str | None, optout.Compliance] = {}

    def client(self, region: str | None = None) -> optout.Compliance:
        found = self._clients.get(region)
        if found is None:
            db = self.dir / f"optout-{region or 'none'}.sqlite3"
            found = optout.Compliance(
                f"sqlite:///{db}",
                default_region=region,
                registries=(),
                rules=optout.RuleBook(packs={}, unsupported="allow"),
            )
            self._clients[region] = found
        return found

    def file(self, name: str, data: bytes) -> pathlib.Path:
        path = self.dir / name
        path.write_bytes(data)
        return path

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self._dir.cleanup()


_STATE: _State | None = None


def state() -> _State:
    global _STATE  # noqa: PLW0603
    if _STATE is None:
        _STATE = _State()
    return _STATE


def close() -> None:
    """Release the temporary folder and the databases (tests call this at teardown)."""
    global _STATE  # noqa: PLW0603
    if _STATE is not None:
        _STATE.close()
        _STATE = None


def _text(data: bytes) -> str:
    # surrogateescape: invalid UTF-8 becomes lone surrogates, which strings may hold too.
    return data.decode("utf-8", "surrogateescape")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise FuzzFinding(message)


@contextlib.contextmanager
def _only(*allowed: type[BaseException]) -> Iterator[None]:
    """Let ``allowed`` exceptions (the documented ones) pass; anything else escapes."""
    with contextlib.suppress(*allowed):
        yield


# -- number parsing -----------------------------------------------------------------------


def _number_input(data: bytes) -> tuple[str | None, bool, str]:
    if len(data) < 2:
        return None, True, _text(data)
    return REGIONS[data[0] % len(REGIONS)], not data[1] & 1, _text(data[2:])


def fuzz_normalize(data: bytes) -> None:
    """``optout.normalize``: InvalidNumberError or an idempotent PhoneNumber."""
    region, strict, raw = _number_input(data)
    try:
        number = optout.normalize(raw, region, strict=strict)
    except optout.InvalidNumberError:
        return
    _check(number.e164.startswith("+") and number.e164[1:].isdigit(), f"bad e164 {number}")
    _check(not strict or number.valid, "strict normalize returned an invalid number")
    if not number.valid:
        # No idempotence for invalid numbers: libphonenumber reads "+61000000" (AU,
        # "0000000" typed) back as "+6100000", stripping a national prefix it finds again.
        with _only(optout.InvalidNumberError):
            optout.normalize(number.e164, strict=False)
        return
    for where in (None, region):
        again = optout.normalize(number.e164, where)
        same = (again.e164, again.country_code, again.region, again.number_type)
        first = (number.e164, number.country_code, number.region, number.number_type)
        _check(same == first, f"not idempotent: {first} then {same}")
        _check(again.time_zones == number.time_zones, "time zones change on re-parse")


def fuzz_can_call(data: bytes) -> None:
    """``Compliance.can_call`` never raises for a number string; the decision is coherent."""
    region, _, raw = _number_input(data)
    client = state().client("US" if region == "US" else None)
    decision = client.can_call(raw, at=AT)
    _check(decision.allowed == (not decision.reasons), "allowed and reasons disagree")
    if decision.number is None:
        _check(not decision.allowed, "an unparsable number was allowed")
    else:
        _check(decision.number.startswith("+"), f"bad number {decision.number!r}")


# -- registry file codecs -----------------------------------------------------------------


def _registry_file(data: bytes) -> pathlib.Path:
    if data.startswith(ZIP_MAGIC):
        body = data[len(ZIP_MAGIC) :]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for i, member in enumerate(body.split(b"\x00--member--\x00")[:4]):
                archive.writestr(f"list-{i}.txt", member)
        data = buffer.getvalue()
    return state().file("registry.dat", data)


def _snapshot(codec: UsDncCodec | DnclCodec | TpsCodec | LinesCodec, data: bytes) -> list[int]:
    """Read the file, check every chunk and return all keys (additions and deletions)."""
    keys: list[int] = []
    with _only(optout.OptoutError):
        for chunk in codec.read(_registry_file(data)):
            _check(str(chunk.keys.dtype) == "uint64", f"keys are {chunk.keys.dtype}")
            _check(chunk.rejected >= 0, "negative rejected count")
            _check(len(chunk.samples) <= chunk.rejected, "more samples than rejected lines")
            if chunk.days is not None:
                _check(len(chunk.days) == len(chunk.keys), "days and keys differ in length")
            keys.extend(int(k) for k in chunk.keys)
            if chunk.deletes is not None:
                keys.extend(int(k) for k in chunk.deletes)
    return keys


def _nanp(keys: list[int]) -> None:
    for key in keys:
        _check(NANP_LOW <= key <= NANP_HIGH, f"not a NANP key: {key}")
        _check(key // 10_000 % 1000 >= 200, f"exchange starts with 0/1: {key}")


def fuzz_us(data: bytes) -> None:
    """The US DNC codec (flat, change list, XML; plain or zipped)."""
    _nanp(_snapshot(UsDncCodec(block_size=256), data))


def fuzz_ca(data: bytes) -> None:
    """The Canadian DNCL codec (CSV, dated CSV, XML; plain or zipped)."""
    _nanp(_snapshot(DnclCodec(block_size=256), data))


def fuzz_uk(data: bytes) -> None:
    """The UK TPS/CTPS codec (both fixed-width variants; plain or zipped)."""
    for key in _snapshot(TpsCodec(block_size=256), data):
        _check(44_100_000_000 <= key < 450_000_000_000, f"not a UK key: {key}")


def fuzz_generic(data: bytes) -> None:
    """The generic lines/CSV codec, national numbers read as US (plain or zipped)."""
    for key in _snapshot(LinesCodec("US"), data):
        _check(optout.normalize(f"+{key}").e164 == f"+{key}", f"not an E.164 key: {key}")


def _consultation(codec: RpoCodec | BloctelCodec | DncrCodec, data: bytes) -> None:
    seen: set[str] = set()
    with _only(optout.OptoutError):
        for number, status in codec.read_returned(_registry_file(data)):
            _check(number not in seen, f"{number} yielded twice")
            seen.add(number)
            _check(status in (None, "listed", "clear"), f"bad status {status!r}")
            _check(optout.normalize(number).e164 == number, f"not E.164: {number!r}")


def fuzz_it(data: bytes) -> None:
    """The Italian RPO returned-list codec."""
    _consultation(RpoCodec(), data)


def fuzz_fr(data: bytes) -> None:
    """The French Bloctel returned-list codec."""
    _consultation(BloctelCodec(), data)


def fuzz_au(data: bytes) -> None:
    """The Australian DNCR flagged returned-list codec."""
    _consultation(DncrCodec(), data)


# -- the scrub reader ---------------------------------------------------------------------


def _scrub(data: bytes, suffix: str) -> None:
    st = state()
    src = st.file(f"leads{suffix}", data)
    dst = st.dir / f"scrubbed{suffix}"
    dst.unlink(missing_ok=True)
    try:
        summary = scrub_file(st.client(), src, dst, at=AT)
    except optout.ConfigurationError:
        _check(not dst.exists(), "a failed scrub left its output behind")
    else:
        _check(dst.is_file(), "a scrub that succeeded wrote no output")
        _check(summary.numbers == summary.allowed + summary.denied, f"counts disagree: {summary}")
    # The reader alone, without a header (columns numbered from 1).
    with _only(optout.ConfigurationError):
        read_table(src, header=False)


def fuzz_scrub_csv(data: bytes) -> None:
    """The scrub reader on a CSV lead file."""
    _scrub(data, ".csv")


def fuzz_scrub_jsonl(data: bytes) -> None:
    """The scrub reader on a JSON Lines lead file."""
    _scrub(data, ".jsonl")


# -- packs and policies -------------------------------------------------------------------


def fuzz_pack(data: bytes) -> None:
    """``optout.load_pack`` from a file and from text: PackError or a Pack, the same way."""
    path = state().file("pack.toml", data)
    from_file: object
    try:
        from_file = optout.load_pack(path)
    except optout.PackError as exc:
        from_file = exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        _check(isinstance(from_file, optout.PackError), "a non-UTF-8 pack file was loaded")
        return
    from_text: object
    try:
        from_text = optout.load_pack("pack.toml", text=text)
    except optout.PackError as exc:
        from_text = exc
    _check(
        isinstance(from_file, optout.PackError) == isinstance(from_text, optout.PackError),
        "load_pack(path) and load_pack(text=) disagree",
    )
    if isinstance(from_text, optout.Pack):
        optout.RuleBook(packs={from_text.id: from_text})


def fuzz_policy(data: bytes) -> None:
    """``optout.Policy.load`` and ``Policy.from_dict``: PackError or a Policy."""
    path = state().file("policy.toml", data)
    with _only(optout.PackError):
        optout.Policy.load(path).rules()
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    with _only(optout.PackError):
        policy = optout.Policy.from_dict(table, source="fuzz")
        policy.rules()
        optout.RuleBook(packs={}, policies=(policy,))


# -- registry ------------------------------------------------------------------------------

TARGETS: dict[str, Callable[[bytes], None]] = {
    "normalize": fuzz_normalize,
    "can_call": fuzz_can_call,
    "us": fuzz_us,
    "uk": fuzz_uk,
    "ca": fuzz_ca,
    "generic": fuzz_generic,
    "it": fuzz_it,
    "fr": fuzz_fr,
    "au": fuzz_au,
    "scrub_csv": fuzz_scrub_csv,
    "scrub_jsonl": fuzz_scrub_jsonl,
    "pack": fuzz_pack,
    "policy": fuzz_policy,
}


def signature(exc: BaseException) -> str:
    """``Type@file.py:function`` of the innermost optout frame (or the innermost frame)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.name != "_check"]
    if isinstance(exc, FuzzFinding):
        ours = [f for f in frames if f.name.startswith("fuzz_")]
    else:
        ours = [f for f in frames if "optout" in f.filename and "fuzz" not in f.filename]
    chosen = ours or frames
    where = f"{pathlib.Path(chosen[-1].filename).name}:{chosen[-1].name}" if chosen else "?"
    return f"{type(exc).__name__}@{where}"


def _tolerated() -> frozenset[str]:
    raw = os.environ.get("OPTOUT_FUZZ_TOLERATE", "")
    return frozenset(s.strip() for s in raw.split(",") if s.strip())


_TOLERATED = _tolerated()


def run_target(name: str, data: bytes) -> None:
    """Run target ``name`` on ``data``; findings listed in OPTOUT_FUZZ_TOLERATE pass."""
    try:
        TARGETS[name](data)
    except Exception as exc:
        if signature(exc) in _TOLERATED:
            return
        raise
