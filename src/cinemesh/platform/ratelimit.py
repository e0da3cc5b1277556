"""Token buckets for rate limits: a steady rate with a burst allowance per key."""

from __future__ import annotations

import math
import time
from collections import OrderedDict


class TokenBuckets:
    """One bucket per key (an IP, an account), kept for the most recent keys only."""

    def __init__(self, *, rate_per_s: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Spend one token; 0.0 when allowed, else the seconds until one is available."""
        if self.rate_per_s <= 0:
            return 0.0
        now = time.monotonic()
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate_per_s)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate_per_s


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
