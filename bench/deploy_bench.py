"""Independent deploys, measured on the local platform (`cinemesh up`, SQLite):

1. a rolling deploy of the gateway (2 instances sharing the public port) under a steady
   open-loop load of home pages and title lookups: requests that failed (goal 0), and p99 of
   the requests due while `cinemesh deploy` ran as a ratio of p99 of those due in as long a
   window just before it (goal <= 1.5x);
2. the time from `cinemesh deploy SERVICE` to every instance on the new release, for each
   service, beside the part of it the supervisor spent replacing instances (start, ready,
   drain); the rest is building the release and the contract gates.

The platform runs a clean clone of this repository and is deployed to that revision plus a
harmless commit, so work in progress in the checkout plays no part. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from cinemesh.benchsuite.openloop import OpenLoop, Phase, Request, percentile
from cinemesh.benchsuite.rows import row as summary_row
from cinemesh.benchsuite.viewers import seed_catalog, sign_up_viewers
from cinemesh.runner.local import LocalPlatform

REPO = Path(__file__).resolve().parents[1]
SERVICES = [
    "registry", "identity", "profiles", "catalog", "search", "playback", "edge", "history",
    "recommender", "gateway",
]  # fmt: skip
HOME_PAGE = ["registry", "identity", "profiles", "catalog", "history", "recommender", "gateway"]
DEPLOYED = [
    "gateway", "catalog", "search", "playback", "edge", "history", "profiles", "identity",
    "recommender",
]  # fmt: skip
BENCH_ENV = {
    "CINEMESH_SEED_DEMO": "off",
    "CINEMESH_GATEWAY_RATE_PER_IP": "0",
    "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
    "CINEMESH_LOG_LEVEL": "warning",
}
FAILED_GOAL = "0 failed requests"
row = partial(summary_row, better="lower")  # failures, latencies and seconds: every row here
P99_GOAL = "p99 during <= 1.5x before"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- revisions -----------------------------------------------------------------------------
def clone_of_this_repository(where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(REPO), str(where)], check=True)
    for key, value in (("user.email", "bench@cinemesh.local"), ("user.name", "bench")):
        subprocess.run(["git", "-C", str(where), "config", key, value], check=True)
    return where


def harmless_revision(clone: Path, note: str) -> str:
    """A commit that changes no behaviour (a comment), on top of the clone's head."""
    target = clone / "src/cinemesh/services/__init__.py"
    target.write_text(target.read_text() + f"\n# {note}\n")
    subprocess.run(["git", "-C", str(clone), "commit", "-q", "-am", note], check=True)
    done = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


# --- the platform ----------------------------------------------------------------------------
def start_platform(data_dir: Path, clone: Path, services: list[str]) -> LocalPlatform:
    env = {**BENCH_ENV, "PYTHONPATH": str(clone / "src")}
    platform = LocalPlatform(data_dir, env=env, services=services, scale={"gateway": 2})
    return platform.start(timeout_s=300)


def viewers(platform: LocalPlatform, *, titles: int, members: int) -> list[Request]:
    """Home pages of `members` signed-in members and lookups of `titles` titles, in turn."""
    title_ids = seed_catalog(platform, titles=titles)
    requests = []
    for n, viewer in enumerate(sign_up_viewers(platform, members)):
        requests.append(viewer.home())
        requests.append(Request("GET", f"/api/v1/titles/{title_ids[n % titles]}", viewer.headers))
    return requests


def warm_up(platform: LocalPlatform, requests: list[Request]) -> None:
    """Every request answered once: first visits and the services' event catch-up done."""
    deadline = time.monotonic() + 90
    for request in requests:
        while True:
            answer = httpx.get(platform.gateway + request.path, headers=request.headers, timeout=30)
            whole = answer.status_code == 200 and not answer.json().get("degraded")
            if whole or time.monotonic() > deadline:
                break
            time.sleep(0.5)


def deploy(platform: LocalPlatform, clone: Path, service: str, ref: str) -> float:
    """Seconds from `cinemesh deploy` to every instance on `ref` (the command returns then)."""
    began = time.monotonic()
    done = platform.cli("deploy", service, "--ref", ref, "--repo", str(clone), timeout_s=600)
    took = time.monotonic() - began
    if done.returncode != 0:
        raise RuntimeError(f"deploy of {service} failed: {done.stdout[-2000:]}{done.stderr}")
    running = {i["version"] for i in platform.instances(service)}
    if running != {ref[:12]}:
        raise RuntimeError(f"{service} runs {running} after its deploy to {ref[:12]}")
    return took


