"""The asyncio client runs the same decisions without blocking the loop."""

from __future__ import annotations

import asyncio
import datetime as dt

import optout
from _fakes import NO_RULES

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
IT = "+39 06 1234 5678"


def test_async_client_round_trip(backend_url: str) -> None:
    async def scenario() -> None:
        client = await optout.AsyncCompliance.open(backend_url, rules=NO_RULES, registries=())
        async with client:
            assert (await client.can_call(IT, at=AT)).allowed
            entry = await client.suppress(IT, reason="customer_request", source="web_form")
            denied = await client.can_call(IT, at=AT)
            assert denied.codes == ("suppression.number",)
            assert denied.evidence[1].id == str(entry.id)
            attempt = await client.record_outcome("+39 06 1234 5679", "dnc_request", at=AT)
            assert attempt.suppression_id is not None
            decisions = await asyncio.gather(
                *(client.can_call(n, at=AT) for n in [IT, "+39 06 1234 5679", "+39 06 1234 5670"])
            )
            assert [d.allowed for d in decisions] == [False, False, True]
            assert await client.unsuppress(IT, actor="ops", reason="error") == 1
            assert (await client.can_call(IT, at=AT)).allowed
            assert client.sync.suppressions.list()[0].value == "+390612345679"

    asyncio.run(scenario())


def test_async_bad_number_is_a_denial(backend_url: str) -> None:
    async def scenario() -> optout.Decision:
        async with optout.AsyncCompliance(backend_url, rules=NO_RULES, registries=()) as client:
            return await client.can_call("garbage", at=AT)

    assert asyncio.run(scenario()).codes == ("number.invalid",)
