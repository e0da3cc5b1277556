from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cinemesh.runner.seaweed import SeaweedS3
from tests.support.backends import Backend, EmbeddedNats, drop_test_databases, make_backend


@pytest.fixture(scope="session")
def embedded_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    nats = EmbeddedNats(tmp_path_factory.mktemp("nats"))
    yield nats
    nats.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, embedded_nats: EmbeddedNats) -> Iterator[Backend]:
    """Each test that takes it runs twice: SQLite + embedded NATS, PostgreSQL + running NATS."""
    chosen = make_backend(request.param, embedded_nats_url=embedded_nats.url)
    yield chosen
    if chosen.name == "postgres":
        drop_test_databases(chosen.run_id)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_backend(
    request: pytest.FixtureRequest, embedded_nats: EmbeddedNats
) -> Iterator[Backend]:
    """The same two backends, one each for a whole module's tests (a platform they share)."""
    chosen = make_backend(request.param, embedded_nats_url=embedded_nats.url)
    yield chosen
    if chosen.name == "postgres":
        drop_test_databases(chosen.run_id)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 origin for the session, started the first time a test asks for it."""
    store = SeaweedS3(tmp_path_factory.mktemp("seaweedfs")).start()
    yield store
    store.stop()


_seconds_by_module: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Sum setup, call and teardown by module: where the suite's time goes, fixtures included."""
    module = report.nodeid.split("::", 1)[0]
    _seconds_by_module[module] = _seconds_by_module.get(module, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _seconds_by_module:
        return
    slowest = sorted(_seconds_by_module.items(), key=lambda item: -item[1])[:25]
    terminalreporter.section("slowest modules (setup + tests + teardown)")
    for module, seconds in slowest:
        terminalreporter.write_line(f"{seconds:8.1f}s {module}")
