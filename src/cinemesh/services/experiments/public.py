"""What of experiments runs outside the service: allocation (the bench's lookup cost, the
CLI) and the report's analysis. Code outside `cinemesh.services.experiments` imports it
through this module only (`make contracts` checks it)."""

from __future__ import annotations

from cinemesh.services.experiments.allocation import BUCKETS, Cell, Design, layer_bucket
from cinemesh.services.experiments.analysis import METRICS, analyse, compare, sample_ratio

__all__ = [
    "BUCKETS",
    "METRICS",
    "Cell",
    "Design",
    "analyse",
    "compare",
    "layer_bucket",
    "sample_ratio",
]
