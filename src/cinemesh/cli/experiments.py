"""Chaos experiments: steady user traffic through the gateway, a control period, a fault,
and what users saw in each period (Netflix's ChAP in miniature)."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from cinemesh.contracts.identity import PLAN_STREAMS
from cinemesh.runner.client import auth_headers
from cinemesh.runner.layout import Layout

Say = Callable[[str], Any]


@dataclass
class Period:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    degraded: int = 0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]
        count = len(self.latencies)
        return {
            "name": self.name,
            "requests": count,
            "errors": self.errors,
            "error_rate": self.errors / count if count else 0.0,
            "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "degraded": self.degraded,
        }


@dataclass
class Viewer:
    """A signed-up member with a profile, as the load's user."""

    token: str
    profile_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Experiment:
    description: str
    traffic: str  # "home", "search" or "playback"
    fault: Callable[[Layout, str], Awaitable[None]]
    cleanup: Callable[[Layout, str], Awaitable[None]]
    scale: dict[str, int] = field(default_factory=dict)


async def _control(layout: Layout, path: str, body: dict[str, Any]) -> Any:
    state = layout.read_state() or {}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            state["control_url"] + path, json=body, headers=auth_headers(layout)
        )
        response.raise_for_status()
        return response.json()


async def _faults(layout: Layout, service: str, spec: dict[str, float] | None) -> None:
    state = layout.read_state() or {}
    async with httpx.AsyncClient(timeout=10) as client:
        status = (await client.get(state["control_url"] + "/status")).json()["instances"]
        for inst in (i for i in status if i["service"] == service and i["pid"]):
            url = f"http://127.0.0.1:{inst['port']}/internal/faults"
            if spec:
                await client.put(url, json=spec, headers=auth_headers(layout))
            else:
                await client.delete(url, headers=auth_headers(layout))


def _kill(
    service: str, *, instance: int | None = None, hold_s: float = 0.0
) -> Callable[[Layout, str], Awaitable[None]]:
    async def inject(layout: Layout, _gateway: str) -> None:
        await _control(
            layout, "/kill", {"service": service, "instance": instance, "hold_s": hold_s}
        )

    return inject


def _slow(service: str, ms: float) -> Callable[[Layout, str], Awaitable[None]]:
    async def inject(layout: Layout, _gateway: str) -> None:
        await _faults(layout, service, {"latency_ms": ms})

    return inject


def _failing(service: str, rate: float) -> Callable[[Layout, str], Awaitable[None]]:
    async def inject(layout: Layout, _gateway: str) -> None:
        await _faults(layout, service, {"error_rate": rate})

    return inject


def _reset(service: str) -> Callable[[Layout, str], Awaitable[None]]:
    async def cleanup(layout: Layout, _gateway: str) -> None:
        await _faults(layout, service, None)

    return cleanup


async def _nothing(_layout: Layout, _gateway: str) -> None:
    return None


def _revive(service: str) -> Callable[[Layout, str], Awaitable[None]]:
    async def cleanup(layout: Layout, _gateway: str) -> None:
        await _control(layout, "/revive", {"service": service})

    return cleanup


EXPERIMENTS: dict[str, Experiment] = {
    "recommender-down": Experiment(
        "kill the recommender and keep it down",
        "home",
        _kill("recommender", hold_s=3600),
        _revive("recommender"),
    ),
    "recommender-slow": Experiment(
        "add 5 s to every recommender answer",
        "home",
        _slow("recommender", 5000),
        _reset("recommender"),
    ),
    "history-down": Experiment(
        "kill history and keep it down", "home", _kill("history", hold_s=3600), _revive("history")
    ),
    "catalog-errors": Experiment(
        "fail half of the catalog's answers", "home", _failing("catalog", 0.5), _reset("catalog")
    ),
    "search-down": Experiment(
        "kill search; home must not notice", "home", _kill("search", hold_s=3600), _revive("search")
    ),
    "playback-instance-loss": Experiment(
        "three playback instances, kill one",
        "playback",
        _kill("playback", instance=1),
        _nothing,
        scale={"playback": 3},
    ),
}


def viewer_count(rate: float) -> int:
    """Enough members that the load stays within each one's stream limit (premium: 4) even
    when a session takes two seconds: more viewers, not one viewer on many screens."""
    return max(2, math.ceil(rate * 2 / PLAN_STREAMS["premium"]))


