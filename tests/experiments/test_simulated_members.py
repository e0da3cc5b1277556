"""Experiments judged on simulated members (`cinemesh simulate`) on a real platform: every
service as its own process, except the recommender, whose place a test-only stand-in takes
(taste_recommender.py) because it knows the members' hidden tastes, which the simulator writes
out. Two experiments run at once on one simulation:
- `taste-recs` (layer recommender): control's rows ignore the member's taste, the challenger's
  put the titles of that taste first; members prefer titles of their taste, so the challenger
  truly recommends better and the report must show a significant lift in play starts from
  recommendation rows;
- `aa-check` (its own layer, so on the same members independently): two cells with nothing
  different; the report must show no difference and no sample-ratio mismatch.

One platform start and one simulation (two minutes, member time 60x) for the module."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cinemesh.contracts.experiments import ExperimentStarted, ExperimentStopped
from cinemesh.contracts.media import AssetReady
from cinemesh.demo.seeding import SEED_MODE_ENV
from cinemesh.runner.layout import free_port
from tests.playback.media import collect, make_package, publish, renditions
from tests.support.backends import EmbeddedNats, unthrottled_sqlite_env
from tests.support.media_stores import publish_asset
from tests.support.platform import LocalPlatform
from tests.support.users import admin
from tests.web.conftest import CHROMIUM_ARGS, ensure_chromium

REPO = Path(__file__).resolve().parents[2]
SERVICES = [
    "registry",
    "identity",
    "profiles",
    "catalog",
    "search",
    "playback",
    "edge",
    "history",
    "telemetry",
    "experiments",
    "gateway",
]
GENRES = ["Drama", "Comedy", "Action", "Thriller", "Romance", "Sci-Fi", "Horror", "Animation"]
TITLES = 80
RUNTIME_MIN = 20
SIMULATION = ["--members", "60", "--minutes", "2", "--speed", "60", "--seed", "7"]
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[LocalPlatform]:
    env = {
        **unthrottled_sqlite_env(embedded_nats.url),
        SEED_MODE_ENV: "off",
        "CINEMESH_EXPERIMENTS_DEMO": "false",
        "CINEMESH_EXPERIMENTS_DESIGNS_S": "0.5",
        "CINEMESH_GATEWAY_KEPT_READS_S": "0",  # rows follow the tastes as they are written
    }
    running = LocalPlatform(tmp_path_factory.mktemp("simulated"), services=SERVICES, env=env).start(
        timeout_s=240
    )
    yield running
    running.stop()


def add_catalog(platform: LocalPlatform, package: Path) -> dict[str, list[str]]:
    """TITLES playable movies over the GENRES, made by an admin, each with its video."""
    boss = admin(platform)
    catalog: dict[str, list[str]] = {}
    with httpx.Client(base_url=platform.gateway, headers=boss.headers, timeout=30) as http:
        for n in range(TITLES):
            genres = [GENRES[n % len(GENRES)]]
            if n % 3 == 0:
                genres.append(GENRES[(n + 3) % len(GENRES)])
            made = http.post(
                "/api/v1/admin/titles",
                json={
                    "title": f"Simulated Feature {n}",
                    "kind": "movie",
                    "genres": genres,
                    "year": 1980 + n % 40,
                    "maturity_rating": "PG",
                    "runtime_min": RUNTIME_MIN,
                    "popularity": float(n),
                },
            )
            assert made.status_code == 201, made.text
            catalog[str(made.json()["id"])] = genres
    ready = []
    for title_id in catalog:
        asset_id = f"a{uuid.uuid4().hex[:16]}"
        publish_asset(platform.env, platform.data_dir, asset_id, package)
        ready.append(
            AssetReady(
                asset_id=asset_id,
                title_id=title_id,
                duration_s=RUNTIME_MIN * 60.0,
                renditions=renditions(),
            )
        )
    publish(platform.env, *ready)
    last = list(catalog)[-1]
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=platform.gateway, headers=boss.headers, timeout=30) as http:
        while not http.get(f"/api/v1/titles/{last}").json().get("playable"):
            assert time.monotonic() < deadline, "the catalog never learned the videos"
            time.sleep(0.5)
    return catalog


@pytest.fixture(scope="module")
def stand_in(
    platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """The catalog, the tastes file and the stand-in recommender reading both."""
    folder = tmp_path_factory.mktemp("taste-recs")
    catalog = add_catalog(platform, make_package(folder / "package"))
    files = {"catalog": folder / "catalog.json", "tastes": folder / "tastes.jsonl"}
    files["catalog"].write_text(json.dumps(catalog))
    files["tastes"].write_bytes(b"")
    env = {
        **platform.env,
        "CINEMESH_HOST": "127.0.0.1",
        "CINEMESH_PORT": str(free_port()),
        "CINEMESH_INSTANCE_ID": "recommender-stand-in",
        "CINEMESH_REGISTRY_URLS": json.dumps([platform.url_of("registry")]),
        "CINEMESH_DISCOVERY": "registry",
        "TASTE_CATALOG": str(files["catalog"]),
        "TASTE_FILE": str(files["tastes"]),
    }
    log = (folder / "stand-in.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.experiments.taste_recommender"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not platform.registry("/v1/services/recommender"):
            assert proc.poll() is None, (folder / "stand-in.log").read_text()
            assert time.monotonic() < deadline, "the stand-in never registered"
            time.sleep(0.3)
        yield files
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def cli(platform: LocalPlatform, *args: str, timeout_s: float = 120) -> str:
    done = platform.cli(*args, timeout_s=timeout_s)
    assert done.returncode == 0, done.stdout + done.stderr
    return str(done.stdout)


@pytest.fixture(scope="module")
def reports(
    platform: LocalPlatform, stand_in: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Both experiments started, one simulation, then both reports (as `--json` writes them)."""
    cli(platform, "experiments", "create", "taste-recs", "--layer", "recommender",
        "--cell", "control:1:recommender.model=taste-blind",
        "--cell", "taste:1:recommender.model=taste-first")  # fmt: skip
    cli(platform, "experiments", "create", "aa-check", "--layer", "aa",
        "--cell", "a:1:aa.arm=a", "--cell", "b:1:aa.arm=b")  # fmt: skip
    cli(platform, "experiments", "start", "taste-recs")
    cli(platform, "experiments", "start", "aa-check")
    time.sleep(1)  # every experiments instance re-reads the running ones every 0.5 s here
    folder = tmp_path_factory.mktemp("reports")
    summary = folder / "summary.json"
    output = cli(
        platform,
        "simulate",
        *SIMULATION,
        "--tastes",
        str(stand_in["tastes"]),
        "--json",
        str(summary),
        timeout_s=400,
    )
    print(output)
    told = [orjson.loads(line) for line in stand_in["tastes"].read_bytes().splitlines()]
    found: dict[str, Any] = {"summary": json.loads(summary.read_text()), "output": output}
    assert len(told) == found["summary"]["joined"] and all(t["genres"] for t in told), told[:3]
    time.sleep(3)  # the last play starts reach experiments through playback's events
    for name in ("taste-recs", "aa-check"):
        path = folder / f"{name}.json"
        print(cli(platform, "experiments", "report", name, "--json", str(path)))
        found[name] = json.loads(path.read_text())
    return found


