"""Reading a service instance's Prometheus metrics in tests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def sample_value(base_url: str, name: str, **labels: str) -> float:
    """The value of sample `name` with `labels` at `base_url`/metrics (0 when absent)."""
    text = httpx.get(base_url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def kept_reads(base_url: str, what: str, source: str) -> float:
    """How many hot reads of `what` came from `source` (memory or database) so far."""
    return sample_value(base_url, "cinemesh_kept_reads_total", what=what, source=source)
