"""The US Reassigned Numbers Database backend against a loopback fake of its API."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from collections.abc import Iterator, Sequence

import pytest
from _fake_apis import FakeRnd

import optout
from optout import Compliance, ConfigurationError, RuleBook
from optout._registries._base import Registry
from optout._registries._http import HttpPolicy
from optout._registries.us_rnd import RND_DATA_START, RndRegistry, us_rnd
from optout._rules._book import load_pack
from optout.testing import RegistryConformance

FAST = HttpPolicy(
    connect_timeout=0.5,
    read_timeout=0.25,
    deadline=0.4,
    max_attempts=3,
    backoff=0.01,
    backoff_max=0.05,
    breaker_failures=3,
    breaker_cooldown=0.3,
)
NOW = dt.datetime.now(dt.UTC)


def _registry(api: FakeRnd, **kw: object) -> RndRegistry:
    options: dict[str, object] = {"url": api.url, "api_key": "rnd-key", "policy": FAST}
    options.update(kw)
    return us_rnd(**options)  # type: ignore[arg-type]


class TestRndConformance(RegistryConformance):
    listed_numbers = ("+12025550170", "+12025550171")
    clear_numbers = ("+12025550172", "+12025550173")
    never_numbers = ("+12025550174",)

    @pytest.fixture(autouse=True)
    def _api(self) -> Iterator[None]:
        self.api = FakeRnd()
        self.made: list[RndRegistry] = []
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
        for n in listed:
            self.api.data[n[2:]] = ("yes", "2024-03-15")
        for n in clear:
            self.api.data[n[2:]] = ("no", None)
        self.api.loaded = True

    def break_registry(self, registry: Registry) -> bool:
        self.api.fail("reset")
        return True


@pytest.fixture
def api() -> Iterator[FakeRnd]:
    fake = FakeRnd()
    fake.loaded = True
    yield fake
    fake.close()


@pytest.fixture
def client(tmp_path: pathlib.Path) -> Iterator[Compliance]:
    with Compliance(
        f"sqlite:///{tmp_path / 'rnd.sqlite3'}", rules=RuleBook(packs={}), registries=()
    ) as c:
        yield c


@pytest.fixture
def rnd(api: FakeRnd, client: Compliance) -> Iterator[RndRegistry]:
    registry = _registry(api)
    registry.bind(client.registry_store)
    yield registry
    registry.close()


def test_yes_no_and_no_data(api: FakeRnd, rnd: RndRegistry) -> None:
    api.data = {
        "2025550170": ("yes", "2024-03-15"),
        "2025550171": ("yes", None),
        "2025550172": ("no", None),
        "2025550173": ("no_data", None),
    }
    dated, undated, no, nodata = rnd.facts(
        ["+12025550170", "+12025550171", "+12025550172", "+12025550173"], NOW
    )
    assert dated.status == "listed"
    assert dated.registered_at == dt.datetime(2024, 3, 15, tzinfo=dt.UTC)
    assert dated.evidence is not None
    assert "disconnected on 2024-03-15" in dated.evidence
    assert "query Q1" in dated.evidence
    assert undated.status == "listed"
    assert undated.registered_at == dt.datetime(2021, 1, 27, tzinfo=dt.UTC), "the query date"
    assert no.status == "clear"
    assert no.evidence is not None
    assert "safe harbour" in no.evidence
    assert nodata.status == "clear"
    assert nodata.evidence is not None
    assert "no data" in nodata.evidence
    assert "no safe harbour" in nodata.evidence
    body = json.loads(api.requests[0].body)
    assert body["queries"][0] == {"tn": "2025550170", "date": RND_DATA_START.isoformat()}
    assert api.requests[0].headers["authorization"] == "Bearer rnd-key"


def test_undated_yes_can_void_everything_before_the_check(api: FakeRnd, client: Compliance) -> None:
    registry = _registry(api, undated="checked_at")
    registry.bind(client.registry_store)
    api.data = {"2025550171": ("yes", None)}
    fact = registry.facts(["+12025550171"], NOW)[0]
    registry.close()
    assert fact.registered_at is not None
    assert fact.registered_at == fact.checked_at


def test_query_date_as_a_look_back(api: FakeRnd, client: Compliance) -> None:
    registry = _registry(api, since=dt.timedelta(days=90), company_id="ACME1")
    registry.bind(client.registry_store)
    registry.facts(["+12025550170"], NOW)
    registry.close()
    body = json.loads(api.requests[0].body)
    assert body["queries"][0]["date"] == (NOW - dt.timedelta(days=90)).date().isoformat()
    assert body["company_id"] == "ACME1"


def test_batches_of_at_most_1000(api: FakeRnd, rnd: RndRegistry) -> None:
    numbers = [f"+1202555{i:04d}" for i in range(2500)]
    api.data = {n[2:]: ("yes", "2025-01-01") for n in numbers[::500]}
    facts = rnd.facts(numbers, NOW)
    assert sorted(api.batches) == [500, 1000, 1000]
    assert sum(f.status == "listed" for f in facts) == 5
    rnd.facts(numbers, NOW)
    assert api.count == 3, "cached"


def test_numbers_outside_the_us_are_not_sent(api: FakeRnd, rnd: RndRegistry) -> None:
    facts = rnd.facts(["+390612345670", "+12025550170"], NOW)
    assert [f.status for f in facts] == ["clear", "clear"]
    assert "outside the RND" in (facts[0].evidence or "")
    assert api.batches == [1]
    rnd.facts(["+34612345670"], NOW)
    assert api.count == 1


@pytest.mark.parametrize("mode", ["500", "reset", "sleep", "garbage", "wrong_type"])
def test_faults_are_unavailable(api: FakeRnd, rnd: RndRegistry, mode: str) -> None:
    api.sleep_for = 1.0
    api.fail(mode)
    facts = rnd.facts(["+12025550170", "+12025550171"], NOW)
    assert [f.status for f in facts] == ["unavailable", "unavailable"]
    assert api.count == (1 if mode in ("garbage", "wrong_type") else 3)


def test_an_unknown_result_is_unavailable(api: FakeRnd, rnd: RndRegistry) -> None:
    api.data = {"2025550170": ("maybe", None)}
    assert rnd.facts(["+12025550170"], NOW)[0].status == "unavailable"


def test_configuration(api: FakeRnd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTOUT_US_RND_URL", raising=False)
    monkeypatch.delenv("OPTOUT_US_RND_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPTOUT_US_RND_URL"):
        us_rnd(api_key="k")
    with pytest.raises(ConfigurationError, match="OPTOUT_US_RND_API_KEY"):
        us_rnd(url=api.url)
    with pytest.raises(ConfigurationError, match="batch"):
        us_rnd(url=api.url, api_key="k", batch=1001)
    with pytest.raises(ConfigurationError, match="company_id"):
        us_rnd(url=api.url, api_key="k", company_id="x")
    monkeypatch.setenv("OPTOUT_US_RND_URL", api.url)
    monkeypatch.setenv("OPTOUT_US_RND_API_KEY", "rnd-key")
    registry = optout.registries.create("us_rnd")
    assert isinstance(registry, RndRegistry)
    assert registry.id == "us_rnd"
    by_url = optout.registries.create(api.url.replace("http://", "rnd+http://"))
    assert isinstance(by_url, RndRegistry)
    assert by_url.url == api.url


PACK = """
[pack]
id = "US"
name = "United States (test)"
version = "test"

