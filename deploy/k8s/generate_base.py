"""Writes the Kubernetes base for every cinemesh service from one table, so a change to how
services are deployed is made once. Run: python deploy/k8s/generate_base.py"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BASE = Path(__file__).parent / "base"
PORT = 8000
IMAGE = "cinemesh"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    public: bool = False
    replicas: int = 2
    cpu: str = "250m"
    memory: str = "256Mi"
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"
    autoscale: tuple[int, int] | None = None
    media: bool = False  # mounts the shared media volume


SERVICES = [
    ServiceSpec("gateway", public=True, replicas=3, autoscale=(3, 30)),
    ServiceSpec("identity"),
    ServiceSpec("profiles"),
    ServiceSpec("catalog", media=True),
    ServiceSpec("search", replicas=2, memory="512Mi", memory_limit="2Gi", autoscale=(2, 20)),
    ServiceSpec(
        "encoder", replicas=2, cpu="1", memory="1Gi", cpu_limit="4", memory_limit="4Gi", media=True
    ),
    ServiceSpec("playback", replicas=3, autoscale=(3, 30)),
    ServiceSpec(
        "edge",
        public=True,
        replicas=3,
        cpu="500m",
        memory_limit="1Gi",
        autoscale=(3, 50),
        media=True,
    ),
    ServiceSpec("history"),
    ServiceSpec("recommender", memory="1Gi", memory_limit="3Gi"),
]


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "cinemesh"}


def deployment(spec: ServiceSpec) -> dict[str, Any]:
    probe = {
        "httpGet": {"path": "/health/live", "port": "http"},
        "periodSeconds": 10,
        "failureThreshold": 3,
    }
    ready = {
        "httpGet": {"path": "/health/ready", "port": "http"},
        "periodSeconds": 5,
        "failureThreshold": 2,
    }
    container: dict[str, Any] = {
        "name": spec.name,
        "image": IMAGE,
        "args": [spec.name],
        "ports": [{"name": "http", "containerPort": PORT}],
        "envFrom": [
            {"configMapRef": {"name": "cinemesh-config"}},
            {"secretRef": {"name": "cinemesh-secrets"}},
        ],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "CINEMESH_INSTANCE_ID", "value": f"{spec.name}-$(POD_NAME)"},
        ],
        "readinessProbe": ready,
        "livenessProbe": probe,
        "startupProbe": {**probe, "failureThreshold": 30, "periodSeconds": 2},
        "resources": {
            "requests": {"cpu": spec.cpu, "memory": spec.memory},
            "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "data", "mountPath": "/data"},
        ],
    }
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if spec.media:
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": "cinemesh-media"}})
    else:
        volumes.append({"name": "data", "emptyDir": {}})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name, "labels": labels(spec.name)},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": spec.name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": labels(spec.name),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                    },
                },
                "spec": {
                    "serviceAccountName": "cinemesh",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 20,
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def service(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "labels": labels(spec.name)},
        "spec": {
            "selector": {"app.kubernetes.io/name": spec.name},
            "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
        },
    }


def disruption_budget(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": spec.name, "labels": labels(spec.name)},
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": spec.name}},
        },
    }


def autoscaler(spec: ServiceSpec) -> dict[str, Any]:
    assert spec.autoscale
    low, high = spec.autoscale
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": spec.name, "labels": labels(spec.name)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 65},
                    },
                }
            ],
        },
    }


def network_policies() -> list[dict[str, Any]]:
    """Deny by default; cinemesh pods talk to each other; only gateway and edge face outside."""
    internal_from = [{"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "cinemesh"}}}]
    policies: list[dict[str, Any]] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny-ingress"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "internal-from-cinemesh"},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "cinemesh"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": internal_from}],
            },
        },
    ]
    for name in ("gateway", "edge"):
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"{name}-from-anywhere"},
                "spec": {
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"ports": [{"port": PORT, "protocol": "TCP"}]}],
                },
            }
        )
    return policies


def write(base: Path, name: str, docs: list[dict[str, Any]]) -> str:
    path = base / name
    path.write_text(
        "# generated by deploy/k8s/generate_base.py; edit the table there\n"
        + yaml.safe_dump_all(docs, sort_keys=False)
    )
    return name


def main(base: Path = BASE) -> None:
    base.mkdir(parents=True, exist_ok=True)
    files = []
    for spec in SERVICES:
        docs = [deployment(spec), service(spec), disruption_budget(spec)]
        if spec.autoscale:
            docs.append(autoscaler(spec))
        files.append(write(base, f"{spec.name}.yaml", docs))
    files.append(write(base, "network-policies.yaml", network_policies()))
    static = [
        "namespace.yaml",
        "config.yaml",
        "media-volume.yaml",
        "postgres.yaml",
        "nats.yaml",
        "redis.yaml",
        "ingress.yaml",
    ]
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "cinemesh",
        "labels": [{"pairs": {"app.kubernetes.io/managed-by": "kustomize"}}],
        "resources": static + files,
        "images": [{"name": IMAGE, "newName": "ghcr.io/cinemesh/cinemesh", "newTag": "latest"}],
    }
    (base / "kustomization.yaml").write_text(
        "# generated by deploy/k8s/generate_base.py\n"
        + yaml.safe_dump(kustomization, sort_keys=False)
    )


if __name__ == "__main__":
    main()
