"""The per-cell comparison a data scientist reads: for every metric, each cell's mean per
exposed member, its difference from control with a 95% confidence interval and a p-value
(Welch's two-sample t-test, unequal variances: members are the unit, and at hundreds of
members a cell the means are close to normal even for counts), and a sample-ratio-mismatch
check (chi-square goodness of fit of the exposed members per cell against the cells'
weights; p < 0.001 is reported as a mismatch, so the comparison is not to be trusted).

Pure numbers in, numbers out: `service.py` gathers the per-member values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
SRM_ALPHA = 0.001
TEST = "Welch's two-sample t-test (unequal variances), members as units"


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    higher_is_better: bool
    guardrail: bool = False


METRICS = (
    Metric("play_starts", "play starts per exposed member", True),
    Metric("row_play_starts", "play starts from a recommendation row", True),
    Metric("row_share", "share of a member's play starts made from a recommendation row", True),
    Metric("watch_minutes", "minutes watched per exposed member", True),
    Metric("play_delay_ms", "time to first frame, a member's mean (guardrail)", False, True),
    Metric("rebuffer_ratio", "rebuffering time over playing time (guardrail)", False, True),
)


def _clean(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 6)


def compare(control: Sequence[float], treatment: Sequence[float]) -> dict[str, Any]:
    """treatment - control: the difference of means, its CI, the p-value and the relative lift."""
    a, b = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    out: dict[str, Any] = {"difference": None, "ci": None, "p_value": None, "lift": None}
    if len(a) < 2 or len(b) < 2:
        return out
    difference = float(b.mean() - a.mean())
    out["difference"] = _clean(difference)
    if a.mean() != 0:
        out["lift"] = _clean(difference / abs(a.mean()))
    if a.var() == 0 and b.var() == 0:
        out["ci"] = [out["difference"], out["difference"]]
        out["p_value"] = 1.0 if difference == 0 else 0.0
        return out
    test = stats.ttest_ind(b, a, equal_var=False)
    interval = test.confidence_interval(CONFIDENCE)
    out["ci"] = [_clean(interval.low), _clean(interval.high)]
    out["p_value"] = _clean(test.pvalue)
    return out


def sample_ratio(counts: Mapping[str, int], weights: Mapping[str, float]) -> dict[str, Any]:
    """Do the cells hold the members their weights promise?"""
    total = sum(counts.values())
    names = list(weights)
    if total == 0:
        return {"p_value": None, "mismatch": False, "expected": {}, "observed": dict(counts)}
    share = np.array([weights[n] for n in names]) / sum(weights.values())
    observed = np.array([counts.get(n, 0) for n in names], dtype=float)
    p_value = float(stats.chisquare(observed, share * total).pvalue)
    return {
        "test": "chi-square goodness of fit",
        "p_value": _clean(p_value),
        "mismatch": p_value < SRM_ALPHA,
        "expected": {n: round(float(s * total), 1) for n, s in zip(names, share, strict=True)},
        "observed": {n: int(counts.get(n, 0)) for n in names},
    }


def analyse(
    *,
    control: str,
    weights: Mapping[str, float],
    members: Mapping[str, int],
    values: Mapping[str, Mapping[str, Sequence[float]]],
) -> dict[str, Any]:
    """values[metric][cell]: one number per member who has it. Every cell against control."""
    srm = sample_ratio(members, weights)
    metrics = []
    for metric in METRICS:
        by_cell = values.get(metric.name, {})
        base = by_cell.get(control, [])
        cells = {}
        for cell in weights:
            mine = by_cell.get(cell, [])
            summary: dict[str, Any] = {
                "members": len(mine),
                "mean": _clean(float(np.mean(mine))) if len(mine) else None,
            }
            if cell != control:
                summary.update(compare(base, mine))
            cells[cell] = summary
        metrics.append(
            {
                "name": metric.name,
                "description": metric.description,
                "higher_is_better": metric.higher_is_better,
                "guardrail": metric.guardrail,
                "cells": cells,
            }
        )
    warnings = []
    if srm["mismatch"]:
        warnings.append(
            f"sample ratio mismatch: exposed members per cell {srm['observed']} against "
            f"{srm['expected']} expected (p = {srm['p_value']:.2g}); do not trust the comparison"
        )
    return {
        "test": TEST,
        "confidence": CONFIDENCE,
        "control": control,
        "sample_ratio": srm,
        "metrics": metrics,
        "warnings": warnings,
    }
