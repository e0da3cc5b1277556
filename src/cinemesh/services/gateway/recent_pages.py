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

from cinemesh.platform.single_flight import SingleFlight

MAX_ACCOUNTS = 50_000
Build = Callable[[], Awaitable[tuple[bytes, bool]]]  # the page, and whether it is whole
Key = tuple[str, str]
Kept = tuple[float, bytes, bool]  # built from, the page, whole
DEGRADED_SHARE = 0.25  # of the window, for a page with a degraded part


class RecentPages:
    def __init__(self, fresh_s: float) -> None:
        self.fresh_s = fresh_s
        self._pages: OrderedDict[str, dict[str, Kept]] = OrderedDict()
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
                self._building.start(key, lambda: self._build_and_keep(key, build))
                return body, "reused"
        return await self._building.run(key, lambda: self._build_and_keep(key, build)), "built"

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
        if self.fresh_s <= 0 or self._changed.get(account_id, -1.0) >= built_from:
            self._pages.get(account_id, {}).pop(profile_id, None)
            return
        self._pages.setdefault(account_id, {})[profile_id] = (built_from, page, whole)
        self._pages.move_to_end(account_id)
        while len(self._pages) > MAX_ACCOUNTS:
            self._pages.popitem(last=False)

    def get(self, account_id: str, profile_id: str) -> bytes | None:
        """The kept page while it is fresh (for looking, not serving)."""
        kept = self._pages.get(account_id, {}).get(profile_id)
        return kept[1] if kept and self.now() - kept[0] < self.fresh_s else None

    def forget(self, account_id: str) -> None:
        self._pages.pop(account_id, None)
        self._changed[account_id] = self.now()
        self._changed.move_to_end(account_id)
        while len(self._changed) > MAX_ACCOUNTS:
            self._changed.popitem(last=False)
