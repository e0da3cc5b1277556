"""An instance asked to stop (SIGTERM) drains: it leaves the registry and fails readiness,
keeps answering while callers catch up, finishes what is in flight, and exits cleanly. It
also says which release it runs."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.platform.ledger_process import LedgerProcess


def start_ledger(data_dir: Path, nats_url: str, **env: str) -> LedgerProcess:
    return LedgerProcess(
        "ledger",
        data_dir,
        {"CINEMESH_NATS_URL": nats_url, "CINEMESH_BUS_NAMESPACE": "drain"},
        **env,
    ).start()


def test_an_instance_names_its_release_in_health_and_metrics(tmp_path: Path, embedded_nats) -> None:  # type: ignore[no-untyped-def]
    ledger = start_ledger(tmp_path / "data", embedded_nats.url, CINEMESH_RELEASE="r-2026.12")
    try:
        assert httpx.get(ledger.url + "/health/ready").json()["version"] == "r-2026.12"
        assert httpx.get(ledger.url + "/health/live").json()["version"] == "r-2026.12"
        metrics = httpx.get(ledger.url + "/metrics").text
        assert 'cinemesh_build_info{instance="' in metrics
        assert 'service="ledger",version="r-2026.12"} 1.0' in metrics
    finally:
        ledger.stop()


def test_sigterm_finishes_requests_in_flight_and_fails_readiness_first(
    tmp_path: Path,
    embedded_nats,  # type: ignore[no-untyped-def]
) -> None:
    ledger = start_ledger(tmp_path / "data", embedded_nats.url, CINEMESH_DRAIN_S="2")
    try:
        slow = ledger.call("PUT", "/internal/faults", json={"latency_ms": 1500})
        assert slow.status_code == 200
        answers: list[httpx.Response] = []
        in_flight = threading.Thread(
            target=lambda: answers.append(
                ledger.call("POST", "/entries", json={"id": "in-flight", "amount": 1})
            )
        )
        in_flight.start()
        time.sleep(0.3)
        assert ledger.proc is not None
        ledger.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)

        ready = httpx.get(ledger.url + "/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["drain"].startswith("draining")
        still_served = httpx.get(ledger.url + "/health/live")
        assert still_served.status_code == 200
        assert ledger.call("GET", "/tallies").headers["connection"] == "close"

        in_flight.join(timeout=10)
        assert [a.status_code for a in answers] == [201]
        # uvicorn re-raises the signal once shut down, so the exit says what stopped it
        assert ledger.proc.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        ledger.stop()


def test_sigint_stops_without_settling(tmp_path: Path, embedded_nats) -> None:  # type: ignore[no-untyped-def]
    ledger = start_ledger(tmp_path / "data", embedded_nats.url, CINEMESH_DRAIN_S="30")
    assert ledger.proc is not None
    began = time.monotonic()
    ledger.proc.send_signal(signal.SIGINT)
    assert ledger.proc.wait(timeout=15) in (0, 1, -signal.SIGINT)
    assert time.monotonic() - began < 10
