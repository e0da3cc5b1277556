"""kill -9 of history while playback's progress events pour in loses nothing acknowledged, on
both backends: history's writes are the `playback.progress` events JetStream acknowledged, and
after the restart every one of them shows (continue watching, or the watched list past 95%),
later positions win over earlier ones, and each finish was announced exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from cinemesh.contracts.history import TitleWatched
from cinemesh.contracts.playback import PlaybackProgress
from cinemesh.platform.events import SHARED_ACK_WAIT_S, Event, EventBus
from tests.catalog.api import start_platform
from tests.playback.media import collect
from tests.support.backends import Backend
from tests.support.event_load import publish_while_killing
from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint

SERVICES = ["registry", "history"]  # read straight from history, as the gateway reads it
PROFILES = 4
DURATION_S = 600.0
KILL_AFTER_S = 1.5
LOAD_S = 4.0
EVENTS_PER_S = 150
# JetStream redelivers what the killed instance had fetched but not acknowledged after the
# consumer's ack wait, so the last of those events may show only that late
CAUGHT_UP_WITHIN_S = SHARED_ACK_WAIT_S + 15.0


@dataclass
class Viewer:
    account_id: str
    profile_id: str
    headers: dict[str, str]  # the member's token and the service credential the gateway adds


@dataclass
class ProgressLoad:
    """Progress events as playback publishes them, each remembered once JetStream acked it."""

    viewers: list[Viewer]
    acknowledged: dict[tuple[str, str], float] = field(default_factory=dict)  # -> position_s
    sent: int = 0

    def next_position(self, n: int) -> tuple[Viewer, str, float]:
        """Mostly new titles; some resumed later (further on); every fifth watched to the end."""
        viewer = self.viewers[n % len(self.viewers)]
        resumable = [
            title
            for (profile, title), position in self.acknowledged.items()
            if profile == viewer.profile_id and position < DURATION_S * 0.95
        ]
        if n % 4 == 3 and resumable:
            title = resumable[n % len(resumable)]
            return viewer, title, min(DURATION_S, self.acknowledged[viewer.profile_id, title] + 7)
        position = DURATION_S * 0.99 if n % 5 == 0 else float(1 + n % 500)
        return viewer, f"t-{uuid.uuid4().hex[:12]}", position

    async def publish(self, bus: EventBus, n: int) -> None:
        viewer, title, position = self.next_position(n)
        progress = PlaybackProgress(
            session_id=uuid.uuid4().hex,
            account_id=viewer.account_id,
            profile_id=viewer.profile_id,
            title_id=title,
            position_s=position,
            duration_s=DURATION_S,
            at=datetime.now(UTC).isoformat(),
        )
        evt = Event(
            type=PlaybackProgress.TYPE,
            data=progress.model_dump(mode="json"),
            source="playback",
            key=viewer.profile_id,
        )
        self.sent += 1
        await bus.publish(evt)  # returns once JetStream has stored it
        self.acknowledged[viewer.profile_id, title] = position

    async def run(self, platform: LocalPlatform) -> float:
        """Publish for LOAD_S seconds, killing history on the way; when it was killed."""
        return await publish_while_killing(
            platform,
            "history",
            self.publish,
            seconds=LOAD_S,
            kill_after_s=KILL_AFTER_S,
            per_s=EVENTS_PER_S,
        )


def new_viewer(platform: LocalPlatform, mint: TokenMint) -> Viewer:
    account_id = f"acct-{uuid.uuid4().hex[:12]}"
    headers = {**platform.headers, **mint.headers(account_id=account_id)}
    return Viewer(account_id, f"p-{uuid.uuid4().hex[:12]}", headers)


def shown(platform: LocalPlatform, viewer: Viewer) -> dict[str, tuple[float, bool]]:
    """What history shows the profile: title -> (position, finished)."""
    found: dict[str, tuple[float, bool]] = {}
    for what in ("continue-watching", "watched"):
        try:
            answer = httpx.get(
                f"{platform.url_of('history')}/v1/profiles/{viewer.profile_id}/{what}",
                headers=viewer.headers,
                timeout=5,
            )
        except httpx.HTTPError:
            return {}
        if answer.status_code != 200:
            return {}
        for item in answer.json()["items"]:
            found[item["title_id"]] = (float(item["position_s"]), bool(item["finished"]))
    return found


def missing(
    platform: LocalPlatform, load: ProgressLoad
) -> dict[tuple[str, str], tuple[float, float | None]]:
    """Acknowledged positions history does not show (yet): key -> (position, shown)."""
    gaps: dict[tuple[str, str], tuple[float, float | None]] = {}
    for viewer in load.viewers:
        seen = shown(platform, viewer)
        for (profile, title), position in load.acknowledged.items():
            finished = position >= DURATION_S * 0.95
            if profile == viewer.profile_id and seen.get(title) != (position, finished):
                gaps[profile, title] = (position, seen.get(title, (None,))[0])
    return gaps


def test_no_acknowledged_progress_event_is_lost(backend: Backend, data_dir: Path) -> None:
    platform, mint = start_platform(data_dir, services=SERVICES, env=backend.env)
    try:
        load = ProgressLoad([new_viewer(platform, mint) for _ in range(PROFILES)])
        killed_at = asyncio.run(load.run(platform))
        assert killed_at, "the load ended before the kill"
        platform.wait_healthy(service="history", timeout_s=60)
        assert platform.instances("history")[0]["restarts"] >= 1, "history was really killed"
        deadline = killed_at + CAUGHT_UP_WITHIN_S
        while (gaps := missing(platform, load)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not gaps, f"{len(gaps)} of {len(load.acknowledged)} acknowledged positions lost"
        caught_up_s = time.monotonic() - killed_at

        finished = {k for k, p in load.acknowledged.items() if p >= DURATION_S * 0.95}
        announced: Counter[tuple[str, str]] = Counter()
        for _ in range(5):
            events = collect(platform.env, TitleWatched.TYPE, seconds=0.5)
            announced = Counter((e.data["profile_id"], e.data["title_id"]) for e in events)
            if finished <= set(announced):
                break
        assert set(announced) == finished, "every finish is announced, nothing else"
        assert max(announced.values()) == 1, "a finish was announced twice"
        print(
            f"{backend.name}: {load.sent} events, {len(load.acknowledged)} titles, "
            f"{len(finished)} finished; history caught up {caught_up_s:.1f}s after the kill"
        )
    finally:
        platform.stop()
