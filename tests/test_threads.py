"""One client shared by many threads: no lost write, no error surfacing."""

from __future__ import annotations

import concurrent.futures
import datetime as dt

from optout import Compliance

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)


def _number(i: int) -> str:
    return f"+39 06 1234 {i:04d}"


def test_many_threads_read_and_write_at_once(client: Compliance) -> None:
    def work(i: int) -> bool:
        client.suppressions.add(_number(i), reason="thread", at=AT)
        client.record_outcome(_number(i + 1000), "busy", at=AT)
        return client.can_call(_number(i), at=AT).allowed

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(80)))
    assert results == [False] * 80
    assert len(client.suppressions.list()) == 80
    assert all(client.can_call(_number(i + 1000), at=AT).allowed for i in range(80))
