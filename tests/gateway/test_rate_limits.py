"""Per-client and per-account limits that hold behind a load balancer and across gateway
instances: X-Forwarded-For counts only from a trusted proxy (the rightmost address that is
not one), two instances on one Redis limit an account at its rate and not twice it, and with
Redis gone both keep answering under their own limits. The database plays no part here, so
the platform runs on SQLite only."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cinemesh.platform.errors import StartupError
from cinemesh.platform.settings import load_settings
from cinemesh.runner.layout import free_port
from cinemesh.services.gateway.ratelimit import ClientAddress, RateLimit, SharedWindows
from cinemesh.services.gateway.settings import GatewaySettings
from tests.support.backends import IN_CI, EmbeddedNats, make_backend
from tests.support.platform import LocalPlatform

# per second, and the most at once, for a client and for an account: slow enough that no
# bucket refills noticeably while a test runs, even on a busy machine
RATE, BURST = 0.2, 5
UNKNOWN_PATH = "/api/v1/no-such-thing"  # a 404, counted like any other request


class Redis:
    """A Redis server of the test's own, so that stopping it disturbs nobody else."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        self.port = free_port()
        args = [str(binary), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


# --- who the client is ----------------------------------------------------------------------


def scope(peer: str, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 40000), "headers": headers}


def test_forwarded_for_from_an_untrusted_peer_changes_nothing() -> None:
    addresses = ClientAddress(["10.0.0.0/8"])
    assert addresses.of(scope("203.0.113.7", "198.51.100.1")) == "203.0.113.7"
    assert ClientAddress([]).of(scope("10.1.2.3", "198.51.100.1")) == "10.1.2.3"


def test_behind_trusted_proxies_the_client_is_the_rightmost_untrusted_address() -> None:
    addresses = ClientAddress(["10.0.0.0/8", "192.168.1.7"])
    # the client wrote "1.2.3.4" itself; the ingress appended the address it saw
    assert addresses.of(scope("10.0.0.5", "1.2.3.4, 203.0.113.9")) == "203.0.113.9"
    # two proxies in a row, and the header split over two lines
    assert addresses.of(scope("10.0.0.5", "203.0.113.9, 192.168.1.7", "10.9.9.9")) == "203.0.113.9"
    # nothing forwarded, or only proxies: the peer, or the first of them
    assert addresses.of(scope("10.0.0.5")) == "10.0.0.5"
    assert addresses.of(scope("10.0.0.5", "10.0.0.9")) == "10.0.0.9"
    # rubbish where the client's address should be: the proxy, never the rubbish
    assert addresses.of(scope("10.0.0.5", "not-an-address")) == "10.0.0.5"


def test_trusted_proxies_are_read_as_networks_and_a_wrong_one_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CINEMESH_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7")
    assert load_settings(GatewaySettings).trusted_proxies == ["10.0.0.0/8", "192.168.1.7"]
    monkeypatch.setenv("CINEMESH_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, the-ingress")
    with pytest.raises(StartupError, match="CINEMESH_GATEWAY_TRUSTED_PROXIES"):
        load_settings(GatewaySettings)


# --- the limits themselves, two instances in one process ------------------------------------


async def allowed(limits: list[RateLimit], key: str, count: int) -> int:
    """Of `count` requests spread over `limits` (instances) at once, how many went through."""
    waits = [await limits[i % len(limits)].take(key) for i in range(count)]
    return sum(1 for wait in waits if wait <= 0)


def two_instances(redis_url: str, prefix: str) -> list[RateLimit]:
    return [
        RateLimit(
            "account",
            rate_per_s=RATE,
            burst=BURST,
            # a patient client: on a busy machine the gateway's 250 ms would let a slow
            # answer count locally, which is another test's business
            shared=SharedWindows(redis_url, prefix=prefix, timeout_s=5),
        )
        for _ in range(2)
    ]


async def test_two_instances_on_one_redis_share_one_limit(redis: Redis) -> None:
    instances = two_instances(redis.url, f"t{uuid.uuid4().hex[:6]}")
    assert await allowed(instances, "account-1", 20) == BURST
    assert await allowed(instances, "account-2", 4) == 4  # another key, its own window


async def test_without_redis_each_instance_counts_on_its_own() -> None:
    gone = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    instances = two_instances(gone, "t-gone")
    started = time.monotonic()
    assert await allowed(instances, "account-1", 20) == 2 * BURST
    assert time.monotonic() - started < 2.0, "each request waited for Redis"


# --- through real gateway instances ---------------------------------------------------------


