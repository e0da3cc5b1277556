"""Browser tests: the whole platform, a seeded catalog and Debian's Chromium driven by
Playwright (never `playwright install`: no browser download from elsewhere)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.platform import LocalPlatform
from tests.web.catalog import SeededCatalog, seed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
PLATFORM_ENV = {
    "CINEMESH_GATEWAY_RATE_PER_IP": "0",
    "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
    "CINEMESH_ENCODER_PRESET": "ultrafast",
    "CINEMESH_ENCODER_VMAF_SUBSAMPLE": "10",
}


def ensure_chromium() -> str:
    """Debian's chromium package, installed with apt-get when it is missing."""
    if not os.path.exists(CHROMIUM):
        if shutil.which("apt-get") is None:
            pytest.skip("no /usr/bin/chromium and no apt-get to install it")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, env=env, timeout=1200)
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread
# while the browser is open, and every later test that calls asyncio.run would fail under it
# (`pytest tests/web tests/edge` did); the browser closes when the last browser test is done.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    """One platform for every browser test module (each revives what it kills)."""
    data_dir = tmp_path_factory.mktemp("web")
    (data_dir / ".seeded").touch()  # the test seeds what it needs, faster than the full demo
    running = LocalPlatform(data_dir, env=PLATFORM_ENV, scale={"edge": 2}).start(timeout_s=180)
    yield running
    running.stop()


@pytest.fixture(scope="package")
def catalog(platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory) -> SeededCatalog:
    return seed(platform, tmp_path_factory.mktemp("media"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test reports what the services logged as going wrong."""
    outcome = yield
    report = outcome.get_result()
    running = getattr(item, "funcargs", {}).get("platform")
    if report.failed and isinstance(running, LocalPlatform):
        report.sections.append(("service log problems", running.problems()))
