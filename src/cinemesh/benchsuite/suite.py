"""The benchmark suite: runs each `bench/<name>_bench.py` in its own process, collects their
JSON, and writes `bench/results/<date>.json`, a markdown table and PNG plots.

A benchmark script prints one JSON object: `summary` rows (measurement, baseline, value,
baseline_value, ratio, better, goal?) and optionally `plots` ([{title, x_label, y_label,
series: [{name, x, y}]}]); it accepts `--quick` and `--tiny`.

A platform a benchmark starts seeds no demo catalog (`CINEMESH_SEED_DEMO=off`) unless the
benchmark asks for one itself: a first run's demo videos take both cores of a small machine
for minutes and would be measured along with the benchmark.

Smoke runs (`--tiny`) may run several benchmarks at once (`jobs`): they prove each still runs,
and measure nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cinemesh.demo.seeding import SEED_MODE_ENV

Progress = Callable[[str], None]


def bench_dir(repo: Path) -> Path:
    return repo / "bench"


def available(repo: Path) -> list[str]:
    return sorted(p.name.removesuffix("_bench.py") for p in bench_dir(repo).glob("*_bench.py"))


def run_one(repo: Path, name: str, *, mode: str, timeout_s: float) -> dict[str, Any]:
    script = bench_dir(repo) / f"{name}_bench.py"
    if mode == "tiny" and "--tiny" not in script.read_text():
        mode = "quick"  # a script without a smoke mode runs its quick mode
    args = [sys.executable, str(script)] + ([f"--{mode}"] if mode != "full" else [])
    started = time.monotonic()
    try:
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=repo,
            env={**os.environ, "PYTHONPATH": str(repo), SEED_MODE_ENV: "off"},
        )
    except subprocess.TimeoutExpired:
        return {
            "benchmark": name,
            "error": f"timed out after {timeout_s:.0f}s",
            "seconds": timeout_s,
        }
    elapsed = round(time.monotonic() - started, 1)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        return {
            "benchmark": name,
            "error": f"exit {result.returncode}: {' | '.join(tail)}",
            "seconds": elapsed,
        }
    try:
        body = json.loads(result.stdout[result.stdout.index("{") :])
    except ValueError:
        return {"benchmark": name, "error": "printed no JSON", "seconds": elapsed}
    return {**body, "seconds": elapsed}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "load_average_1m_start": round(os.getloadavg()[0], 2),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# cinemesh benchmarks, {results['date']}",
        "",
        f"Machine: {results['machine']['cpus']} cores, Python {results['machine']['python']}, "
        f"mode `{results['mode']}`. Every ratio is measured against its baseline in the same run.",
        *_load_line(results),
        "",
        "| benchmark | measurement | value | baseline | baseline value | ratio | goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, body in results["benchmarks"].items():
        if "error" in body:
            lines.append(f"| {name} | failed: {body['error']} | | | | | |")
            continue
        for row in body.get("summary", []):
            ratio = "" if row.get("ratio") is None else f"{row['ratio']:.3g}"
            lines.append(
                f"| {name} | {row['measurement']} | {_num(row.get('value'))} | "
                f"{row.get('baseline', '')} | {_num(row.get('baseline_value'))} | {ratio} | "
                f"{row.get('goal', '')} |"
            )
    return "\n".join(lines) + "\n"


def _load_line(results: dict[str, Any]) -> list[str]:
    """How busy the machine was: other work on it moves every absolute number."""
    found = results["machine"]
    if "load_average_1m_start" not in found:
        return []
    return [
        "",
        f"Load average (1 min) {found['load_average_1m_start']} at the start and "
        f"{found.get('load_average_1m_end', '?')} at the end; the suite took "
        f"{results.get('wall_s', '?')} s.",
    ]


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def plot(results: dict[str, Any], folder: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, body in results["benchmarks"].items():
        for index, spec in enumerate(body.get("plots", [])):
            fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
            for series in spec["series"]:
                ax.plot(series["x"], series["y"], marker="o", label=series["name"])
            ax.set_title(spec["title"])
            ax.set_xlabel(spec.get("x_label", ""))
            ax.set_ylabel(spec.get("y_label", ""))
            if any(isinstance(x, str) for series in spec["series"] for x in series["x"]):
                ax.tick_params(axis="x", labelrotation=20)  # names, not numbers: keep them apart
                for label in ax.get_xticklabels():
                    label.set_horizontalalignment("right")
            ax.grid(alpha=0.3)
            ax.legend()
            fig.tight_layout()
            path = folder / f"{stem}-{name}-{index}.png"
            fig.savefig(path)
            plt.close(fig)
            written.append(path)
    return written


def run_suite(
    repo: Path,
    names: list[str],
    *,
    mode: str,
    out: Path,
    progress: Progress,
    timeout_s: float,
    jobs: int = 1,
) -> tuple[dict[str, Any], list[Path]]:
    chosen = names or available(repo)
    unknown = sorted(set(chosen) - set(available(repo)))
    if unknown:
        raise ValueError(
            f"no benchmark named {', '.join(unknown)}; available: {', '.join(available(repo))}"
        )
    if jobs < 1 or (jobs > 1 and mode != "tiny"):
        raise ValueError(
            "--jobs above 1 is for smoke runs (--tiny) only: a measurement needs the host to itself"
        )
    now = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "mode": mode,
        "machine": machine(),
        "benchmarks": {},
    }
    started = time.monotonic()
    counter = itertools.count(1)

    def one(name: str) -> dict[str, Any]:
        progress(f"[{next(counter)}/{len(chosen)}] {name}")
        return run_one(repo, name, mode=mode, timeout_s=timeout_s)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results["benchmarks"] = dict(zip(chosen, pool.map(one, chosen), strict=True))
    results["machine"]["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    results["wall_s"] = round(time.monotonic() - started)
    out.mkdir(parents=True, exist_ok=True)
    stem = now.strftime("%Y-%m-%d")
    files = [out / f"{stem}.json", out / f"{stem}.md"]
    files[0].write_text(json.dumps(results, indent=2) + "\n")
    files[1].write_text(markdown(results))
    files += plot(results, out, stem)
    return results, files
