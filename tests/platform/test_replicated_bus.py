"""The event bus as `cinemesh up --nats-cluster 3` runs it: three nats-server nodes, every stream
on all three. Under a steady stream of writes that publish through the outbox, `kill -9` of the
stream's leader loses no event and restarts no service, and the node catches up when it is
started again. Two consumers count the events: a shared durable one (`tally`, how most
services consume) and a broadcast one (`mirror`, how search keeps its per-instance index)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats
import pytest

from tests.platform.ledger_process import LedgerProcess
from tests.support.platform import LocalPlatform

NODES = 3
HOLD_S = 20.0  # the killed leader stays down this long before the supervisor starts it again


@dataclass
class BusView:
    leader: str
    replicas: int
    peers: dict[str, bool]  # every node but the leader: current with it or not


def bus_view(urls: str, stream: str) -> BusView:
    """The stream as the cluster reports it (nats-py's stream info)."""

    async def ask() -> BusView:
        nc = await nats.connect(urls.split(","), connect_timeout=2, max_reconnect_attempts=2)
        try:
            info = await nc.jetstream(timeout=3).stream_info(stream)
        finally:
            await nc.close()
        cluster = info.cluster
        assert cluster is not None, "a stream of a cluster names its leader and replicas"
        return BusView(
            leader=cluster.leader or "",
            replicas=int(info.config.num_replicas or 1),
            peers={str(p.name): bool(p.current) for p in cluster.replicas or []},
        )

    return asyncio.run(ask())


def eventually(check: Callable[[], object], *, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # the cluster electing a leader answers nothing for a moment
            last = exc
        else:
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"{what} within {timeout_s} s; last: {last!r}")


@dataclass
class SteadyWriter:
    """Adds a ledger entry every `every_s` from a thread; keeps the ids that were acknowledged."""

    ledger: LedgerProcess
    every_s: float = 0.02
    acknowledged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SteadyWriter:
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _write(self) -> None:
        run = uuid.uuid4().hex[:6]
        with httpx.Client(base_url=self.ledger.url, headers=self.ledger.headers, timeout=5) as http:
            n = 0
            while not self._stop.is_set():
                entry = f"w-{run}-{n}"
                try:
                    answer = http.post("/entries", json={"id": entry, "amount": 1})
                    ok = answer.status_code == 201
                except httpx.HTTPError:
                    ok = False
                (self.acknowledged if ok else self.refused).append(entry)
                n += 1
                time.sleep(self.every_s)


@dataclass
class Bus:
    platform: LocalPlatform
    urls: str
    stream: str
    ledger: LedgerProcess
    tally: LedgerProcess
    mirror: LedgerProcess

    def tallies(self, consumer: LedgerProcess | None = None) -> dict[str, int]:
        return dict((consumer or self.tally).call("GET", "/tallies").json())

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.platform.control("GET", "/status")["nats"])

    def node(self, server_name: str) -> dict[str, Any]:
        return next(n for n in self.nodes() if n["server_name"] == server_name)

    def last_sequences(self) -> dict[str, int]:
        """Each node's own copy of the stream: its last sequence, from its monitoring port."""
        found = {}
        for node in self.nodes():
            jsz = httpx.get(f"{node['monitor_url']}/jsz?streams=true", timeout=2).json()
            for account in jsz.get("account_details", []):
                for stream in account.get("stream_detail", []):
                    if stream["name"] == self.stream:
                        found[node["server_name"]] = int(stream["state"]["last_seq"])
        return found


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bus]:
    data_dir = tmp_path_factory.mktemp("replicated-bus") / "data"
    # the embedded cluster and SQLite, also in a run configured for the shared NATS
    local = {"CINEMESH_NATS_URL": "", "CINEMESH_DATABASE_URL_TEMPLATE": ""}
    platform = LocalPlatform(
        data_dir, services=["registry"], env=local, up_args=["--nats-cluster", str(NODES)]
    ).start()
    urls = platform.control("GET", "/status")["nats_url"]
    namespace = f"r{uuid.uuid4().hex[:8]}"
    env = {**local, "CINEMESH_NATS_URL": urls, "CINEMESH_NATS_REPLICAS": str(NODES)}
    env |= {"CINEMESH_BUS_NAMESPACE": namespace, "CINEMESH_DRAIN_S": "0"}
    ledger = tally = mirror = None
    try:
        tally = LedgerProcess("tally", data_dir, env).start()
        mirror = LedgerProcess("mirror", data_dir, env).start()
        ledger = LedgerProcess("ledger", data_dir, env).start()
        yield Bus(platform, urls, f"{namespace}_EVENTS", ledger, tally, mirror)
    finally:
        for process in (ledger, tally, mirror):
            if process is not None:
                process.stop()
        platform.stop()


