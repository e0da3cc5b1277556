"""Child processes that die with their parent, and stopping them for sure."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Mapping
from typing import Any

import psutil

PR_SET_PDEATHSIG = 1
SERVE = ["-m", "cinemesh", "serve"]
INFRASTRUCTURE = ("nats-server", "prometheus")
START_TIME_SLACK_S = 0.05  # start times are kept in clock ticks (10 ms)


def die_with_parent() -> None:
    """preexec_fn: the kernel sends SIGTERM to the child when the supervisor dies, even by -9."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def is_ours(pid: int, recorded: Mapping[str, Any] | None = None) -> bool:
    """True when `pid` is still a process `up` started: alive, running a cinemesh service or
    nats-server, and, when its start time was recorded, started then. A pid the system has
    since given to another process fails that check even if its command line looks alike;
    an editor open on a file named cinemesh-something fails the command line one."""
    try:
        process = psutil.Process(pid)
        started, command = process.create_time(), process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    when = (recorded or {}).get("started")
    if when is not None and abs(started - float(when)) > START_TIME_SLACK_S:
        return False
    return runs_a_service(command)


def runs_a_service(command: list[str]) -> bool:
    """`python -m cinemesh serve NAME`, as the supervisor starts services, or the
    infrastructure beside them (nats-server, prometheus)."""
    if command and os.path.basename(command[0]) in INFRASTRUCTURE:
        return True
    return any(command[i : i + 3] == SERVE for i in range(len(command) - 2))


def started_at(pid: int) -> float | None:
    """When `pid` started (what `is_ours` compares), None if it is gone."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def terminate(pids: list[int], *, grace_s: float = 5.0) -> int:
    """SIGTERM, wait up to `grace_s`, then SIGKILL what is left. Returns how many stopped."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=2)
    return len(procs)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)
