"""Every benchmark still runs (a tiny version of each), and the suite publishes its files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cinemesh.benchsuite.suite import available, markdown, run_one

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1800)  # every bench's tiny run, one after another (pytest's default is 300 s)
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
