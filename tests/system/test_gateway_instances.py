"""The gateway runs as many instances as wanted, all on the one public port: the kernel spreads
new connections over them, and when one dies the others take every new connection, so users
keep getting answers while the supervisor brings it back."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.backends import EmbeddedNats
from tests.support.platform import LocalPlatform, unthrottled_platform
from tests.support.users import Member, sign_up

SERVICES = ["registry", "identity", "profiles", "gateway"]
ROUTE = "/api/v1/profiles"


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[LocalPlatform]:
    with unthrottled_platform(
        tmp_path_factory.mktemp("gateway-instances"),
        embedded_nats.url,
        services=SERVICES,
        scale={"gateway": 2},
    ) as running:
        yield running


def answered_by(platform: LocalPlatform, index: int) -> int:
    """How many requests for ROUTE one gateway instance answered (read at its own port)."""
    text = httpx.get(f"{platform.url_of('gateway', index)}/metrics", timeout=10).text
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "cinemesh_http_requests_total" and sample.labels["route"] == ROUTE
        )
    )


def ask(platform: LocalPlatform, member: Member) -> int:
    """One request on a new connection, as a new visitor's browser would open one."""
    try:
        return httpx.get(platform.gateway + ROUTE, headers=member.headers, timeout=10).status_code
    except httpx.TransportError:
        return 0


def test_both_instances_answer_on_the_public_port(platform: LocalPlatform) -> None:
    member = sign_up(platform)
    before = [answered_by(platform, i) for i in (0, 1)]
    statuses = Counter(ask(platform, member) for _ in range(60))
    after = [answered_by(platform, i) for i in (0, 1)]
    assert statuses == Counter({200: 60})
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
    assert {i["port"] for i in platform.instances("gateway")}.isdisjoint({platform.port})


def test_one_gateway_killed_under_load_the_other_answers_every_new_connection(
    platform: LocalPlatform,
) -> None:
    member = sign_up(platform)
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def visitors() -> None:
        while not stop.is_set():
            seen.append((time.monotonic(), ask(platform, member)))

    load = threading.Thread(target=visitors)
    load.start()
    try:
        time.sleep(1.0)
        killed_at = time.monotonic()
        platform.control("POST", "/kill", json={"service": "gateway", "instance": 1, "hold_s": 4})
        time.sleep(3.0)
        down = [status for at, status in seen if at > killed_at + 0.5]
        platform.wait_healthy(service="gateway", count=2, timeout_s=30)
        time.sleep(1.0)
    finally:
        stop.set()
        load.join(timeout=30)
    # A request already on the killed instance's connection can fail; none after that.
    assert len(down) > 20 and set(down) == {200}, Counter(down)
    failed = [status for _, status in seen if status != 200]
    assert len(failed) <= 2, Counter(failed)
    before = answered_by(platform, 1)
    assert Counter(ask(platform, member) for _ in range(40)) == Counter({200: 40})
    assert answered_by(platform, 1) > before, "the restarted instance takes connections again"


def test_ops_shows_the_whole_gateway_tier_whichever_instance_answers(
    platform: LocalPlatform,
) -> None:
    member = sign_up(platform)
    assert Counter(ask(platform, member) for _ in range(40)) == Counter({200: 40})
    views = [
        httpx.get(f"{platform.url_of('gateway', i)}/api/v1/ops/services", timeout=10).json()
        for i in (0, 1)
    ]
    assert views[0]["answered_by"] != views[1]["answered_by"]
    for view in views:
        gateways = {g["id"]: g["answered"] for g in view["gateways"]}
        assert gateways == {views[0]["answered_by"]: True, views[1]["answered_by"]: True}
        profiles = next(s for s in view["services"] if s["name"] == "profiles")
        assert set(profiles["calls_by_gateway"]) == set(gateways)
        each = [calls["requests_per_s"] for calls in profiles["calls_by_gateway"].values()]
        assert all(rate > 0 for rate in each)
        assert profiles["calls"]["requests_per_s"] == pytest.approx(sum(each), abs=0.05)
        assert profiles["calls"]["breaker"] == "closed"


def test_a_peers_own_view_needs_the_service_credential(platform: LocalPlatform) -> None:
    answer = httpx.get(f"{platform.url_of('gateway', 0)}/internal/ops/local", timeout=10)
    assert answer.status_code in (401, 403)
