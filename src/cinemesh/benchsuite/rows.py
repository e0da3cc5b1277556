"""A summary row, the shape `cinemesh bench` collects from every bench: a measurement beside the
baseline measured in the same run, and their ratio."""

from __future__ import annotations

from typing import Any


def row(
    measurement: str,
    value: Any,
    *,
    baseline: str = "-",
    baseline_value: Any = None,
    better: str = "higher",
    **extra: Any,
) -> dict[str, Any]:
    ratio = round(value / baseline_value, 4) if value is not None and baseline_value else None
    return {
        "measurement": measurement,
        "baseline": baseline,
        "value": value,
        "baseline_value": baseline_value,
        "ratio": ratio,
        "better": better,
        **extra,
    }
