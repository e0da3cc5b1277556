"""A bare NATS server with JetStream for a bench that runs services in its own process."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cinemesh.runner.layout import free_port
from cinemesh.runner.natsd import nats_server_binary


@contextmanager
def nats_server(store: Path) -> Iterator[str]:
    """The shipped nats-server on a free loopback port, storing its streams in `store`."""
    port = free_port()
    proc = subprocess.Popen(
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
