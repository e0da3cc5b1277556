"""The service level objectives of what a viewer does (open home, search, start playing, fetch a
segment) and the Prometheus rules that watch them, written from this one table both for
`cinemesh up --prometheus` and for `deploy/prometheus/` (docs/slo.md states them).

Each objective has two SLIs over 30 days, both measured where the viewer's request is served
(the gateway's route, or the edge): availability (requests not answered 5xx) and latency
(requests answered within a histogram bucket's bound). Recording rules keep each SLI's error
ratio over 5m, 30m, 1h and 6h; the alerts are the Google SRE workbook's multi-window,
multi-burn-rate pairs: the 1h ratio above 14.4x the budget (2% of a 30-day budget spent in an
hour) while the 5m one still is, or the 6h ratio above 6x (5% in six hours) while the 30m one
still is. The short window makes an alert resolve minutes after the burning stops.

`time_scale` divides every window, and the scrape and evaluation intervals, so that a test can
watch an alert fire and resolve in a minute instead of an hour: at 60, 1h becomes 60 s and 5m
becomes 5 s. The rule and record names stay those of the real windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUESTS = "cinemesh_http_requests_total"
DURATION = "cinemesh_http_request_duration_seconds"
RUNBOOK = "docs/slo.md"


@dataclass(frozen=True)
class Objective:
    """One user-facing journey: the requests that measure it and the two targets over 30 days."""

    name: str  # the `slo` label, and the alerts' name: search -> SearchAvailabilityBudgetBurn
    what: str
    service: str
    route: str
    method: str
    availability: float  # the share of requests not answered 5xx
    latency_s: float  # a bucket bound of cinemesh_http_request_duration_seconds
    latency: float  # the share of requests answered within `latency_s`


OBJECTIVES = [
    Objective("home", "the home page", "gateway", "/api/v1/home", "GET", 0.999, 0.5, 0.99),
    Objective("search", "search", "gateway", "/api/v1/search", "GET", 0.999, 0.25, 0.99),
    Objective(
        "playback-start",
        "starting playback",
        "gateway",
        "/api/v1/playback/sessions",
        "POST",
        0.9995,
        0.5,
        0.99,
    ),
    Objective("segment-delivery", "media segments", "edge", "/e/", "GET", 0.9995, 0.25, 0.99),
]


@dataclass(frozen=True)
class BurnWindow:
    """Alert when the error ratio over `long_s` and over `short_s` both exceed `burn` x budget."""

    long_s: int
    short_s: int
    burn: float
    severity: str


BURN_WINDOWS = [
    BurnWindow(long_s=3600, short_s=300, burn=14.4, severity="page"),
    BurnWindow(long_s=6 * 3600, short_s=1800, burn=6.0, severity="page"),
]
WINDOWS_S = sorted({s for w in BURN_WINDOWS for s in (w.long_s, w.short_s)})
SLIS = ("availability", "latency")


def duration(seconds: float) -> str:
    """A Prometheus duration: 3600 -> 1h, 300 -> 5m, 5 -> 5s, 0.25 -> 250ms."""
    millis = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if millis >= size and millis % size == 0:
            return f"{millis // size}{unit}"
    return "1ms"


def le_label(bound: float) -> str:
    """A bucket bound as prometheus_client writes it in `le`: 0.25 -> "0.25", 1 -> "1.0"."""
    return repr(float(bound))


def record_name(window_s: int) -> str:
    return f"slo:sli_error:ratio_rate{duration(window_s)}"


def budget(objective: Objective, sli: str) -> float:
    target = objective.availability if sli == "availability" else objective.latency
    return float(f"{1 - target:.6g}")


def error_ratio(objective: Objective, sli: str, window: str) -> str:
    """The share of the objective's requests that failed its SLI over `window` (PromQL)."""
    where = f'service="{objective.service}", route="{objective.route}"'
    if sli == "availability":
        where += f', method="{objective.method}"'
        return (
            f'(sum(rate({REQUESTS}{{{where}, status=~"5.."}}[{window}])) or vector(0))\n'
            f"/\nsum(rate({REQUESTS}{{{where}}}[{window}]))\n"
        )
    fast = f'{where}, le="{le_label(objective.latency_s)}"'
    return (
        f"1 - (\n  sum(rate({DURATION}_bucket{{{fast}}}[{window}]))\n"
        f"  /\n  sum(rate({DURATION}_count{{{where}}}[{window}]))\n)\n"
    )


def recording_rules(objective: Objective, time_scale: float = 1.0) -> list[dict[str, Any]]:
    return [
        {
            "record": record_name(window_s),
            "expr": error_ratio(objective, sli, duration(window_s / time_scale)),
            "labels": {"slo": objective.name, "sli": sli},
        }
        for sli in SLIS
        for window_s in WINDOWS_S
    ]


def alert_name(objective: Objective, sli: str) -> str:
    words = [*objective.name.split("-"), sli, "budget", "burn"]
    return "".join(word.capitalize() for word in words)


def burn_alert(objective: Objective, sli: str, window: BurnWindow) -> dict[str, Any]:
    selector = f'{{slo="{objective.name}", sli="{sli}"}}'
    threshold = f"({window.burn:g} * {budget(objective, sli):g})"
    long_name, short_name = duration(window.long_s), duration(window.short_s)
    target = objective.availability if sli == "availability" else objective.latency
    meaning = (
        "answered without a server error"
        if sli == "availability"
        else f"answered within {le_label(objective.latency_s)} s"
    )
    return {
        "alert": alert_name(objective, sli),
        "expr": (
            f"{record_name(window.long_s)}{selector} > {threshold}\n"
            f"and\n{record_name(window.short_s)}{selector} > {threshold}\n"
        ),
        "labels": {
            "severity": window.severity,
            "slo": objective.name,
            "sli": sli,
            "window": f"{long_name}/{short_name}",
        },
        "annotations": {
            "summary": f"{objective.what}: the {sli} error budget burns {window.burn:g}x too fast",
            "description": (
                f"{{{{ $value | humanizePercentage }}}} of {objective.what} over {long_name} "
                f"(and still over {short_name}) not {meaning}; the objective is "
                f"{target:.2%} over 30 days, so at this rate its budget lasts "
                f"{30 / window.burn:.1f} days."
            ),
            "runbook": RUNBOOK,
        },
    }


def alerting_rules(objective: Objective) -> list[dict[str, Any]]:
    return [burn_alert(objective, sli, window) for sli in SLIS for window in BURN_WINDOWS]


def rule_groups(time_scale: float = 1.0) -> dict[str, Any]:
    """The rule file: a group per objective, its SLIs' error ratios and then the alerts on
    them. A group's rules run in order, so an alert reads the ratios of the same evaluation;
    in separate groups it could read those of the one before."""
    return {
        "groups": [
            {
                "name": f"slo-{objective.name}",
                "rules": recording_rules(objective, time_scale) + alerting_rules(objective),
            }
            for objective in OBJECTIVES
        ]
    }
