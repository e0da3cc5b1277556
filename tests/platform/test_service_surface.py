"""What every service answers because it is built on the chassis: health, metrics, the error
envelope, the service credential and fault injection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.platform.ledger_process import LedgerProcess


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory, embedded_nats) -> Iterator[LedgerProcess]:  # type: ignore[no-untyped-def]
    data_dir: Path = tmp_path_factory.mktemp("surface")
    proc = LedgerProcess(
        "ledger",
        data_dir,
        {"CINEMESH_NATS_URL": embedded_nats.url, "CINEMESH_BUS_NAMESPACE": "surface"},
    ).start()
    yield proc
    proc.stop()


def test_health_endpoints(ledger: LedgerProcess) -> None:
    assert httpx.get(ledger.url + "/health/live").json()["status"] == "ok"
    ready = httpx.get(ledger.url + "/health/ready").json()
    assert ready["checks"] == {"database": "ok", "events": "ok"}


def test_metrics_count_requests(ledger: LedgerProcess) -> None:
    ledger.call("GET", "/tallies")
    metrics = httpx.get(ledger.url + "/metrics").text
    assert (
        'cinemesh_http_requests_total{method="GET",route="/tallies",service="ledger",status="200"}'
        in metrics
    )


def test_calls_without_the_service_credential_are_refused(ledger: LedgerProcess) -> None:
    response = httpx.post(ledger.url + "/entries", json={"id": "x", "amount": 1})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "SERVICE_CREDENTIAL_REQUIRED"
    forged = httpx.put(
        ledger.url + "/internal/faults",
        json={"error_rate": 1},
        headers={"X-Cinemesh-Service-Token": "0" * 64},
    )
    assert forged.status_code == 403


def test_errors_use_the_envelope(ledger: LedgerProcess) -> None:
    missing = ledger.call("GET", "/no/such/route")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    invalid = ledger.call("POST", "/entries", json={"id": "x", "amount": "lots"})
    assert invalid.status_code == 422
    body = invalid.json()["error"]
    assert body["code"] == "INVALID_REQUEST" and "amount" in body["message"]
    assert invalid.headers["x-request-id"]


def test_injected_latency_and_errors_then_reset(ledger: LedgerProcess) -> None:
    try:
        assert ledger.call("PUT", "/internal/faults", json={"latency_ms": 300}).status_code == 200
        started = time.perf_counter()
        assert ledger.call("GET", "/tallies").status_code == 200
        assert time.perf_counter() - started >= 0.3
        ledger.call("PUT", "/internal/faults", json={"error_rate": 1.0})
        failed = ledger.call("GET", "/tallies")
        assert failed.status_code == 503 and failed.json()["error"]["code"] == "INJECTED_FAULT"
        assert httpx.get(ledger.url + "/health/live").status_code == 200, "health is never faulted"
        bad = ledger.call("PUT", "/internal/faults", json={"error_rate": 7})
        assert bad.status_code == 422
    finally:
        ledger.call("DELETE", "/internal/faults")
    assert ledger.call("GET", "/tallies").status_code == 200
