"""Writes the Prometheus configuration cinemesh ships, from the code that `cinemesh up
--prometheus` runs, so the two cannot drift. Run: python deploy/prometheus/generate.py

- `prometheus.yml`: one machine; scrapes the instances listed in `targets/*.json`, which the
  local supervisor writes (file_sd), byte for byte what `cinemesh up --prometheus` runs;
- `kubernetes.yml`: a cluster; finds every pod in the `cinemesh` namespace annotated
  `prometheus.io/scrape` (pod discovery; deploy/k8s/base/monitoring.yaml lets it list pods and
  reach their metrics port) and keeps the pods' labels, which the canary analysis selects by;
- `rules/slo.rules.yml`: the SLIs' error ratios and the multi-window burn-rate alerts of
  `src/cinemesh/runner/slo.py` (docs/slo.md states the objectives).
`tests/slo_test.yml` is written by hand: `promtool test rules` cases for the alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cinemesh.runner.prometheus import SCRAPE_INTERVAL_S, local_config, render
from cinemesh.runner.slo import duration, rule_groups

HERE = Path(__file__).parent
NAMESPACE = "cinemesh"


def kubernetes_config() -> dict[str, Any]:
    pod = "__meta_kubernetes_pod_"
    return {
        "global": {
            "scrape_interval": duration(SCRAPE_INTERVAL_S),
            "scrape_timeout": "10s",
            "evaluation_interval": duration(SCRAPE_INTERVAL_S),
            "external_labels": {"platform": NAMESPACE},
        },
        "rule_files": ["rules/*.yml"],
        "scrape_configs": [
            {
                "job_name": "cinemesh",
                "honor_labels": True,
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [NAMESPACE]}}],
                "relabel_configs": [
                    {
                        "source_labels": [f"{pod}annotation_prometheus_io_scrape"],
                        "action": "keep",
                        "regex": "true",
                    },
                    {
                        "source_labels": ["__address__", f"{pod}annotation_prometheus_io_port"],
                        "action": "replace",
                        "regex": r"([^:]+)(?::\d+)?;(\d+)",
                        "replacement": "$1:$2",
                        "target_label": "__address__",
                    },
                    # rollouts-pod-template-hash -> rollouts_pod_template_hash (docs/deploy.md)
                    {"action": "labelmap", "regex": f"{pod}label_(.+)"},
                    {
                        "source_labels": [f"{pod}label_app_kubernetes_io_name"],
                        "target_label": "component",
                    },
                    {"source_labels": [f"{pod}name"], "target_label": "pod"},
                ],
            }
        ],
    }


def main(folder: Path = HERE) -> None:
    (folder / "rules").mkdir(parents=True, exist_ok=True)
    (folder / "prometheus.yml").write_text(render(local_config()))
    (folder / "kubernetes.yml").write_text(render(kubernetes_config()))
    (folder / "rules" / "slo.rules.yml").write_text(render(rule_groups()))


if __name__ == "__main__":
    main()
