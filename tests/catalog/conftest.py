"""One catalog platform per test module and backend: SQLite + embedded NATS, PostgreSQL + NATS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.catalog.api import Caller, admin_of, start_platform
from tests.support.backends import Backend
from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint

SERVICES = ["registry", "profiles", "catalog", "search", "gateway"]


@pytest.fixture(scope="module")
def running(
    module_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalPlatform, TokenMint]]:
    data_dir = tmp_path_factory.mktemp(f"catalog-{module_backend.name}")
    platform, mint = start_platform(data_dir, services=SERVICES, env=module_backend.env)
    yield platform, mint
    platform.stop()


@pytest.fixture(scope="module")
def platform(running: tuple[LocalPlatform, TokenMint]) -> LocalPlatform:
    return running[0]


@pytest.fixture(scope="module")
def mint(running: tuple[LocalPlatform, TokenMint]) -> TokenMint:
    return running[1]


@pytest.fixture(scope="module")
def boss(platform: LocalPlatform, mint: TokenMint) -> Caller:
    return admin_of(platform, mint)
