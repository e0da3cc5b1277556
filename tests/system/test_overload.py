"""A surge of three times what the home page can serve, on the real processes: the platform
sheds what it cannot serve in time instead of collapsing (docs/overload.md).

One platform for the module. The home page's capacity is measured first, in the same run, with
an open-loop ramp (requests due at a set rate whatever the server does; latency counted from
when each was due). Then the load runs calm, three times capacity for 30 s, calm again, while
viewers keep starting playback sessions, and every service process is watched for its memory
and its pid. The tests below each check one part of that single run.

The numbers are only as good as the host: on a machine shared with other test suites (load
averages of 30-60 on two cores were seen while this was written) the services get a sliver of
a core and stall for seconds. The tests that judge numbers skip, printing what was measured,
when the calm load before the surge was already shed or slow or the load average was past
BUSY_HOST a core; restarts, memory and the metrics are judged always."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cinemesh.benchsuite.openloop import (
    LOAD_BALANCER_CONNECTIONS,
    Capacity,
    Phase,
    goodput_per_s,
    ramp_to_capacity,
)
from cinemesh.benchsuite.openloop import run_open_loop as run_load
from cinemesh.benchsuite.viewers import seed_catalog, sign_up_viewers, wait_for_whole_home_page
from tests.playback.media import Title, add_title, make_package, start_session
from tests.support.backends import EmbeddedNats, unthrottled_sqlite_env
from tests.support.platform import LocalPlatform
from tests.support.users import Member, sign_up

pytestmark = pytest.mark.timeout(900)  # a platform start, a ramp and a minute of load

SERVICES = [
    "registry",
    "identity",
    "profiles",
    "catalog",
    "history",
    "recommender",
    "playback",
    "edge",
    "gateway",
]
# Two gateway instances share the public port, as a gateway tier would: with one, that one
# process (one core) is what runs out first, and every request it refuses costs it about
# 0.1 ms of that core in uvicorn alone, a tenth of a page.
GATEWAYS = {"gateway": 2}
VIEWERS = 100
WATCHERS = 3
CALM_S, SURGE_S, AFTER_S = 5.0, 30.0, 10.0
SURGE = 3.0  # times the measured capacity
CALM = 0.3
MEMORY_CEILING = 1024**3  # bytes of resident memory any one service process may reach
RECOVERED_WITHIN_S = 5
# of the calm after recovery, answered good: a busy spell of the shared host sheds or slows a
# second or two of it (a CI run with other suites beside it saw 91%: 167 shed in one second)
RELAPSE_GOOD = 0.9
NOT_COLLAPSED = 0.1  # of capacity still served in time under the surge
BUSY_HOST = 4.0  # runnable processes a core (load average) past which nothing is judged


@dataclass
class SurgeRun:
    capacity: Capacity
    seconds: list[dict[str, Any]]
    playback: Counter[str]
    pids_before: dict[int, str]
    pids_after: dict[int, str]
    peak_rss: dict[str, int] = field(default_factory=dict)
    load_average: float = 0.0  # of the host over the last minute, when the load stopped

    def phase(self, start_s: float, length_s: float) -> list[dict[str, Any]]:
        return self.seconds[int(start_s) : int(start_s + length_s)]

    @property
    def calm_before(self) -> list[dict[str, Any]]:
        return self.phase(1, CALM_S - 1)  # the first second opens the connections

    @property
    def surge(self) -> list[dict[str, Any]]:
        return self.phase(CALM_S, SURGE_S)

    @property
    def after(self) -> list[dict[str, Any]]:
        return self.phase(CALM_S + SURGE_S, AFTER_S)


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[LocalPlatform]:
    env = {
        **unthrottled_sqlite_env(embedded_nats.url),
        "CINEMESH_SEED_DEMO": "off",
        "CINEMESH_LOG_LEVEL": "warning",
        # Every home page built, none reused whole: a reused page costs the gateway about what
        # a refusal does, and load made of those is not load a limit can shed to any gain.
        "CINEMESH_GATEWAY_HOME_PAGE_FRESH_S": "0",
    }
    folder = tmp_path_factory.mktemp("overload")
    # nine services on two cores: a machine busy with other work imports them slowly
    running = LocalPlatform(folder, services=SERVICES, env=env, scale=GATEWAYS).start(timeout_s=240)
    try:
        yield running
    finally:
        running.stop()


def watch_in_a_loop(
    platform: LocalPlatform,
    member: Member,
    title_id: str,
    stop: threading.Event,
    seen: Counter[str],
) -> None:
    """A viewer pressing play, sending a heartbeat and stopping, a few times a second."""
    api = f"{platform.gateway}/api/v1/playback/sessions"
    with httpx.Client(headers=member.headers, timeout=10) as client:
        while not stop.is_set():
            try:
                started = client.post(
                    api, json={"profile_id": member.profile_id, "title_id": title_id}
                )
            except httpx.HTTPError as exc:
                seen[f"start {type(exc).__name__}"] += 1
                continue
            seen[f"start {started.status_code}"] += 1
            if started.status_code == 201:
                session = f"{api}/{started.json()['session_id']}"
                beat = client.post(f"{session}/heartbeat", json={"position_s": 1.0})
                seen[f"heartbeat {beat.status_code}"] += 1
                client.delete(session)
            stop.wait(0.2)


def service_processes(platform: LocalPlatform) -> dict[int, str]:
    return {int(i["pid"]): str(i["service"]) for i in platform.instances()}


def watch_memory(pids: dict[int, str], stop: threading.Event, peak: dict[str, int]) -> None:
    """The most resident memory each service process had, sampled every half second."""
    while not stop.wait(0.5):
        for pid, service in pids.items():
            try:
                rss = psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
            peak[service] = max(peak.get(service, 0), rss)


def playable_title(platform: LocalPlatform, folder: Path, member: Member) -> Title:
    title = add_title(env=platform.env, data_dir=platform.data_dir, package=make_package(folder))
    body = {"profile_id": member.profile_id, "title_id": title.title_id}
    first = start_session(platform.gateway, member.headers, body, wait_s=30)
    assert first.status_code == 201, first.text
    httpx.delete(
        f"{platform.gateway}/api/v1/playback/sessions/{first.json()['session_id']}",
        headers=member.headers,
        timeout=10,
    )
    return title


@pytest.fixture(scope="module")
def surge_run(platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory) -> SurgeRun:
    seed_catalog(platform, titles=30)
    viewers = sign_up_viewers(platform, VIEWERS)
    watchers = [sign_up(platform) for _ in range(WATCHERS)]
    title = playable_title(platform, tmp_path_factory.mktemp("package"), watchers[0])
    wait_for_whole_home_page(platform, viewers[0])
    homes = [viewer.home() for viewer in viewers]
    capacity = ramp_to_capacity(platform.gateway, homes)
    rate = capacity.good_per_s

    pids_before = service_processes(platform)
    stop, playback, peak = threading.Event(), Counter[str](), dict[str, int]()
    threads = [
        threading.Thread(target=watch_in_a_loop, args=(platform, m, title.title_id, stop, playback))
        for m in watchers
    ]
    threads.append(threading.Thread(target=watch_memory, args=(pids_before, stop, peak)))
    for thread in threads:
        thread.start()
    try:
        phases = [Phase(CALM_S, CALM * rate), Phase(SURGE_S, SURGE * rate)]
        seconds = run_load(
            platform.gateway,
            homes,
            [*phases, Phase(AFTER_S, CALM * rate)],
            open_ahead=LOAD_BALANCER_CONNECTIONS,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    pids_after = service_processes(platform)
    run = SurgeRun(capacity, seconds, playback, pids_before, pids_after, peak)
    run.load_average = os.getloadavg()[0]
    print(f"load average {run.load_average:.1f}\n{described(run)}")  # pytest -rA shows it
    return run


def judge_only_on_a_quiet_host(run: SurgeRun) -> None:
    """Skip, saying what was measured, when the host was too busy with other work for the
    numbers to say anything about cinemesh: the calm load before the surge was already shed
    or slow, or the host's load average was past BUSY_HOST runnable processes a core (this
    platform and its load generator alone keep it near 2)."""
    calm = run.calm_before
    offered = sum(s["offered"] for s in calm)
    unhealthy = sum(s["good"] for s in calm) < 0.95 * offered
    per_core = run.load_average / (os.cpu_count() or 1)
    if unhealthy or per_core > BUSY_HOST:
        pytest.skip(
            f"host too busy to judge: load average {run.load_average:.1f} on "
            f"{os.cpu_count()} cores, calm load answered in time "
            f"{sum(s['good'] for s in calm)}/{offered}\n{described(run)}"
        )


def described(run: SurgeRun) -> str:
    rows = "\n".join(f"  {n:>3}s {s}" for n, s in enumerate(run.seconds))
    return f"capacity {run.capacity}\nplayback {dict(run.playback)}\n{rows}"


def test_goodput_does_not_collapse_at_three_times_capacity(surge_run: SurgeRun) -> None:
    """Without the limiter goodput falls to a few requests a second and the rest time out
    (bench/README.md, the overload bench); with it a share of capacity keeps being served in
    time. How large a share (the goal is 80%) is the overload bench's row, not a timed test."""
    judge_only_on_a_quiet_host(surge_run)
    held = goodput_per_s(surge_run.surge)
    assert held >= NOT_COLLAPSED * surge_run.capacity.good_per_s, (
        f"goodput {held:.0f}/s under the surge against a peak of "
        f"{surge_run.capacity.good_per_s:.0f}/s\n{described(surge_run)}"
    )
    assert sum(s["shed"] for s in surge_run.surge) > 0, "nothing was shed: no overload reached"


