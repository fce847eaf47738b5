"""Lista Robinson: the reference's test vectors, SigV4, batching, caching, faults, end to end."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import pathlib
import time
from collections.abc import Iterator, Sequence

import pytest
from _fake_apis import FakeRobinson

import optout
from optout import Compliance, ConfigurationError, RuleBook
from optout._registries._base import Registry
from optout._registries._http import HttpPolicy
from optout._registries.es import (
    RobinsonRegistry,
    es_robinson,
    normalize_phone,
    normalize_text,
    robinson_hash,
    sigv4_sign,
    sigv4_signing_key,
)
from optout._rules._book import load_pack
from optout.testing import RegistryConformance

FAST = HttpPolicy(
    connect_timeout=0.5,
    read_timeout=0.25,
    deadline=0.4,
    max_attempts=3,
    backoff=0.01,
    backoff_max=0.05,
    rate_limit_wait=0.02,
    max_retry_after=2.0,
    breaker_failures=3,
    breaker_cooldown=0.3,
)
KEY, SECRET = "AKTEST", "s3cr3t/KEY+x"
NOW = dt.datetime.now(dt.UTC)


def _registry(api: FakeRobinson, **kw: object) -> RobinsonRegistry:
    options: dict[str, object] = {
        "url": api.url,
        "access_key": KEY,
        "secret_key": SECRET,
        "policy": FAST,
    }
    options.update(kw)
    return es_robinson(**options)  # type: ignore[arg-type]


def _list(api: FakeRobinson, numbers: Sequence[str], sectors: Sequence[str] = ("1",)) -> None:
    for number in numbers:
        api.listed[robinson_hash(number)] = list(sectors)
    api.loaded = True


# -- the reference's test vectors (slr-client src/util/SLRUtils.test.js) --------------------


def test_hash_vectors() -> None:
    assert (
        robinson_hash("345 678 890")
        == "9a0d14c71b6bb4b50fd4a9efc0536de8c7198f4bebdadcc4e7ee32731fb75c15"
    )
    assert (
        robinson_hash("345 678 890", channel="sms")
        == "ea48b0f337aded1ab2d7fb495b075883b91319a0c8c5b88d5be9d28c95663ac4"
    )
    assert (
        robinson_hash("345 678 890", name="Name", surname1="FirstSurname", surname2="SecondSurname")
        == "64dd89690038f07b774f3283d4e492550e6b0dc64ecb3a62bb4f99b8157ab031"
    )
    # The hashed string is the channel id followed by the normalised fields.
    assert robinson_hash("+34345678890") == hashlib.sha256(b"040034345678890").hexdigest()


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("+34932404070", "0034932404070"),
        ("93 240 40 70", "0034932404070"),
        ("0325256174", "00340325256174"),
        ("+325256174", "00325256174"),
        ("0034932404070", "0034932404070"),
        ("+34 (93) 240-40-70", "0034932404070"),
    ],
)
def test_phone_normalisation(raw: str, normalised: str) -> None:
    assert normalize_phone(raw) == normalised


def test_text_normalisation() -> None:
    assert normalize_text("José Ñúñez-Gómez") == "josenunezgomez"
    assert normalize_text("Müller 2") == "muller"


# -- AWS Signature Version 4: AWS's published test-suite vectors ----------------------------

AWS_KEY, AWS_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EMPTY = hashlib.sha256(b"").hexdigest()


def _aws(method: str, query: str) -> tuple[str, str, str]:
    return sigv4_sign(
        method=method,
        path="/",
        query=query,
        headers={"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"},
        payload_hash=EMPTY,
        access_key=AWS_KEY,
        secret_key=AWS_SECRET,
        region="us-east-1",
        service="service",
        amz_date="20150830T123600Z",
    )


def test_sigv4_aws_test_suite_vectors() -> None:
    key = sigv4_signing_key(AWS_SECRET, "20150830", "us-east-1", "service")
    assert key.hex() == "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"
    scope, signed, signature = _aws("GET", "")  # get-vanilla
    assert scope == "20150830/us-east-1/service/aws4_request"
    assert signed == "host;x-amz-date"
    assert signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    # get-vanilla-query-order-key-case: parameters are sorted before signing.
    assert (
        _aws("GET", "Param2=value2&Param1=value1")[2]
        == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
    )
    # post-vanilla
    assert _aws("POST", "")[2] == "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"


# -- the conformance suite -------------------------------------------------------------------


class TestRobinsonConformance(RegistryConformance):
    listed_numbers = ("+34612345670", "+34612345671")
    clear_numbers = ("+34612345672", "+34912345673")
    never_numbers = ("+34612345674",)

    @pytest.fixture(autouse=True)
    def _api(self) -> Iterator[None]:
        self.api = FakeRobinson(KEY, SECRET)
        self.made: list[RobinsonRegistry] = []
        yield
        for registry in self.made:
            registry.close()
        self.api.close()

    def make_registry(self) -> Registry:
        registry = _registry(self.api)
        self.made.append(registry)
        return registry

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        _list(self.api, listed)

    def break_registry(self, registry: Registry) -> bool:
        self.api.fail("500")
        return True


# -- behaviour against the fake API ----------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeRobinson]:
    fake = FakeRobinson(KEY, SECRET)
    yield fake
    fake.close()


@pytest.fixture
def client(tmp_path: pathlib.Path) -> Iterator[Compliance]:
    with Compliance(
        f"sqlite:///{tmp_path / 'es.sqlite3'}", rules=RuleBook(packs={}), registries=()
    ) as c:
        yield c


@pytest.fixture
def robinson(api: FakeRobinson, client: Compliance) -> Iterator[RobinsonRegistry]:
    registry = _registry(api)
    registry.bind(client.registry_store)
    yield registry
    registry.close()


NUMBERS = [f"+346123{i:05d}" for i in range(45)]


def test_batches_of_at_most_20_distinct_hashes(
    api: FakeRobinson, robinson: RobinsonRegistry
) -> None:
    _list(api, NUMBERS[::3])
    facts = robinson.facts([*NUMBERS, NUMBERS[0], NUMBERS[1]], NOW)
    assert sorted(api.batches) == [5, 20, 20]
    assert api.count == 3
    assert [f.status for f in facts[:6]] == ["listed", "clear", "clear"] * 2
    assert facts[-2].status == "listed"
    assert facts[-1].status == "clear"


def test_query_string_signature_is_verified_by_the_server(
    api: FakeRobinson, client: Compliance, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    robinson = _registry(api, sign_in="query")
    robinson.bind(client.registry_store)
    _list(api, NUMBERS[:1])
    assert robinson.facts(NUMBERS[:2], NOW)[0].status == "listed"
    robinson.close()
    assert api.signature_checks == ["query"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request: POST" in logged
    assert KEY not in logged, "httpx's request log has the query string redacted"
    assert "X-Amz-Signature" not in logged
    seen = api.requests[0]
    assert seen.query["X-Amz-SignedHeaders"] == "host"
    assert seen.query["X-Amz-Credential"].endswith("/eu-west-1/execute-api/aws4_request")
    assert seen.headers["content-type"].startswith("text/plain")
    assert seen.body.decode() == ",".join(robinson_hash(n) for n in NUMBERS[:2])


def test_header_signature_is_verified_by_the_server(api: FakeRobinson, client: Compliance) -> None:
    registry = _registry(api)
    registry.bind(client.registry_store)
    _list(api, NUMBERS[:1])
    assert registry.facts(NUMBERS[:1], NOW)[0].status == "listed"
    registry.close()
    assert api.signature_checks == ["headers"]
    assert "X-Amz-Signature" not in api.requests[0].query
    assert api.requests[0].headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")


def test_a_wrong_secret_is_refused_and_unavailable(api: FakeRobinson, client: Compliance) -> None:
    registry = _registry(api, secret_key="wrong")
    registry.bind(client.registry_store)
    _list(api, NUMBERS[:1])
    facts = registry.facts(NUMBERS[:2], NOW)
    registry.close()
    assert [f.status for f in facts] == ["unavailable", "unavailable"]
    assert "HTTP 403" in (facts[0].detail or "")
    assert api.count == 1, "a refusal is not retried"


def test_the_signature_is_kept_as_proof(api: FakeRobinson, robinson: RobinsonRegistry) -> None:
    _list(api, NUMBERS[:1], sectors=("3", "7"))
    listed, clear = robinson.facts(NUMBERS[:2], NOW)
    assert listed.evidence is not None
    assert f"sha256={robinson_hash(NUMBERS[0])}" in listed.evidence
    assert "sectors=3#7" in listed.evidence
    assert "signature=" in listed.evidence
    assert clear.evidence is not None
    assert "found=0" in clear.evidence
    assert listed.source == "api.listarobinson.es"


def test_answers_are_cached_for_cache_for(api: FakeRobinson, client: Compliance) -> None:
    registry = _registry(api, cache_for=dt.timedelta(days=30))
    registry.bind(client.registry_store)
    _list(api, NUMBERS[:1])
    assert registry.facts(NUMBERS[:2], NOW)[0].status == "listed"
    assert api.count == 1
    assert registry.facts(NUMBERS[:2], NOW + dt.timedelta(days=29))[0].status == "listed"
    assert api.count == 1, "a second lookup within cache_for makes no request"
    registry.facts(NUMBERS[:2], NOW + dt.timedelta(days=31))
    assert api.count == 2
    registry.close()


@pytest.mark.parametrize(
    ("mode", "requests"),
    [
        ("500", 3),
        ("502", 3),
        ("503", 3),
        ("429", 3),
        ("reset", 3),
        ("sleep", 3),
        ("slow", 3),
        ("garbage", 1),
        ("wrong_type", 1),
    ],
)
def test_faults_give_unavailable_never_clear(
    api: FakeRobinson, robinson: RobinsonRegistry, mode: str, requests: int
) -> None:
    _list(api, NUMBERS[:1])
    api.sleep_for = 1.0
    api.fail(mode)
    facts = robinson.facts(NUMBERS[:3], NOW)
    assert [f.status for f in facts] == ["unavailable"] * 3
    assert all(f.detail for f in facts)
    assert api.count == requests, "retries are bounded"


def test_a_malformed_answer_is_unavailable(api: FakeRobinson, robinson: RobinsonRegistry) -> None:
    original = api.answer

    def drop_signatures(seen: object) -> tuple[int, object]:
        status, body = original(seen)  # type: ignore[arg-type]
        assert isinstance(body, dict)
        return status, {h: {**v, "signature": ""} for h, v in body.items()}

    api.answer = drop_signatures  # type: ignore[method-assign]
    _list(api, NUMBERS[:1])
    facts = robinson.facts(NUMBERS[:2], NOW)
    assert [f.status for f in facts] == ["unavailable", "unavailable"]
    assert "signature" in (facts[0].detail or "")


def test_429_with_retry_after_then_success(api: FakeRobinson, robinson: RobinsonRegistry) -> None:
    _list(api, NUMBERS[:1])
    api.retry_after = "0"
    api.fail("429", times=2)
    assert robinson.facts(NUMBERS[:1], NOW)[0].status == "listed"
    assert api.count == 3


def test_completed_batches_are_kept_when_a_later_one_fails(
    api: FakeRobinson, robinson: RobinsonRegistry
) -> None:
    _list(api, NUMBERS[:25])
    api.fail("ok", times=1)
    api.fail("500", times=3)
    facts = robinson.facts(NUMBERS[:25], NOW)
    assert {f.status for f in facts} == {"unavailable"}
    assert api.count == 4
    again = robinson.facts(NUMBERS[:25], NOW)
    assert {f.status for f in again} == {"listed"}
    assert api.batches == [20, 5], "the first batch was stored, only the rest is asked again"


def test_the_breaker_opens_and_recovers(api: FakeRobinson, robinson: RobinsonRegistry) -> None:
    _list(api, NUMBERS[:1])
    api.fail("500")
    for i in range(3):
        assert robinson.facts([NUMBERS[i]], NOW)[0].status == "unavailable"
    assert api.count == 9
    fact = robinson.facts([NUMBERS[5]], NOW)[0]
    assert fact.status == "unavailable"
    assert "circuit breaker open" in (fact.detail or "")
    assert api.count == 9
    api.heal()
    time.sleep(0.35)
    assert robinson.facts([NUMBERS[0]], NOW)[0].status == "listed"
    assert robinson.http.breaker.state == "closed"


def test_logs_hold_no_numbers_hashes_or_secrets(
    api: FakeRobinson, robinson: RobinsonRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _list(api, NUMBERS[:1])
    api.fail("500", times=2)
    robinson.facts(NUMBERS[:2], NOW)
    api.fail("garbage")
    robinson.facts(NUMBERS[2:4], NOW)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "retrying" in text
    for secret in (SECRET, KEY, NUMBERS[0], NUMBERS[0][1:], robinson_hash(NUMBERS[0])[:16]):
        assert secret not in text
    assert "X-Amz" not in text


# -- configuration ---------------------------------------------------------------------------


def test_credentials_from_arguments_or_environment(
    api: FakeRobinson, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPTOUT_ES_ROBINSON_ACCESS_KEY", raising=False)
    monkeypatch.delenv("OPTOUT_ES_ROBINSON_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPTOUT_ES_ROBINSON_SECRET_KEY"):
        es_robinson(url=api.url)
    monkeypatch.setenv("OPTOUT_ES_ROBINSON_ACCESS_KEY", KEY)
    monkeypatch.setenv("OPTOUT_ES_ROBINSON_SECRET_KEY", SECRET)
    registry = es_robinson(url=api.url)
    assert registry.id == "es_robinson"
    assert registry.cache_for == dt.timedelta(days=30)
    assert SECRET not in repr(registry._signer)
    with pytest.raises(ConfigurationError, match="channel"):
        es_robinson(url=api.url, channel="fax")


def test_created_by_url_through_the_catalog(api: FakeRobinson) -> None:
    url = api.url.replace("http://", "robinson+http://")
    registry = optout.registries.create(url, access_key=KEY, secret_key=SECRET)
    assert isinstance(registry, RobinsonRegistry)
    assert registry.url == api.url
    default = optout.registries.create("es_robinson", access_key=KEY, secret_key=SECRET)
    assert isinstance(default, RobinsonRegistry)
    assert default.url == "https://api.listarobinson.es/v1/api/user"


def test_sms_channel_hashes_with_03(api: FakeRobinson, client: Compliance) -> None:
    registry = _registry(api, channel="sms")
    registry.bind(client.registry_store)
    api.listed[robinson_hash(NUMBERS[0], channel="sms")] = []
    api.loaded = True
    assert registry.facts(NUMBERS[:1], NOW)[0].status == "listed"
    registry.close()


# -- end to end through Compliance -----------------------------------------------------------

PACK = """
[pack]
id = "ES"
name = "Spain (test)"
version = "test"

