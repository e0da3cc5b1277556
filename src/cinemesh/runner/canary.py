"""Canary analysis, Kayenta's way: the canary's and the baseline's own metrics are sampled
over the same intervals, and each metric's per-interval values are compared with a one-sided
Mann-Whitney U test (does the canary's distribution sit above the baseline's?).

A metric fails when the test says so (p < ALPHA) *and* the difference matters: error ratio
more than ERROR_MARGIN above the baseline's, or median latency more than LATENCY_FACTOR times
the baseline's plus LATENCY_SLACK_S. Either alone would fail canaries on noise (a significant
0.1 ms) or on too few samples (a large but unproven difference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from prometheus_client.parser import text_string_to_metric_families

ALPHA = 0.05
ERROR_MARGIN = 0.02
LATENCY_FACTOR = 1.5
LATENCY_SLACK_S = 0.020
MIN_INTERVALS = 4  # the fewest per side before a verdict may be given


@dataclass(frozen=True)
class Totals:
    """Counters read from one group of instances at one moment."""

    requests: float = 0.0
    errors: float = 0.0
    latency_sum_s: float = 0.0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.requests + other.requests,
            self.errors + other.errors,
            self.latency_sum_s + other.latency_sum_s,
        )


def read_totals(metrics_text: str, service: str) -> Totals:
    """Requests, 5xx answers and summed latency an instance served, from its /metrics."""
    requests = errors = latency = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.labels.get("service") != service:
                continue
            if sample.name == "cinemesh_http_requests_total":
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
            elif sample.name == "cinemesh_http_request_duration_seconds_sum":
                latency += sample.value
    return Totals(requests, errors, latency)


@dataclass
class Series:
    """One group's per-interval error ratios and mean latencies."""

    errors: list[float] = field(default_factory=list)
    latency_s: list[float] = field(default_factory=list)
    last: Totals | None = None

    def add(self, now: Totals) -> None:
        if self.last is not None:
            served = now.requests - self.last.requests
            if served > 0:
                self.errors.append((now.errors - self.last.errors) / served)
                self.latency_s.append((now.latency_sum_s - self.last.latency_sum_s) / served)
        self.last = now


@dataclass(frozen=True)
class Verdict:
    passed: bool | None  # None: not enough intervals yet
    reason: str
    error_p: float = 1.0
    latency_p: float = 1.0


def judge(canary: Series, baseline: Series) -> Verdict:
    if min(len(canary.errors), len(baseline.errors)) < MIN_INTERVALS:
        return Verdict(None, "collecting intervals")
    error_p = _p_greater(canary.errors, baseline.errors)
    latency_p = _p_greater(canary.latency_s, baseline.latency_s)
    worse_errors = median(canary.errors) - median(baseline.errors)
    slow_line = median(baseline.latency_s) * LATENCY_FACTOR + LATENCY_SLACK_S
    if error_p < ALPHA and worse_errors > ERROR_MARGIN:
        return Verdict(
            False,
            f"error ratio {median(canary.errors):.1%} against the baseline's "
            f"{median(baseline.errors):.1%} (Mann-Whitney U, p={error_p:.3f})",
            error_p,
            latency_p,
        )
    if latency_p < ALPHA and median(canary.latency_s) > slow_line:
        return Verdict(
            False,
            f"median latency {median(canary.latency_s) * 1000:.0f} ms against the baseline's "
            f"{median(baseline.latency_s) * 1000:.0f} ms (Mann-Whitney U, p={latency_p:.3f})",
            error_p,
            latency_p,
        )
    return Verdict(True, "no worse than the baseline", error_p, latency_p)


def _p_greater(canary: list[float], baseline: list[float]) -> float:
    if len(set(canary) | set(baseline)) == 1:
        return 1.0  # identical samples: nothing to tell apart
    from scipy.stats import mannwhitneyu  # here: every `cinemesh` command imports this module

    return float(mannwhitneyu(canary, baseline, alternative="greater").pvalue)
