"""kill -9 of playback while members press play, heartbeat and stop loses nothing acknowledged,
on both backends: every acknowledged position reaches history, every acknowledged session still
plays (and every acknowledged stop holds) after the restart, each session's `playback.started`
event is out, and the plan's stream limit counts exactly the sessions that are really open."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cinemesh.contracts.catalog import TitleUpserted
from cinemesh.contracts.media import AssetReady
from cinemesh.contracts.playback import PlaybackStarted
from tests.catalog.api import Caller, start_platform
from tests.playback.media import collect, publish, renditions
from tests.support.backends import Backend
from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint

SERVICES = ["registry", "profiles", "playback", "history", "gateway"]
# playback only signs URLs for the edges; nothing here fetches media, so no edge runs
ENV = {
    "CINEMESH_PLAYBACK_EDGE_URLS": json.dumps(["http://127.0.0.1:9"]),
    "CINEMESH_PLAYBACK_LEASE_S": "120",  # no acknowledged session may expire during the test
}
MEMBERS = 6
PLAN, STREAMS = "standard", 2
TITLES_EACH = 80
DURATION_S = 7200.0
KILL_AFTER_S = 2.5


@dataclass
class Watcher:
    """One member on one profile, as a player behaves: keeps up to STREAMS sessions playing,
    each on its own title, heartbeats them, stops one now and then (retrying a stop until it is
    answered), and remembers what playback acknowledged."""

    caller: Caller
    account_id: str
    titles: list[str]
    open: list[str] = field(default_factory=list)  # acknowledged starts, no stop sent
    stopping: list[str] = field(default_factory=list)  # stops sent, not answered yet
    stopped: set[str] = field(default_factory=set)  # stops answered 204
    title_of: dict[str, str] = field(default_factory=dict)  # acknowledged session -> title
    position: dict[str, float] = field(default_factory=dict)  # last acknowledged heartbeat
    tried: dict[str, float] = field(default_factory=dict)  # last heartbeat sent
    refused_until: float = 0.0  # after a 429: a start that committed unanswered holds a screen
    problems: list[str] = field(default_factory=list)
    acked_at: list[float] = field(default_factory=list)

    def step(self, n: int) -> None:
        if self.stopping:
            self.stop(self.stopping[0])
        elif len(self.open) < STREAMS and self.titles and time.monotonic() > self.refused_until:
            self.start(self.titles.pop())
        elif not self.open:
            return
        elif n % 9 == 0 and len(self.open) >= STREAMS and self.titles:
            self.start(self.titles[-1], over_limit=True)
        elif n % 15 == 0:
            self.stopping.append(self.open.pop(0))
        else:
            self.heartbeat(self.open[n % len(self.open)])

    def start(self, title_id: str, *, over_limit: bool = False) -> None:
        body = {"profile_id": self.caller.profile_id, "title_id": title_id}
        started = self.caller("POST", "/playback/sessions", json=body)
        self.check(started)
        if started.status_code == 429:
            self.refused_until = time.monotonic() + 1.0
        if started.status_code != 201:
            return
        if over_limit:  # playback let a third screen in while two were acknowledged open
            self.problems.append(f"over the stream limit: {started.text}")
            self.titles.pop()
        session_id = started.json()["session_id"]
        self.open.append(session_id)
        self.title_of[session_id] = title_id
        self.acked_at.append(time.monotonic())

    def heartbeat(self, session_id: str) -> None:
        self.tried[session_id] = self.tried.get(session_id, 0.0) + 5
        beat = self.caller(
            "POST",
            f"/playback/sessions/{session_id}/heartbeat",
            json={"position_s": self.tried[session_id]},
        )
        self.check(beat)
        if beat.status_code == 200:
            self.position[session_id] = self.tried[session_id]
            self.acked_at.append(time.monotonic())
        elif beat.status_code in (404, 410):  # acknowledged, never stopped, and its lease is long
            self.problems.append(f"session {session_id} lost: {beat.text}")

    def stop(self, session_id: str) -> None:
        stopped = self.caller("DELETE", f"/playback/sessions/{session_id}")
        self.check(stopped)
        if stopped.status_code == 204:
            self.stopping.remove(session_id)
            self.stopped.add(session_id)
            self.acked_at.append(time.monotonic())
        elif stopped.status_code == 404:
            self.problems.append(f"session {session_id} lost: {stopped.text}")

    def check(self, answer: httpx.Response) -> None:
        if answer.status_code >= 500 and answer.status_code != 503:
            self.problems.append(f"{answer.status_code}: {answer.text}")

    def run(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            acked = len(self.acked_at)
            try:
                self.step(n)
            except httpx.HTTPError:
                pass
            except Exception as exc:  # a broken answer: record it for the test to fail on
                self.problems.append(repr(exc))
                raise
            if len(self.acked_at) == acked:
                time.sleep(0.1)  # back off while playback is down, as a player does
            n += 1

    def resumable(self) -> dict[str, tuple[float, float]]:
        """Title -> the positions history may hold: from the last acknowledged heartbeat up to
        the last one sent (a later one may commit while its answer is lost in the kill)."""
        return {self.title_of[sid]: (at, self.tried[sid]) for sid, at in self.position.items()}


def new_watcher(platform: LocalPlatform, mint: TokenMint, titles: list[str]) -> Watcher:
    account_id = f"acct-{uuid.uuid4().hex[:12]}"
    caller = Caller(platform, mint.headers(account_id=account_id, plan=PLAN))
    made = caller("POST", "/profiles", json={"name": "Main"})
    assert made.status_code == 201, made.text
    caller.profile_id = str(made.json()["id"])
    return Watcher(caller, account_id, titles)


def announce_titles(platform: LocalPlatform, count: int) -> list[str]:
    """Titles with ready videos, as catalog and the encoder would announce them."""
    ids = [f"t-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    events = []
    for title_id in ids:
        events.append(
            TitleUpserted(
                title_id=title_id,
                title=title_id,
                kind="movie",
                genres=["Drama"],
                maturity_rating="PG",
                playable=True,
            )
        )
        events.append(
            AssetReady(
                asset_id=f"a{title_id[2:]}",
                title_id=title_id,
                duration_s=DURATION_S,
                renditions=renditions(),
            )
        )
    publish(platform.env, *events)
    return ids


def wait_until_playable(watcher: Watcher, title_id: str) -> None:
    """playback has learnt the titles (it hears of them through events) when the last plays."""
    deadline = time.monotonic() + 30
    body = {"profile_id": watcher.caller.profile_id, "title_id": title_id}
    while (started := watcher.caller("POST", "/playback/sessions", json=body)).status_code != 201:
        assert time.monotonic() < deadline, started.text
        time.sleep(0.3)
    stopped = watcher.caller("DELETE", f"/playback/sessions/{started.json()['session_id']}")
    assert stopped.status_code == 204, stopped.text


def history_lacks(watchers: list[Watcher]) -> dict[str, tuple[tuple[float, float], float]]:
    """Acknowledged positions continue watching does not show: title -> (allowed, shown)."""
    gaps: dict[str, tuple[tuple[float, float], float]] = {}
    for watcher in watchers:
        answer = watcher.caller("GET", f"/profiles/{watcher.caller.profile_id}/continue-watching")
        items = answer.json()["items"] if answer.status_code == 200 else []
        shown = {item["title_id"]: float(item["position_s"]) for item in items}
        for title_id, (low, high) in watcher.resumable().items():
            if not low <= shown.get(title_id, -1.0) <= high:
                gaps[title_id] = ((low, high), shown.get(title_id, -1.0))
    return gaps


def test_no_acknowledged_session_or_position_is_lost(backend: Backend, data_dir: Path) -> None:
    platform, mint = start_platform(data_dir, services=SERVICES, env={**backend.env, **ENV})
    try:
        titles = announce_titles(platform, MEMBERS * TITLES_EACH + 1)
        watchers = [
            new_watcher(platform, mint, titles[i * TITLES_EACH : (i + 1) * TITLES_EACH])
            for i in range(MEMBERS)
        ]
        wait_until_playable(watchers[0], titles[-1])
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in watchers]
        for thread in threads:
            thread.start()
        try:
            time.sleep(KILL_AFTER_S)
            platform.kill("playback")
            killed_at = time.monotonic()
            deadline = killed_at + 30
            while sum(t > killed_at for w in watchers for t in w.acked_at) < 40:
                assert time.monotonic() < deadline, "playback took no calls again"
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        platform.wait_healthy(service="playback", timeout_s=60)
        assert platform.instances("playback")[0]["restarts"] >= 1, "playback was really killed"
        assert all(sum(t < killed_at for t in w.acked_at) > 5 for w in watchers)
        assert not [p for w in watchers for p in w.problems]

        deadline = time.monotonic() + 20
        while (gaps := history_lacks(watchers)) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not gaps, f"acknowledged positions that never reached history: {gaps}"

        for watcher in watchers:
            for session_id in watcher.title_of:
                position = watcher.tried.get(session_id, 0.0) + 5
                beat = watcher.caller(
                    "POST",
                    f"/playback/sessions/{session_id}/heartbeat",
                    json={"position_s": position},
                )
                if session_id in watcher.stopped:
                    assert beat.status_code == 410, ("an acknowledged stop was lost", beat.text)
                elif session_id in watcher.open:
                    assert beat.status_code == 200, ("an acknowledged session was lost", beat.text)

        acknowledged = {sid for w in watchers for sid in w.title_of}
        for _ in range(5):
            started = collect(platform.env, PlaybackStarted.TYPE, seconds=1.0)
            if acknowledged <= {e.data["session_id"] for e in started}:
                break
        assert acknowledged <= {e.data["session_id"] for e in started}, "a start's event was lost"
        for watcher in watchers:
            mine = {
                e.data["session_id"] for e in started if e.data["account_id"] == watcher.account_id
            }
            for session_id in mine:  # including starts that committed while their answer was lost
                gone = watcher.caller("DELETE", f"/playback/sessions/{session_id}")
                assert gone.status_code == 204, gone.text
            # with every session playback ever started stopped, exactly the plan's screens are free
            body = {"profile_id": watcher.caller.profile_id, "title_id": titles[-1]}
            answers = [watcher.caller("POST", "/playback/sessions", json=body) for _ in range(3)]
            assert [a.status_code for a in answers] == [201] * STREAMS + [429], answers[-1].text
            assert answers[-1].json()["error"]["code"] == "STREAM_LIMIT"
        sessions = sum(len(w.title_of) for w in watchers)
        stops = sum(len(w.stopped) for w in watchers)
        before = sum(t < killed_at for w in watchers for t in w.acked_at)
        after = sum(t > killed_at for w in watchers for t in w.acked_at)
        print(
            f"{backend.name}: {before} calls acknowledged before the kill, {after} after "
            f"({sessions} starts, {stops} stops)"
        )
    finally:
        platform.stop()
