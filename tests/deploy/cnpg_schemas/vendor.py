"""Vendors the CloudNativePG Cluster CRD schema the manifest tests validate against, offline.

The Kubernetes schemas kubernetes-validate knows stop at the built-in kinds; the `Cluster` of
deploy/k8s/base/postgres.yaml is checked against the openAPIV3Schema of CloudNativePG's own CRD
instead (`config/crd/bases/postgresql.cnpg.io_clusters.yaml` of
github.com/cloudnative-pg/cloudnative-pg at the tag in RELEASE). The subtrees cinemesh does not
set and that make up most of the file (backups, external clusters, extra volumes, pod security
and scheduling details, managed roles and services, tablespaces) are replaced by an opaque
object, as are `bootstrap`'s recovery and pg_basebackup; `status` is dropped. Its CEL rules
(`x-kubernetes-validations`) are kept as they are, for reading: the check is structural.

Run: python tests/deploy/cnpg_schemas/vendor.py CLUSTERS_CRD.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

RELEASE = "v1.29.2"
COMMIT = "94ee3117858765c77d0dbfde381a037944a48a64"
HERE = Path(__file__).parent
OPAQUE = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "description": "not vendored: cinemesh does not set it (see vendor.py)",
}
UNUSED = {
    "spec": (
        "backup",
        "certificates",
        "env",
        "envFrom",
        "ephemeralVolumeSource",
        "externalClusters",
        "managed",
        "monitoring",
        "podSecurityContext",
        "probes",
        "projectedVolumeTemplate",
        "securityContext",
        "serviceAccountTemplate",
        "tablespaces",
        "topologySpreadConstraints",
        "walStorage",
    ),
    "affinity": (
        "additionalPodAffinity",
        "additionalPodAntiAffinity",
        "nodeAffinity",
        "tolerations",
    ),
    "bootstrap": ("recovery", "pg_basebackup"),
}


def main(crd_path: Path) -> None:
    crd = yaml.safe_load(crd_path.read_text())
    assert crd["spec"]["names"]["kind"] == "Cluster", crd["spec"]["names"]
    (version,) = [v for v in crd["spec"]["versions"] if v.get("served")]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    schema["properties"].pop("status", None)
    spec = schema["properties"]["spec"]["properties"]
    parents = {
        "spec": spec,
        **{name: spec[name]["properties"] for name in ("affinity", "bootstrap")},
    }
    for parent, names in UNUSED.items():
        for name in names:
            assert name in parents[parent], f"{parent}.{name} is not in the CRD any more"
            parents[parent][name] = OPAQUE
    document = {
        "source": f"github.com/cloudnative-pg/cloudnative-pg {RELEASE} ({COMMIT}) "
        "config/crd/bases/postgresql.cnpg.io_clusters.yaml",
        "apiVersion": f"postgresql.cnpg.io/{version['name']}",
        "schema": schema,
    }
    (HERE / "cluster.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
