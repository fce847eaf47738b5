"""An asyncio front for :class:`optout.Compliance`.

Decisions are short, indexed database reads, so the async client runs the same code as
the sync one in worker threads (``asyncio.to_thread``) instead of keeping a second,
async-driver implementation that could drift from it. The event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine

from optout._client import Attempt, Compliance
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
    async def open(
        cls,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        default_region: str | None = None,
        migrate: bool | None = None,
    ) -> AsyncCompliance:
        """Create a client without blocking the event loop."""
        return await asyncio.to_thread(
            cls, url, engine=engine, default_region=default_region, migrate=migrate
        )

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        default_region: str | None = None,
        migrate: bool | None = None,
    ) -> None:
        self._sync = Compliance(url, engine=engine, default_region=default_region, migrate=migrate)

    @property
    def sync(self) -> Compliance:
        """The underlying sync client (for the rarely used, blocking management calls)."""
        return self._sync

    async def can_call(self, number: object, **kwargs: Any) -> Decision:
        """Await :meth:`optout.Compliance.can_call`."""
        return await asyncio.to_thread(self._sync.can_call, number, **kwargs)

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
