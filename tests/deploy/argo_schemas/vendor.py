"""Vendors the Argo Rollouts CRD schemas the manifest tests validate against, offline.

The Kubernetes schemas kubernetes-validate knows stop at the built-in kinds; Rollout and
AnalysisTemplate are checked against the openAPIV3Schema of Argo Rollouts' own CRDs instead
(`manifests/crds/` of github.com/argoproj/argo-rollouts at the tag in RELEASE). Two subtrees
that cinemesh does not use and that make up most of the files are replaced by an opaque
object: a Rollout's inline pod `template` (our Rollouts reference their Deployment through
`workloadRef`, and the tests refuse an inline template) and an AnalysisTemplate metric's `job`
provider (the tests refuse any provider but Prometheus). `status` is dropped.

Run: python tests/deploy/argo_schemas/vendor.py ROLLOUT_CRD.yaml ANALYSIS_TEMPLATE_CRD.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

RELEASE = "v1.9.1"
COMMIT = "b6bd3bcf8f60d717a98763d26acc983db7f97cb0"
HERE = Path(__file__).parent
OPAQUE = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "description": "not vendored: cinemesh does not use it (see vendor.py)",
}


def schema_of(crd_path: Path) -> tuple[str, dict[str, Any]]:
    crd = yaml.safe_load(crd_path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("served")]
    schema = version["schema"]["openAPIV3Schema"]
    schema["properties"].pop("status", None)
    return crd["spec"]["names"]["kind"], schema


def main(rollout_crd: Path, analysis_template_crd: Path) -> None:
    kind, rollout = schema_of(rollout_crd)
    assert kind == "Rollout", kind
    rollout["properties"]["spec"]["properties"]["template"] = OPAQUE
    kind, analysis = schema_of(analysis_template_crd)
    assert kind == "AnalysisTemplate", kind
    metric = analysis["properties"]["spec"]["properties"]["metrics"]["items"]
    metric["properties"]["provider"]["properties"]["job"] = OPAQUE
    source = f"github.com/argoproj/argo-rollouts {RELEASE} ({COMMIT}) manifests/crds"
    for name, schema in (("rollout", rollout), ("analysistemplate", analysis)):
        document = {"source": source, "apiVersion": "argoproj.io/v1alpha1", "schema": schema}
        (HERE / f"{name}.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