def replacing_from(platform: LocalPlatform, service: str) -> float:
    """When (this process' monotonic clock) the supervisor began replacing the instances."""
    began_wall = float(platform.control("GET", "/deploys")[service]["started_at"])
    return began_wall - (time.time() - time.monotonic())


def replaced_in_s(platform: LocalPlatform, service: str) -> float:
    """How long the supervisor took to replace the instances, from its own record."""
    return float(platform.control("GET", "/deploys")[service]["elapsed_s"])


# --- 1: the gateway under load ---------------------------------------------------------------
@dataclass
class Answer:
    due_s: float
    latency_ms: float
    status: int
    path: str


class RecordingLoop(OpenLoop):
    """The open-loop generator, keeping every answer (when it was due, its latency, status)."""

    def __init__(self, url: str, requests: list[Request], **kwargs: Any) -> None:
        super().__init__(url, requests, **kwargs)
        self.answers: list[Answer] = []
        self.paths = [r.path for r in requests]
        self.due_paths: dict[float, str] = {}

    def _dispatch(self, due: float) -> None:
        self.due_paths[due] = self.paths[self.sent % len(self.paths)]
        super()._dispatch(due)

    def _record(self, due: float, status: int) -> None:
        latency = asyncio.get_running_loop().time() - self.started - due
        path = self.due_paths.pop(due, "")
        self.answers.append(Answer(due, latency * 1000, status, path))
        super()._record(due, status)


def gateway_under_load(
    platform: LocalPlatform,
    clone: Path,
    ref: str,
    requests: list[Request],
    *,
    rate: float,
    before_s: float,
) -> dict[str, Any]:
    """Steady load; after `before_s` of it, a rolling deploy of both gateway instances. The
    baseline is what was due before the deploy, its first seconds left out (connections
    opening); the load stops a few seconds after the deploy."""
    settling_s = 5.0
    generator = RecordingLoop(platform.gateway, requests, timeout_s=5.0)
    marks: dict[str, float] = {}
    errors: list[BaseException] = []

    def deploy_in_the_middle() -> None:
        try:
            time.sleep(before_s)
            marks["start"] = time.monotonic()
            marks["took"] = deploy(platform, clone, "gateway", ref)
            marks["end"] = time.monotonic()
        except BaseException as exc:  # reported by the caller, after the load stops
            errors.append(exc)

    deployer = threading.Thread(target=deploy_in_the_middle)

    async def run() -> None:
        """Load long enough for any deploy, cut a few seconds after this one ends."""
        task = asyncio.create_task(generator.run([Phase(before_s + 900.0, rate)]))
        deployer.start()
        while not task.done():
            await asyncio.sleep(0.2)
            if ("end" in marks and time.monotonic() > marks["end"] + 5) or errors:
                task.cancel()
                break
        await asyncio.gather(task, return_exceptions=True)
        await generator._drain(generator._elapsed())  # the answers still on their way

    asyncio.run(run())
    deployer.join()
    if errors:
        raise errors[0]
    start, end = marks["start"] - generator.started, marks["end"] - generator.started
    before = [a for a in generator.answers if settling_s <= a.due_s < start]
    during = [a for a in generator.answers if start <= a.due_s < end]
    result: dict[str, Any] = {}
    result["failed"] = sum(1 for a in generator.answers if a.status != 200)
    result["answers"] = len(generator.answers)
    result["statuses"] = _statuses(generator.answers)
    result["p99_before_ms"] = round(_p99(before), 2)
    result["p99_during_ms"] = round(_p99(during), 2)
    result["p50_before_ms"] = round(_p50(before), 2)
    result["p50_during_ms"] = round(_p50(during), 2)
    result["window_s"] = round(end - start, 1)
    result["baseline_window_s"] = round(start - settling_s, 1)
    result["deploy_s"] = round(marks["took"], 1)
    result["replaced_s"] = replaced_in_s(platform, "gateway")
    result["rate_per_s"] = rate
    # where the time went: the gates (building the release, reading contracts), then the
    # supervisor replacing the instances; and home pages (built from four services, kept and
    # reused by each gateway instance) apart from title lookups (passed to the catalog)
    replacing = replacing_from(platform, "gateway") - generator.started
    gates = [a for a in during if a.due_s < replacing]
    swap = [a for a in during if a.due_s >= replacing]
    result["p99_during_gates_ms"] = round(_p99(gates), 2)
    result["p99_during_replacement_ms"] = round(_p99(swap), 2)
    for kind, prefix in (("home", "/api/v1/home"), ("title", "/api/v1/titles/")):
        result[f"p99_{kind}_before_ms"] = round(
            _p99([a for a in before if a.path.startswith(prefix)]), 2
        )
        result[f"p99_{kind}_during_ms"] = round(
            _p99([a for a in during if a.path.startswith(prefix)]), 2
        )
    return result


