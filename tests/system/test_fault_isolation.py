"""One part breaks, the show goes on: the whole platform runs, a service is killed or
slowed, and users keep getting answers, with only that feature degraded."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from cinemesh.services.gateway.settings import GatewaySettings
from tests.support.metrics import sample_value
from tests.support.platform import LocalPlatform
from tests.support.users import Member, admin, sign_up

HOME_DEADLINE_MS = 300  # the gateway's dependency deadline is 200 ms; the page adds its own work
PAGE_REUSE_S = GatewaySettings().home_page_fresh_s


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    running = LocalPlatform(
        tmp_path_factory.mktemp("faults"),
        env={"CINEMESH_GATEWAY_RATE_PER_IP": "0", "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0"},
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def viewer(platform: LocalPlatform) -> Member:
    boss = admin(platform)
    for n, genre in enumerate(["Horror", "Comedy", "Drama", "Horror", "Comedy", "Drama"] * 3):
        made = httpx.post(
            f"{platform.gateway}/api/v1/admin/titles",
            headers=boss.headers,
            timeout=30,
            json={
                "title": f"Isolation {genre} {n} {uuid.uuid4().hex[:4]}",
                "kind": "movie",
                "genres": [genre],
                "year": 2000 + n,
                "maturity_rating": "PG",
            },
        )
        assert made.status_code in (200, 201), made.text
    member = sign_up(platform)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the recommender and search learn titles from events
        if home(platform, member).json()["rows"]:
            break
        time.sleep(0.5)
    return member


def home(platform: LocalPlatform, member: Member) -> httpx.Response:
    return httpx.get(
        f"{platform.gateway}/api/v1/home",
        params={"profile_id": member.profile_id},
        headers=member.headers,
        timeout=10,
    )


def breaker_state(platform: LocalPlatform, service: str) -> str | None:
    ops = httpx.get(f"{platform.gateway}/api/v1/ops/services", timeout=10).json()
    for entry in ops["services"]:
        if entry["name"] == service and entry["calls"]:
            return str(entry["calls"]["breaker"])
    return None


def timed_homes(
    platform: LocalPlatform, member: Member, count: int
) -> tuple[list[httpx.Response], list[float]]:
    answers, latencies = [], []
    for _ in range(count):
        started = time.perf_counter()
        answers.append(home(platform, member))
        latencies.append((time.perf_counter() - started) * 1000)
    return answers, latencies


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def test_home_is_whole_when_everything_is_up(platform: LocalPlatform, viewer: Member) -> None:
    page = home(platform, viewer)
    assert page.status_code == 200
    assert page.json()["degraded"] == []
    assert page.json()["rows"]


def test_recommender_killed_home_degrades_then_heals_by_itself(
    platform: LocalPlatform, viewer: Member
) -> None:
    platform.control("POST", "/kill", json={"service": "recommender", "hold_s": 12})
    time.sleep(2 * PAGE_REUSE_S)  # a whole page younger than this may still be served
    answers, latencies = timed_homes(platform, viewer, 25)
    opened_by = time.monotonic() + 8  # degraded pages are reused briefly: fewer calls to open it
    while breaker_state(platform, "recommender") == "closed" and time.monotonic() < opened_by:
        more, more_latencies = timed_homes(platform, viewer, 5)
        answers, latencies = answers + more, latencies + more_latencies
    assert all(a.status_code == 200 for a in answers)
    assert all("recommender" in a.json()["degraded"] for a in answers[3:])
    assert all(a.json()["rows"] for a in answers), "fallback rows must fill the page"
    assert statistics.median(latencies) < HOME_DEADLINE_MS
    assert breaker_state(platform, "recommender") in ("open", "half_open")

    deadline = time.monotonic() + 60  # restarted by the supervisor, no manual step
    while time.monotonic() < deadline:
        if (
            home(platform, viewer).json()["degraded"] == []
            and breaker_state(platform, "recommender") == "closed"
        ):
            break
        time.sleep(1)
    assert home(platform, viewer).json()["degraded"] == []
    assert breaker_state(platform, "recommender") == "closed"


def test_recommender_slowed_by_5s_home_stays_within_its_deadline(
    platform: LocalPlatform, viewer: Member
) -> None:
    result = platform.cli("chaos", "latency", "recommender", "5000")
    assert result.returncode == 0, result.stderr
    try:
        answers, latencies = timed_homes(platform, viewer, 30)
    finally:
        platform.cli("chaos", "reset", "recommender")
    assert all(a.status_code == 200 for a in answers)
    assert p99(latencies) < 1000, f"p99 {p99(latencies):.0f} ms with a 5 s recommender"
    assert statistics.median(latencies) < HOME_DEADLINE_MS


def test_search_killed_answers_503_and_nothing_else_notices(
    platform: LocalPlatform, viewer: Member
) -> None:
    platform.control("POST", "/kill", json={"service": "search", "hold_s": 600})
    try:
        time.sleep(0.5)
        found = httpx.get(
            f"{platform.gateway}/api/v1/search",
            params={"q": "isolation"},
            headers=viewer.headers,
            timeout=10,
        )
        assert found.status_code == 503
        assert found.json()["error"]["code"] == "SEARCH_UNAVAILABLE"
        page = home(platform, viewer)
        assert page.status_code == 200 and "search" not in page.json()["degraded"]
        profiles = httpx.get(
            f"{platform.gateway}/api/v1/profiles", headers=viewer.headers, timeout=10
        )
        assert profiles.status_code == 200
    finally:
        platform.control("POST", "/revive", json={"service": "search"})


def gateway_count(platform: LocalPlatform, name: str, **labels: str) -> float:
    return sum(
        sample_value(f"http://127.0.0.1:{i['port']}", name, **labels)
        for i in platform.instances("gateway")
    )


def test_experiments_killed_members_get_control_and_nothing_else_notices(
    platform: LocalPlatform, viewer: Member
) -> None:
    platform.wait_healthy(service="search", timeout_s=90)  # revived by the test before
    exposures = "cinemesh_gateway_exposures_total"
    logged_by = time.monotonic() + 20  # the demo experiment takes every profile
    while gateway_count(platform, exposures, outcome="logged") == 0:
        assert time.monotonic() < logged_by, "no exposure of the demo experiment was logged"
        time.sleep(2 * PAGE_REUSE_S)
        assert home(platform, viewer).status_code == 200
    platform.control("POST", "/kill", json={"service": "experiments", "hold_s": 600})
    try:
        newcomer = sign_up(platform)  # never allocated by the gateway: control, no exposure
        fallbacks = "cinemesh_gateway_allocations_total"
        before = gateway_count(platform, fallbacks, source="control_fallback")
        answers, latencies = timed_homes(platform, newcomer, 10)
        assert all(a.status_code == 200 and a.json()["rows"] for a in answers)
        assert all(a.json()["degraded"] == [] for a in answers), answers[-1].json()["degraded"]
        assert statistics.median(latencies) < HOME_DEADLINE_MS
        assert gateway_count(platform, fallbacks, source="control_fallback") > before
        assert home(platform, viewer).status_code == 200  # kept cells, or control
        found = httpx.get(
            f"{platform.gateway}/api/v1/search",
            params={"q": "isolation"},
            headers=newcomer.headers,
            timeout=10,
        )
        assert found.status_code == 200, found.text
    finally:
        platform.control("POST", "/revive", json={"service": "experiments"})
