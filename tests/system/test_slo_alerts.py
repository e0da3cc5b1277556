"""`cinemesh up --prometheus`: the local Prometheus scrapes every instance the supervisor runs,
and chaos that kills search fires the search availability alert, which resolves once search is
back. The rules are the shipped ones run 60 times faster (CINEMESH_SLO_TIME_SCALE=60: the 1h/5m
pair becomes 1m/5s, 6h/30m becomes 6m/30s, scraped and evaluated every second), so that the
alert fires and resolves within CI time; tests/deploy/test_prometheus.py checks the real
windows on synthetic series."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from cinemesh.benchsuite.debian import MissingTool, ensure_packages
from tests.support.backends import IN_CI, EmbeddedNats, unthrottled_sqlite_env
from tests.support.platform import LocalPlatform
from tests.support.users import Member, sign_up

SERVICES = ["registry", "identity", "search", "gateway"]
ALERT = "SearchAvailabilityBudgetBurn"


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[LocalPlatform]:
    try:
        ensure_packages({"prometheus": "prometheus"})
    except MissingTool as exc:
        if IN_CI:
            pytest.fail(f"CI must test the SLO alerts: {exc}")
        pytest.skip(str(exc))
    running = LocalPlatform(
        tmp_path_factory.mktemp("slo") / "data",
        services=SERVICES,
        env={**unthrottled_sqlite_env(embedded_nats.url), "CINEMESH_SLO_TIME_SCALE": "60"},
        up_args=["--prometheus"],
    ).start()
    yield running
    running.stop()


def prometheus(platform: LocalPlatform, path: str, **params: str) -> Any:
    url = platform.control("GET", "/status")["prometheus"]["url"]
    answer = httpx.get(f"{url}{path}", params=params, timeout=5)
    answer.raise_for_status()
    return answer.json()["data"]


def firing(platform: LocalPlatform) -> set[tuple[str, str]]:
    """(alert, window) of every alert firing now."""
    alerts = prometheus(platform, "/api/v1/alerts")["alerts"]
    return {
        (a["labels"]["alertname"], a["labels"]["window"]) for a in alerts if a["state"] == "firing"
    }


def eventually(check: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout_s} s; last: {last!r}")


@dataclass
class Searcher:
    """A viewer searching ten times a second from a thread; counts the answers by status."""

    platform: LocalPlatform
    member: Member
    statuses: Counter[int] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Searcher:
        threading.Thread(target=self._search, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _search(self) -> None:
        with httpx.Client(base_url=self.platform.gateway, headers=self.member.headers) as http:
            while not self._stop.is_set():
                try:
                    status = http.get("/api/v1/search", params={"q": "night"}, timeout=5)
                    self.statuses[status.status_code] += 1
                except httpx.HTTPError:
                    self.statuses[0] += 1
                time.sleep(0.1)


def test_prometheus_scrapes_every_instance_the_supervisor_runs(platform: LocalPlatform) -> None:
    def scraped() -> set[tuple[str, str]] | None:
        targets = prometheus(platform, "/api/v1/targets")["activeTargets"]
        found = {(t["labels"]["component"], t["scrapeUrl"]) for t in targets if t["health"] == "up"}
        return found if len(found) == len(SERVICES) else None

    found = eventually(scraped, timeout_s=30, what="every instance scraped")
    expected = {
        (i["service"], f"http://127.0.0.1:{i['port']}/metrics") for i in platform.instances()
    }
    assert found == expected


def test_killing_search_fires_its_availability_alert_and_it_resolves_after(
    platform: LocalPlatform,
) -> None:
    searcher = Searcher(platform, sign_up(platform, profile=None)).start()
    try:
        eventually(
            lambda: prometheus(
                platform, "/api/v1/query", query='slo:sli_error:ratio_rate1h{slo="search"}'
            )["result"],
            timeout_s=30,
            what="the search SLIs recorded from the gateway's metrics",
        )
        time.sleep(3)
        assert not firing(platform), "an alert fired before anything broke"

        killed = platform.cli("chaos", "kill", "search", "--hold", "120")
        assert killed.returncode == 0, killed.stderr
        alerts = eventually(
            lambda: {w for name, w in firing(platform) if name == ALERT},
            timeout_s=30,
            what=f"{ALERT} firing",
        )
        assert "1h/5m" in alerts
        assert searcher.statuses[503] > 0

        revived = platform.cli("chaos", "revive", "search")
        assert revived.returncode == 0, revived.stderr
        platform.wait_healthy(service="search", timeout_s=60)
        eventually(
            lambda: not {w for name, w in firing(platform) if name == ALERT},
            timeout_s=90,
            what=f"{ALERT} resolved (both windows)",
        )
    finally:
        searcher.stop()
    assert firing(platform) == set(), "another alert fired"
    assert searcher.statuses[200] > 0
