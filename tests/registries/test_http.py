"""The shared HTTP layer of remote registries, against a real loopback server."""

from __future__ import annotations

import email.utils
import json
import logging
import pathlib
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _fake_apis import FakeJson

from optout import ConfigurationError, RegistryFormatError, RegistryUnavailableError
from optout._registries._http import CircuitBreaker, HttpClient, HttpPolicy

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


@pytest.fixture
def api() -> Iterator[FakeJson]:
    fake = FakeJson()
    fake.loaded = True
    yield fake
    fake.close()


@pytest.fixture
def http() -> Iterator[HttpClient]:
    client = HttpClient("test_registry", policy=FAST)
    yield client
    client.close()


def _state(http: HttpClient) -> str:
    return http.breaker.state


def _call(http: HttpClient, api: FakeJson) -> Any:
    body = json.dumps({"numbers": ["+390612345670"]}).encode()
    return http.post_json(api.url, lambda data: data, content=body)


def test_a_healthy_call(http: HttpClient, api: FakeJson) -> None:
    assert _call(http, api)["results"][0]["listed"] is False
    assert api.count == 1
    assert _state(http) == "closed"


def test_policy_validation_and_backoff() -> None:
    with pytest.raises(ConfigurationError):
        HttpPolicy(max_attempts=0)
    with pytest.raises(ConfigurationError):
        HttpPolicy(read_timeout=0)
    with pytest.raises(ConfigurationError):
        HttpPolicy(jitter=2)
    policy = HttpPolicy(backoff=1.0, backoff_max=5.0, jitter=0.5)
    delays = [policy.retry_delay(n) for n in range(1, 8)]
    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert all(d <= 5.0 for d in delays), "the backoff is capped"
    assert all(d >= 2.5 for d in delays[4:]), "jitter takes at most half"


@pytest.mark.parametrize("mode", ["500", "502", "reset", "sleep", "slow"])
def test_retryable_faults_are_retried_a_bounded_number_of_times(
    http: HttpClient, api: FakeJson, mode: str
) -> None:
    api.sleep_for = 1.0  # longer than the read timeout
    api.trickle = 0.05  # each byte within the read timeout, the whole past the deadline
    api.fail(mode)
    with pytest.raises(RegistryUnavailableError, match="unavailable after 3 attempt"):
        _call(http, api)
    assert api.count == 3


@pytest.mark.parametrize("mode", ["500", "reset", "sleep"])
def test_a_transient_fault_then_success(http: HttpClient, api: FakeJson, mode: str) -> None:
    api.sleep_for = 1.0
    api.fail(mode, times=1)
    assert _call(http, api)["results"]
    assert api.count == 2


@pytest.mark.parametrize(("mode", "error"), [("garbage", "not valid JSON"), ("wrong_type", "html")])
def test_garbled_answers_are_format_errors_and_not_retried(
    http: HttpClient, api: FakeJson, mode: str, error: str
) -> None:
    api.fail(mode)
    with pytest.raises(RegistryFormatError, match=error):
        _call(http, api)
    assert api.count == 1


def test_4xx_is_not_retried(http: HttpClient, api: FakeJson) -> None:
    api.loaded = False  # the fake answers 403
    with pytest.raises(RegistryUnavailableError, match="HTTP 403"):
        _call(http, api)
    assert api.count == 1
    assert _state(http) == "closed", "a refusal is not an outage"


def test_429_retry_after_is_honoured(http: HttpClient, api: FakeJson) -> None:
    api.retry_after = "1"
    api.fail("429", times=1)
    start = time.monotonic()
    assert _call(http, api)["results"]
    assert time.monotonic() - start >= 0.95
    assert api.count == 2


def test_503_retry_after_as_an_http_date(http: HttpClient, api: FakeJson) -> None:
    api.retry_after = email.utils.formatdate(time.time() + 1, usegmt=True)
    api.fail("503", times=1)
    assert _call(http, api)["results"]
    assert api.count == 2


