"""Fixtures shared by the playback, edge and history suites (imported by their conftests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.playback.media import make_package
from tests.support.backends import Backend
from tests.support.platform import LocalPlatform

SERVICES = ["registry", "identity", "profiles", "playback", "edge", "history", "gateway"]
LEASE_S = 3.0


@pytest.fixture(scope="session")
def hls_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real 8 s, two-rendition fMP4 HLS package, copied into each asset folder."""
    return make_package(tmp_path_factory.mktemp("hls") / "package")


@pytest.fixture(scope="module")
def media_platform(
    module_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPlatform]:
    """Two playback and two edge instances with short stream leases; identity and profiles
    real, catalog and the encoder replaced by the events they would publish."""
    env = {**module_backend.env, "CINEMESH_PLAYBACK_LEASE_S": str(LEASE_S)}
    running = LocalPlatform(
        tmp_path_factory.mktemp(f"media-{module_backend.name}"),
        services=SERVICES,
        env=env,
        scale={"playback": 2, "edge": 2},
    ).start(timeout_s=120)
    yield running
    running.stop()
