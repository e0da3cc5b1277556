"""One fetch per key at a time, shared by every caller that needs it meanwhile (Go's
singleflight). When a cached value runs out under load, one call goes to the dependency
instead of one per request in flight: a crowd of identical calls would push the dependency
past its deadlines and open its breaker, failing everyone instead of no one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    def start(self, key: K, fetch: Callable[[], Awaitable[V]]) -> asyncio.Future[V]:
        """The fetch running for `key`, started now if none is; nobody needs to await it."""
        running = self._running.get(key)
        return running if running is not None else self._launch([key], fetch())

    async def run(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        """The result of the one fetch for `key`; a caller that gives up (its deadline) does
        not cancel it for the others."""
        return await asyncio.shield(self.start(key, fetch))

    async def run_batch(self, keys: list[K], fetch: Callable[[list[K]], Awaitable[V]]) -> list[V]:
        """For keys fetched in batches: the keys already being fetched wait for those fetches,
        the rest are fetched together in one. The results of every fetch waited for."""
        new = [key for key in keys if key not in self._running]
        if new:
            self._launch(new, fetch(new))
        fetches = {id(f): f for f in (self._running[key] for key in keys)}
        return list(await asyncio.gather(*(asyncio.shield(f) for f in fetches.values())))

    def _launch(self, keys: list[K], fetching: Awaitable[V]) -> asyncio.Future[V]:
        """Run one fetch for `keys`, each held as running until it ends."""
        shared = asyncio.ensure_future(fetching)
        for key in keys:
            self._running[key] = shared
            shared.add_done_callback(partial(self._finished, key))
        return shared

    def running(self, key: K) -> bool:
        return key in self._running

    def _finished(self, key: K, done: asyncio.Future[V]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            done.exception()  # a failure is its waiters' to see, or no one's: never "unretrieved"
