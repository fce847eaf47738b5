"""The generic JSON-over-HTTP registry against a loopback fake service."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from _fake_apis import FakeJson

import optout
from optout import Compliance, ConfigurationError, RuleBook
from optout._registries._base import Registry
from optout._registries._http import HttpPolicy
from optout._registries.generic_http import JsonHttpRegistry, http_json_registry
from optout.testing import RegistryConformance

FAST = HttpPolicy(
    connect_timeout=0.5,
    read_timeout=0.25,
    deadline=0.4,
    max_attempts=2,
    backoff=0.01,
    backoff_max=0.05,
    breaker_failures=3,
    breaker_cooldown=0.3,
)
NOW = dt.datetime.now(dt.UTC)


def _registry(api: FakeJson, **kw: Any) -> JsonHttpRegistry:
    options: dict[str, Any] = {"url": api.url, "policy": FAST}
    options.update(kw)
    return http_json_registry(**options)


class TestJsonConformance(RegistryConformance):
    @pytest.fixture(autouse=True)
    def _api(self) -> Iterator[None]:
        self.api = FakeJson()
        self.made: list[JsonHttpRegistry] = []
        yield
        for registry in self.made:
            registry.close()
        self.api.close()

    def make_registry(self) -> Registry:
        registry = _registry(self.api, id="it_customer", country="IT")
        self.made.append(registry)
        return registry

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        self.api.listed.update(dict.fromkeys(listed, "2025-06-01"))
        self.api.loaded = True

    def break_registry(self, registry: Registry) -> bool:
        self.api.fail("garbage")
        return True


@pytest.fixture
def api() -> Iterator[FakeJson]:
    fake = FakeJson()
    fake.loaded = True
    yield fake
    fake.close()


@pytest.fixture
def client(tmp_path: pathlib.Path) -> Iterator[Compliance]:
    with Compliance(
        f"sqlite:///{tmp_path / 'json.sqlite3'}", rules=RuleBook(packs={}), registries=()
    ) as c:
        yield c


def test_layout_dates_proof_and_batches(api: FakeJson, client: Compliance) -> None:
    registry = _registry(api, batch=7)
    registry.bind(client.registry_store)
    numbers = [f"+3906123456{i:02d}" for i in range(20)]
    api.listed = {numbers[0]: "2025-06-01", numbers[1]: "2025-06-01T12:00:00+02:00"}
    api.listed[numbers[2]] = None
    facts = registry.facts(numbers, NOW)
    registry.close()
    assert sorted(api.batches) == [6, 7, 7]
    assert [f.status for f in facts[:4]] == ["listed", "listed", "listed", "clear"]
    assert facts[0].registered_at == dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    assert facts[1].registered_at == dt.datetime(2025, 6, 1, 10, tzinfo=dt.UTC)
    assert facts[2].registered_at is None
    assert facts[0].evidence == f"fake-{numbers[0][-4:]}"
    assert json.loads(api.requests[0].body) == {"numbers": numbers[:7]}
    assert api.requests[0].headers["content-type"] == "application/json"


def test_brazil_national_format_and_country_filter(
    api: FakeJson, client: Compliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTOUT_BR_NMP_TOKEN", "tok-123")
    api.token = "tok-123"
    registry = _registry(api, id="br_nmp", country="br", number_format="national")
    registry.bind(client.registry_store)
    api.listed = {"21912345678": "2025-01-10"}
    facts = registry.facts(["+5521912345678", "+5511912345678", "+390612345670"], NOW)
    registry.close()
    assert [f.status for f in facts] == ["listed", "clear", "clear"]
    assert facts[0].registry == "br_nmp"
    assert "outside this registry" in (facts[2].evidence or "")
    assert json.loads(api.requests[0].body) == {"numbers": ["21912345678", "11912345678"]}


def test_headers_and_digits_format(api: FakeJson, client: Compliance) -> None:
    registry = _registry(api, number_format="digits", headers={"X-Api-Key": "k1"})
    registry.bind(client.registry_store)
    registry.facts(["+390612345670"], NOW)
    registry.close()
    assert api.requests[0].headers["x-api-key"] == "k1"
    assert json.loads(api.requests[0].body) == {"numbers": ["390612345670"]}


@pytest.mark.parametrize(
    "transform",
    [
        lambda p: {"result": p["results"]},
        lambda p: {"results": p["results"][:-1]},
        lambda p: {"results": [{**r, "listed": "yes"} for r in p["results"]]},
        lambda p: {"results": [{**r, "registered_at": "June"} for r in p["results"]]},
        lambda p: {"results": [{**r, "number": 5} for r in p["results"]]},
        lambda p: {"results": p["results"] + p["results"]},
    ],
)
def test_malformed_answers_are_unavailable(
    api: FakeJson, client: Compliance, transform: Any
) -> None:
    api.transform = transform
    registry = _registry(api)
    registry.bind(client.registry_store)
    facts = registry.facts(["+390612345670", "+390612345671"], NOW)
    registry.close()
    assert [f.status for f in facts] == ["unavailable", "unavailable"]
    assert api.count == 1


@pytest.mark.parametrize("mode", ["500", "503", "reset", "sleep", "slow", "wrong_type"])
def test_faults_are_unavailable(api: FakeJson, client: Compliance, mode: str) -> None:
    api.sleep_for = 1.0
    api.fail(mode)
    registry = _registry(api)
    registry.bind(client.registry_store)
    facts = registry.facts(["+390612345670"], NOW)
    registry.close()
    assert facts[0].status == "unavailable"
    assert api.count == (1 if mode == "wrong_type" else 2)


def test_configuration(api: FakeJson) -> None:
    with pytest.raises(ConfigurationError):
        http_json_registry(url="ftp://x")
    with pytest.raises(ConfigurationError):
        http_json_registry(url=api.url, id="Bad-Id")
    with pytest.raises(ConfigurationError):
        http_json_registry(url=api.url, batch=0)
    with pytest.raises(ConfigurationError):
        http_json_registry(url=api.url, country="XX")
    registry = optout.registries.create(api.url.replace("http://", "json+http://"), id="acme")
    assert isinstance(registry, JsonHttpRegistry)
    assert registry.id == "acme"
    assert registry.url == api.url
