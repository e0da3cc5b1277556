"""Profile histories kept in the serving process between requests.

Reading a profile's history (two statements through SQLAlchemy) cost about 1 ms of the 4 ms
of CPU a `GET /v1/rows` took, and a history changes only when an event about that profile is
folded. So each instance keeps the histories it read, and forgets one when told that it
changed: the consumer process of whichever instance folded the event sends the profile ids as
a notice (`PROFILES_CHANGED`) after its commit, and every instance listens.

Notices are at most once, so what they protect is trusted only while they can arrive:
- nothing is kept while the event bus is down, and everything is forgotten when it comes back
  (`EventBus.notices_epoch`), since notices sent meanwhile were lost;
- a read that overlapped a notice is not kept: it may have read what the notice replaced;
- nothing is kept longer than `max_age_s`, a bound on any notice lost some other way."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

import orjson
from prometheus_client import Counter

from cinemesh.platform.events import EventBus
from cinemesh.platform.observability import logger
from cinemesh.services.recommender.service import ProfileHistory

log = logger("recommender.history_cache")

PROFILES_CHANGED = "recommender.profiles.changed"
HISTORY_LOOKUPS = Counter(
    "cinemesh_recommender_history_lookups_total",
    "Profile histories a request needed, by where they came from: kept in memory or read",
    ["source"],
)


def _not_listening() -> None:
    return None


class HistoryCache:
    """Keeps nothing until `epoch` is set (by `listen`, once notices arrive): while it returns
    None nothing is kept, and when its value changes everything kept is forgotten."""

    def __init__(self, *, max_age_s: float = 30.0, max_entries: int = 20_000) -> None:
        self.epoch: Callable[[], Hashable | None] = _not_listening
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, ProfileHistory]] = {}
        self._forgotten = 0  # how many times something was forgotten: a read's ticket
        self._epoch: Hashable | None = None

    def get(self, profile_id: str) -> ProfileHistory | None:
        if not self._trusted():
            HISTORY_LOOKUPS.labels("database").inc()
            return None
        entry = self._entries.get(profile_id)
        if entry is None or entry[0] < time.monotonic():
            HISTORY_LOOKUPS.labels("database").inc()
            return None
        HISTORY_LOOKUPS.labels("memory").inc()
        return entry[1]

    def ticket(self) -> int:
        """Taken before reading a history from the database, handed back to `keep`."""
        self._trusted()  # a change of epoch counts before the read, not during it
        return self._forgotten

    def keep(self, history: ProfileHistory, ticket: int) -> None:
        if not self._trusted() or ticket != self._forgotten:
            return  # none can arrive now, or one arrived (or was lost) during the read
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest kept
        self._entries[history.profile_id] = (time.monotonic() + self.max_age_s, history)

    def forget(self, profile_ids: list[str]) -> None:
        self._forgotten += 1
        for profile_id in profile_ids:
            self._entries.pop(profile_id, None)

    def _trusted(self) -> bool:
        epoch = self.epoch()
        if epoch is None or epoch != self._epoch:
            self._entries.clear()
            self._forgotten += 1
            self._epoch = epoch
        return epoch is not None

    def __len__(self) -> int:
        return len(self._entries)


async def listen(bus: EventBus, cache: HistoryCache) -> None:
    """Forget the histories each notice names."""

    def on_changed(body: bytes) -> None:
        try:
            cache.forget([str(profile) for profile in orjson.loads(body)])
        except (orjson.JSONDecodeError, TypeError):
            log.error("a profiles-changed notice that is not a list of ids", body=body[:200])

    await bus.on_notice(PROFILES_CHANGED, on_changed)
    cache.epoch = lambda: bus.notices_epoch


async def announce(bus: EventBus, profiles: set[str]) -> None:
    """What the consumer process sends after each commit."""
    await bus.notify(PROFILES_CHANGED, orjson.dumps(sorted(profiles)))