def test_the_supervisor_gives_services_every_node_and_three_replicas(bus: Bus) -> None:
    nodes = bus.platform.control("GET", "/status")["nats"]
    assert [n["server_name"] for n in nodes] == ["nats-0", "nats-1", "nats-2"]
    assert bus.urls == ",".join(n["url"] for n in nodes)
    registry = bus.platform.instances("registry")[0]["pid"]
    with open(f"/proc/{registry}/environ", "rb") as environ:
        variables = dict(
            item.split(b"=", 1) for item in environ.read().split(b"\0") if b"=" in item
        )
    assert variables[b"CINEMESH_NATS_URL"].decode() == bus.urls
    assert variables[b"CINEMESH_NATS_REPLICAS"] == b"3"


def test_the_events_stream_is_kept_on_all_three_nodes(bus: Bus) -> None:
    view = bus_view(bus.urls, bus.stream)
    assert view.replicas == NODES
    assert view.leader in {"nats-0", "nats-1", "nats-2"}
    assert set(view.peers) | {view.leader} == {"nats-0", "nats-1", "nats-2"}


def test_killing_the_stream_leader_loses_no_event_and_restarts_no_service(bus: Bus) -> None:
    services = (bus.ledger, bus.tally, bus.mirror)
    pids = [service.proc.pid for service in services]  # type: ignore[union-attr]
    writer = SteadyWriter(bus.ledger).start()
    try:
        eventually(lambda: len(bus.tallies()) >= 50, timeout_s=20, what="events flowing")
        leader = bus_view(bus.urls, bus.stream).leader
        node = bus.node(leader)
        killed = bus.platform.control(
            "POST",
            "/kill",
            json={"service": "nats-server", "instance": node["instance"], "hold_s": HOLD_S},
        )["killed"]
        assert killed == [node["pid"]]  # SIGKILL, the control API's default
        down_at, counted_at_kill = time.monotonic(), len(bus.tallies())

        survivors = eventually(
            lambda: (view := bus_view(bus.urls, bus.stream)).leader not in ("", leader) and view,
            timeout_s=HOLD_S - 2,
            what="a new leader elected among the two nodes left",
        )
        eventually(
            lambda: len(bus.tallies()) >= counted_at_kill + 50,
            timeout_s=max(1.0, HOLD_S - (time.monotonic() - down_at) - 0.5),
            what="events still flowing while the old leader is down",
        )
        assert bus.node(leader)["pid"] is None, "the node came back before the outage was over"

        eventually(lambda: bus.node(leader)["pid"], timeout_s=HOLD_S + 10, what="node restarted")
        eventually(
            lambda: (
                (view := bus_view(bus.urls, bus.stream)).peers.get(leader) or view.leader == leader
            ),
            timeout_s=30,
            what=f"{leader} current with the stream again",
        )
        time.sleep(2)  # a few more writes with all three nodes back
    finally:
        writer.stop()
    # the restarted node holds the whole stream, also what was written while it was down
    eventually(
        lambda: len(set((last := bus.last_sequences()).values())) == 1 and len(last) == NODES,
        timeout_s=20,
        what="the same last sequence on every node",
    )

    acknowledged = set(writer.acknowledged)
    assert len(acknowledged) > 300 and not writer.refused, (len(acknowledged), writer.refused[:5])
    for consumer in (bus.tally, bus.mirror):

        def counted_all(consumer: LedgerProcess = consumer) -> dict[str, int] | None:
            tallies = bus.tallies(consumer)
            return tallies if acknowledged <= set(tallies) else None

        seen = eventually(
            counted_all, timeout_s=45, what=f"every acknowledged write's event in {consumer.role}"
        )
        assert isinstance(seen, dict)
        assert {entry: seen[entry] for entry in acknowledged} == dict.fromkeys(acknowledged, 1)
        assert set(seen) == acknowledged, f"{consumer.role} counted an unacknowledged event"
    assert [service.proc.pid for service in services] == pids  # type: ignore[union-attr]
    assert all(service.proc.poll() is None for service in services)  # type: ignore[union-attr]
    assert bus.platform.instances("registry")[0]["restarts"] == 0
    assert survivors
