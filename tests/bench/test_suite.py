"""Every benchmark still runs (a tiny version of each), and the suite publishes its files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cinemesh.benchsuite.suite import available, markdown, run_one, run_suite

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1800)  # every bench's tiny run, two at a time (pytest's default is 300 s)
def test_every_benchmark_runs_and_the_suite_writes_its_results(tmp_path: Path) -> None:
    names = available(REPO)
    assert "platform" in names
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cinemesh",
            "bench",
            "--tiny",
            "--out",
            str(tmp_path),
            "--repo",
            str(REPO),
            "--timeout",
            "600",
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=REPO,
    )
    written = {p.suffix for p in tmp_path.iterdir()}
    assert {".json", ".md"} <= written, result.stdout[-2000:]
    results = json.loads(next(tmp_path.glob("*.json")).read_text())
    failures = {n: b["error"] for n, b in results["benchmarks"].items() if "error" in b}
    assert not failures, failures
    assert set(results["benchmarks"]) == set(names)
    for name, body in results["benchmarks"].items():
        assert body.get("summary"), f"{name} printed no summary rows"
    assert result.returncode == 0, result.stdout[-2000:]


def test_markdown_names_failures_instead_of_hiding_them() -> None:
    table = markdown(
        {
            "date": "d",
            "mode": "tiny",
            "machine": {"cpus": 2, "python": "3.11"},
            "benchmarks": {"x": {"error": "exit 1: boom"}},
        }
    )
    assert "| x | failed: exit 1: boom |" in table


def test_a_benchmark_runs_without_demo_seeding_and_in_its_smoke_mode(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "env_bench.py").write_text(
        "import json, os, sys\n"
        "print(json.dumps({'seed': os.environ.get('CINEMESH_SEED_DEMO'), 'args': sys.argv[1:],"
        " 'summary': []}))  # --tiny\n"
    )
    body = run_one(tmp_path, "env", mode="tiny", timeout_s=60)
    assert body["seed"] == "off"
    assert body["args"] == ["--tiny"]


def test_several_jobs_are_refused_for_a_measuring_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="smoke runs"):
        run_suite(
            REPO, ["platform"], mode="quick", out=tmp_path, progress=print, timeout_s=1, jobs=2
        )


def test_smoke_runs_taken_two_at_a_time_keep_their_names_and_order(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "bench" / f"{name}_bench.py").write_text(
            "import json, time\n"
            f"time.sleep({0.3 if name == 'a' else 0})\n"
            f"print(json.dumps({{'summary': [{{'measurement': '{name}'}}]}}))  # --tiny\n"
        )
    results, _files = run_suite(
        tmp_path, [], mode="tiny", out=tmp_path / "out", progress=print, timeout_s=30, jobs=2
    )
    assert list(results["benchmarks"]) == ["a", "b", "c"]
    assert [b["summary"][0]["measurement"] for b in results["benchmarks"].values()] == list("abc")
