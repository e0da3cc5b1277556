"""Which release of the code an instance runs: the name `cinemesh deploy` gives it
(`CINEMESH_RELEASE`), else the git revision of the checkout it runs from, else "unknown"
(an image built without either)."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from prometheus_client import Gauge

BUILD_INFO = Gauge(
    "cinemesh_build_info",
    "1 for the release this instance runs",
    ["service", "version", "instance"],
)


@functools.cache
def release_name() -> str:
    named = os.environ.get("CINEMESH_RELEASE", "").strip()
    if named:
        return named
    return _git_revision(Path(__file__).resolve().parent) or "unknown"


def _git_revision(folder: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def announce_build(*, service: str, instance: str) -> str:
    """Set the build-info gauge for this instance; returns the release name."""
    version = release_name()
    BUILD_INFO.labels(service=service, version=version, instance=instance).set(1)
    return version
