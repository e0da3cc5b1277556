"""The recommender as a real process on both backends: events published the way producers
publish them, rows read with the service credential."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cinemesh.contracts.catalog import TitleUpserted
from cinemesh.contracts.history import TitleWatched
from cinemesh.contracts.maturity import allows
from cinemesh.contracts.notices import RECOMMENDER_HISTORIES_CHANGED
from cinemesh.contracts.playback import PlaybackProgress
from cinemesh.contracts.profiles import MyListChanged, TitleRated
from cinemesh.platform.events import Event, EventBus
from tests.recommender.synthetic import catalog, cluster_records, title_ids
from tests.support.backends import Backend
from tests.support.metrics import kept_reads
from tests.support.platform import LocalPlatform

RATING_OF = {t["title_id"]: str(t["maturity_rating"]) for t in catalog()}


class Producers:
    """Publishes into the platform's bus as catalog, history, playback and profiles would."""

    def __init__(self, backend: Backend) -> None:
        self.bus = EventBus(
            backend.env["CINEMESH_NATS_URL"],
            service="test-producers",
            namespace=backend.env["CINEMESH_BUS_NAMESPACE"],
        )
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.bus.connect())

    def publish(self, *events: Event) -> None:
        async def send() -> None:
            for evt in events:
                await self.bus.publish(evt)

        self.loop.run_until_complete(send())

    def publish_again_as_new_message(self, evt: Event) -> None:
        """The same event under another Nats-Msg-Id: JetStream cannot drop it as a repeat."""
        self.loop.run_until_complete(
            self.bus.publish_raw(
                event_type=evt.type, event_id=f"{evt.id}-again", body=evt.to_bytes(), headers={}
            )
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.bus.close())
        self.loop.close()


def event(model: Any, source: str) -> Event:
    return Event(type=model.TYPE, data=model.model_dump(mode="json"), source=source)


def watched(profile: str, title: str, at: float | None = None) -> Event:
    moment = datetime.fromtimestamp(at, UTC) if at else datetime.now(UTC)
    return event(TitleWatched(profile_id=profile, title_id=title, at=moment.isoformat()), "history")


def catalog_events() -> list[Event]:
    return [
        event(
            TitleUpserted(
                title_id=str(t["title_id"]),
                title=str(t["name"]),
                kind="movie",
                genres=list(t["genres"]),  # type: ignore[call-overload]
                maturity_rating=str(t["maturity_rating"]),
                popularity=1.0,
            ),
            "catalog",
        )
        for t in catalog()
    ]


def background_events(users_per_genre: int = 12) -> list[Event]:
    now = time.time() - 3600
    return [
        watched(u, i, now + t % 1000)
        for u, i, _, t in cluster_records(users_per_genre=users_per_genre)
    ]


@pytest.fixture
def producers(backend: Backend) -> Iterator[Producers]:
    made = Producers(backend)
    yield made
    made.close()


def start(data_dir: Path, backend: Backend, *, scale: int = 1, **settings: str) -> LocalPlatform:
    env = {**backend.env, **{f"CINEMESH_RECOMMENDER_{k.upper()}": v for k, v in settings.items()}}
    return LocalPlatform(
        data_dir, services=["registry", "recommender"], env=env, scale={"recommender": scale}
    ).start()


