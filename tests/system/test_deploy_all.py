"""Every service moves to another revision under steady load, one after another, and nobody
notices: members browse home, search and look titles up, start playback sessions, send
heartbeats and fetch playlists and segments from the edge their session named, while `cinemesh
deploy` replaces gateway, catalog, search, playback, edge, history, profiles, identity and
recommender. Every user request is counted; none may fail.

One instance of each: a rolling deploy starts the new instance and waits for it to be ready
before it drains the old one. The edge is the hard case: a player keeps the edge address of its
session for the whole viewing, so the new edge takes over the old one's address (the
supervisor's listening socket, runner/addresses.py); a long viewing started before the deploys
keeps fetching from that one address throughout.

The platform runs a clean clone of this repository (revision A, what is committed) and is
deployed to A plus a harmless commit: work in progress in the checkout plays no part."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cinemesh.contracts.media import AssetReady
from tests.playback.media import (
    DURATION_S,
    make_package,
    parse_master,
    parse_media,
    publish,
    renditions,
    start_session,
)
from tests.support.backends import EmbeddedNats, unthrottled_sqlite_env
from tests.support.media_stores import publish_asset
from tests.support.platform import LocalPlatform
from tests.support.revisions import clone_for_revisions
from tests.support.users import Member, admin, sign_up
from tests.system.test_deploy import commit, deploy, versions

SERVICES = [
    "registry", "identity", "profiles", "catalog", "search", "playback", "edge", "history",
    "recommender", "gateway",
]  # fmt: skip
DEPLOYED = [
    "gateway", "catalog", "search", "playback", "edge", "history", "profiles", "identity",
    "recommender",
]  # fmt: skip
EDGE_KINDS = ("playlist", "segment", "long-view", "edge-live")  # answered by the edge
OK = {200, 201, 204}
CONTROL_S = 20.0
PACE_S = 0.05  # between one member's requests: steady, without starving the deploys
pytestmark = pytest.mark.timeout(1500)  # minutes of deploys; far more on a busy host


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of what is committed here: the platform runs it, revisions are made in it."""
    return clone_for_revisions(tmp_path_factory.mktemp("revisions") / "cinemesh")


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats, clone: Path
) -> Iterator[LocalPlatform]:
    env = {
        **unthrottled_sqlite_env(embedded_nats.url),
        "PYTHONPATH": str(clone / "src"),
    }
    running = LocalPlatform(tmp_path_factory.mktemp("deploy-all"), services=SERVICES, env=env)
    running.start(timeout_s=300)
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Show:
    """What the members use: titles in catalog and search, two of them playable."""

    title_ids: list[str]
    playable: list[str]
    words: list[str]


@pytest.fixture(scope="module")
def show(platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory) -> Show:
    boss = admin(platform)
    words = ["Harbour", "Lantern", "Orchard", "Meridian", "Quarry", "Tundra"]
    title_ids = []
    for n, word in enumerate(words):
        made = httpx.post(
            f"{platform.gateway}/api/v1/admin/titles",
            headers=boss.headers,
            timeout=30,
            json={
                "title": f"The {word} {uuid.uuid4().hex[:4]}",
                "kind": "movie",
                "genres": [["Drama", "Comedy", "Horror"][n % 3]],
                "year": 2001 + n,
                "maturity_rating": "PG",
            },
        )
        assert made.status_code in (200, 201), made.text
        title_ids.append(str(made.json()["id"]))
    package = make_package(tmp_path_factory.mktemp("media") / "package")
    playable = title_ids[:2]
    for title_id in playable:
        asset_id = f"a{uuid.uuid4().hex[:16]}"
        publish_asset(platform.env, platform.data_dir, asset_id, package)
        ready = AssetReady(
            asset_id=asset_id, title_id=title_id, duration_s=DURATION_S, renditions=renditions()
        )
        publish(platform.env, ready)
    wait_until_served(platform, boss, title_ids, words, playable)
    return Show(title_ids, playable, words)


