"""The edge suite runs on both media stores: the shared asset folders (with SQLite and with
PostgreSQL, as the playback suite does) and an S3 origin behind each edge's cache (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.playback.fixtures import LEASE_S, SERVICES, hls_package
from tests.support.backends import EmbeddedNats, drop_test_databases, make_backend
from tests.support.media_stores import store_env
from tests.support.platform import LocalPlatform

__all__ = ["hls_package", "media_platform"]


@pytest.fixture(scope="module", params=["sqlite-files", "postgres-files", "sqlite-s3"])
def media_platform(
    request: pytest.FixtureRequest,
    embedded_nats: EmbeddedNats,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalPlatform]:
    """Two playback and two edge instances, as tests/playback/fixtures.py starts them."""
    database, store = request.param.split("-")
    backend = make_backend(database, embedded_nats_url=embedded_nats.url)
    seaweed = request.getfixturevalue("seaweedfs") if store == "s3" else None
    env = {**backend.env, **store_env(store, seaweed), "CINEMESH_PLAYBACK_LEASE_S": str(LEASE_S)}
    running = LocalPlatform(
        tmp_path_factory.mktemp(f"media-{request.param}"),
        services=SERVICES,
        env=env,
        scale={"playback": 2, "edge": 2},
    ).start(timeout_s=120)
    yield running
    running.stop()
    if database == "postgres":
        drop_test_databases(backend.run_id)
