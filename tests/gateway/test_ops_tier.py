"""How the ops page combines the gateway instances' views of one dependency."""

from __future__ import annotations

from cinemesh.services.gateway.routes.ops import combined, summed_concurrency


def view(breaker: str, rate: float, errors: float, p99: float, **more: object) -> dict[str, object]:
    return {
        "breaker": breaker,
        "breaker_opened_times": 1 if breaker != "closed" else 0,
        "in_flight": 2,
        "ejected_instances": more.get("ejected", []),
        "requests_per_s": rate,
        "error_rate": errors,
        "p50_ms": p99 / 4,
        "p99_ms": p99,
    }


def test_rates_add_up_errors_weigh_by_requests_and_the_worst_shows() -> None:
    tier = combined(
        [
            view("closed", 30.0, 0.0, 12.0, ejected=["a"]),
            view("open", 10.0, 1.0, 200.0, ejected=["a", "b"]),
        ]
    )
    assert tier["requests_per_s"] == 40.0
    assert tier["error_rate"] == 0.25
    assert tier["breaker"] == "open"
    assert tier["p99_ms"] == 200.0
    assert tier["in_flight"] == 4
    assert tier["breaker_opened_times"] == 1
    assert tier["ejected_instances"] == ["a", "b"]


def test_a_half_open_breaker_outranks_closed_and_an_idle_tier_has_no_errors() -> None:
    tier = combined([view("closed", 0.0, 0.0, 0.0), view("half_open", 0.0, 0.0, 0.0)])
    assert tier["breaker"] == "half_open"
    assert tier["error_rate"] == 0.0
    assert tier["requests_per_s"] == 0.0


def test_a_services_limits_and_shed_requests_add_up_over_its_instances() -> None:
    first = {"limit": 20, "in_flight": 3, "shed": {"critical": 0, "normal": 7}}
    second = {"limit": 12, "in_flight": 1, "shed": {"normal": 2, "background": 5}}
    assert summed_concurrency([first, None, second]) == {
        "limit": 32,
        "in_flight": 4,
        "shed": {"critical": 0, "normal": 9, "background": 5},
    }
    assert summed_concurrency([None]) is None