[[rules]]
id = "es.robinson.registry"
kind = "registry"
title = "Check Lista Robinson before marketing calls"
registry = "es_robinson"
validity = "30d"
purposes = ["marketing"]
confidence = "secondary"
citation = "LOPDGDD art. 23"
"""


def test_end_to_end_listed_clear_and_unreachable(api: FakeRobinson, tmp_path: pathlib.Path) -> None:
    pack = load_pack("test-es.toml", text=PACK)
    registry = _registry(api)
    listed, clear, other = "+34612345670", "+34612345672", "+34612345673"
    _list(api, [listed])
    with Compliance(
        f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
        registries=[registry],
        rules=RuleBook(packs={"ES": pack}),
    ) as client:
        denied = client.can_call(listed, at=NOW)
        assert denied.codes == ("registry.listed",)
        proof = [e for e in denied.evidence if e.kind == "registry"]
        assert proof
        assert proof[0].version is not None
        assert "signature=" in proof[0].version
        assert client.can_call(clear, at=NOW).allowed
        api.fail("500")
        unreachable = client.can_call(other, at=NOW)
        assert unreachable.codes == ("registry.unavailable",)
        # Cached answers still decide while the API is down.
        assert client.can_call(listed, at=NOW).codes == ("registry.listed",)
    registry.close()


def test_fail_open_is_explicit(api: FakeRobinson, tmp_path: pathlib.Path) -> None:
    pack = load_pack("test-es.toml", text=PACK)
    registry = _registry(api, options=optout.registries.RegistryOptions(fail_open=True))
    api.fail("500")
    with Compliance(
        f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
        registries=[registry],
        rules=RuleBook(packs={"ES": pack}),
    ) as client:
        decision = client.can_call("+34612345673", at=NOW)
        assert decision.allowed
        facts = [e for e in decision.evidence if e.kind == "registry"]
        assert facts[0].detail["fail_open"] == "True"
    registry.close()


def test_registry_dataclass_options_are_kept(api: FakeRobinson) -> None:
    options = optout.registries.RegistryOptions(validity=dt.timedelta(days=7))
    registry = _registry(api, options=options)
    assert dataclasses.asdict(registry.options)["validity"] == dt.timedelta(days=7)
    registry.close()
