"""Event throughput on the 3-node NATS JetStream cluster (`cinemesh up --nats-cluster 3`, every
stream on all three nodes) as a ratio to the single embedded server, both started here the way
the supervisor starts them and measured in the same run:
- publish, one at a time: what one outbox relay does (each event waits for JetStream's ack,
  which on the cluster means a quorum of two nodes has stored it);
- publish, many in flight: what the bus takes from many relays at once;
- consume: one shared durable consumer draining the stream, fetching in batches and acking
  each event (the path of `EventBus.consume`).
Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cinemesh.platform.events import Event, EventBus
from cinemesh.runner.natsd import NatsCluster

IN_FLIGHT = 256


async def publish_one_at_a_time(bus: EventBus, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        await bus.publish(Event("bench.event.sent", {"n": n}))
    return count / (time.perf_counter() - started)


async def publish_many_in_flight(bus: EventBus, count: int) -> float:
    window = asyncio.Semaphore(IN_FLIGHT)

    async def one(n: int) -> None:
        async with window:
            await bus.publish(Event("bench.event.burst", {"n": n}))

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return count / (time.perf_counter() - started)


async def consume_all(bus: EventBus, expected: int) -> float:
    """Events per second for a new shared consumer to handle and ack the whole stream."""
    handled = 0
    done = asyncio.Event()

    async def handle(_event: Event) -> None:
        nonlocal handled
        handled += 1
        if handled >= expected:
            done.set()

    started = time.perf_counter()
    await bus.consume("bench.>", handle)
    await asyncio.wait_for(done.wait(), timeout=300)
    return expected / (time.perf_counter() - started)


async def measure(nodes: int, *, sequential: int, burst: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"cm-events-{nodes}-") as tmp:
        folder = Path(tmp)
        nats = NatsCluster(size=nodes, data_dir=folder, logs_dir=folder, say=lambda _msg: None)
        await nats.start()
        bus = EventBus(
            nats.urls,
            service=f"bench-{uuid.uuid4().hex[:6]}",
            namespace=f"bench{nodes}",
            replicas=nats.replicas,
        )
        try:
            await bus.connect()
            one_at_a_time = await publish_one_at_a_time(bus, sequential)
            in_flight = await publish_many_in_flight(bus, burst)
            consumed = await consume_all(bus, sequential + burst)
        finally:
            await bus.close()
            await nats.stop()
    return {
        "nodes": nodes,
        "replicas": nats.replicas,
        "publish_one_at_a_time_per_s": round(one_at_a_time),
        "publish_in_flight_per_s": round(in_flight),
        "consume_per_s": round(consumed),
    }


async def run(*, sequential: int, burst: int) -> dict[str, Any]:
    single = await measure(1, sequential=sequential, burst=burst)
    cluster = await measure(3, sequential=sequential, burst=burst)
    return {
        "single": single,
        "cluster": cluster,
        "events": {"one_at_a_time": sequential, "in_flight": burst, "window": IN_FLIGHT},
    }


ROWS = [
    ("publish_one_at_a_time_per_s", "events published one at a time (an outbox relay), per s"),
    ("publish_in_flight_per_s", f"events published {IN_FLIGHT} in flight, per s"),
    ("consume_per_s", "events consumed by a shared durable consumer, per s"),
]


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    single, cluster = results["single"], results["cluster"]
    return [
        {
            "measurement": f"3-node cluster (R3): {what}",
            "baseline": "the single embedded nats-server (R1)",
            "value": cluster[key],
            "baseline_value": single[key],
            "ratio": round(cluster[key] / max(1, single[key]), 3),
            "better": "higher",
        }
        for key, what in ROWS
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    sizes = (200, 1000) if args.tiny else (2000, 10000) if args.quick else (10000, 50000)
    results = asyncio.run(run(sequential=sizes[0], burst=sizes[1]))
    print(json.dumps({"benchmark": "events", "summary": summarize(results), **results}, indent=2))


if __name__ == "__main__":
    main()
