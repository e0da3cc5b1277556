"""The Hystrix/Ribbon pieces on their own: breaker, bulkhead, retry budget, balancer."""

from __future__ import annotations

import asyncio
import time

import pytest

from cinemesh.platform.discovery import Instance, LoadBalancer
from cinemesh.platform.resilience import (
    BreakerPolicy,
    BreakerState,
    Bulkhead,
    CircuitBreaker,
    Rejected,
    RetryBudget,
)


def test_breaker_opens_after_consecutive_failures_and_rejects() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=3, min_calls=100, open_for_s=10))
    for _ in range(3):
        breaker.before_call()
        breaker.record(success=False)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(Rejected):
        breaker.before_call()


def test_breaker_trips_on_failure_ratio_but_not_on_few_calls() -> None:
    breaker = CircuitBreaker(BreakerPolicy(min_calls=4, failure_ratio=0.5, consecutive_failures=99))
    breaker.record(success=False)
    breaker.record(success=True)
    breaker.record(success=False)
    assert breaker.state is BreakerState.CLOSED
    breaker.record(success=False)
    assert breaker.state is BreakerState.OPEN


def test_breaker_half_opens_after_pause_and_closes_on_successful_probe() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, open_for_s=0.05))
    breaker.record(success=False)
    assert breaker.state is BreakerState.OPEN
    time.sleep(0.06)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()
    with pytest.raises(Rejected):  # only one probe at a time
        breaker.before_call()
    breaker.record(success=True)
    assert breaker.state is BreakerState.CLOSED


def test_failed_probe_reopens_the_breaker() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, open_for_s=0.05))
    breaker.record(success=False)
    time.sleep(0.06)
    breaker.before_call()
    breaker.record(success=False)
    assert breaker.state is BreakerState.OPEN
    assert breaker.times_opened == 2


async def test_bulkhead_rejects_beyond_its_limit() -> None:
    bulkhead = Bulkhead(max_concurrent=2, max_wait_s=0.01)
    release = asyncio.Event()

    async def hold() -> None:
        async with bulkhead.slot():
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Rejected):
        async with bulkhead.slot():
            pass
    release.set()
    await asyncio.gather(*holders)
    async with bulkhead.slot():
        assert bulkhead.in_flight == 1


def test_retry_budget_caps_retries_to_a_share_of_requests() -> None:
    budget = RetryBudget(ratio=0.1, min_per_s=0, window_s=10)
    for _ in range(50):
        budget.record_request()
    granted = sum(budget.try_spend() for _ in range(20))
    assert granted == 5


def test_balancer_prefers_the_less_loaded_instance() -> None:
    a, b = Instance("s", "a", "http://a"), Instance("s", "b", "http://b")
    balancer = LoadBalancer()
    for _ in range(5):
        balancer.started(a)
    picks = {balancer.pick([a, b]).instance_id for _ in range(20)}
    assert picks == {"b"}


def test_balancer_ejects_an_outlier_and_never_all_instances() -> None:
    a, b = Instance("s", "a", "http://a"), Instance("s", "b", "http://b")
    balancer = LoadBalancer(failures_to_eject=3)
    for _ in range(3):
        balancer.started(a)
        balancer.finished(a, success=False, total=2)
    assert balancer.ejected() == {"a"}
    assert {balancer.pick([a, b]).instance_id for _ in range(20)} == {"b"}
    for _ in range(3):
        balancer.started(b)
        balancer.finished(b, success=False, total=2)
    assert balancer.ejected() == {"a"}, "ejecting b too would leave nothing to call"
