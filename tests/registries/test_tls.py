"""TLS for the remote registries, against a real HTTPS server on loopback.

The server's certificate (for 127.0.0.1) is signed by a throwaway test CA kept in
``tls/``: not in any system store, so verification with the defaults must refuse it, a
``ca_bundle`` (or ``$OPTOUT_CA_BUNDLE``) naming the CA must accept it, and only
``insecure=True`` (logged as a WARNING) may skip verification. Plain ``http://`` is
accepted only to a loopback address (or with ``insecure=True``).
"""

from __future__ import annotations

import datetime as dt
import logging
import pathlib
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _fake_apis import FakeJson

from optout import Compliance, ConfigurationError, RegistryUnavailableError, RuleBook
from optout._registries._http import HttpClient, HttpPolicy, check_endpoint
from optout._registries.es import es_robinson
from optout._registries.generic_http import http_json_registry
from optout._registries.us_rnd import us_rnd
from optout.registries import RegistryFact

TLS = pathlib.Path(__file__).with_name("tls")
CA = TLS / "ca.pem"
NUMBER = "+390612345670"
NO_RULES = RuleBook(packs={}, unsupported="allow")
FAST = HttpPolicy(
    connect_timeout=1.0,
    read_timeout=1.0,
    deadline=2.0,
    max_attempts=2,
    backoff=0.01,
    backoff_max=0.02,
    breaker_failures=5,
    breaker_cooldown=0.2,
)


@pytest.fixture
def https_api() -> Iterator[FakeJson]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "server.pem", TLS / "server.key")
    fake = FakeJson(tls=context)
    fake.loaded = True
    fake.listed[NUMBER] = "2025-06-01"
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def _no_ca_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTOUT_CA_BUNDLE", raising=False)


def _post(client: HttpClient, api: FakeJson) -> Any:
    try:
        return client.post_json(api.url, lambda data: data, content=b'{"numbers": ["+1"]}')
    finally:
        client.close()


def _facts(url: str, tmp_path: pathlib.Path, **kw: Any) -> list[RegistryFact]:
    """What an ``http_json`` registry at ``url``, bound to a fresh database, answers."""
    registry = http_json_registry(url=url, id="it_customer", policy=FAST, **kw)
    try:
        with Compliance(
            f"sqlite:///{tmp_path / 'tls.sqlite3'}", rules=NO_RULES, registries=[registry]
        ):
            return registry.facts([NUMBER, "+390612345671"], dt.datetime.now(dt.UTC))
    finally:
        registry.close()


def test_an_unknown_ca_is_refused_by_default_without_retrying(
    https_api: FakeJson, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="optout.registries.http")
    assert https_api.url.startswith("https://127.0.0.1:")
    with pytest.raises(RegistryUnavailableError, match="TLS certificate verification failed"):
        _post(HttpClient("tls_test", policy=FAST), https_api)
    assert https_api.count == 0  # the handshake failed: no request reached the handler
    assert not any("retrying" in r.getMessage() for r in caplog.records)


def test_a_registry_behind_an_unknown_ca_is_unavailable_never_clear(
    https_api: FakeJson, tmp_path: pathlib.Path
) -> None:
    facts = _facts(https_api.url, tmp_path)
    assert [f.status for f in facts] == ["unavailable", "unavailable"]
    assert all("certificate" in (f.detail or "") for f in facts)


def test_a_custom_ca_bundle_verifies_the_server(
    https_api: FakeJson, tmp_path: pathlib.Path
) -> None:
    assert _post(HttpClient("tls_test", policy=FAST, ca_bundle=CA), https_api)["results"]
    listed, clear = _facts(https_api.url, tmp_path, ca_bundle=CA)
    assert (listed.status, clear.status) == ("listed", "clear")


def test_the_ca_bundle_from_the_environment_verifies_the_server(
    https_api: FakeJson, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTOUT_CA_BUNDLE", str(CA))
    assert _post(HttpClient("tls_test", policy=FAST), https_api)["results"]


def test_insecure_skips_verification_and_says_so(
    https_api: FakeJson, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="optout.registries.http")
    assert _post(HttpClient("tls_test", policy=FAST, insecure=True), https_api)["results"]
    assert any("verification is OFF" in r.getMessage() for r in caplog.records)


# -- plain http -------------------------------------------------------------------------------

FACTORIES: dict[str, Callable[..., object]] = {
    "http_json": lambda url, **kw: http_json_registry(url=url, id="acme_dnc", **kw),
    "us_rnd": lambda url, **kw: us_rnd(url=url, api_key="k", **kw),
    "es_robinson": lambda url, **kw: es_robinson(url=url, access_key="a", secret_key="s", **kw),
}


@pytest.mark.parametrize("backend", sorted(FACTORIES))
def test_plain_http_to_another_host_is_refused(backend: str) -> None:
    with pytest.raises(ConfigurationError, match="without TLS"):
        FACTORIES[backend]("http://registry.example/api")
    with pytest.raises(ConfigurationError, match="https://"):
        FACTORIES[backend]("ftp://registry.example/api")


@pytest.mark.parametrize("backend", sorted(FACTORIES))
@pytest.mark.parametrize(
    "url", ["https://registry.example/api", "http://127.0.0.1:9/api", "http://localhost/api"]
)
def test_https_and_loopback_http_are_accepted(backend: str, url: str) -> None:
    registry = FACTORIES[backend](url)
    close = getattr(registry, "close", None)
    if close is not None:
        close()


def test_plain_http_with_insecure_is_accepted_loudly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="optout.registries.http")
    url = "http://registry.example/api"
    assert check_endpoint("acme_dnc", url, insecure=True) == url
    assert any("without TLS" in r.getMessage() for r in caplog.records)
    assert check_endpoint("acme_dnc", "http://[::1]:8080/x", insecure=False)