def metric(report: dict[str, Any], name: str, cell: str) -> dict[str, Any]:
    found = next(m for m in report["metrics"] if m["name"] == name)
    return dict(found["cells"][cell])


def test_the_simulated_members_sign_up_browse_search_and_watch(reports: dict[str, Any]) -> None:
    summary = reports["summary"]
    assert summary["joined"] >= 50, summary  # a sign-up may time out on a loaded host
    assert summary["home pages"] >= 60 and summary["plays"] >= 60, summary
    assert summary["plays from home"] > 0 and summary["heartbeats"] > 0, summary
    assert summary["beacons"] > 0, summary
    assert "tastes drawn from" in reports["output"]


def test_a_challenger_that_truly_recommends_better_shows_a_significant_lift_in_row_play_starts(
    reports: dict[str, Any],
) -> None:
    report = reports["taste-recs"]
    lift = metric(report, "row_play_starts", "taste")
    control = metric(report, "row_play_starts", "control")
    print(f"row play starts: control {control['mean']}, taste-first {lift['mean']}, "
          f"difference {lift['difference']} CI {lift['ci']} p {lift['p_value']}; "
          f"exposed {report['members']}")  # fmt: skip
    assert sum(report["members"].values()) >= 40, report["members"]
    assert not report["sample_ratio"]["mismatch"], report["sample_ratio"]
    assert lift["difference"] > 0 and lift["ci"][0] > 0, lift
    assert lift["p_value"] < 0.05, lift


def test_an_a_a_experiment_on_the_same_members_shows_no_difference(
    reports: dict[str, Any],
) -> None:
    """One run, so one draw: the bound is p >= 0.001 (a sound A/A fails it once in a thousand
    runs); how often an A/A run shows p < 0.05 is counted over 200 runs in
    test_aa_repetitions.py."""
    report = reports["aa-check"]
    assert sum(report["members"].values()) >= 40, report["members"]
    assert not report["sample_ratio"]["mismatch"], report["sample_ratio"]
    assert not report["warnings"], report["warnings"]
    for name in ("play_starts", "row_play_starts"):
        compared = metric(report, name, "b")
        print(f"A/A {name}: difference {compared['difference']} p {compared['p_value']}")
        assert compared["p_value"] is not None and compared["p_value"] >= 0.001, compared


