"""Internal surfaces are unreachable through the gateway, and secrets on disk are private."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.platform import LocalPlatform

INTERNAL_PATHS = [
    "/internal/faults",
    "/api/v1/../internal/faults",
    "/api/v1/%2e%2e/internal/faults",
    "/v1/services",
    "/v1/instances/gateway/x",
]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    running = LocalPlatform(
        tmp_path_factory.mktemp("surfaces"), services=["registry", "gateway"]
    ).start()
    yield running
    running.stop()


@pytest.mark.parametrize("path", INTERNAL_PATHS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_internal_endpoints_are_not_reachable_through_the_gateway(
    platform: LocalPlatform, method: str, path: str
) -> None:
    response = httpx.request(method, platform.gateway + path, json={"error_rate": 1}, timeout=5)
    assert response.status_code in (403, 404, 405), (path, response.status_code, response.text)
    faults = httpx.get(
        platform.url_of("gateway") + "/internal/faults", headers=platform.headers
    ).json()
    assert faults["error_rate"] == 0, "a request without the service credential changed faults"


def test_registry_refuses_writes_without_the_service_credential(platform: LocalPlatform) -> None:
    registry = platform.url_of("registry")
    forged = httpx.put(
        f"{registry}/v1/instances/gateway/evil",
        json={"service": "gateway", "instance_id": "evil", "url": "http://10.9.9.9:1"},
    )
    assert forged.status_code == 403
    assert all(i["instance_id"] != "evil" for i in platform.registry("/v1/services/gateway"))


def test_generated_secrets_are_readable_by_the_owner_only(platform: LocalPlatform) -> None:
    folder = platform.data_dir / "secrets"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    keys = list(folder.iterdir())
    assert keys, "no secrets were generated"
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_logs_never_carry_the_service_key(platform: LocalPlatform) -> None:
    key = (platform.data_dir / "secrets" / "service.key").read_text().strip()
    token = platform.headers["X-Cinemesh-Service-Token"]
    logs = "".join(
        p.read_text(errors="replace") for p in Path(platform.data_dir / "logs").glob("*.log")
    )
    assert key not in logs and token not in logs
