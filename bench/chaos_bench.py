"""Chaos: what users see under each fault, against the control period just before it.

Starts the whole platform as `cinemesh up` does (demo catalog, no demo videos, plus one short
video made and encoded for the playback experiment), then runs the experiments of
`cinemesh chaos experiment` one after the other (the same code, `cinemesh.cli.experiments`):
steady open-loop user traffic through the gateway for a control period, then the same
traffic with the fault in place. Per fault: the user-visible error rate (5xx and 429
answers, and requests that got no answer) and p50/p99 latency, fault vs control, and how
many answers said a part was degraded. Between experiments the platform is left to recover
(every instance healthy, home pages no longer degraded). Prints JSON.

--tiny runs one experiment per kind of fault (kill, latency, errors, instance loss) with
3 s periods; --quick runs every experiment with 4 s periods; full, 15 s periods."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from cinemesh.cli.experiments import EXPERIMENTS, playable_title, run_experiment, sign_up_viewer
from cinemesh.demo.seeding import demo_titles
from cinemesh.demo.upload import DemoTitle, attach_demo_videos
from cinemesh.runner.local import LocalPlatform

# one experiment per kind of fault; playback last, as it scales playback out and leaves it so
TINY = ["recommender-down", "recommender-slow", "catalog-errors", "playback-instance-loss"]
EVERY = [n for n in EXPERIMENTS if n != "playback-instance-loss"] + ["playback-instance-loss"]
MODES: dict[str, dict[str, Any]] = {
    "tiny": {"experiments": TINY, "seconds": 3.0, "rate": 10.0},
    "quick": {"experiments": EVERY, "seconds": 4.0, "rate": 15.0},
    "full": {"experiments": EVERY, "seconds": 15.0, "rate": 20.0},
}
DEMO_VIDEO_S = 2.0
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.1f}s] {message}", file=sys.stderr, flush=True)


async def wait_for_home(platform: LocalPlatform, *, timeout_s: float) -> None:
    """The demo catalog seeded and learnt by the services: a new member's home has rows."""
    async with httpx.AsyncClient(timeout=10) as client:
        viewer = await sign_up_viewer(client, platform.gateway)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            page = await client.get(
                f"{platform.gateway}/api/v1/home",
                params={"profile_id": viewer.profile_id},
                headers=viewer.headers,
            )
            if page.status_code == 200 and page.json().get("rows"):
                return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the home page had no rows within {timeout_s:.0f}s")


async def make_playable(platform: LocalPlatform, *, timeout_s: float) -> str:
    """One demo movie gets a short real video through the encoder; wait until it shows up
    as playable on a home page, which is where the playback experiment looks for it."""
    movie = next(t for t in demo_titles() if t["kind"] == "movie")
    final = await attach_demo_videos(
        platform.layout, [DemoTitle(movie["id"], movie["title"])], seconds=DEMO_VIDEO_S
    )
    state = final.get(movie["id"], {}).get("state")
    if state != "ready":
        raise RuntimeError(f"the demo video for {movie['id']} ended {state!r}: {final}")
    async with httpx.AsyncClient(timeout=10) as client:
        viewer = await sign_up_viewer(client, platform.gateway)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return await playable_title(client, platform.gateway, viewer)
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


async def recover(platform: LocalPlatform, *, timeout_s: float = 20.0) -> float:
    """Every instance healthy again and five home pages in a row not degraded (breakers
    closed); answers how long that took."""
    started = time.monotonic()
    await asyncio.to_thread(platform.wait_healthy, timeout_s=60)
    async with httpx.AsyncClient(timeout=10) as client:
        viewer = await sign_up_viewer(client, platform.gateway)
        clean = 0
        while clean < 5 and time.monotonic() - started < timeout_s:
            page = await client.get(
                f"{platform.gateway}/api/v1/home",
                params={"profile_id": viewer.profile_id},
                headers=viewer.headers,
            )
            ok = page.status_code == 200 and not page.json().get("degraded")
            clean = clean + 1 if ok else 0
            await asyncio.sleep(0.2)
    return round(time.monotonic() - started, 1)