async def sign_up_viewer(client: httpx.AsyncClient, gateway: str) -> Viewer:
    email = f"chaos-{uuid.uuid4().hex[:10]}@example.com"
    password = f"Chaos-{uuid.uuid4().hex}"
    signup = await client.post(
        f"{gateway}/api/v1/auth/signup",
        json={"email": email, "password": password, "plan": "premium"},
    )
    signup.raise_for_status()
    login = await client.post(
        f"{gateway}/api/v1/auth/login", json={"email": email, "password": password}
    )
    login.raise_for_status()
    token = login.json()["access_token"]
    profile = await client.post(
        f"{gateway}/api/v1/profiles",
        json={"name": "Chaos"},
        headers={"Authorization": f"Bearer {token}"},
    )
    profile.raise_for_status()
    return Viewer(token, str(profile.json()["id"]))


async def playable_title(client: httpx.AsyncClient, gateway: str, viewer: Viewer) -> str:
    home = await client.get(
        f"{gateway}/api/v1/home", params={"profile_id": viewer.profile_id}, headers=viewer.headers
    )
    for row in home.json().get("rows", []):
        for item in row.get("items", []):
            if item.get("playable"):
                return str(item["id"])
    raise RuntimeError("no playable title on the home page; seed or ingest a video first")


def _request_maker(
    traffic: str, client: httpx.AsyncClient, gateway: str, viewers: list[Viewer], title_id: str
) -> Callable[[], Awaitable[httpx.Response]]:
    """Requests for `traffic`, each as the next viewer in turn."""
    turn = itertools.count()

    def next_viewer() -> Viewer:
        return viewers[next(turn) % len(viewers)]

    async def home() -> httpx.Response:
        viewer = next_viewer()
        return await client.get(
            f"{gateway}/api/v1/home",
            params={"profile_id": viewer.profile_id},
            headers=viewer.headers,
        )

    async def search() -> httpx.Response:
        viewer = next_viewer()
        return await client.get(
            f"{gateway}/api/v1/search", params={"q": "the"}, headers=viewer.headers
        )

    async def playback() -> httpx.Response:
        viewer = next_viewer()
        started = await client.post(
            f"{gateway}/api/v1/playback/sessions",
            headers=viewer.headers,
            json={"profile_id": viewer.profile_id, "title_id": title_id},
        )
        if started.status_code != 201 and started.status_code != 200:
            return started
        session_id = started.json()["session_id"]
        beat = await client.post(
            f"{gateway}/api/v1/playback/sessions/{session_id}/heartbeat",
            json={"position_s": 1.0},
            headers=viewer.headers,
        )
        await client.delete(
            f"{gateway}/api/v1/playback/sessions/{session_id}", headers=viewer.headers
        )
        return beat

    return {"home": home, "search": search, "playback": playback}[traffic]


async def _load(
    period: Period,
    make_request: Callable[[], Awaitable[httpx.Response]],
    *,
    seconds: float,
    rate: float,
) -> None:
    """Open-loop load: requests leave on schedule whether or not earlier ones finished."""
    pending: set[asyncio.Task[None]] = set()

    async def one() -> None:
        started = time.perf_counter()
        try:
            response = await make_request()
            failed = response.status_code >= 500 or response.status_code == 429
            if response.status_code == 200 and "degraded" in response.text:
                body = response.json()
                period.degraded += bool(isinstance(body, dict) and body.get("degraded"))
        except httpx.HTTPError:
            failed = True
        period.latencies.append(time.perf_counter() - started)
        period.errors += failed

    begin = time.perf_counter()
    sent = 0
    while (now := time.perf_counter() - begin) < seconds:
        due = int(now * rate) + 1
        while sent < due:
            task = asyncio.create_task(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        await asyncio.sleep(1 / rate / 2)
    await asyncio.gather(*pending)


async def run_experiment(
    name: str, *, layout: Layout, gateway: str, seconds: float, rate: float, say: Say
) -> dict[str, Any]:
    experiment = EXPERIMENTS[name]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        for service, count in experiment.scale.items():
            await _control(layout, "/scale", {"service": service, "count": count})
        if experiment.scale:
            await asyncio.sleep(8)  # new instances register and pass health checks
        viewers = [await sign_up_viewer(client, gateway) for _ in range(viewer_count(rate))]
        title_id = (
            await playable_title(client, gateway, viewers[0])
            if experiment.traffic == "playback"
            else ""
        )
        make_request = _request_maker(experiment.traffic, client, gateway, viewers, title_id)
        control_period, fault_period = Period("control"), Period(f"fault: {experiment.description}")
        say(f"control period: {seconds:.0f}s of {experiment.traffic} traffic at {rate:.0f}/s")
        await _load(control_period, make_request, seconds=seconds, rate=rate)
        say(f"injecting: {experiment.description}")
        await experiment.fault(layout, gateway)
        try:
            await _load(fault_period, make_request, seconds=seconds, rate=rate)
        finally:
            await experiment.cleanup(layout, gateway)
    return {"experiment": name, "periods": [control_period.summary(), fault_period.summary()]}
