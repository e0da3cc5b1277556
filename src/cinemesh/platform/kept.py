"""Reads a service keeps in memory between requests, until told that what they read changed.

A hot read (a profile's history, its list, its continue-watching rows) changes only when the
service itself writes it, which is rare next to how often it is read. So each instance keeps
what it read, and whichever instance writes sends the changed keys as a notice after its
commit (`EventBus.notify`); every instance listens and forgets them.

Notices are at most once, so what they protect is trusted only while they can arrive:
- nothing is kept while the event bus is down, and everything is forgotten when it comes back
  (`EventBus.notices_epoch`), since notices sent meanwhile were lost;
- a read that overlapped a notice is not kept: it may have read what the notice replaced;
- nothing is kept longer than `max_age_s`, a bound on any notice lost some other way;
- with `settle_s`, a read that began less than that after a notice for its key is not kept
  either: a copy of another service's answers (the gateway's) may have asked an instance of
  that service that had not yet had the same notice."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

import orjson
from prometheus_client import Counter

from cinemesh.platform.events import EventBus
from cinemesh.platform.observability import logger

log = logger("platform.kept")
V = TypeVar("V")
Ticket = tuple[int, float]  # how many times something was forgotten, and when the read began

KEPT_READS = Counter(
    "cinemesh_kept_reads_total",
    "Hot reads a request needed, by what they were and where they came from: kept in memory "
    "or read from the database",
    ["what", "source"],
)


def _not_listening() -> None:
    return None


class KeptReads(Generic[V]):
    """Keeps nothing until `epoch` is set (by `listen`, once notices arrive): while it returns
    None nothing is kept, and when its value changes everything kept is forgotten."""

    def __init__(
        self,
        what: str,
        *,
        max_age_s: float = 30.0,
        max_entries: int = 20_000,
        settle_s: float = 0.0,
    ) -> None:
        self.epoch: Callable[[], Hashable | None] = _not_listening
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self.settle_s = settle_s
        self._entries: dict[str, tuple[float, V]] = {}
        self._forgotten = 0  # how many times something was forgotten: a read's ticket
        self._forgot_at: dict[str, float] = {}  # with settle_s: when each key was last named
        self._forgot_all_at = float("-inf")
        self._epoch: Hashable | None = None
        self._from_memory = KEPT_READS.labels(what, "memory")
        self._from_database = KEPT_READS.labels(what, "database")

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key) if self._trusted() else None
        if entry is None or entry[0] < time.monotonic():
            self._from_database.inc()
            return None
        self._from_memory.inc()
        return entry[1]

    def ticket(self) -> Ticket:
        """Taken before reading, handed back to `keep`."""
        self._trusted()  # a change of epoch counts before the read, not during it
        return self._forgotten, time.monotonic()

    def keep(self, key: str, value: V, ticket: Ticket) -> None:
        if self.max_age_s <= 0 or not self._trusted() or ticket[0] != self._forgotten:
            return  # off, none can arrive now, or one arrived (or was lost) during the read
        if self.settle_s and ticket[1] - self._last_named(key) < self.settle_s:
            return  # the read may have reached an instance that had not had that notice yet
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest kept
        self._entries[key] = (time.monotonic() + self.max_age_s, value)

    async def read_through(self, key: str, read: Callable[[], Awaitable[V]]) -> V:
        """The kept value, else `read()`, kept unless a notice overlapped it."""
        value = self.get(key)
        if value is None:
            ticket = self.ticket()
            value = await read()
            self.keep(key, value, ticket)
        return value

    def forget(self, keys: Iterable[str]) -> None:
        self._forgotten += 1
        now = time.monotonic()
        for key in keys:
            self._entries.pop(key, None)
            if self.settle_s:
                self._forgot_at[key] = now
        if len(self._forgot_at) > self.max_entries:
            self._forgot_at = {k: t for k, t in self._forgot_at.items() if now - t < self.settle_s}

    def forget_all(self) -> None:
        self._forgotten += 1
        self._entries.clear()
        self._forgot_all_at = time.monotonic()

    def _last_named(self, key: str) -> float:
        return max(self._forgot_at.get(key, float("-inf")), self._forgot_all_at)

    def _trusted(self) -> bool:
        epoch = self.epoch()
        if epoch is None or epoch != self._epoch:
            self._entries.clear()
            self._forgotten += 1
            self._epoch = epoch
        return epoch is not None

    def __len__(self) -> int:
        return len(self._entries)


async def listen(
    bus: EventBus, kept: KeptReads[V], notice: str, *, cleared_by: str | None = None
) -> None:
    """Forget the keys each `notice` names, and everything at each `cleared_by`, from now on."""

    def on_changed(body: bytes) -> None:
        try:
            kept.forget([str(key) for key in orjson.loads(body)])
        except (orjson.JSONDecodeError, TypeError):
            log.error("a notice that is not a list of keys", notice=notice, body=body[:200])

    await bus.on_notice(notice, on_changed)
    if cleared_by is not None:
        await bus.on_notice(cleared_by, lambda _body: kept.forget_all())
    kept.epoch = lambda: bus.notices_epoch


async def announce(bus: EventBus, notice: str, keys: Iterable[str]) -> None:
    """What a writer sends after its commit."""
    await bus.notify(notice, orjson.dumps(sorted(keys)))
