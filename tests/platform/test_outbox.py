"""Events leave through the transactional outbox and arrive exactly once, even when the
publisher is killed between its database commit and the publish (on both backends)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.platform.ledger_process import LedgerProcess
from tests.support.backends import Backend


@pytest.fixture
def tally(backend: Backend, data_dir: Path) -> Iterator[LedgerProcess]:
    consumer = LedgerProcess("tally", data_dir, backend.env).start()
    yield consumer
    consumer.stop()


def wait_for_tallies(tally: LedgerProcess, ids: set[str], timeout_s: float = 15) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = tally.call("GET", "/tallies").json()
        if ids <= set(seen):
            return seen
        time.sleep(0.2)
    return seen


def test_event_survives_kill_between_commit_and_publish(
    backend: Backend, data_dir: Path, tally: LedgerProcess
) -> None:
    # The relay waits 5 s after reading committed rows before publishing: we kill inside it.
    ledger = LedgerProcess("ledger", data_dir, backend.env, LEDGER_RELAY_PAUSE_S="5").start()
    entry = f"e-{uuid.uuid4().hex[:8]}"
    assert ledger.call("POST", "/entries", json={"id": entry, "amount": 5}).status_code == 201
    time.sleep(0.5)
    ledger.kill9()
    assert entry not in tally.call("GET", "/tallies").json(), "published before the kill"

    restarted = LedgerProcess("ledger", data_dir, backend.env).start()
    try:
        seen = wait_for_tallies(tally, {entry})
        assert seen.get(entry) == 1
        time.sleep(1.5)  # a second delivery would show up by now
        assert tally.call("GET", "/tallies").json()[entry] == 1
    finally:
        restarted.stop()


def test_many_writes_each_arrive_exactly_once(
    backend: Backend, data_dir: Path, tally: LedgerProcess
) -> None:
    ledger = LedgerProcess("ledger", data_dir, backend.env).start()
    try:
        ids = {f"m-{n}-{uuid.uuid4().hex[:6]}" for n in range(40)}
        for entry in ids:
            assert (
                ledger.call("POST", "/entries", json={"id": entry, "amount": 1}).status_code == 201
            )
        seen = wait_for_tallies(tally, ids)
        assert {entry: seen.get(entry) for entry in ids} == dict.fromkeys(ids, 1)
    finally:
        ledger.stop()


def test_trace_context_travels_over_http_and_events(
    backend: Backend, data_dir: Path, tally: LedgerProcess
) -> None:
    ledger = LedgerProcess("ledger", data_dir, backend.env).start()
    trace_id = uuid.uuid4().hex
    try:
        traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
        response = ledger.call(
            "POST",
            "/entries",
            json={"id": f"t-{trace_id[:8]}", "amount": 1},
            headers={"traceparent": traceparent},
        )
        assert response.status_code == 201
        assert response.headers["x-request-id"]
        wait_for_tallies(tally, {f"t-{trace_id[:8]}"})
        counted = [line for line in tally.log().splitlines() if "counted an entry" in line]
        assert any(trace_id in line for line in counted), counted[-3:]
    finally:
        ledger.stop()
