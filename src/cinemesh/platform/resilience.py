"""Circuit breaker, bulkhead and retry budget: the Hystrix half of the resilient client."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum


class Rejected(Exception):
    """A call not attempted because a breaker is open or a bulkhead is full."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    window_s: float = 10.0
    min_calls: int = 5
    failure_ratio: float = 0.5
    consecutive_failures: int = 5
    open_for_s: float = 3.0
    half_open_probes: int = 1


class CircuitBreaker:
    """Opens when recent calls mostly fail, lets probes through after a pause, closes on success."""

    def __init__(self, policy: BreakerPolicy | None = None) -> None:
        self.policy = policy or BreakerPolicy()
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._results: deque[tuple[float, bool]] = deque()
        self._failures_in_window = 0
        self._consecutive = 0
        self._probes = 0
        self.times_opened = 0

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def _cooled_down(self) -> bool:
        return time.monotonic() - self._opened_at >= self.policy.open_for_s

    def before_call(self) -> None:
        """Raise Rejected while open; in half-open admit only a few probes."""
        if self._state is BreakerState.CLOSED:
            return
        if self._state is BreakerState.OPEN:
            if not self._cooled_down():
                raise Rejected("circuit open")
            self._state = BreakerState.HALF_OPEN
            self._probes = 0
        if self._probes >= self.policy.half_open_probes:
            raise Rejected("circuit half-open, probe in flight")
        self._probes += 1

    def abandon(self) -> None:
        """A call let through ended with nothing learnt of the dependency (cancelled by its
        caller, or turned away by the bulkhead): free its probe slot, change nothing else."""
        if self._state is BreakerState.HALF_OPEN:
            self._probes = max(0, self._probes - 1)

    def record(self, *, success: bool) -> None:
        now = time.monotonic()
        if self._state is BreakerState.HALF_OPEN:
            self._probes = max(0, self._probes - 1)
            if success:
                self._close()
            else:
                self._open(now)
            return
        self._results.append((now, success))
        self._failures_in_window += not success
        while self._results and now - self._results[0][0] > self.policy.window_s:
            _, ok = self._results.popleft()
            self._failures_in_window -= not ok
        self._consecutive = 0 if success else self._consecutive + 1
        if not success and self._state is BreakerState.CLOSED and self._should_trip():
            self._open(now)

    def _should_trip(self) -> bool:
        if self._consecutive >= self.policy.consecutive_failures:
            return True
        if len(self._results) < self.policy.min_calls:
            return False
        return self._failures_in_window / len(self._results) >= self.policy.failure_ratio

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self.times_opened += 1

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._results.clear()
        self._failures_in_window = 0
        self._consecutive = 0


class Bulkhead:
    """Caps concurrent calls to one dependency; a caller waits briefly, then is rejected."""

    def __init__(self, max_concurrent: int = 64, max_wait_s: float = 0.05) -> None:
        self.max_concurrent = max_concurrent
        self.max_wait_s = max_wait_s
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self.in_flight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore.locked():  # only a full bulkhead pays for a timed wait
            try:
                await asyncio.wait_for(self._semaphore.acquire(), timeout=self.max_wait_s)
            except TimeoutError:
                raise Rejected("bulkhead full") from None
        else:
            await self._semaphore.acquire()
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._semaphore.release()


class RetryBudget:
    """Retries may add at most `ratio` of recent requests (plus a small floor per second)."""

    def __init__(self, ratio: float = 0.2, min_per_s: float = 5.0, window_s: float = 10.0) -> None:
        self.ratio = ratio
        self.min_per_s = min_per_s
        self.window_s = window_s
        self._requests: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _trim(self, now: float) -> None:
        for q in (self._requests, self._retries):
            while q and now - q[0] > self.window_s:
                q.popleft()

    def record_request(self) -> None:
        self._requests.append(time.monotonic())

    def try_spend(self) -> bool:
        now = time.monotonic()
        self._trim(now)
        allowed = self.min_per_s * self.window_s + self.ratio * len(self._requests)
        if len(self._retries) >= allowed:
            return False
        self._retries.append(now)
        return True


def backoff_s(attempt: int, *, base_s: float = 0.025, cap_s: float = 0.5) -> float:
    """Full-jitter exponential backoff."""
    return random.uniform(0, min(cap_s, base_s * 2**attempt))
