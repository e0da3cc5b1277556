"""`cinemesh up` as a user runs it: scale, kill -9, eviction, restart, and `down`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cinemesh.platform.discovery import LEASE_S
from cinemesh.runner.layout import free_port
from tests.support.platform import LocalPlatform

SERVICES = ["registry", "gateway"]


@pytest.fixture
def platform(data_dir: Path) -> Iterator[LocalPlatform]:
    running = LocalPlatform(data_dir, services=SERVICES).start()
    yield running
    running.stop()


def registered(platform: LocalPlatform, service: str) -> list[str]:
    return [i["instance_id"] for i in platform.registry(f"/v1/services/{service}")]


def wait_until(predicate, timeout_s: float, step_s: float = 0.2) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return False


def processes_of(data_dir: Path) -> list[psutil.Process]:
    """Every live process started for this data dir (children carry it in their environment)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            env = proc.info["environ"] or {}
            cmd = " ".join(proc.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if proc.pid != os.getpid() and (
            env.get("CINEMESH_DATA_DIR") == str(data_dir) or str(data_dir) in cmd
        ):
            found.append(proc)
    return found


def test_status_shows_every_service_healthy(platform: LocalPlatform) -> None:
    result = platform.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    import json

    instances = json.loads(result.stdout)
    assert {i["service"] for i in instances} == set(SERVICES)
    assert all(i["healthy"] and i["pid"] and i["port"] for i in instances)


def test_scale_kill_evict_and_restart(platform: LocalPlatform) -> None:
    result = platform.cli("scale", "gateway=3")
    assert result.returncode == 0, result.stderr
    platform.wait_healthy(service="gateway", count=3, timeout_s=60)
    assert wait_until(lambda: len(registered(platform, "gateway")) == 3, 15)

    before = set(registered(platform, "gateway"))
    killed_pid = platform.kill("gateway", 1)
    victim = next(i for i in before if i.endswith(f"-{killed_pid}"))
    killed_at = time.monotonic()
    assert wait_until(lambda: victim not in registered(platform, "gateway"), LEASE_S + 4)
    evicted_after = time.monotonic() - killed_at
    assert evicted_after <= LEASE_S + 3, f"evicted after {evicted_after:.1f}s"

    restarted = platform.wait_healthy(service="gateway", count=3, timeout_s=30)
    slot = next(i for i in restarted if i["instance"] == 1)
    assert slot["pid"] != killed_pid and slot["restarts"] == 1
    assert wait_until(lambda: len(registered(platform, "gateway")) == 3, 15)


def test_an_instance_whose_port_was_taken_while_it_was_down_comes_back_on_another(
    platform: LocalPlatform,
) -> None:
    port = platform.instances("gateway")[0]["port"]
    platform.control("POST", "/kill", json={"service": "gateway", "hold_s": 2})
    assert wait_until(lambda: not platform.instances("gateway")[0]["pid"], 10)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        back = platform.wait_healthy(service="gateway", count=1, timeout_s=30)
        assert back[0]["port"] != port and back[0]["restarts"] == 1
        assert wait_until(lambda: len(registered(platform, "gateway")) == 1, LEASE_S + 4)


def test_down_leaves_no_process_behind(data_dir: Path) -> None:
    platform = LocalPlatform(data_dir, services=SERVICES).start()
    assert len(processes_of(data_dir)) >= 3  # supervisor, nats-server, services
    result = platform.cli("down")
    assert result.returncode == 0, result.stderr
    platform.proc.wait(timeout=30)  # type: ignore[union-attr]
    assert wait_until(lambda: not processes_of(data_dir), 10), processes_of(data_dir)


def test_down_cleans_up_after_the_supervisor_was_killed(data_dir: Path) -> None:
    platform = LocalPlatform(data_dir, services=SERVICES).start()
    children = [p.pid for p in processes_of(data_dir) if p.pid != platform.proc.pid]  # type: ignore[union-attr]
    os.kill(platform.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
    platform.proc.wait()  # type: ignore[union-attr]
    result = platform.cli("down")
    assert result.returncode == 0, result.stderr
    assert wait_until(
        lambda: (
            not any(
                psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in children
            )
        ),
        15,
    )
    assert not processes_of(data_dir)


def test_a_stop_asked_while_services_still_start_is_not_kept_waiting(data_dir: Path) -> None:
    """SIGTERM (Ctrl-C, `cinemesh down`) during a start that cannot become healthy (the
    catalog's database is unreachable, so it crash-loops) stops everything at once, instead of
    after the minute the supervisor waits for health."""
    env = {
        **os.environ,
        "CINEMESH_DATA_DIR": str(data_dir),
        "CINEMESH_SEED_DEMO": "off",
        "CINEMESH_DATABASE_URL_TEMPLATE": "postgresql+asyncpg://postgres@127.0.0.1:1/cms_{service}",
    }
    args = [sys.executable, "-m", "cinemesh", "up", "--data-dir", str(data_dir), "--port"]
    args += [str(free_port()), "--only", "registry", "--only", "catalog"]
    up = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(
            lambda: len(processes_of(data_dir)) >= 3, 60
        )  # supervisor, nats, a service
        time.sleep(2)
        asked = time.monotonic()
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=45)
        assert time.monotonic() - asked < 30
        assert wait_until(lambda: not processes_of(data_dir), 15), processes_of(data_dir)
    finally:
        if up.poll() is None:
            up.kill()
