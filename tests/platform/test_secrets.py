"""Secrets made on first run: every process starting at once ends up with the same one."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from cinemesh.platform.secrets import read_or_create_secret

RACERS = 8


def _race(path: str, start: object, results: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    results.put(read_or_create_secret(Path(path)))  # type: ignore[attr-defined]


def test_processes_racing_to_create_a_secret_all_read_the_same_whole_one(tmp_path: Path) -> None:
    # Before the fix, a process could read the file another had created but not yet
    # written, and sign media URLs with an empty key (edges then answered 403).
    spawn = multiprocessing.get_context("fork")
    for round_number in range(5):
        path = tmp_path / f"edge-{round_number}.key"
        start = spawn.Barrier(RACERS)
        results = spawn.Queue()
        racers = [
            spawn.Process(target=_race, args=(str(path), start, results)) for _ in range(RACERS)
        ]
        for racer in racers:
            racer.start()
        seen = [results.get(timeout=30) for _ in racers]
        for racer in racers:
            racer.join(timeout=30)
        assert len(set(seen)) == 1, seen
        assert len(seen[0]) >= 32
        assert path.read_bytes().strip() == seen[0]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert list(tmp_path.glob(".*.tmp")) == []
