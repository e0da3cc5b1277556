"""The processes `cinemesh up` runs beside the services, shown on a NATS cluster of three: a
node killed is started again on its own (the cluster forms again), a node held down stays down
for the hold, and a revive ends the hold early."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cinemesh.runner import natsd
from cinemesh.runner.infra import answers
from cinemesh.runner.natsd import NatsCluster
from cinemesh.runner.supervisor import Supervisor, UpOptions


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    nats = NatsCluster(size=3, data_dir=tmp_path, logs_dir=tmp_path, say=lambda _msg: None)
    await nats.start()
    yield nats
    await nats.stop()


async def until(check: Callable[[], object], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout_s} s")


async def healthy(nats: NatsCluster) -> bool:
    """Every node routed to the others, with a JetStream meta leader."""
    urls = [f"{nats.monitor_url(i)}/healthz" for i in range(nats.size)]
    return all(await asyncio.gather(*(answers(url) for url in urls)))


async def test_a_cluster_node_killed_is_started_again_and_rejoins(cluster: NatsCluster) -> None:
    node = cluster.nodes[1]
    first = node.pid
    assert first is not None and await healthy(cluster)
    os.kill(first, signal.SIGKILL)
    await until(lambda: node.pid not in (None, first), timeout_s=10)
    assert node.restarts == 1
    for _ in range(100):
        if await healthy(cluster):
            break
        await asyncio.sleep(0.1)
    assert await healthy(cluster), "the restarted node did not rejoin"


async def test_a_node_held_down_stays_down_until_revived(cluster: NatsCluster) -> None:
    node = cluster.nodes[2]
    assert cluster.kill(2, signal.SIGKILL, hold_s=60) == [node.pid]
    await until(lambda: node.pid is None, timeout_s=5)
    await asyncio.sleep(2)
    assert node.pid is None, "restarted while held"
    assert await cluster.revive() == 1
    assert node.pid is not None and node.restarts == 1
    assert await cluster.revive() == 0


async def test_nats_starts_on_other_ports_when_another_platform_takes_the_preferred_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two platforms starting at once both see the preferred port free; one binds it first.
    The preferred port here is one this test holds, seen as free as the other platform saw it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        preferred = taken.getsockname()[1]
        monkeypatch.setattr(natsd, "PREFERRED_PORT", preferred)
        monkeypatch.setattr(natsd, "port_is_free", lambda _port: True)
        said: list[str] = []
        supervisor = Supervisor(UpOptions(data_dir=tmp_path), out=said.append)
        supervisor.layout.prepare()
        await supervisor._start_nats()
        try:
            assert supervisor.nats is not None
            client_port = supervisor.nats.ports[0].client
            assert client_port != preferred
            assert "trying other ports" in " ".join(said)
            _reader, writer = await asyncio.open_connection("127.0.0.1", client_port)
            writer.close()
        finally:
            assert supervisor.nats is not None
            await supervisor.nats.stop()
