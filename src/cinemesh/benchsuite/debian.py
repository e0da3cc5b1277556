"""Debian packages the tests and benchmarks need (nginx, wrk, chromium), installed with
apt-get when missing, so a fresh machine needs no manual step."""

from __future__ import annotations

import os
import shutil
import subprocess

_UPDATED = False


class MissingTool(RuntimeError):
    """A needed Debian package could not be installed."""


def ensure_packages(commands: dict[str, str]) -> None:
    """`commands` maps a command to its package, e.g. {"wrk": "wrk", "nginx": "nginx"}."""
    global _UPDATED
    missing = {pkg for cmd, pkg in commands.items() if not _present(cmd)}
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise MissingTool(f"install {' '.join(sorted(missing))} (apt-get needs root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _UPDATED:
        subprocess.run(
            ["apt-get", "update", "-qq"], check=False, env=env, capture_output=True, timeout=600
        )
        _UPDATED = True
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *sorted(missing)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if result.returncode != 0:
        raise MissingTool(
            f"apt-get could not install {' '.join(sorted(missing))}: {result.stderr[-500:]}"
        )


def _present(command: str) -> bool:
    return (command.startswith("/") and os.path.exists(command)) or shutil.which(
        command
    ) is not None