def test_playback_session_starts_keep_succeeding_through_the_surge(surge_run: SurgeRun) -> None:
    judge_only_on_a_quiet_host(surge_run)
    starts = {k: n for k, n in surge_run.playback.items() if k.startswith("start")}
    total = sum(starts.values())
    assert total >= 20, described(surge_run)
    assert starts.get("start 201", 0) >= 0.99 * total, described(surge_run)


def test_no_service_process_runs_out_of_memory_or_restarts(
    surge_run: SurgeRun, platform: LocalPlatform
) -> None:
    assert surge_run.pids_after == surge_run.pids_before, "a service process was restarted"
    too_big = {s: rss for s, rss in surge_run.peak_rss.items() if rss > MEMORY_CEILING}
    assert not too_big, f"resident memory past 1 GiB: {too_big}"
    assert all(i["healthy"] for i in platform.instances())


def normal(second: dict[str, Any]) -> bool:
    """Every request answered, nothing shed, 99% within the 300 ms that counts as good."""
    return (
        second["failed"] == 0 and second["shed"] == 0 and second["good"] >= 0.99 * second["offered"]
    )


def test_service_is_back_to_normal_within_seconds_of_the_surge(surge_run: SurgeRun) -> None:
    """A normal second comes within RECOVERED_WITHIN_S of the surge's end, and the calm that
    follows stays served: no request fails and at least RELAPSE_GOOD of it is good. A busy
    spell of the shared 2-core host after recovery may make the limiter shed a few percent for
    a second or two (CI saw 1-5% in four seconds, ten seconds after the surge); the p99 against
    the calm p99 is the bench's to report, not a timed test's."""
    judge_only_on_a_quiet_host(surge_run)
    after = surge_run.after
    recovered_at = next((n for n, second in enumerate(after) if normal(second)), None)
    assert recovered_at is not None and recovered_at < RECOVERED_WITHIN_S, described(surge_run)
    rest = after[recovered_at:]
    assert all(second["failed"] == 0 for second in rest), described(surge_run)
    good, offered = sum(s["good"] for s in rest), sum(s["offered"] for s in rest)
    assert good >= RELAPSE_GOOD * offered, described(surge_run)


def test_the_limit_and_the_shed_requests_are_in_prometheus_and_the_ops_view(
    surge_run: SurgeRun, platform: LocalPlatform
) -> None:
    gateway = platform.instances("gateway")[0]
    text = httpx.get(f"http://127.0.0.1:{gateway['port']}/metrics", timeout=10).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    shed = ("cinemesh_requests_shed_total", (("priority", "normal"), ("service", "gateway")))
    assert samples.get(shed, 0) > 0, described(surge_run)
    assert samples[("cinemesh_concurrency_limit", (("service", "gateway"),))] >= 1
    ops = httpx.get(f"{platform.gateway}/api/v1/ops/services", timeout=10).json()
    gateway_ops = next(s for s in ops["services"] if s["name"] == "gateway")
    assert gateway_ops["concurrency"]["shed"]["normal"] > 0
    assert gateway_ops["instances"][0]["concurrency"]["limit"] >= 1
    assert gateway_ops["versions"] and "deploys" in ops