def wait_until_served(
    platform: LocalPlatform,
    who: Member,
    title_ids: list[str],
    words: list[str],
    playable: list[str],
) -> None:
    """Catalog links the assets, search indexes the titles and the recommender has a model."""
    api = f"{platform.gateway}/api/v1"
    deadline = time.monotonic() + 120
    while True:
        linked = all(
            httpx.get(f"{api}/titles/{t}", headers=who.headers, timeout=10).json().get("playable")
            for t in playable
        )
        found = httpx.get(f"{api}/search", params={"q": words[-1]}, headers=who.headers, timeout=10)
        indexed = found.status_code == 200 and any(
            h["id"] == title_ids[-1] for h in found.json()["hits"]
        )
        if linked and indexed:
            break
        assert time.monotonic() < deadline, "the titles were never playable and searchable"
        time.sleep(0.5)
    retrained = httpx.post(
        platform.url_of("recommender") + "/v1/retrain", headers=platform.headers, timeout=60
    )
    assert retrained.status_code == 200, retrained.text


@dataclass
class Viewing:
    """A session started before the deploys: its edge address, and every file of one rendition."""

    session_id: str
    edge: str
    files: list[str]


def open_viewing(platform: LocalPlatform, member: Member, title_id: str) -> Viewing:
    started = start_session(
        platform.gateway, member.headers, {"profile_id": member.profile_id, "title_id": title_id}
    )
    assert started.status_code == 201, started.text
    body = started.json()
    manifest = body["manifest_url"]
    base = manifest.rsplit("/", 1)[0] + "/"
    variants = parse_master(httpx.get(manifest, timeout=10).text)
    playlist = base + variants[0][1]
    folder = playlist.rsplit("/", 1)[0] + "/"
    init, segments = parse_media(httpx.get(playlist, timeout=10).text)
    files = [manifest, playlist, folder + init, *(folder + name for _, name in segments)]
    return Viewing(body["session_id"], manifest.split("/e/", 1)[0], files)