def test_the_ops_page_shows_each_running_experiment_filling_up_with_the_reports_headline(
    platform: LocalPlatform, reports: dict[str, Any]
) -> None:
    view = httpx.get(f"{platform.gateway}/api/v1/ops/experiments", timeout=30).json()
    assert view["available"], view
    shown = {e["name"]: e for e in view["experiments"]}
    assert {"taste-recs", "aa-check"} <= set(shown), view
    taste = shown["taste-recs"]
    exposed = {c["name"]: c["exposed"] for c in taste["cells"]}
    assert exposed == reports["taste-recs"]["sample_ratio"]["observed"], (exposed, reports)
    assert all(c["exposed"] > 0 and c["expected"] for c in taste["cells"]), taste
    assert [c["name"] for c in taste["cells"] if c["control"]] == ["control"]
    headline = taste["headline"]
    assert headline["metric"] == "row_play_starts" and "Welch" in headline["test"], headline
    assert headline["cells"]["taste"]["p_value"] < 0.05, headline


def test_admins_run_experiments_through_the_gateway_and_each_start_and_stop_is_an_event(
    platform: LocalPlatform, reports: dict[str, Any]
) -> None:
    boss = admin(platform)
    api = f"{platform.gateway}/api/v1/admin/experiments"
    body: dict[str, Any] = {
        "name": "banner-colour",
        "layer": "banner",
        "traffic": 0.5,
        "cells": [{"name": "red"}, {"name": "blue", "treatments": {"banner.colour": "blue"}}],
    }
    with httpx.Client(headers=boss.headers, timeout=30) as http:
        for bad in (
            {**body, "cells": [body["cells"][0], body["cells"][0]]},
            {**body, "control": "green"},
            {**body, "traffic": "half"},
            {**body, "cells": []},
        ):
            refused = http.post(api, json=bad)
            assert refused.status_code == 422, (bad, refused.text)
            assert refused.json()["error"]["code"] == "INVALID_REQUEST"
        made = http.post(api, json=body)
        assert made.status_code == 201, made.text
        experiment_id = made.json()["id"]
        assert http.post(api, json=body).json()["error"]["code"] == "EXPERIMENT_EXISTS"
        assert http.post(f"{api}/banner-colour/start").json()["status"] == "running"
        again = http.post(f"{api}/banner-colour/start")
        assert again.status_code == 409 and again.json()["error"]["code"] == "NOT_A_DRAFT"
        assert http.get(f"{api}/banner-colour/report").json()["control"] == "red"
        assert http.post(f"{api}/banner-colour/stop").json()["status"] == "stopped"
        assert http.get(f"{api}/no-such-thing").status_code == 404
        names = [e["name"] for e in http.get(api).json()]
        assert {"taste-recs", "aa-check", "banner-colour"} <= set(names)
    events = collect(platform.env, "experiments.>", seconds=2.0)
    mine = [e for e in events if e.data.get("experiment_id") == experiment_id]
    assert [e.type for e in mine] == [ExperimentStarted.TYPE, ExperimentStopped.TYPE], events
    started = ExperimentStarted.model_validate(mine[0].data)
    assert [c.name for c in started.cells] == ["red", "blue"] and started.buckets[1] > 0
    assert ExperimentStopped.model_validate(mine[1].data).name == "banner-colour"
    ours = {e.data["name"] for e in events if e.type == ExperimentStarted.TYPE}
    assert {"taste-recs", "aa-check"} <= ours, ours


def test_the_ops_page_in_a_browser_draws_the_experiment_and_its_lift(
    platform: LocalPlatform, reports: dict[str, Any]
) -> None:
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(platform.gateway + "/ops")
            card = page.locator('.experiment-card[data-experiment="taste-recs"]')
            card.locator('tr[data-cell="taste"]').wait_for(timeout=30_000)
            assert card.locator("tr[data-cell]").count() == 2
            assert "control (control)" in card.locator('tr[data-cell="control"]').inner_text()
            winner = card.locator('tr[data-cell="taste"] td.experiment-win')
            assert winner.count() == 1 and winner.inner_text().startswith("+"), card.inner_text()
            aa = page.locator('.experiment-card[data-experiment="aa-check"]')
            assert aa.locator("td.experiment-win, td.qoe-bad").count() == 0, aa.inner_text()
        finally:
            browser.close()