def _ok_ms(answers: list[Answer]) -> list[float]:
    return sorted(a.latency_ms for a in answers if a.status == 200)


def _p99(answers: list[Answer]) -> float:
    return float(percentile(_ok_ms(answers), 0.99))


def _p50(answers: list[Answer]) -> float:
    return float(percentile(_ok_ms(answers), 0.50))


def _statuses(answers: list[Answer]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for answer in answers:
        counted[str(answer.status)] = counted.get(str(answer.status), 0) + 1
    return dict(sorted(counted.items()))


# --- the report ---------------------------------------------------------------------------------


def report(under_load: dict[str, Any], timings: dict[str, dict[str, float]]) -> dict[str, Any]:
    summary = [
        row(
            f"gateway rolling deploy (2 instances) under {under_load['rate_per_s']:g} "
            "requests/s: failed requests",
            under_load["failed"],
            baseline="requests answered",
            baseline_value=under_load["answers"],
            goal=FAILED_GOAL,
        ),
        row(
            "gateway rolling deploy under load: p99 ms of requests due during the deploy",
            under_load["p99_during_ms"],
            baseline=f"p99 ms in the {under_load['baseline_window_s']:g} s before it",
            baseline_value=under_load["p99_before_ms"],
            goal=P99_GOAL,
        ),
        row(
            "gateway rolling deploy under load: p99 ms while the gates ran (release, contracts)",
            under_load["p99_during_gates_ms"],
            baseline="p99 ms before the deploy",
            baseline_value=under_load["p99_before_ms"],
        ),
        row(
            "gateway rolling deploy under load: p99 ms while the instances were replaced",
            under_load["p99_during_replacement_ms"],
            baseline="p99 ms before the deploy",
            baseline_value=under_load["p99_before_ms"],
        ),
    ]
    for service, timing in timings.items():
        summary.append(
            row(
                f"deploy {service}: s from `cinemesh deploy` to every instance on the new release",
                timing["total_s"],
                baseline="of it, instances replaced (start, ready, drain)",
                baseline_value=timing["replaced_s"],
            )
        )
    return {"summary": summary, "gateway_under_load": under_load, "deploy_times": timings}


def run(mode: str) -> dict[str, Any]:
    rate = {"tiny": 20.0, "quick": 60.0, "full": 120.0}[mode]
    members = {"tiny": 4, "quick": 20, "full": 50}[mode]
    timed = [] if mode == "tiny" else DEPLOYED  # tiny: the deploy under load is the timed one
    services = HOME_PAGE if mode == "tiny" else SERVICES
    before_s = {"tiny": 8.0, "quick": 30.0, "full": 60.0}[mode]
    work = Path(tempfile.mkdtemp(prefix="cm-bench-deploy-"))
    try:
        clone = clone_of_this_repository(work / "cinemesh")
        first = harmless_revision(clone, "deploy bench: a first harmless revision")
        second = harmless_revision(clone, "deploy bench: a second harmless revision")
        progress("deploy: starting the platform from a clean clone")
        platform = start_platform(work / "data", clone, services)
        try:
            requests = viewers(platform, titles=12, members=members)
            warm_up(platform, requests)
            progress(f"deploy: the gateway under {rate:g} requests/s")
            under_load = gateway_under_load(
                platform, clone, first, requests, rate=rate, before_s=before_s
            )
            timings: dict[str, dict[str, float]] = {}
            if not timed:
                timings["gateway"] = {
                    "total_s": under_load["deploy_s"],
                    "replaced_s": under_load["replaced_s"],
                    "instances": float(len(platform.instances("gateway"))),
                }
            for service in timed:
                progress(f"deploy: timing a deploy of {service}")
                took = deploy(platform, clone, service, second)
                timings[service] = {
                    "total_s": round(took, 1),
                    "replaced_s": replaced_in_s(platform, service),
                    "instances": float(len(platform.instances(service))),
                }
        finally:
            platform.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(under_load, timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 requests/s, every service")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    os.environ.setdefault("CINEMESH_SEED_DEMO", "off")
    print(json.dumps(run(mode), indent=2))


if __name__ == "__main__":
    main()