[[rules]]
id = "us.consent.reassigned"
kind = "consent"
title = "Autodialed calls need prior express written consent from the current subscriber"
accepted = ["express_written"]
voided_by = ["us_rnd"]
purposes = ["marketing"]
confidence = "secondary"
citation = "47 CFR 64.1200(a)(2), (m)"
"""


def test_a_consent_given_before_the_disconnection_is_void(
    api: FakeRnd, tmp_path: pathlib.Path
) -> None:
    registry = _registry(api)
    number = "+12025550170"
    api.data = {"2025550170": ("yes", "2024-03-15")}
    with Compliance(
        f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
        registries=[registry],
        rules=RuleBook(packs={"US": load_pack("test-us.toml", text=PACK)}),
    ) as client:
        client.consents.add(
            number, "express_written", given_at=dt.datetime(2023, 5, 1, tzinfo=dt.UTC), proof="f1"
        )
        denied = client.can_call(number, at=NOW)
        assert denied.codes == ("consent.voided_by_registry",)
        assert "2024-03-15" in denied.reasons[0].message
        client.consents.add(
            number, "express_written", given_at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC), proof="f2"
        )
        assert client.can_call(number, at=NOW).allowed
        # A number that was not disconnected keeps its old consent.
        other = "+12025550172"
        client.consents.add(
            other, "express_written", given_at=dt.datetime(2023, 5, 1, tzinfo=dt.UTC), proof="f3"
        )
        assert client.can_call(other, at=NOW).allowed
    registry.close()
