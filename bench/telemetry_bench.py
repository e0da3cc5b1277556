"""Play beacons and experiment allocation, each beside its baseline in the same run:

- beacon ingest: the beacons a second one telemetry instance (SQLite, its own process) takes
  with a p99 under 20 ms, against a bare endpoint that checks the same published schema
  (`BeaconBatch`) and discards the beacons, served by the same uvicorn on the same machine.
  Each request carries a batch of beacons, as the player sends them (a beacon is one stretch of
  one session; every beacon is new). The load is an open loop at a stated rate, stepped up;
  every latency is counted from when the request was due, so queueing shows in full. The
  sessions are made known to telemetry the way playback announces them (`playback.started`
  on the bus); the caller's access token is minted here (no identity service);
- allocation: what a profile's cells cost. In process, the hash allocation of one profile
  over the running experiments (what the experiments service computes per request), in µs;
  over HTTP, `GET /v1/allocations` of one experiments instance with a kept-alive connection
  (what the gateway pays once per profile every 30 s; in between it reads its own copy).

The host is shared: only ratios measured in one run mean much. Prints JSON with `summary`.

    .venv/bin/python bench/telemetry_bench.py [--quick | --tiny]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.tokens import TokenMint

from cinemesh.benchsuite.nats import nats_server
from cinemesh.benchsuite.openloop import percentile
from cinemesh.benchsuite.rows import row
from cinemesh.contracts.playback import PlaybackStarted
from cinemesh.platform.events import Event, EventBus
from cinemesh.runner.layout import free_port
from cinemesh.runner.local import LocalPlatform
from cinemesh.services.experiments.public import BUCKETS, Cell, Design

P99_GOAL_MS = 20.0
BATCH = 5  # beacons per request


@dataclass(frozen=True)
class Mode:
    name: str
    rates: tuple[int, ...]  # requests per second, stepped up until the p99 goal fails
    step_s: float
    sessions: int
    lookups: int


MODES = {
    "tiny": Mode("tiny", (20,), 1.5, 5, 2_000),
    "quick": Mode("quick", (25, 50, 100, 200, 400), 5.0, 50, 50_000),
    "full": Mode("full", (25, 50, 100, 200, 300, 400, 600, 800), 10.0, 200, 200_000),
}

BARE_APP = textwrap.dedent(
    """
    import sys
    import uvicorn
    from fastapi import FastAPI
    from cinemesh.contracts.telemetry import BeaconBatch

    app = FastAPI()

    @app.post("/v1/beacons", status_code=202)
    async def discard(body: BeaconBatch) -> dict:
        return {"accepted": len(body.beacons), "duplicates": 0}

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


# --- the pieces ----------------------------------------------------------------------------
@contextmanager
def bare_endpoint() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/docs", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def announce_sessions(nats_url: str, account: str, sessions: list[str]) -> None:
    bus = EventBus(nats_url, service="bench", namespace="cinemesh")
    await bus.connect()
    try:
        for n, session in enumerate(sessions):
            started = PlaybackStarted(
                session_id=session, account_id=account, profile_id=f"p-{n}",
                title_id=f"t-{n % 7}", at=datetime.now(UTC).isoformat(),
            )  # fmt: skip
            await bus.publish(Event(type=started.TYPE, data=started.model_dump(), source="bench"))
    finally:
        await bus.close()


class Beacons:
    """Batches of new beacons, round-robin over the sessions."""

    def __init__(self, sessions: list[str]) -> None:
        self.sessions, self.seq, self.turn = sessions, dict.fromkeys(sessions, 0), 0

    def batch(self) -> dict[str, Any]:
        session = self.sessions[self.turn % len(self.sessions)]
        self.turn += 1
        first = self.seq[session]
        self.seq[session] = first + BATCH
        return {
            "beacons": [
                {"session_id": session, "seq": seq, "played_ms": 10_000, "stalls": 0,
                 "rebuffer_ms": 0, "bitrate_kbps": 2500.0, "height": 720,
                 "ttff_ms": 450 if seq == 0 else None}
                for seq in range(first, first + BATCH)
            ]
        }  # fmt: skip


async def open_loop(url: str, headers: dict[str, str], beacons: Beacons, rate: int, seconds: float) -> dict[str, Any]:  # fmt: skip
    """`rate` requests a second for `seconds`; latency from when each was due."""
    latencies: list[float] = []
    failed = 0
    start = time.perf_counter() + 0.05
    total = max(1, int(rate * seconds))

    async with aiohttp.ClientSession(
        headers=headers, connector=aiohttp.TCPConnector(limit=64)
    ) as client:

        async def one(due: float, body: dict[str, Any]) -> None:
            nonlocal failed
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                async with client.post(url, json=body) as response:
                    await response.read()
                    if response.status != 202:
                        failed += 1
            except aiohttp.ClientError:
                failed += 1
            latencies.append((time.perf_counter() - due) * 1000)

        await asyncio.gather(*(one(start + i / rate, beacons.batch()) for i in range(total)))
    ordered = sorted(latencies)
    return {
        "rate_requests_per_s": rate,
        "beacons_per_s": rate * BATCH,
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "failed": failed,
        "requests": total,
    }


