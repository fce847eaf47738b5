"""An asyncio front for :class:`optout.Compliance`.

Decisions are short, indexed database reads, so the async client runs the same code as
the sync one in worker threads (``asyncio.to_thread``) instead of keeping a second,
async-driver implementation that could drift from it. The event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from typing import Any

from optout._client import Attempt, Compliance, Reservation
from optout._decision import Decision
from optout._suppressions import Suppression
from optout._vocab import Outcome

__all__ = ["AsyncCompliance"]


class AsyncCompliance:
    """The async twin of :class:`optout.Compliance`; same arguments, awaitable methods.

    The constructor connects (and on SQLite may migrate) synchronously; inside a running
    loop prefer ``client = await AsyncCompliance.open(url)``, which does that in a worker
    thread. ``await client.aclose()`` (or use ``async with``) when done.
    """

    @classmethod
    async def open(cls, url: str | None = None, **options: Any) -> AsyncCompliance:
        """Create a client without blocking the event loop (same arguments)."""
        return await asyncio.to_thread(functools.partial(cls, url, **options))

    def __init__(self, url: str | None = None, **options: Any) -> None:
        """Takes exactly the arguments of :class:`optout.Compliance`."""
        self._sync = Compliance(url, **options)

    @property
    def sync(self) -> Compliance:
        """The underlying sync client (for the rarely used, blocking management calls)."""
        return self._sync

    async def can_call(self, number: object, **kwargs: Any) -> Decision:
        """Await :meth:`optout.Compliance.can_call`."""
        return await asyncio.to_thread(self._sync.can_call, number, **kwargs)

    async def reserve(self, number: object, **kwargs: Any) -> Reservation:
        """Await :meth:`optout.Compliance.reserve`."""
        return await asyncio.to_thread(self._sync.reserve, number, **kwargs)

    async def record_outcome(self, number: str, outcome: Outcome | str, **kwargs: Any) -> Attempt:
        """Await :meth:`optout.Compliance.record_outcome`."""
        return await asyncio.to_thread(self._sync.record_outcome, number, outcome, **kwargs)

    async def suppress(self, number: str, *, reason: str, **kwargs: Any) -> Suppression:
        """Await :meth:`optout.SuppressionList.add` (write-first: returns once stored)."""
        return await asyncio.to_thread(self._sync.suppressions.add, number, reason=reason, **kwargs)

    async def unsuppress(
        self, number: str, *, actor: str, reason: str, at: dt.datetime | None = None, **kwargs: Any
    ) -> int:
        """Await :meth:`optout.SuppressionList.remove`."""
        return await asyncio.to_thread(
            self._sync.suppressions.remove, number, actor=actor, reason=reason, at=at, **kwargs
        )

    async def aclose(self) -> None:
        """Release the connections (of an engine this client created)."""
        await asyncio.to_thread(self._sync.close)

    async def __aenter__(self) -> AsyncCompliance:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