def test_429_without_retry_after_uses_the_rate_limit_wait(http: HttpClient, api: FakeJson) -> None:
    api.fail("429")
    with pytest.raises(RegistryUnavailableError, match="HTTP 429"):
        _call(http, api)
    assert api.count == 3


def test_a_retry_after_longer_than_allowed_gives_up_at_once(
    http: HttpClient, api: FakeJson
) -> None:
    api.retry_after = "3600"
    api.fail("429")
    start = time.monotonic()
    with pytest.raises(RegistryUnavailableError, match="asks to wait 3600s"):
        _call(http, api)
    assert time.monotonic() - start < 1
    assert api.count == 1


def test_connection_refused_is_unavailable(http: HttpClient, api: FakeJson) -> None:
    url = api.url
    api.close()
    with pytest.raises(RegistryUnavailableError, match="connection failed"):
        http.post_json(url, lambda data: data, content=b"{}")


def test_the_circuit_breaker_opens_fails_fast_and_recovers(http: HttpClient, api: FakeJson) -> None:
    api.fail("500")
    for _ in range(3):
        with pytest.raises(RegistryUnavailableError):
            _call(http, api)
    assert api.count == 9
    assert _state(http) == "open"
    with pytest.raises(RegistryUnavailableError, match="circuit breaker open"):
        _call(http, api)
    assert api.count == 9, "an open breaker sends nothing"
    time.sleep(0.35)
    assert _state(http) == "half_open"
    # The trial call fails: the breaker opens again at once.
    with pytest.raises(RegistryUnavailableError, match="unavailable after"):
        _call(http, api)
    assert api.count == 12
    with pytest.raises(RegistryUnavailableError, match="circuit breaker open"):
        _call(http, api)
    api.heal()
    time.sleep(0.35)
    assert _call(http, api)["results"]
    assert _state(http) == "closed"
    assert api.count == 13


def test_garbled_answers_count_for_the_breaker(http: HttpClient, api: FakeJson) -> None:
    api.fail("garbage")
    for _ in range(3):
        with pytest.raises(RegistryFormatError):
            _call(http, api)
    assert _state(http) == "open"


def test_breaker_unit_half_open_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(2, 10.0, clock=lambda: now[0])
    breaker.failure("x")
    breaker.before("x")
    breaker.failure("x")
    with pytest.raises(RegistryUnavailableError):
        breaker.before("x")
    now[0] = 10.0
    breaker.before("x")  # the trial
    with pytest.raises(RegistryUnavailableError):
        breaker.before("x")  # others still fail fast while it runs
    breaker.success()
    breaker.before("x")
    assert breaker.state == "closed"


def test_tls_is_verified_by_default(tmp_path: pathlib.Path) -> None:
    client = HttpClient("x")
    verify = client._verify()
    assert isinstance(verify, ssl.SSLContext)
    assert verify.verify_mode == ssl.CERT_REQUIRED
    assert verify.check_hostname
    with pytest.raises(ConfigurationError, match="CA bundle"):
        HttpClient("x", ca_bundle=tmp_path / "missing.pem")


def test_the_ca_bundle_comes_from_the_environment(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("OPTOUT_CA_BUNDLE", str(bundle))
    assert HttpClient("x").ca_bundle == str(bundle)


def test_insecure_warns_every_time_a_client_is_built(
    api: FakeJson, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="optout.registries.http")
    for _ in range(2):
        client = HttpClient("insecure_one", policy=FAST, insecure=True)
        assert client._verify() is False
        _call(client, api)
        client.close()
    warnings = [r for r in caplog.records if "verification is OFF" in r.getMessage()]
    assert len(warnings) == 2


def test_https_to_a_plain_server_fails_closed(http: HttpClient, api: FakeJson) -> None:
    with pytest.raises(RegistryUnavailableError):
        http.post_json(api.url.replace("http://", "https://"), lambda d: d, content=b"{}")
