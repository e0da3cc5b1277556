"""A clone of this repository that tests commit the revisions they deploy into."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def clone_for_revisions(where: Path) -> Path:
    """What is committed here, cloned to `where`, with a committer so tests can commit."""
    subprocess.run(["git", "clone", "-q", str(REPO), str(where)], check=True)
    for key, value in (("user.email", "tests@cinemesh.local"), ("user.name", "tests")):
        subprocess.run(["git", "-C", str(where), "config", key, value], check=True)
    return where