async def run_all(platform: LocalPlatform, mode: dict[str, Any]) -> list[dict[str, Any]]:
    await wait_for_home(platform, timeout_s=90)
    say("the demo catalog is on the home page")
    reports = []
    for name in mode["experiments"]:
        if EXPERIMENTS[name].traffic == "playback":
            say("making a playable title (a short demo video through the encoder)")
            await make_playable(platform, timeout_s=60)
        say(f"experiment {name}")
        report = await run_experiment(
            name,
            layout=platform.layout,
            gateway=platform.gateway,
            seconds=mode["seconds"],
            rate=mode["rate"],
            say=say,
        )
        report["recovered_after_s"] = await recover(platform)
        say(f"recovered after {report['recovered_after_s']}s")
        report["description"] = EXPERIMENTS[name].description
        report["traffic"] = EXPERIMENTS[name].traffic
        reports.append(report)
    return reports


def summarize(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for report in reports:
        control, fault = report["periods"]
        name = report["experiment"]
        rows.append(
            {
                "measurement": f"{name}: user-visible error rate ({report['traffic']} traffic)",
                "baseline": "control period",
                "value": round(fault["error_rate"], 4),
                "baseline_value": round(control["error_rate"], 4),
                "ratio": None,  # a ratio to a zero error rate says nothing
                "better": "lower",
            }
        )
        for key in ("p50_ms", "p99_ms"):
            rows.append(
                {
                    "measurement": f"{name}: {key.removesuffix('_ms')} ms",
                    "baseline": "control period",
                    "value": round(fault[key], 1),
                    "baseline_value": round(control[key], 1),
                    "ratio": round(fault[key] / control[key], 3) if control[key] else None,
                    "better": "lower",
                }
            )
    return rows


def latency_plot(reports: list[dict[str, Any]]) -> dict[str, Any]:
    names = [r["experiment"] for r in reports]

    def series(label: str, period: int, key: str) -> dict[str, Any]:
        return {"name": label, "x": names, "y": [r["periods"][period][key] for r in reports]}

    return {
        "title": "User latency under each fault vs its control period",
        "x_label": "experiment",
        "y_label": "ms",
        "series": [
            series("control p99", 0, "p99_ms"),
            series("fault p99", 1, "p99_ms"),
            series("control p50", 0, "p50_ms"),
            series("fault p50", 1, "p50_ms"),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every experiment, 4 s periods")
    parser.add_argument("--tiny", action="store_true", help="one experiment per fault, 3 s")
    parser.add_argument("experiments", nargs="*", help=f"a subset of: {', '.join(EXPERIMENTS)}")
    args = parser.parse_args()
    name = "tiny" if args.tiny else "quick" if args.quick else "full"
    mode = dict(MODES[name])
    if args.experiments:
        unknown = sorted(set(args.experiments) - set(EXPERIMENTS))
        if unknown:
            raise SystemExit(f"unknown experiments {unknown}; choose from {list(EXPERIMENTS)}")
        mode["experiments"] = [n for n in EVERY if n in args.experiments]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cm-bench-chaos-") as tmp:
        platform = LocalPlatform(
            Path(tmp) / "data",
            env={"CINEMESH_SEED_DEMO": "catalog", "CINEMESH_LOG_LEVEL": "warning"},
        )
        platform.start(timeout_s=120)
        try:
            say(f"platform up after {time.monotonic() - started:.0f}s")
            reports = asyncio.run(run_all(platform, mode))
        finally:
            platform.stop()
    body = {
        "benchmark": "chaos",
        "mode": name,
        "seconds_per_period": mode["seconds"],
        "requests_per_s": mode["rate"],
        "experiments": reports,
        "summary": summarize(reports),
        "plots": [latency_plot(reports)],
    }
    print(json.dumps(body, indent=2))


if __name__ == "__main__":
    main()
