"""Each profile's last whole home page, reused for about a second. Under heavy load a busy
profile's page is then built about once a second instead of once a request; a quiet profile
(the usual case) never finds a page that recent and is built every time.

A page under `fresh_s` old is served as it is. One under twice that is served too, while a
single rebuild runs in the background (stale-while-revalidate), so a busy profile's viewers
never wait for a build; an older page is rebuilt first, once however many requests ask.

What keeps it honest: a page with a degraded part shows the outage, is reused for only a
quarter of the window and never served stale, so a recovery shows within a quarter second and
the breaker keeps getting calls, while an overloaded dependency is not asked for every single
page (which would deepen the overload). A member's pages are forgotten as soon as that member
changes anything through this gateway instance (starts or stops watching, edits a list,
rates), so nobody misses their own action. Other gateway instances may show a page up to
2 x `fresh_s` old."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from cinemesh.platform.concurrency import Priority, at_priority
from cinemesh.platform.single_flight import SingleFlight

MAX_ACCOUNTS = 50_000
# Pages are kept only while they can still be served (2 x fresh_s) and within this many bytes,
# far under a gateway pod's memory limit (deploy/k8s/base/gateway.yaml): at 20 KB a page, the
# busiest 1,600 profiles' pages.
MAX_BYTES = 32 * 1024**2
Build = Callable[[], Awaitable[tuple[bytes, bool]]]  # the page, and whether it is whole
Key = tuple[str, str]
Kept = tuple[float, bytes, bool]  # built from, the page, whole
DEGRADED_SHARE = 0.25  # of the window, for a page with a degraded part


class RecentPages:
    def __init__(self, fresh_s: float) -> None:
        self.fresh_s = fresh_s
        self._pages: OrderedDict[str, dict[str, Kept]] = OrderedDict()  # least recent first
        self._bytes = 0
        self._changed: OrderedDict[str, float] = OrderedDict()
        self._building: SingleFlight[Key, bytes] = SingleFlight()

    @staticmethod
    def now() -> float:
        return time.monotonic()

    async def page(self, account_id: str, profile_id: str, build: Build) -> tuple[bytes, str]:
        """The profile's page and how it was had: "reused" or "built"."""
        if self.fresh_s <= 0:
            return (await build())[0], "built"
        key = (account_id, profile_id)
        kept = self._pages.get(account_id, {}).get(profile_id)
        if kept is not None:
            built_from, body, whole = kept
            age = self.now() - built_from
            if age < self.fresh_s * (1.0 if whole else DEGRADED_SHARE):
                return body, "reused"
            if whole and age < 2 * self.fresh_s:
                self._building.start(key, lambda: self._rebuild_behind(key, build))
                return body, "reused"
        return await self._building.run(key, lambda: self._build_and_keep(key, build)), "built"

    async def _rebuild_behind(self, key: Key, build: Build) -> bytes:
        """A stale page's rebuild, which no viewer waits for: its calls are background work,
        the first the services shed when they are past their limits."""
        with at_priority(Priority.BACKGROUND):
            return await self._build_and_keep(key, build)

    async def _build_and_keep(self, key: Key, build: Build) -> bytes:
        started = self.now()
        body, whole = await build()
        self.keep(*key, body, built_from=started, whole=whole)
        return body

    def keep(
        self,
        account_id: str,
        profile_id: str,
        page: bytes,
        *,
        built_from: float,
        whole: bool = True,
    ) -> None:
        """Keep a page whose build began at `built_from`, unless the member changed something
        since then (the page may not show it)."""
        self._drop(account_id, profile_id)
        if self.fresh_s <= 0 or self._changed.get(account_id, -1.0) >= built_from:
            return
        self._pages.setdefault(account_id, {})[profile_id] = (built_from, page, whole)
        self._pages.move_to_end(account_id)
        self._bytes += len(page)
        self._trim()

    def _drop(self, account_id: str, profile_id: str) -> None:
        kept = self._pages.get(account_id, {}).pop(profile_id, None)
        if kept is not None:
            self._bytes -= len(kept[1])

    def _trim(self) -> None:
        """Let go of the least recently kept accounts' pages while too many bytes or accounts
        are kept, or while they are too old to be served."""
        too_old = self.now() - 2 * self.fresh_s
        while self._pages:
            oldest = next(iter(self._pages.values()))
            useless = all(built_from < too_old for built_from, _, _ in oldest.values())
            if not useless and self._bytes <= MAX_BYTES and len(self._pages) <= MAX_ACCOUNTS:
                return
            self._forget_pages(next(iter(self._pages)))

    def _forget_pages(self, account_id: str) -> None:
        pages = self._pages.pop(account_id, {})
        self._bytes -= sum(len(page) for _, page, _ in pages.values())

    @property
    def kept_bytes(self) -> int:
        return self._bytes

    def get(self, account_id: str, profile_id: str) -> bytes | None:
        """The kept page while it is fresh (for looking, not serving)."""
        kept = self._pages.get(account_id, {}).get(profile_id)
        return kept[1] if kept and self.now() - kept[0] < self.fresh_s else None

    def forget(self, account_id: str) -> None:
        self._forget_pages(account_id)
        self._changed[account_id] = self.now()
        self._changed.move_to_end(account_id)
        while len(self._changed) > MAX_ACCOUNTS:
            self._changed.popitem(last=False)
