"""Simulated members for a running platform (`cinemesh simulate`), through the public API only,
as people use it: each signs up, makes a profile, then until the time is up opens the home
page, sometimes searches, and watches (a playback session, its heartbeats, QoE beacons, a stop).

How a member chooses (pure functions, `pick`): it looks at the first rows of the home page and
the first titles of each, less carefully the further down and right (position bias), and
starts a title with a chance that grows with how well the title's genres meet its hidden taste
(tastes.py); a member that found nothing searches one of its genres now and then. Titles it
likes it watches longer. `speed` compresses member time: at 10, a member's minute of watching
or thinking takes six real seconds; heartbeats stay at least MIN_HEARTBEAT_S apart in real
time and report the member-time position.

Everything drawn comes from `seed` (tastes and every member's choices); the answers of the
platform, and so the pages members see, are the platform's own. Requests in flight are
bounded by `concurrency` (the connection pool); sign-ups, which hash a password, by
SIGNUP_CONCURRENCY."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from cinemesh.contracts.telemetry import MAX_BEACONS, MAX_STRETCH_MS
from cinemesh.demo.tastes import Taste, TasteSource

SIGNUP_CONCURRENCY = 4
ARRIVALS_S = 30.0  # members arrive over at most this many real seconds (a fifth of the run)
ROWS_LOOKED, ITEMS_LOOKED = 4, 8
ROW_ATTENTION, ITEM_ATTENTION = 0.8, 0.85
PLAY_OTHER, PLAY_MATCH = 0.03, 0.9  # chance to start a title in view: base + match * this
SEARCH_CHANCE = 0.6  # after a home page with nothing to watch
THINK_S = 45.0  # member seconds between pages, on average
HEARTBEAT_S = 10.0  # member seconds between a player's heartbeats
MIN_HEARTBEAT_S = 2.0  # real seconds, whatever the speed
LIKED_WATCH_MIN, OTHER_WATCH_MIN = 35.0, 6.0  # median minutes watched of a title
FINISHED = 0.9  # watched this share of a title's runtime: not started again
PLANS = (("basic", 0.3), ("standard", 0.45), ("premium", 0.25))
RETRIES = 3


class GatewayUnreachable(Exception):
    """The gateway does not answer at all: nothing to simulate against."""


@dataclass(frozen=True)
class Options:
    gateway: str
    members: int = 200
    minutes: float = 10.0
    seed: int = 1
    speed: float = 1.0
    concurrency: int = 32
    movielens: Path | None = None
    tastes_out: Path | None = None  # each member's hidden taste, a JSON line as it joins


@dataclass(frozen=True)
class Pick:
    title_id: str
    row_id: str  # "search" for a title found by searching
    match: float
    runtime_min: float | None


def pick(
    rows: Sequence[Any],
    taste: Taste,
    rng: random.Random,
    *,
    skip: set[str] | frozenset[str] = frozenset(),
) -> Pick | None:
    """The title a member starts from these rows, or None (module docstring: how)."""
    for r, row in enumerate(rows[:ROWS_LOOKED]):
        items = row.get("items") if isinstance(row, dict) else None
        for i, item in enumerate((items or [])[:ITEMS_LOOKED]):
            title_id = str(item.get("id") or "") if isinstance(item, dict) else ""
            if not title_id or title_id in skip or item.get("playable") is False:
                continue
            match = taste.match(item.get("genres") or [])
            chance = ROW_ATTENTION**r * ITEM_ATTENTION**i * (PLAY_OTHER + PLAY_MATCH * match)
            if rng.random() < chance:
                runtime = item.get("runtime_min")
                return Pick(title_id, str(row.get("id", "")), match, runtime and float(runtime))
    return None


def start_body(profile_id: str, chosen: Pick) -> dict[str, str]:
    """A session start as the web app sends it: from a home row, that row's id."""
    body = {"profile_id": profile_id, "title_id": chosen.title_id}
    if chosen.row_id and chosen.row_id != "search":
        body["row"] = chosen.row_id
    return body


def watch_minutes(chosen: Pick, rng: random.Random) -> float:
    """Member minutes watched: long for a title of the member's taste, a sample otherwise."""
    median = OTHER_WATCH_MIN + (LIKED_WATCH_MIN - OTHER_WATCH_MIN) * chosen.match
    wanted = rng.lognormvariate(math.log(median), 0.6)
    return min(wanted, chosen.runtime_min) if chosen.runtime_min else wanted


@dataclass
class Tally:
    """What the members did and met so far, for progress and the summary."""

    members: int = 0
    joined: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    watched_s: float = 0.0  # member time
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> dict[str, Any]:
        return {
            "members": self.members,
            "joined": self.joined,
            **dict(sorted(self.counts.items())),
            "watch_minutes": round(self.watched_s / 60, 1),
            "refusals": dict(self.refusals.most_common()),
            "elapsed_s": round(time.monotonic() - self.started, 1),
        }