def call(platform: LocalPlatform, method: str, path: str, index: int = 0, **params: Any) -> Any:
    response = httpx.request(
        method,
        platform.url_of("recommender", index) + path,
        params=params,
        headers=platform.headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def interactions(platform: LocalPlatform, profile: str) -> dict[str, dict[str, Any]]:
    body = call(platform, "GET", f"/v1/profiles/{profile}/interactions")
    return {item["title_id"]: item for item in body["items"]}


def rows_of(platform: LocalPlatform, profile: str, maturity: str, limit: int = 10) -> Any:
    body = call(platform, "GET", "/v1/rows", profile_id=profile, maturity=maturity, limit=limit)
    return {row["id"]: row["items"] for row in body["rows"]}


def retrained_with_everything(platform: LocalPlatform, titles: int) -> None:
    def complete() -> bool:
        model = call(platform, "POST", "/v1/retrain")["model"]
        return bool(model["titles"] == titles)

    wait_for(complete)


def assert_the_challenger_cell_is_served(
    platform: LocalPlatform, profile: str, *, watched: list[str]
) -> None:
    """An experiment's challenger cell (the gateway's treatments header) gets seq-ease, with
    the same rules; without the header, or with an unknown model, the current one."""
    url = platform.url_of("recommender", 0) + "/v1/rows"
    asked = {"profile_id": profile, "maturity": "NC-17", "limit": 10}
    for treatments, name in [
        ("recommender.model=seq-ease", "seq-ease"),
        ("recommender.model=unknown;x=y", "recency-ease"),
        (None, "recency-ease"),
    ]:
        headers = {
            **platform.headers,
            **({"X-Cinemesh-Treatments": treatments} if treatments else {}),
        }
        body = httpx.get(url, params=asked, headers=headers, timeout=60).json()
        assert body["model"]["name"] == name, body["model"]
        top = [i["title_id"] for i in body["rows"][0]["items"]]
        assert top[:5] and all(t.startswith("horror") for t in top[:5]), body["rows"][0]
        assert not set(top) & set(watched)


def both_serve_a_model_of_the_horror_fan(platform: LocalPlatform, producers: Producers) -> None:
    """Two instances: "fan" watched three horror titles, and both serve a model trained on it."""
    producers.publish(*catalog_events(), *background_events())
    producers.publish(*(watched("fan", t) for t in title_ids("horror")[:3]))
    wait_for(lambda: len(interactions(platform, "fan")) == 3)
    retrained_with_everything(platform, titles=len(catalog()))
    # The other instance loads that snapshot on its next poll; until then it serves the one
    # it trained at start, before any event had arrived.
    trained = call(platform, "GET", "/v1/model")["version"]
    wait_for(lambda: call(platform, "GET", "/v1/model", index=1)["version"] == trained, 10)


@pytest.mark.backends
def test_learns_from_events_filters_by_maturity_and_counts_each_event_once(
    backend: Backend, data_dir: Path, producers: Producers
) -> None:
    platform = start(data_dir, backend)
    try:
        producers.publish(*catalog_events(), *background_events())
        horror = title_ids("horror")
        producers.publish(*(watched("fan", t) for t in horror[:3]))
        wait_for(lambda: len(interactions(platform, "fan")) == 3)
        retrained_with_everything(platform, titles=len(catalog()))

        rows = rows_of(platform, "fan", "NC-17")
        top = [i["title_id"] for i in rows["top-picks"]]
        assert top[:5] and all(t.startswith("horror") for t in top[:5]), rows["top-picks"]
        assert not set(top) & set(horror[:3])
        assert rows["top-picks"][0]["reason"].startswith("because you watched Horror")
        because = [r for r in rows if r.startswith("because-you-watched:")]
        assert because and because[0].split(":", 1)[1] in horror[:3]
        assert all(i["title_id"].startswith("horror") for i in rows[because[0]][:5])
        assert_the_challenger_cell_is_served(platform, "fan", watched=horror[:3])

        # a kids profile that somehow watched a horror title still sees only kids titles
        producers.publish(watched("kid", title_ids("kids")[0]), watched("kid", horror[5]))
        wait_for(lambda: len(interactions(platform, "kid")) == 2)
        for who in ("kid", "never-seen"):
            kid_rows = rows_of(platform, who, "PG", limit=40)
            shown = [i["title_id"] for items in kid_rows.values() for i in items]
            assert shown and all(allows("PG", RATING_OF[t]) for t in shown), kid_rows
        assert "trending" in rows_of(platform, "never-seen", "PG")

        # the same event again under another message id, and the same message twice
        first = watched("dup", horror[6])
        producers.publish(first)
        producers.publish_again_as_new_message(first)
        producers.publish(first)
        rated = event(
            TitleRated(profile_id="dup", title_id=horror[7], rating="up", at=first.data["at"]),
            "profiles",
        )
        producers.publish(rated)
        producers.publish_again_as_new_message(rated)
        producers.publish(watched("dup", horror[6]), watched("dup", horror[8]))  # a real rewatch
        wait_for(lambda: horror[8] in interactions(platform, "dup"))
        wait_for(lambda: horror[7] in interactions(platform, "dup"))
        seen = interactions(platform, "dup")
        assert seen[horror[6]]["plays"] == 2, seen
        assert seen[horror[7]]["rating"] == 1
    finally:
        platform.stop()


@pytest.mark.backends
def test_signals_from_playback_and_profiles_shape_the_rows(
    backend: Backend, data_dir: Path, producers: Producers
) -> None:
    platform = start(data_dir, backend)
    try:
        producers.publish(*catalog_events(), *background_events(users_per_genre=6))
        comedy = title_ids("comedy")
        now = datetime.now(UTC).isoformat()
        common = {"account_id": "a1", "profile_id": "viewer", "at": now}
        producers.publish(
            event(PlaybackProgress(session_id="s1", title_id=comedy[0], position_s=30, duration_s=100, **common), "playback"),
            event(PlaybackProgress(session_id="s1", title_id=comedy[0], position_s=60, duration_s=100, **common), "playback"),
            event(TitleRated(profile_id="viewer", title_id=comedy[1], rating="up", at=now), "profiles"),
            event(TitleRated(profile_id="viewer", title_id=comedy[2], rating="down", at=now), "profiles"),
            event(MyListChanged(profile_id="viewer", title_id=comedy[3], action="added", at=now), "profiles"),
        )  # fmt: skip
        wait_for(lambda: len(interactions(platform, "viewer")) == 4)
        seen = interactions(platform, "viewer")
        assert seen[comedy[0]]["progress"] == pytest.approx(0.6) and seen[comedy[0]]["plays"] == 0
        assert seen[comedy[2]]["weight"] == 0.0 and seen[comedy[3]]["in_list"] is True
        retrained_with_everything(platform, titles=len(catalog()))
        rows = rows_of(platform, "viewer", "NC-17", limit=12)
        personal = [i["title_id"] for i in rows["top-picks"]]
        assert personal[0].startswith("comedy")
        assert not set(personal) & set(comedy[:4])  # in progress, rated, disliked, listed
        everywhere = {i["title_id"] for items in rows.values() for i in items}
        assert comedy[2] not in everywhere  # thumbs down: never shown
    finally:
        platform.stop()


@pytest.mark.backends
def test_retraining_never_serves_an_empty_or_partial_model(
    backend: Backend, data_dir: Path, producers: Producers
) -> None:
    platform = start(data_dir, backend, scale=2, poll_s="0.5")
    try:
        both_serve_a_model_of_the_horror_fan(platform, producers)
        limit = 8
        problems: list[str] = []
        versions: set[str] = set()
        stop = threading.Event()

        def hammer(profile: str, index: int) -> None:
            with httpx.Client(headers=platform.headers, timeout=30) as client:
                url = platform.url_of("recommender", index) + "/v1/rows"
                while not stop.is_set():
                    got = client.get(url, params={"profile_id": profile, "limit": limit})
                    if got.status_code != 200:
                        problems.append(f"{got.status_code}: {got.text[:200]}")
                        continue
                    body = got.json()
                    versions.add(body["model"]["version"])
                    rows = {row["id"]: row["items"] for row in body["rows"]}
                    expected = {"top-picks", "trending"}
                    if profile == "fan":
                        expected.add(f"because-you-watched:{title_ids('horror')[2]}")
                    if not expected <= set(rows) or any(len(rows[r]) != limit for r in expected):
                        problems.append(f"partial answer: { {k: len(v) for k, v in rows.items()} }")

        threads = [
            threading.Thread(target=hammer, args=(profile, index))
            for profile in ("fan", "newcomer")
            for index in (0, 1)
        ]
        for thread in threads:
            thread.start()
        try:
            for round_ in range(4):
                producers.publish(
                    *(watched(f"late-{round_}-{n}", t) for n, t in enumerate(title_ids("comedy")))
                )
                call(platform, "POST", "/v1/retrain", index=round_ % 2)
                time.sleep(0.3)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert not problems, problems[:5]
        assert len(versions) >= 3, versions
        # every instance ends on the newest snapshot, whichever trained it
        newest = call(platform, "GET", "/v1/model", index=1)["version"]
        wait_for(lambda: call(platform, "GET", "/v1/model", index=0)["version"] == newest, 10)
        assert len(list((data_dir / "recommender" / "models").iterdir())) <= 3 + 2
    finally:
        platform.stop()


def history_lookups(platform: LocalPlatform, index: int, source: str) -> float:
    return kept_reads(platform.url_of("recommender", index), RECOMMENDER_HISTORIES_CHANGED, source)


@pytest.mark.backends
def test_every_instance_forgets_a_history_it_kept_once_an_event_changes_it(
    backend: Backend, data_dir: Path, producers: Producers
) -> None:
    # Rows are not reused and a kept history would be trusted for 10 minutes: only the
    # consumer's notice can make the instances see the new event in time.
    platform = start(data_dir, backend, scale=2, kept_reads_s="600")
    try:
        both_serve_a_model_of_the_horror_fan(platform, producers)

        def top_picks(index: int) -> list[str]:
            body = call(platform, "GET", "/v1/rows", index, profile_id="fan", limit=10)
            return [item["title_id"] for item in body["rows"][0]["items"]]

        def kept(index: int) -> bool:
            before = history_lookups(platform, index, "memory")
            top_picks(index)
            return history_lookups(platform, index, "memory") > before

        def left_out(index: int) -> bool:
            return picked[index] not in top_picks(index)  # finished titles never appear

        wait_for(lambda: kept(0) and kept(1), 20)  # once both listen for notices
        picked = {index: top_picks(index)[0] for index in (0, 1)}
        producers.publish(*(watched("fan", title) for title in set(picked.values())))
        wait_for(lambda: left_out(0) and left_out(1), 20)
        assert kept(0) and kept(1)  # and remembered again afterwards
    finally:
        platform.stop()
