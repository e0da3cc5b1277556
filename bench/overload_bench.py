"""Goodput against offered load, with and without the adaptive concurrency limits: the curve
that shows collapse against shedding (docs/overload.md).

Two platforms in turn (two gateway instances on the public port, every home page built), the
same services and the same viewers' home pages: one with every service's limiter turned off
(`CINEMESH_<NAME>_CONCURRENCY_ENABLED=false`), then one as shipped. On the first, an open-loop ramp measures the home page's capacity (the most 200s
within 300 ms a second); then both are offered 0.5x to 4x that capacity, open loop (requests
due at a set rate whatever the server does, latency counted from when each was due), each
level for a few seconds after a pause. Goodput is the 200s answered within 300 ms a second.
Everything runs on 127.0.0.1 and stops by itself. Prints JSON (rows and the plot for the
suite) and, unless `--tiny`, writes the plot to bench/results/<date>-overload.png."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cinemesh.benchsuite.openloop import (
    LOAD_BALANCER_CONNECTIONS,
    Phase,
    Request,
    goodput_per_s,
    ramp_to_capacity,
    run_open_loop,
)
from cinemesh.benchsuite.viewers import seed_catalog, sign_up_viewers, wait_for_whole_home_page
from cinemesh.runner.local import LocalPlatform

SERVICES = ["registry", "identity", "profiles", "catalog", "history", "recommender", "gateway"]
BASE_ENV = {
    "CINEMESH_SEED_DEMO": "off",
    "CINEMESH_GATEWAY_RATE_PER_IP": "0",
    "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
    "CINEMESH_LOG_LEVEL": "warning",
    "CINEMESH_GATEWAY_HOME_PAGE_FRESH_S": "0",  # every page built (tests/system/test_overload.py)
}
GATEWAYS = {"gateway": 2}  # a gateway tier sharing the public port (tests/system/test_overload.py)
WITHOUT_LIMITS = {f"CINEMESH_{name.upper()}_CONCURRENCY_ENABLED": "false" for name in SERVICES}
MODES = {  # multiples of capacity, seconds a level, viewers, titles
    "full": ((0.5, 1.0, 1.5, 2.0, 3.0, 4.0), 15.0, 200, 60),
    "quick": ((0.5, 1.0, 2.0, 3.0, 4.0), 8.0, 100, 40),
    "tiny": ((0.5, 2.0), 3.0, 10, 10),
}
SURGE = 3.0  # the multiple of capacity issue 26 judges goodput at
TINY_CAPACITY = 20.0  # the smoke run only walks the code: no ramp, a rate any host can serve
RESULTS = Path(__file__).resolve().parent / "results"


@contextmanager
def seeded(
    env: dict[str, str], *, viewers: int, titles: int
) -> Iterator[tuple[str, list[Request]]]:
    """A platform with a catalog and `viewers` members: its URL and their home pages."""
    folder = Path(tempfile.mkdtemp(prefix="cm-bench-overload-"))
    platform = LocalPlatform(folder, env={**BASE_ENV, **env}, services=SERVICES, scale=GATEWAYS)
    platform.start(timeout_s=300)  # slow to import on a busy shared host
    try:
        seed_catalog(platform, titles=titles)
        members = sign_up_viewers(platform, viewers)
        wait_for_whole_home_page(platform, members[0])
        yield platform.gateway, [member.home() for member in members]
    finally:
        platform.stop()
        shutil.rmtree(folder, ignore_errors=True)


def level(url: str, homes: list[Request], rate: float, seconds: float) -> dict[str, Any]:
    """One offered rate: goodput, shed and failed answers a second, p99 of the 200s."""
    per_second = run_open_loop(
        url, homes, [Phase(seconds, rate)], timeout_s=3.0, open_ahead=LOAD_BALANCER_CONNECTIONS
    )
    steady = per_second[1:] or per_second  # the first second the limit learns the new load
    time.sleep(2.0)  # what the level left queued drains before the next
    p99s = sorted(s["p99_ms"] for s in steady if s["ok"])
    return {
        "offered_per_s": round(rate, 1),
        "good_per_s": round(goodput_per_s(steady), 1),
        "shed_per_s": round(sum(s["shed"] for s in steady) / len(steady), 1),
        "failed_per_s": round(sum(s["failed"] for s in steady) / len(steady), 1),
        "p99_ms": round(p99s[len(p99s) // 2], 1) if p99s else None,  # the median second's
    }


def curve(
    env: dict[str, str],
    multiples: tuple[float, ...],
    seconds: float,
    viewers: int,
    titles: int,
    capacity: float | None,
    *,
    ramp: bool,
) -> tuple[float, float, list[dict[str, Any]]]:
    """The capacity (measured here unless given), this platform's own peak goodput measured
    just before its levels (`ramp`: by the ramp, else the capacity), and one level per
    multiple of the capacity."""
    with seeded(env, viewers=viewers, titles=titles) as (url, homes):
        if ramp:
            peak = ramp_to_capacity(url, homes).good_per_s  # its warm-up included
        else:
            assert capacity is not None, "a capacity is given when there is no ramp"
            peak = capacity
            run_open_loop(url, homes, [Phase(3.0, 0.5 * capacity)])  # the same warm-up
        capacity = capacity or peak
        levels = [level(url, homes, m * capacity, seconds) for m in multiples]
    return capacity, peak, levels


def summary(
    capacity: float,
    peak_on: float,
    off: list[dict[str, Any]],
    on: list[dict[str, Any]],
    multiples: tuple[float, ...],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "measurement": "home page capacity, 200s within 300 ms a second (limiter off)",
            "value": capacity,
            "better": "higher",
        },
        {
            "measurement": "peak goodput with the limiter, measured just before its levels",
            "value": peak_on,
            "better": "higher",
        },
    ]
    surge = dict(zip(multiples, on, strict=True)).get(SURGE)
    if surge is not None and peak_on:
        rows.append(
            {
                "measurement": f"goodput at {SURGE:g}x capacity with the limiter, "
                "share of its peak (goal 0.8, issue 26)",
                "value": round(surge["good_per_s"] / peak_on, 3),
                "better": "higher",
            }
        )
    for multiple, without, with_limits in zip(multiples, off, on, strict=True):
        good_off, good_on = without["good_per_s"], with_limits["good_per_s"]
        rows.append(
            {
                "measurement": f"goodput at {multiple:g}x capacity, with the limiter, per s",
                "value": good_on,
                "baseline": "without the limiter",
                "baseline_value": good_off,
                "ratio": round(good_on / good_off, 3) if good_off else None,
                "better": "higher",
            }
        )
    return rows


def plot_spec(
    multiples: tuple[float, ...], off: list[dict[str, Any]], on: list[dict[str, Any]]
) -> dict[str, Any]:
    def series(name: str, levels: list[dict[str, Any]]) -> dict[str, Any]:
        return {"name": name, "x": list(multiples), "y": [lv["good_per_s"] for lv in levels]}

    return {
        "title": "Home page goodput against offered load",
        "x_label": "offered load, multiples of measured capacity",
        "y_label": "200s within 300 ms per second",
        "series": [
            series("without the limiter", off),
            series("adaptive limit (Gradient2)", on),
        ],
    }


def write_png(spec: dict[str, Any], capacity: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for series in spec["series"]:
        ax.plot(series["x"], series["y"], marker="o", label=series["name"])
    ax.axhline(capacity, color="grey", linestyle=":", label=f"capacity ({capacity:.0f}/s)")
    ax.set_title(spec["title"])
    ax.set_xlabel(spec["x_label"])
    ax.set_ylabel(spec["y_label"])
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer levels, shorter")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    args = parser.parse_args()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    multiples, seconds, viewers, titles = MODES[mode]
    started = time.monotonic()
    given = TINY_CAPACITY if mode == "tiny" else None
    ramp = mode != "tiny"
    capacity, _, off = curve(WITHOUT_LIMITS, multiples, seconds, viewers, titles, given, ramp=ramp)
    _, peak_on, on = curve({}, multiples, seconds, viewers, titles, capacity, ramp=ramp)
    spec = plot_spec(multiples, off, on)
    body: dict[str, Any] = {
        "mode": mode,
        "capacity_per_s": capacity,
        "without_limiter": off,
        "with_limiter": on,
        "peak_with_limiter_per_s": peak_on,
        "summary": summary(capacity, peak_on, off, on, multiples),
        "plots": [spec],
        "wall_s": round(time.monotonic() - started, 1),
    }
    if mode != "tiny":
        png = RESULTS / f"{dt.date.today().isoformat()}-overload.png"
        write_png(spec, capacity, png)
        body["png"] = str(png.relative_to(RESULTS.parent.parent))
    print(json.dumps(body, indent=2))


if __name__ == "__main__":
    main()
