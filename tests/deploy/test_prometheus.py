"""The Prometheus configuration cinemesh ships (deploy/prometheus/), checked by Debian's
promtool, which is installed with apt-get when missing: the configurations and rules load, and
the burn-rate alerts fire and resolve on synthetic series (`promtool test rules`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cinemesh.benchsuite.debian import MissingTool, ensure_packages
from cinemesh.runner.prometheus import LocalPrometheus, render
from cinemesh.runner.slo import OBJECTIVES, rule_groups
from tests.support.backends import IN_CI

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> Iterator[str]:
    try:
        ensure_packages({"promtool": "prometheus", "prometheus": "prometheus"})
    except MissingTool as exc:
        if IN_CI:
            pytest.fail(f"CI must check the Prometheus rules: {exc}")
        pytest.skip(str(exc))
    found = shutil.which("promtool")
    assert found
    yield found


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )


def generator() -> Any:
    sys.path.insert(0, str(SHIPPED))
    try:
        import generate
    finally:
        sys.path.remove(str(SHIPPED))
    return generate


def test_shipped_files_are_what_the_code_generates(tmp_path: Path) -> None:
    generator().main(tmp_path)
    for generated in [*tmp_path.glob("*.yml"), *tmp_path.glob("rules/*.yml")]:
        committed = SHIPPED / generated.relative_to(tmp_path)
        assert committed.read_text() == generated.read_text(), (
            f"{committed} is stale: run python deploy/prometheus/generate.py"
        )


def test_the_local_platform_runs_the_shipped_configuration(promtool: str, tmp_path: Path) -> None:
    # `promtool` installs Debian's prometheus package too, which LocalPrometheus looks for
    local = LocalPrometheus(data_dir=tmp_path, logs_dir=tmp_path)
    local.write_files()
    home = tmp_path / "prometheus"
    assert (home / "prometheus.yml").read_text() == (SHIPPED / "prometheus.yml").read_text()
    shipped_rules = SHIPPED / "rules" / "slo.rules.yml"
    assert (home / "rules" / "slo.rules.yml").read_text() == shipped_rules.read_text()


def test_promtool_accepts_the_local_configuration_and_the_rules(promtool: str) -> None:
    checked = run(promtool, "check", "config", str(SHIPPED / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 rule files found" in checked.stdout
    rules = run(promtool, "check", "rules", str(SHIPPED / "rules" / "slo.rules.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # 4 windows x 2 SLIs recorded, 2 burn-rate pairs x 2 SLIs alerted, per objective
    assert f"{len(OBJECTIVES) * 12} rules found" in rules.stdout


def test_promtool_accepts_the_kubernetes_configuration(promtool: str, tmp_path: Path) -> None:
    """Debian builds Prometheus without Kubernetes discovery, so its promtool refuses
    `kubernetes_sd_configs`: that block is checked here, the rest (relabelling, rules) by
    promtool with file discovery in its place."""
    config = yaml.safe_load((SHIPPED / "kubernetes.yml").read_text())
    job = config["scrape_configs"][0]
    assert job.pop("kubernetes_sd_configs") == [
        {"role": "pod", "namespaces": {"names": ["cinemesh"]}}
    ]
    kept = job["relabel_configs"][0]
    assert kept["action"] == "keep" and kept["regex"] == "true"
    assert kept["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    assert {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"} in job[
        "relabel_configs"
    ]
    job["file_sd_configs"] = [{"files": ["targets/*.json"]}]
    shutil.copytree(SHIPPED / "rules", tmp_path / "rules")
    (tmp_path / "kubernetes.yml").write_text(yaml.safe_dump(config))
    checked = run(promtool, "check", "config", str(tmp_path / "kubernetes.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_burn_rate_alerts_fire_and_resolve_on_synthetic_series(promtool: str) -> None:
    tested = run(promtool, "test", "rules", str(SHIPPED / "tests" / "slo_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_an_alert_without_its_short_window_fails_the_unit_tests(
    promtool: str, tmp_path: Path
) -> None:
    """The unit tests catch an alert that would keep paging for an hour after the errors
    stopped: the short window is what resolves it."""
    groups = rule_groups()
    for group in groups["groups"]:
        for rule in group["rules"]:
            rule["expr"] = rule["expr"].split("\nand\n")[0]
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "slo.rules.yml").write_text(render(groups))
    shutil.copytree(SHIPPED / "tests", tmp_path / "tests")
    tested = run(promtool, "test", "rules", str(tmp_path / "tests" / "slo_test.yml"))
    assert tested.returncode != 0
    assert "FAILED" in tested.stdout + tested.stderr


def test_time_scaled_rules_load_and_keep_their_names(promtool: str, tmp_path: Path) -> None:
    """What the alert test of tests/system runs: the same rules with every window 60 times
    shorter (1h -> 1m, 5m -> 5s), scraped and evaluated every second."""
    local = LocalPrometheus(data_dir=tmp_path, logs_dir=tmp_path, time_scale=60)
    local.write_files()
    home = tmp_path / "prometheus"
    checked = run(promtool, "check", "config", str(home / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    scaled = (home / "rules" / "slo.rules.yml").read_text()
    assert "[5s]" in scaled and "[1m]" in scaled and "[6m]" in scaled and "[1h]" not in scaled
    names = [r.get("record") or r["alert"] for g in rule_groups()["groups"] for r in g["rules"]]
    scaled_groups = yaml.safe_load(scaled)["groups"]
    assert [r.get("record") or r["alert"] for g in scaled_groups for r in g["rules"]] == names
    assert yaml.safe_load((home / "prometheus.yml").read_text())["global"]["scrape_interval"] == (
        "1s"
    )
