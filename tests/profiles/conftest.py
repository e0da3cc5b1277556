"""One platform per test module, on each backend: SQLite + embedded NATS, PostgreSQL + NATS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.backends import Backend
from tests.support.platform import LocalPlatform

SERVICES = ["registry", "identity", "profiles", "gateway"]


@pytest.fixture(scope="module")
def platform(
    module_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPlatform]:
    running = LocalPlatform(
        tmp_path_factory.mktemp(f"profiles-{module_backend.name}"),
        services=SERVICES,
        env=module_backend.env,
    ).start()
    yield running
    running.stop()