class Member:
    def __init__(
        self, n: int, taste: Taste, run: Simulation, rng: random.Random, plan: str
    ) -> None:
        self.n, self.taste, self.run, self.rng, self.plan = n, taste, run, rng, plan
        self.email = f"sim-{run.run_id}-{n}@example.com"
        self.password = f"Sim-pass-{run.run_id}-{n}"
        self.token = ""
        self.profile_id = ""
        self.done: set[str] = set()  # finished or unplayable: not started again

    @property
    def tally(self) -> Tally:
        return self.run.tally

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """One request as this member: signed in again on a 401, a 429 or 503 waited out (not
        a stream limit, which is an answer); None when the gateway did not answer."""
        for _ in range(RETRIES):
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            try:
                answer = await self.run.http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError:
                self.tally.refusals["no answer"] += 1
                await asyncio.sleep(1.0)
                continue
            if answer.status_code == 401 and self.token:
                await self.sign_in()
                continue
            if answer.status_code in (429, 503) and code_of(answer) != "STREAM_LIMIT":
                self.refused(path, answer)
                await asyncio.sleep(min(5.0, float(answer.headers.get("retry-after") or 1)))
                continue
            if answer.status_code >= 400:
                self.refused(path, answer)
            return answer
        return None

    def refused(self, path: str, answer: httpx.Response) -> None:
        what = path.split("?")[0].removeprefix("/api/v1/").split("/")[0]
        self.tally.refusals[f"{what} {answer.status_code} {code_of(answer)}"] += 1

    async def join(self) -> bool:
        async with self.run.signups:
            made = await self.call(
                "POST",
                "/api/v1/auth/signup",
                json={"email": self.email, "password": self.password, "plan": self.plan},
            )
            if made is None or made.status_code != 201 or not await self.sign_in():
                return False
        profile = await self.call("POST", "/api/v1/profiles", json={"name": f"Sim {self.n}"})
        if profile is None or profile.status_code != 201:
            return False
        self.profile_id = str(profile.json()["id"])
        self.tally.joined += 1
        self.run.told(self)
        return True

    async def sign_in(self) -> bool:
        self.token = ""
        signed = await self.call(
            "POST", "/api/v1/auth/login", json={"email": self.email, "password": self.password}
        )
        if signed is None or signed.status_code != 200:
            return False
        self.token = str(signed.json()["access_token"])
        return True

    async def live(self, deadline: float) -> None:
        """Pages, searches and plays until the deadline."""
        while time.monotonic() < deadline:
            chosen = await self.browse_home()
            if chosen is None and self.rng.random() < SEARCH_CHANCE:
                chosen = await self.search()
            if chosen is not None:
                await self.watch(chosen, deadline)
            await self.wait(self.rng.expovariate(1 / THINK_S), deadline)

    async def wait(self, member_s: float, deadline: float) -> None:
        await asyncio.sleep(max(0.0, min(member_s / self.run.speed, deadline - time.monotonic())))

    async def browse_home(self) -> Pick | None:
        page = await self.call("GET", "/api/v1/home", params={"profile_id": self.profile_id})
        if page is None or page.status_code != 200:
            return None
        self.tally.counts["home pages"] += 1
        return pick(page.json().get("rows", []), self.taste, self.rng, skip=self.done)

    async def search(self) -> Pick | None:
        if not self.taste.genres:
            return None
        genre = self.taste.favourite(self.rng)
        found = await self.call(
            "GET",
            "/api/v1/search",
            params={"genre": genre, "profile_id": self.profile_id, "limit": 20},
        )
        if found is None or found.status_code != 200:
            return None
        self.tally.counts["searches"] += 1
        hits = found.json().get("hits", [])
        return pick([{"id": "search", "items": hits}], self.taste, self.rng, skip=self.done)

    async def watch(self, chosen: Pick, deadline: float) -> None:
        """A playback session: started, kept alive with heartbeats while the member watches,
        its QoE beacons sent, stopped."""
        started = await self.call(
            "POST",
            "/api/v1/playback/sessions",
            json=start_body(self.profile_id, chosen),
        )
        if started is None or started.status_code != 201:
            if started is not None and started.status_code in (403, 404, 409):
                self.done.add(chosen.title_id)  # not playable, or not for this profile
            return
        session = started.json()
        self.tally.counts["plays"] += 1
        self.tally.counts[
            "plays from search" if chosen.row_id == "search" else "plays from home"
        ] += 1
        if chosen.match > 0:
            self.tally.counts["plays of the member's taste"] += 1
        session_id, position = (
            str(session["session_id"]),
            float(session.get("resume_position_s") or 0),
        )
        wanted_s = watch_minutes(chosen, self.rng) * 60
        watched_s, beacons = 0.0, list[dict[str, Any]]()
        step_real = max(HEARTBEAT_S / self.run.speed, MIN_HEARTBEAT_S)
        while watched_s < wanted_s and time.monotonic() + step_real < deadline:
            await asyncio.sleep(step_real)
            stretch = min(step_real * self.run.speed, wanted_s - watched_s)
            watched_s, position = watched_s + stretch, position + stretch
            beat = await self.call(
                "POST",
                f"/api/v1/playback/sessions/{session_id}/heartbeat",
                json={"position_s": round(position, 1)},
            )
            if beat is None or beat.status_code != 200:
                break
            self.tally.counts["heartbeats"] += 1
            beacons.append(
                {
                    "session_id": session_id,
                    "seq": len(beacons),
                    "played_ms": min(int(stretch * 1000), MAX_STRETCH_MS),
                }
            )
        self.tally.watched_s += watched_s
        if chosen.runtime_min and position >= FINISHED * chosen.runtime_min * 60:
            self.done.add(chosen.title_id)
        await self.call("DELETE", f"/api/v1/playback/sessions/{session_id}")
        await self.report(beacons)

    async def report(self, beacons: list[dict[str, Any]]) -> None:
        """The play's beacons (time played, per heartbeat stretch); telemetry may not have
        heard of the session yet (404): sent again a moment later."""
        for start in range(0, len(beacons), MAX_BEACONS):
            batch = {"beacons": beacons[start : start + MAX_BEACONS]}
            for _ in range(RETRIES):
                sent = await self.call("POST", "/api/v1/telemetry/play", json=batch)
                if sent is None or sent.status_code != 404:
                    break
                await asyncio.sleep(0.5)
            if sent is not None and sent.status_code == 202:
                self.tally.counts["beacons"] += int(sent.json().get("accepted", 0))