def ramp(url: str, headers: dict[str, str], beacons: Beacons, mode: Mode) -> dict[str, Any]:
    steps, best = [], 0
    for rate in mode.rates:
        step = asyncio.run(open_loop(url, headers, beacons, rate, mode.step_s))
        steps.append(step)
        if step["p99_ms"] >= P99_GOAL_MS or step["failed"]:
            break
        best = step["beacons_per_s"]
    return {"beacons_per_s_within_goal": best, "steps": steps}


def allocation_in_process(lookups: int) -> dict[str, Any]:
    running = [
        Design(f"e{n}", "salt", f"layer-{n}", 0, BUCKETS, (Cell("control", 1), Cell("b", 1)))
        for n in range(3)
    ]
    profiles = [uuid.uuid4().hex for _ in range(1000)]
    started = time.perf_counter()
    for i in range(lookups):
        profile = profiles[i % len(profiles)]
        for design in running:
            design.cell_of(profile)
    per_us = (time.perf_counter() - started) / lookups * 1e6
    return {"experiments": len(running), "us_per_profile": round(per_us, 2)}


def allocation_over_http(platform: LocalPlatform, count: int) -> dict[str, Any]:
    url = platform.url_of("experiments") + "/v1/allocations"
    latencies = []
    with httpx.Client(headers=platform.headers, timeout=10) as client:
        for n in range(count):
            started = time.perf_counter()
            client.get(url, params={"profile_id": f"profile-{n}"}).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1e6)
    ordered = sorted(latencies)
    return {
        "requests": count,
        "p50_us": round(statistics.median(ordered)),
        "p99_us": round(percentile(ordered, 0.99)),
    }


def wait_known(url: str, headers: dict[str, str], session: str) -> None:
    deadline = time.monotonic() + 60
    probe = {"beacons": [{"session_id": session, "seq": 999_999, "played_ms": 0}]}
    while time.monotonic() < deadline:
        if httpx.post(url, json=probe, headers=headers, timeout=10).status_code == 202:
            return
        time.sleep(0.3)
    raise RuntimeError("telemetry never learnt of the sessions")


def run(mode: Mode) -> dict[str, Any]:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    sessions = [f"s{uuid.uuid4().hex[:12]}" for _ in range(mode.sessions)]
    report: dict[str, Any] = {"mode": mode.name, "batch": BATCH, "p99_goal_ms": P99_GOAL_MS}
    with tempfile.TemporaryDirectory() as folder, nats_server(Path(folder) / "js") as nats_url:
        data_dir = Path(folder) / "data"
        mint = TokenMint(data_dir)  # tokens without identity, as the tests mint them
        platform = LocalPlatform(
            data_dir,
            services=["registry", "telemetry", "experiments"],
            env={"CINEMESH_NATS_URL": nats_url, "CINEMESH_LOG_LEVEL": "warning"},
        ).start(timeout_s=300)
        try:
            headers = {**platform.headers, **mint.headers(account_id=account, ttl_s=7200)}
            url = platform.url_of("telemetry") + "/v1/beacons"
            asyncio.run(announce_sessions(nats_url, account, sessions))
            wait_known(url, headers, sessions[-1])
            report["telemetry"] = ramp(url, headers, Beacons(sessions), mode)
            report["allocation_http"] = allocation_over_http(platform, max(50, mode.lookups // 100))
        finally:
            platform.stop()
    with bare_endpoint() as base:
        report["bare"] = ramp(base + "/v1/beacons", {}, Beacons(sessions), mode)
    report["allocation_in_process"] = allocation_in_process(mode.lookups)
    return report


def summarize(report: dict[str, Any]) -> list[dict[str, Any]]:
    first_ours, first_bare = report["telemetry"]["steps"][0], report["bare"]["steps"][0]
    return [
        row(
            f"beacons/s one telemetry instance takes with p99 < {P99_GOAL_MS:g} ms "
            f"(batches of {BATCH}, SQLite)",
            report["telemetry"]["beacons_per_s_within_goal"],
            baseline="a bare endpoint that checks the schema and discards them",
            baseline_value=report["bare"]["beacons_per_s_within_goal"],
        ),
        row(
            f"beacon batch p99 at {first_ours['rate_requests_per_s']} requests/s, ms",
            first_ours["p99_ms"],
            baseline="the bare endpoint at the same rate",
            baseline_value=first_bare["p99_ms"],
            better="lower",
        ),
        row(
            "allocation of one profile over 3 running experiments, in process, µs",
            report["allocation_in_process"]["us_per_profile"],
            baseline="GET /v1/allocations of an experiments instance (p50, µs), what the "
            "gateway pays once per profile every 30 s",
            baseline_value=report["allocation_http"]["p50_us"],
            better="lower",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    mode = MODES["tiny" if args.tiny else "quick" if args.quick else "full"]
    report = run(mode)
    print(json.dumps({"benchmark": "telemetry", "summary": summarize(report), **report}, indent=2))


if __name__ == "__main__":
    main()
