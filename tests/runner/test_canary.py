"""The canary judge: a canary clearly worse than its baseline fails, noise does not."""

from __future__ import annotations

import random

from cinemesh.runner.canary import Series, Totals, judge, read_totals


def series(error_ratio: float, latency_s: float, *, intervals: int = 12, seed: int = 1) -> Series:
    rng = random.Random(seed)
    out = Series()
    total = Totals()
    out.add(total)
    for _ in range(intervals):
        served = 200
        errors = sum(rng.random() < error_ratio for _ in range(served))
        latency = sum(rng.gauss(latency_s, latency_s * 0.2) for _ in range(served))
        total = total + Totals(served, errors, latency)
        out.add(total)
    return out


def test_a_canary_answering_errors_on_a_fifth_of_calls_fails() -> None:
    verdict = judge(series(0.2, 0.01), series(0.0, 0.01, seed=2))
    assert verdict.passed is False
    assert "error ratio" in verdict.reason


def test_a_canary_300_ms_slower_fails() -> None:
    verdict = judge(series(0.0, 0.31), series(0.0, 0.01, seed=2))
    assert verdict.passed is False
    assert "latency" in verdict.reason


def test_a_canary_like_its_baseline_passes() -> None:
    verdict = judge(series(0.001, 0.01), series(0.001, 0.01, seed=2))
    assert verdict.passed is True


def test_no_verdict_before_enough_intervals() -> None:
    assert judge(series(0.5, 0.01, intervals=2), series(0.0, 0.01)).passed is None


def test_totals_come_from_an_instances_own_metrics() -> None:
    text = (
        "# TYPE cinemesh_http_requests_total counter\n"
        'cinemesh_http_requests_total{method="GET",route="/v1/x",service="search",status="200"} 90\n'
        'cinemesh_http_requests_total{method="GET",route="/v1/x",service="search",status="503"} 10\n'
        "# TYPE cinemesh_http_request_duration_seconds histogram\n"
        'cinemesh_http_request_duration_seconds_sum{route="/v1/x",service="search"} 2.5\n'
        'cinemesh_http_request_duration_seconds_count{route="/v1/x",service="search"} 100\n'
    )
    assert read_totals(text, "search") == Totals(100, 10, 2.5)