def code_of(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


class Simulation:
    """One run: `await Simulation(options).run()` answers the tally when the time is up."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.speed = options.speed
        self.run_id = uuid.uuid4().hex[:8]  # emails differ between runs; choices do not
        self.tally = Tally(members=options.members)
        self.signups = asyncio.Semaphore(SIGNUP_CONCURRENCY)
        self.http = httpx.AsyncClient(
            base_url=options.gateway.rstrip("/"),
            timeout=30,
            limits=httpx.Limits(max_connections=options.concurrency),
        )
        self.tastes_from = ""

    async def run(self) -> Tally:
        try:
            await self.check_gateway()
            deadline = time.monotonic() + self.options.minutes * 60
            rng = random.Random(self.options.seed)
            members = [
                Member(n, Taste({}, ""), self, random.Random(rng.getrandbits(64)), self.plan(rng))
                for n in range(self.options.members)
            ]
            if not members or not await members[0].join():
                raise GatewayUnreachable(
                    f"the first simulated member could not sign up at {self.options.gateway}: "
                    f"{dict(self.tally.refusals) or 'no answer'}"
                )
            source = TasteSource(
                await self.catalog_genres(members[0]),
                movielens=self.options.movielens,
                seed=self.options.seed,
            )
            self.tastes_from = source.kind
            for member in members:
                member.taste = source.draw()
            self.told(members[0])
            arrivals = min(ARRIVALS_S, self.options.minutes * 60 / 5) / len(members)
            await asyncio.gather(*(self.member_life(m, m.n * arrivals, deadline) for m in members))
            return self.tally
        finally:
            await self.http.aclose()

    @staticmethod
    def plan(rng: random.Random) -> str:
        return rng.choices([p for p, _ in PLANS], weights=[w for _, w in PLANS])[0]

    async def check_gateway(self) -> None:
        try:
            answer = await self.http.get("/health/live", timeout=5)
        except httpx.HTTPError as exc:
            raise GatewayUnreachable(
                f"the gateway at {self.options.gateway} is unreachable ({exc.__class__.__name__}); "
                "start cinemesh (`cinemesh up`) or pass --gateway URL"
            ) from None
        if answer.status_code != 200:
            raise GatewayUnreachable(
                f"{self.options.gateway} answered {answer.status_code} to /health/live: "
                "is it a cinemesh gateway?"
            )

    async def catalog_genres(self, member: Member) -> dict[str, int]:
        listed = await member.call("GET", "/api/v1/genres")
        if listed is None or listed.status_code != 200:
            return {}
        return {str(g["name"]): int(g["count"]) for g in listed.json().get("genres", [])}

    async def member_life(self, member: Member, arrive_s: float, deadline: float) -> None:
        await asyncio.sleep(arrive_s)
        if member.profile_id or (time.monotonic() < deadline and await member.join()):
            await member.live(deadline)

    def told(self, member: Member) -> None:
        """Write a member's hidden taste out (once it has both a profile and a taste)."""
        path = self.options.tastes_out
        if path is None or not member.profile_id or not member.taste.source:
            return
        line = {
            "profile_id": member.profile_id,
            "member": member.n,
            "genres": dict(member.taste.genres),
            "source": member.taste.source,
        }
        with path.open("ab") as out:
            out.write(orjson.dumps(line) + b"\n")