@pytest.fixture(scope="module")
def platform(
    redis: Redis, embedded_nats: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPlatform]:
    backend = make_backend("sqlite", embedded_nats_url=embedded_nats.url)
    env = {
        **backend.env,
        "CINEMESH_REDIS_URL": redis.url,
        "CINEMESH_GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",
        "CINEMESH_GATEWAY_RATE_PER_IP": str(RATE),
        "CINEMESH_GATEWAY_BURST_PER_IP": str(BURST),
        "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": str(RATE),
        "CINEMESH_GATEWAY_BURST_PER_ACCOUNT": str(BURST),
    }
    running = LocalPlatform(
        tmp_path_factory.mktemp("limits"),
        services=["registry", "identity", "gateway"],
        scale={"gateway": 2},
        env=env,
    ).start(timeout_s=300)
    yield running
    running.stop()


def member_from(platform: LocalPlatform, address: str) -> dict[str, str]:
    """A new member's headers, signed up and in from `address` behind the trusted proxy."""
    forwarded = {"X-Forwarded-For": address}
    email, password = f"m-{uuid.uuid4().hex[:10]}@example.com", f"Pw-{uuid.uuid4().hex}"
    body = {"email": email, "password": password}
    made = httpx.post(f"{platform.gateway}/api/v1/auth/signup", json=body, headers=forwarded)
    assert made.status_code == 201, made.text
    tokens = httpx.post(f"{platform.gateway}/api/v1/auth/login", json=body, headers=forwarded)
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def gateways(platform: LocalPlatform) -> list[str]:
    return [platform.url_of("gateway", index) for index in (0, 1)]


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in responses]


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    platform: LocalPlatform,
) -> None:
    """127.0.0.2 is no trusted proxy: a new X-Forwarded-For on each request is still one
    client, limited at its burst across both instances."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    started = time.monotonic()
    with httpx.Client(transport=transport, timeout=10) as client:
        answers = [
            client.get(
                gateways(platform)[i % 2] + UNKNOWN_PATH,
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
            for i in range(3 * BURST)
        ]
    allowance = BURST + RATE * (time.monotonic() - started)
    assert statuses(answers).count(404) <= allowance, statuses(answers)
    refused = [r for r in answers if r.status_code == 429]
    assert refused and all(int(r.headers["retry-after"]) >= 1 for r in refused)


def test_behind_a_trusted_proxy_two_clients_get_two_buckets(platform: LocalPlatform) -> None:
    first, second = "203.0.113.10", "203.0.113.11"

    def send(forwarded: str, index: int) -> httpx.Response:
        url = gateways(platform)[index % 2] + UNKNOWN_PATH
        return httpx.get(url, headers={"X-Forwarded-For": forwarded}, timeout=10)

    spent = [send(first, i) for i in range(3 * BURST)]
    assert statuses(spent)[-1] == 429, statuses(spent)
    assert send(second, 0).status_code == 404, "the second client has a bucket of its own"
    # what the first client writes itself comes before what the proxy appended
    assert send(f"{second}, {first}", 1).status_code == 429


def test_two_instances_limit_one_account_at_its_rate_not_twice_it(
    platform: LocalPlatform,
) -> None:
    member = member_from(platform, "192.0.2.250")
    started = time.monotonic()
    answers = [
        httpx.get(
            gateways(platform)[i % 2] + "/api/v1/auth/me",
            headers={**member, "X-Forwarded-For": f"192.0.2.{i}"},
            timeout=10,
        )
        for i in range(4 * BURST)
    ]
    elapsed = time.monotonic() - started
    through = statuses(answers).count(200)
    assert BURST <= through <= BURST + RATE * elapsed + 1, (through, elapsed, statuses(answers))
    assert set(statuses(answers)) <= {200, 429}
    assert all(r.headers.get("retry-after") for r in answers if r.status_code == 429)


def test_with_redis_stopped_both_instances_keep_answering_under_local_limits(
    platform: LocalPlatform, redis: Redis
) -> None:
    member = member_from(platform, "192.0.2.251")
    redis.stop()
    answers = [
        httpx.get(
            gateways(platform)[i % 2] + "/api/v1/auth/me",
            headers={**member, "X-Forwarded-For": f"192.0.2.{100 + i}"},
            timeout=10,
        )
        for i in range(6 * BURST)
    ]
    assert set(statuses(answers)) <= {200, 429}, statuses(answers)
    assert statuses(answers[::2]).count(200) >= BURST  # each instance, its own bucket
    assert statuses(answers[1::2]).count(200) >= BURST
    assert 429 in statuses(answers)


def test_429_is_documented_with_retry_after(platform: LocalPlatform) -> None:
    schema = httpx.get(platform.gateway + "/openapi.json", timeout=10).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            documented = operation["responses"].get("429")
            assert documented, f"{method.upper()} {path} does not document 429"
            assert documented["headers"]["Retry-After"]["required"] is True
