"""One telemetry platform per module and backend: SQLite + embedded NATS, PostgreSQL + NATS.
No identity (tokens from a mint), no catalog or encoder (titles and assets are put on the bus
as they would announce them), no edge (playback hands out a configured edge address)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.backends import Backend
from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint

SERVICES = ["registry", "profiles", "playback", "telemetry", "gateway"]
EDGE = "http://127.0.0.1:9"
RATE_PER_ACCOUNT = 5
BURST_PER_ACCOUNT = 20


@pytest.fixture(scope="module")
def running(
    module_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalPlatform, TokenMint]]:
    data_dir = tmp_path_factory.mktemp(f"telemetry-{module_backend.name}")
    (data_dir / ".seeded").touch()  # these tests make their own titles
    mint = TokenMint(data_dir)
    env = {
        **module_backend.env,
        "CINEMESH_GATEWAY_RATE_PER_IP": "0",
        "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": str(RATE_PER_ACCOUNT),
        "CINEMESH_GATEWAY_BURST_PER_ACCOUNT": str(BURST_PER_ACCOUNT),
        "CINEMESH_PLAYBACK_EDGE_URLS": f'["{EDGE}"]',
        "CINEMESH_TELEMETRY_REFRESH_S": "0.3",
    }
    platform = LocalPlatform(data_dir, services=SERVICES, env=env).start(timeout_s=120)
    yield platform, mint
    platform.stop()


@pytest.fixture(scope="module")
def platform(running: tuple[LocalPlatform, TokenMint]) -> LocalPlatform:
    return running[0]


@pytest.fixture(scope="module")
def mint(running: tuple[LocalPlatform, TokenMint]) -> TokenMint:
    return running[1]