def error_code(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


class SteadyLoad:
    """Members using the platform the whole time, every answer counted by kind and status."""

    def __init__(self, platform: LocalPlatform, show: Show, members: list[Member]) -> None:
        self.platform, self.show, self.members = platform, show, members
        self.api = f"{platform.gateway}/api/v1"
        self.answers: Counter[tuple[str, str]] = Counter()
        self.degraded: Counter[str] = Counter()
        self.edge_instances: Counter[str] = Counter()
        self.failures: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.viewing = open_viewing(platform, members[0], show.playable[0])
        work = [
            (self._long_view, members[0]),
            (self._browse, members[1]),
            (self._browse, members[2]),
            (self._watch, members[3]),
            (self._watch, members[4]),
            (self._look_up_fresh, members[5]),
        ]
        self._threads = [threading.Thread(target=self._keep, args=pair) for pair in work]

    # --- counting ----------------------------------------------------------------------
    def _count(
        self, kind: str, send: Callable[..., httpx.Response], url: str, **kwargs: Any
    ) -> httpx.Response | None:
        """One user request: its answer when it succeeded, None (counted, with its error code
        and when it came) when not."""
        try:
            answer = send(url, **kwargs)
        except httpx.HTTPError as exc:
            self._failed(kind, type(exc).__name__)
            return None
        if answer.status_code not in OK:
            self._failed(kind, f"{answer.status_code} {error_code(answer)}".strip())
            return None
        with self._lock:
            self.answers[(kind, str(answer.status_code))] += 1
        return answer

    def _failed(self, kind: str, outcome: str) -> None:
        with self._lock:
            self.answers[(kind, outcome)] += 1
            self.failures.append((time.monotonic(), kind, outcome))

    @property
    def failed(self) -> dict[str, int]:
        return {
            f"{kind} {outcome}": n
            for (kind, outcome), n in self.answers.items()
            if not (outcome.isdigit() and int(outcome) in OK)
        }

    def failed_during(self, deploys: list[tuple[str, float, float]]) -> dict[str, int]:
        """Failures by the deploy that was running when they came (`between` deploys if none)."""
        found: Counter[str] = Counter()
        for at, kind, outcome in self.failures:
            running = [s for s, began, ended in deploys if began <= at <= ended + 1.0]
            found[f"{running[0] if running else 'between'}: {kind} {outcome}"] += 1
        return dict(found)

    def by_kind(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for (kind, _outcome), n in self.answers.items():
            totals[kind] += n
        return dict(totals)

    # --- members -----------------------------------------------------------------------
    def _keep(self, work: Callable[[Member], None], member: Member) -> None:
        """Run a member's loop to the end; anything unexpected (an answer that cannot be read)
        is counted as a failure of its kind and the member carries on."""
        while not self._stop.is_set():
            try:
                work(member)
            except Exception as exc:
                with self._lock:
                    self.answers[(work.__name__.strip("_"), f"raised {exc!r}"[:120])] += 1
                time.sleep(PACE_S)

    def _browse(self, member: Member) -> None:
        """Home, a search, a title: what a member does between plays."""
        n = 0
        with httpx.Client(headers=member.headers, timeout=10) as client:
            while not self._stop.is_set():
                home = self._count(
                    "home", client.get, f"{self.api}/home", params={"profile_id": member.profile_id}
                )
                if home is not None and home.json().get("degraded"):
                    with self._lock:
                        self.degraded[",".join(sorted(home.json()["degraded"]))] += 1
                word = self.show.words[n % len(self.show.words)]
                self._count("search", client.get, f"{self.api}/search", params={"q": word})
                title = self.show.title_ids[n % len(self.show.title_ids)]
                self._count(
                    "title",
                    client.get,
                    f"{self.api}/titles/{title}",
                    params={"profile_id": member.profile_id},
                )
                n += 1
                time.sleep(PACE_S)

    def _watch(self, member: Member) -> None:
        """Press play, fetch the playlists and a segment, two heartbeats, stop."""
        sessions = f"{self.api}/playback/sessions"
        n = 0
        with (
            httpx.Client(headers=member.headers, timeout=10) as client,
            httpx.Client(timeout=10) as edge,
        ):
            while not self._stop.is_set():
                title = self.show.playable[n % len(self.show.playable)]
                body = {"profile_id": member.profile_id, "title_id": title}
                started = self._count("start", client.post, sessions, json=body)
                n += 1
                if started is None:
                    continue
                session = started.json()
                manifest = session["manifest_url"]
                base = manifest.rsplit("/", 1)[0] + "/"
                master = self._count("playlist", edge.get, manifest)
                if master is not None:
                    variant = base + parse_master(master.text)[-1][1]
                    media = self._count("playlist", edge.get, variant)
                    if media is not None:
                        folder = variant.rsplit("/", 1)[0] + "/"
                        init, segments = parse_media(media.text)
                        self._count("segment", edge.get, folder + init)
                        self._count("segment", edge.get, folder + segments[n % len(segments)][1])
                one = f"{sessions}/{session['session_id']}"
                for position in (1.0, 2.0):
                    self._count(
                        "heartbeat", client.post, f"{one}/heartbeat", json={"position_s": position}
                    )
                self._count("stop", client.delete, one)
                time.sleep(PACE_S)

    def _long_view(self, member: Member) -> None:
        """One viewing from before the first deploy to after the last, on the edge address its
        session named then: every file again and again, a heartbeat a second."""
        viewing = self.viewing
        beat = f"{self.api}/playback/sessions/{viewing.session_id}/heartbeat"
        n, last_beat = 0, 0.0
        with (
            httpx.Client(headers=member.headers, timeout=10) as client,
            httpx.Client(timeout=10) as edge,
        ):
            while not self._stop.is_set():
                self._count("long-view", edge.get, viewing.files[n % len(viewing.files)])
                if n % 10 == 0:
                    live = self._count("edge-live", edge.get, viewing.edge + "/health/live")
                    if live is not None:
                        with self._lock:
                            self.edge_instances[live.json()["instance"]] += 1
                if time.monotonic() - last_beat >= 1.0:
                    last_beat = time.monotonic()
                    self._count("heartbeat", client.post, beat, json={"position_s": float(n % 8)})
                n += 1
                time.sleep(0.1)

    def _look_up_fresh(self, member: Member) -> None:
        """Title lookups, each on a new connection (a client that keeps none alive)."""
        n = 0
        while not self._stop.is_set():
            title = self.show.title_ids[n % len(self.show.title_ids)]
            self._count(
                "title", httpx.get, f"{self.api}/titles/{title}", headers=member.headers, timeout=10
            )
            n += 1
            time.sleep(PACE_S)

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_every_service_is_deployed_under_load_with_no_failed_request(
    platform: LocalPlatform, clone: Path, show: Show
) -> None:
    ref = commit(
        clone,
        "a harmless change to every service",
        {"src/cinemesh/services/__init__.py": (clone / "src/cinemesh/services/__init__.py")
         .read_text() + "\n# deployed by tests/system/test_deploy_all.py\n"},
    )  # fmt: skip
    members = [sign_up(platform) for _ in range(6)]
    edge_address = {i["public_port"] for i in platform.instances("edge")}
    took: dict[str, float] = {}
    deploys: list[tuple[str, float, float]] = []
    with SteadyLoad(platform, show, members) as load:
        try:
            time.sleep(CONTROL_S)  # the same load with no deploy, for comparison
            print(f"requests before the first deploy: {load.by_kind()} {load.failed}")
            for service in DEPLOYED:
                began = time.monotonic()
                done = deploy(platform, clone, service, ref)
                took[service] = time.monotonic() - began
                deploys.append((service, began, time.monotonic()))
                assert done.returncode == 0, f"{service}: {done.stdout}{done.stderr}"
                assert versions(platform, service) == {ref[:12]}, service
                said = re.search(r"runs \S+ on every instance \([\d.]+s\)", done.stdout)
                print(f"{service} {said and said.group(0)}, {took[service]:.0f}s with the gates")
            time.sleep(3)
        finally:
            load.stop()
            report(load, took, deploys)
            if load.failed:
                print(f"the gateway's breakers: {breakers_opened(platform)}")
                print(f"service log problems:\n{platform.problems(per_log=8)}")

    assert load.failed == {}, load.failed
    totals = load.by_kind()
    for kind in ("home", "search", "title", "start", "heartbeat", "playlist", "segment"):
        assert totals.get(kind, 0) >= 20, totals
    assert totals["long-view"] >= 100, totals
    assert {i["public_port"] for i in platform.instances("edge")} == edge_address
    assert len(load.edge_instances) == 2, "the viewing's edge address moved to the new edge"


def breakers_opened(platform: LocalPlatform) -> dict[str, int]:
    """How often the gateway's circuit breaker for each service opened (its ops view)."""
    ops = httpx.get(f"{platform.gateway}/api/v1/ops/services", timeout=10).json()
    return {
        s["name"]: s["calls"].get("breaker_opened_times", 0)
        for s in ops["services"]
        if s.get("calls")
    }


def report(
    load: SteadyLoad, took: dict[str, float], deploys: list[tuple[str, float, float]]
) -> None:
    """Every count, printed whether the run passed or not."""
    failed = load.failed
    edge_failed = {k: n for k, n in failed.items() if k.split()[0] in EDGE_KINDS}
    print(f"requests by kind: {load.by_kind()}")
    print(f"answers: { {f'{k} {o}': n for (k, o), n in sorted(load.answers.items())} }")
    print(f"failed user requests over the whole run: {sum(failed.values())} {failed}")
    print(f"of which the edge answered: {sum(edge_failed.values())} {edge_failed}")
    print(f"failures by the deploy running then: {load.failed_during(deploys)}")
    print(f"home pages with a degraded part: {dict(load.degraded)}")
    print(f"the long viewing's edge address was served by: {dict(load.edge_instances)}")
    print("deploy times with the gates: " + ", ".join(f"{s} {t:.0f}s" for s, t in took.items()))
