"""The edge drains on SIGTERM as the uvicorn services do (platform/drain.py): unready first,
still answering with `Connection: close`, then it finishes the segments in flight and exits.
Its address is a listening socket it inherits, as from the supervisor: an edge started on the
same socket takes over the address, and no request to it fails while the old one leaves."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cinemesh.contracts.signed_urls import load_edge_key, sign
from cinemesh.platform.auth import SERVICE_TOKEN_HEADER, load_service_key, service_token
from cinemesh.runner.layout import free_port

ASSET = "a0123456789abcdef"
SEGMENT = "360p/seg_001.m4s"


class EdgeProcess:
    """`cinemesh serve edge` on a port of its own and on the shared `address` socket."""

    def __init__(self, data_dir: Path, address: socket.socket, *, drain_s: float) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.log_path = data_dir / f"edge-{self.port}.log"
        env = {
            **os.environ,
            "CINEMESH_DATA_DIR": str(data_dir),
            "CINEMESH_PORT": str(self.port),
            "CINEMESH_LISTEN_FD": str(address.fileno()),
            "CINEMESH_REGISTRY_URLS": "[]",
            "CINEMESH_DRAIN_S": str(drain_s),
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cinemesh", "serve", "edge"],
                env=env,
                stdout=log,
                stderr=log,
                pass_fds=(address.fileno(),),
            )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90  # a busy machine starts Python slowly
        while not self._ready():
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/health/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def instance(self) -> str:
        return str(httpx.get(self.url + "/health/live", timeout=5).json()["instance"])

    def slow_down(self, latency_ms: int) -> None:
        token = service_token(load_service_key(data_dir=self.data_dir, configured=""))
        answer = httpx.put(
            self.url + "/internal/faults",
            json={"latency_ms": latency_ms},
            headers={SERVICE_TOKEN_HEADER: token},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def media(tmp_path: Path, hls_package: Path) -> Path:
    """A data dir holding one published asset."""
    data_dir = tmp_path / "data"
    shutil.copytree(hls_package, data_dir / "media" / "assets" / ASSET)
    return data_dir


@pytest.fixture
def address() -> Iterator[socket.socket]:
    """The edge's stable address, bound and listened on as the supervisor does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    yield sock
    sock.close()


def segment_url(data_dir: Path, base: str) -> str:
    key = load_edge_key(data_dir, "")
    return base + sign(key, ASSET, int(time.time()) + 600, SEGMENT)


def base_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_sigterm_drains_unready_first_then_finishes_the_segment_in_flight(
    media: Path, address: socket.socket
) -> None:
    edge = EdgeProcess(media, address, drain_s=2.0)
    try:
        url = segment_url(media, base_of(address))
        assert httpx.get(url, timeout=5).status_code == 200
        assert httpx.get(edge.url + "/health/ready", timeout=5).json()["version"]  # as all do
        edge.slow_down(1500)
        answers: list[httpx.Response] = []
        in_flight = threading.Thread(target=lambda: answers.append(httpx.get(url, timeout=10)))
        in_flight.start()
        time.sleep(0.3)
        edge.signal(signal.SIGTERM)
        time.sleep(0.3)

        ready = httpx.get(edge.url + "/health/ready", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["checks"]["drain"].startswith("draining")
        still = httpx.get(edge.url + "/health/live", timeout=5)
        assert still.status_code == 200 and still.headers["connection"] == "close"

        in_flight.join(timeout=10)
        assert [a.status_code for a in answers] == [200]
        assert len(answers[0].content) == (media / "media/assets" / ASSET / SEGMENT).stat().st_size
        began = time.monotonic()
        assert edge.proc.wait(timeout=20) == 0, edge.log()
        assert time.monotonic() - began < 15
    finally:
        edge.stop()


def test_sigint_stops_the_edge_without_settling(media: Path, address: socket.socket) -> None:
    edge = EdgeProcess(media, address, drain_s=30.0)
    try:
        began = time.monotonic()
        edge.signal(signal.SIGINT)
        assert edge.proc.wait(timeout=15) == 0, edge.log()
        assert time.monotonic() - began < 10
    finally:
        edge.stop()


def test_an_edge_on_the_same_address_takes_over_and_no_request_fails(
    media: Path, address: socket.socket
) -> None:
    """Viewers keep fetching from the address, on new and kept-alive connections, while the
    old edge drains and exits: every answer is a 200, the last ones from the new edge."""
    old = EdgeProcess(media, address, drain_s=1.0)
    new: EdgeProcess | None = None
    seen: Counter[str] = Counter()
    served_by: Counter[str] = Counter()
    stop = threading.Event()
    url = segment_url(media, base_of(address))
    live = base_of(address) + "/health/live"

    def viewer(keep_alive: bool) -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                try:
                    answer = client.get(url) if keep_alive else httpx.get(url, timeout=5)
                    seen[str(answer.status_code)] += 1
                    served_by[client.get(live).json()["instance"]] += 1
                except httpx.HTTPError as exc:
                    seen[type(exc).__name__] += 1
                time.sleep(0.02)

    viewers = [threading.Thread(target=viewer, args=(n % 2 == 0,)) for n in range(4)]
    try:
        for thread in viewers:
            thread.start()
        time.sleep(0.5)
        new = EdgeProcess(media, address, drain_s=1.0)
        old_id, new_id = old.instance, new.instance
        old.signal(signal.SIGTERM)
        assert old.proc.wait(timeout=20) == 0, old.log()
        served_by.clear()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in viewers:
            thread.join(timeout=10)
        old.stop()
        if new is not None:
            new.stop()
    print(f"answers while the edge was replaced: {dict(seen)}")
    assert set(seen) == {"200"} and seen["200"] > 50, dict(seen)
    assert set(served_by) == {new_id} and old_id != new_id, dict(served_by)
