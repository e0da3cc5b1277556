"""The local platform runner lives in the package (benchmarks use it too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cinemesh.runner.local import LocalPlatform
from tests.support.backends import unthrottled_sqlite_env

__all__ = ["LocalPlatform", "unthrottled_platform"]


@contextmanager
def unthrottled_platform(
    data_dir: Path, nats_url: str, *, services: list[str], scale: dict[str, int] | None = None
) -> Iterator[LocalPlatform]:
    """`services` started on SQLite and the test's NATS with the gateway's rate limits off,
    for a module that drives many requests through them; stopped at the end."""
    running = LocalPlatform(
        data_dir, services=services, env=unthrottled_sqlite_env(nats_url), scale=scale
    ).start(timeout_s=120)
    try:
        yield running
    finally:
        running.stop()
