"""Each profile's last whole home page, kept for about a second. Under heavy load a busy
profile's page is then built once a second instead of once a request; a quiet profile (the
usual case) is built every time, as it never finds a page that recent.

Rules that keep it honest: a page with a degraded part is never kept (so an outage shows on
the next request and every request keeps testing the breaker), and a member's pages are
forgotten as soon as that member changes anything through this gateway instance (starts or
stops watching, edits a list, rates), so nobody misses their own action. Other gateway
instances may show a page up to `fresh_s` old."""

from __future__ import annotations

import time
from collections import OrderedDict

MAX_ACCOUNTS = 50_000


class RecentPages:
    def __init__(self, fresh_s: float) -> None:
        self.fresh_s = fresh_s
        self._pages: OrderedDict[str, dict[str, tuple[float, bytes]]] = OrderedDict()
        self._changed: OrderedDict[str, float] = OrderedDict()

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def get(self, account_id: str, profile_id: str) -> bytes | None:
        if self.fresh_s <= 0:
            return None
        entry = self._pages.get(account_id, {}).get(profile_id)
        if entry is None or self.now() - entry[0] >= self.fresh_s:
            return None
        return entry[1]

    def keep(self, account_id: str, profile_id: str, page: bytes, *, built_from: float) -> None:
        """Keep a page whose build began at `built_from`, unless the member changed something
        since then (the page may not show it)."""
        if self.fresh_s <= 0 or self._changed.get(account_id, -1.0) >= built_from:
            return
        self._pages.setdefault(account_id, {})[profile_id] = (built_from, page)
        self._pages.move_to_end(account_id)
        while len(self._pages) > MAX_ACCOUNTS:
            self._pages.popitem(last=False)

    def forget(self, account_id: str) -> None:
        self._pages.pop(account_id, None)
        self._changed[account_id] = self.now()
        self._changed.move_to_end(account_id)
        while len(self._changed) > MAX_ACCOUNTS:
            self._changed.popitem(last=False)
