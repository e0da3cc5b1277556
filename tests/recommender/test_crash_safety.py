"""kill -9 of the recommender while watches and ratings pour in loses nothing acknowledged and
counts nothing twice, on both backends. Its writes are the events JetStream acknowledged
(`history.watched`, `profiles.rating.set`), folded a batch per transaction: after the restart
every profile's interactions hold exactly one play per acknowledged watch and the last
acknowledged rating of every title."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from cinemesh.contracts.history import TitleWatched
from cinemesh.contracts.profiles import TitleRated
from cinemesh.platform.events import SHARED_ACK_WAIT_S, Event, EventBus
from tests.support.backends import Backend
from tests.support.event_load import publish_while_killing
from tests.support.platform import LocalPlatform

SERVICES = ["registry", "recommender"]
PROFILES = [f"crash-{n}" for n in range(4)]
TITLES = [f"t-{n}" for n in range(30)]  # few enough that titles are watched and rated again
KILL_AFTER_S = 1.5
LOAD_S = 4.0
EVENTS_PER_S = 150
CAUGHT_UP_WITHIN_S = SHARED_ACK_WAIT_S + 20.0
RATING = {"up": 1, "down": -1, "none": 0}


@dataclass
class SignalLoad:
    """Watches and ratings, each remembered once JetStream acknowledged it."""

    plays: Counter[tuple[str, str]] = field(default_factory=Counter)
    ratings: dict[tuple[str, str], str] = field(default_factory=dict)
    sent: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def next_event(self, n: int) -> tuple[Event, tuple[str, str], BaseModel]:
        profile, title = self.rng.choice(PROFILES), self.rng.choice(TITLES)
        # strictly increasing times, so the last acknowledged rating is the one that must win
        at = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n)).isoformat()
        payload: BaseModel
        if n % 3 == 0:
            rating = self.rng.choice(["up", "down", "none"])
            payload = TitleRated(profile_id=profile, title_id=title, rating=rating, at=at)  # type: ignore[arg-type]
        else:
            payload = TitleWatched(profile_id=profile, title_id=title, at=at)
        evt = Event(
            type=payload.TYPE,  # type: ignore[attr-defined]
            data=payload.model_dump(mode="json"),
            source="profiles" if isinstance(payload, TitleRated) else "history",
            key=profile,
        )
        return evt, (profile, title), payload

    async def publish(self, bus: EventBus, n: int) -> None:
        evt, key, payload = self.next_event(n)
        self.sent += 1
        await bus.publish(evt)  # returns once JetStream has stored it
        if isinstance(payload, TitleRated):
            self.ratings[key] = payload.rating
        else:
            self.plays[key] += 1

    async def run(self, platform: LocalPlatform) -> float:
        """Publish for LOAD_S seconds, killing the recommender on the way; when it was killed."""
        return await publish_while_killing(
            platform,
            "recommender",
            self.publish,
            seconds=LOAD_S,
            kill_after_s=KILL_AFTER_S,
            per_s=EVENTS_PER_S,
        )


def held(platform: LocalPlatform, profile: str) -> dict[str, dict[str, Any]]:
    try:
        answer = httpx.get(
            f"{platform.url_of('recommender')}/v1/profiles/{profile}/interactions",
            headers=platform.headers,
            timeout=5,
        )
    except httpx.HTTPError:
        return {}
    if answer.status_code != 200:
        return {}
    return {item["title_id"]: item for item in answer.json()["items"]}


def differences(platform: LocalPlatform, load: SignalLoad) -> list[str]:
    """What the recommender holds that the acknowledged events do not say, and the reverse."""
    wrong = []
    for profile in PROFILES:
        rows = held(platform, profile)
        for title in TITLES:
            row, key = rows.get(title), (profile, title)
            plays = row["plays"] if row else 0
            if plays != load.plays[key]:
                wrong.append(f"{key}: {plays} plays, {load.plays[key]} acknowledged")
            rating = row["rating"] if row else 0
            if rating != RATING[load.ratings.get(key, "none")]:
                wrong.append(f"{key}: rating {rating}, acknowledged {load.ratings.get(key)}")
    return wrong


def test_no_acknowledged_signal_is_lost_or_counted_twice(backend: Backend, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    platform = LocalPlatform(data_dir, services=SERVICES, env=backend.env).start()
    try:
        load = SignalLoad()
        killed_at = asyncio.run(load.run(platform))
        assert killed_at, "the load ended before the kill"
        platform.wait_healthy(service="recommender", timeout_s=60)
        restarts = platform.instances("recommender")[0]["restarts"]
        assert restarts >= 1, "the recommender was really killed"
        deadline = killed_at + CAUGHT_UP_WITHIN_S
        while (wrong := differences(platform, load)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not wrong, f"{len(wrong)} differences, e.g. {wrong[:5]}"
        print(
            f"{backend.name}: {load.sent} events, {sum(load.plays.values())} watches, "
            f"{len(load.ratings)} ratings; caught up {time.monotonic() - killed_at:.1f}s "
            "after the kill"
        )
    finally:
        platform.stop()
