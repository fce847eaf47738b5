"""The fuzz targets of ``fuzz/`` (see ``fuzz/README.md``).

(a) Every seed corpus file and every finding in ``fuzz/crashes/`` replays through its
target: fast and deterministic. A finding's file fails here until the bug is fixed, and
then guards against its return.
(b) Hypothesis properties over the same targets (number parsing, ``can_call``, every codec).
(c) A bounded live fuzz run of every target through ``fuzz/run.py --all``: atheris when it
is installed, the hypothesis driver otherwise; never skipped.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import platform
import re
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"


def _load_targets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("optout_fuzz_targets", FUZZ / "targets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


targets = _load_targets()
TARGETS: list[str] = list(targets.TARGETS)


def _cases() -> Iterator[tuple[str, pathlib.Path]]:
    for target in TARGETS:
        for path in sorted((FUZZ / "corpus" / target).glob("*")):
            yield target, path
    for path in sorted((FUZZ / "crashes").glob("*-*")):
        target = path.name.split("-", 1)[0]
        if target in TARGETS:
            yield target, path


CASES = list(_cases())


@pytest.fixture(scope="module", autouse=True)
def _fuzz_state() -> Iterator[None]:
    yield
    targets.close()


def test_every_target_has_a_seed_corpus() -> None:
    for target in TARGETS:
        assert any((FUZZ / "corpus" / target).glob("seed-*")), target


def test_crash_files_name_a_target() -> None:
    for path in (FUZZ / "crashes").glob("*"):
        if path.name not in (".gitkeep", "README.md"):
            assert path.name.split("-", 1)[0] in TARGETS, path.name


@pytest.mark.parametrize(
    ("target", "path"), CASES, ids=[f"{t}/{p.parent.name}/{p.name[:40]}" for t, p in CASES]
)
def test_replay(target: str, path: pathlib.Path) -> None:
    targets.TARGETS[target](path.read_bytes())


# -- hypothesis properties -----------------------------------------------------------------

REGION_BYTES = st.integers(0, len(targets.REGIONS) - 1)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(REGION_BYTES, st.booleans(), st.text(max_size=40))
def test_normalize_contract(region: int, strict: bool, raw: str) -> None:
    data = bytes([region, 0 if strict else 1]) + raw.encode("utf-8", "surrogatepass")
    targets.fuzz_normalize(data)


@FAST
@given(
    REGION_BYTES,
    st.one_of(
        st.text(max_size=40),
        st.from_regex(r"\A\+?[0-9 ()\-.]{0,20}(ext\.? ?[0-9]{1,5})?\Z"),
    ),
)
def test_can_call_never_raises(region: int, raw: str) -> None:
    targets.fuzz_can_call(bytes([region, 0]) + raw.encode("utf-8", "surrogatepass"))


_LINE = st.one_of(
    st.from_regex(r"\A1?[2-9][0-9]{2}[ ,]?[2-9][0-9]{6}(,[ADad])?\Z"),
    st.from_regex(r"\A0[0-9]{3,4} ?[0-9]{6,7}\Z"),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20),
)
_FILE = st.lists(_LINE, max_size=12).map(lambda lines: "\r\n".join(lines).encode())


@pytest.mark.parametrize("target", ["us", "ca", "uk", "generic", "it", "fr", "au"])
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.one_of(_FILE, _FILE.map(lambda b: targets.ZIP_MAGIC + b), st.binary(max_size=300)))
def test_codec_contract(target: str, data: bytes) -> None:
    targets.TARGETS[target](data)


# -- the bounded live run ------------------------------------------------------------------

_SUMMARY = re.compile(r"^(\w+): engine=(\w+) execs=(\d+) .* findings=(\d+)$", re.M)


@pytest.mark.timeout(240)
def test_bounded_fuzz_run() -> None:
    """Every target fuzzed for a few seconds (``fuzz/run.py --all``); nothing is found."""
    result = subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), "--all", "--seconds-each", "2", "--jobs", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    output = result.stdout + result.stderr
    summaries = {m.group(1): m for m in _SUMMARY.finditer(result.stdout)}
    assert set(TARGETS) <= set(summaries), output
    for target in TARGETS:
        assert int(summaries[target].group(3)) > 0, f"{target} ran no inputs\n{output}"
    if os.environ.get("CI") and sys.platform == "linux" and platform.machine() == "x86_64":
        # The test extra installs atheris here: CI fuzzes coverage-guided, not the fallback.
        engines = {summaries[target].group(2) for target in TARGETS}
        assert engines == {"atheris"}, output
    assert result.returncode == 0, output


def test_decide_many_all_null_numbers() -> None:
    """Finding scrub_jsonl-min-*: a batch whose numbers are all null must not crash."""
    import optout  # noqa: PLC0415

    decided = optout.decide_many(targets.state().client(), [None, None], at=targets.AT)
    assert len(decided.allowed) == 2
    assert not any(decided.allowed)


def test_pack_file_with_a_lone_carriage_return(tmp_path: pathlib.Path) -> None:
    """Finding pack-min-fab305...: a file was read in text mode, which turned a lone CR
    (invalid TOML) into a line break, so ``load_pack(path)`` accepted what
    ``load_pack(text=)`` refused. Both refuse it now; CRLF files still load."""
    import optout  # noqa: PLC0415

    body = '#\n[pack]\nid="US-0"\nname="00"\nversion="0"'
    lone = tmp_path / "lone.toml"
    lone.write_bytes(b"\r" + body.encode())
    with pytest.raises(optout.PackError, match="not valid TOML"):
        optout.load_pack(lone)
    with pytest.raises(optout.PackError, match="not valid TOML"):
        optout.load_pack("lone.toml", text="\r" + body)
    assert optout.load_pack("unix.toml", text=body).id == "US-0"
    crlf = tmp_path / "crlf.toml"
    crlf.write_bytes(body.replace("\n", "\r\n").encode())
    assert optout.load_pack(crlf).id == "US-0"


def test_policy_with_a_duration_too_long_for_a_timedelta(tmp_path: pathlib.Path) -> None:
    """Finding policy-min-94eee0...: ``OverflowError`` escaped from ``parse_duration``."""
    import optout  # noqa: PLC0415

    path = tmp_path / "policy.toml"
    path.write_text('[policy]\nname = "acme"\n\n[retry]\nbusy = "400000000000000m"\n')
    with pytest.raises(optout.PackError, match="too long"):
        optout.Policy.load(path)
