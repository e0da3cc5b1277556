"""Writes the Kubernetes base for every cinemesh service from one table, so a change to how
services are deployed is made once. Run: python deploy/k8s/generate_base.py

Every service is a Deployment that drains before it stops (a preStop sleep while the endpoints
controller forgets the pod, then the service's own SIGTERM drain) and rolls with
`maxUnavailable: 0`. The services with a `canary` row are shipped by Argo Rollouts instead: a
Rollout takes their pod template from the Deployment (`workloadRef`, the Deployment stays at 0
replicas) and walks a canary judged by the `cinemesh-canary` AnalysisTemplate on the services'
own Prometheus metrics. docs/deploy.md says why and how to drive it.

NATS is a StatefulSet of `NATS_NODES` with a route to every node, and config.yaml has the
services create every stream with that many replicas (CINEMESH_NATS_REPLICAS), so events keep
flowing while one node is down. Published media live in an S3 bucket (object_store.py:
SeaweedFS in the cluster, or a cloud bucket by configuration), the encoder's sources too, so
no pod mounts a shared volume: edges have a cache of their own, encoders a scratch disk. Prometheus, in the `monitoring` namespace, may list the pods
(pod discovery, deploy/prometheus/kubernetes.yml) and scrape their metrics port. PostgreSQL
is a CloudNativePG Cluster, a primary and two streaming replicas that fail over by themselves
(database.py); the services reach the primary through its `postgres-rw` Service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from database import database_cluster, operator_access, password_env
from object_store import add_edge_cache, object_store

BASE = Path(__file__).parent / "base"
PORT = 8000
IMAGE = "cinemesh"

# How a pod leaves (seconds). Kubernetes runs preStop, then sends SIGTERM; the grace period
# counts from the start of preStop and must cover all of it.
PRESTOP_S = 5  # the endpoints controller and every kube-proxy stop sending new connections
DRAIN_S = 2.5  # CINEMESH_DRAIN_S: answers with `Connection: close` after failing readiness
IN_FLIGHT_S = 5  # uvicorn's timeout_graceful_shutdown: requests in flight finish (serve.py)
SHUTDOWN_S = 15  # event handlers, outbox flush, bus close: each bounded to 3 s (runtime.py)
TERMINATION_GRACE_S = 40
assert TERMINATION_GRACE_S >= PRESTOP_S + DRAIN_S + IN_FLIGHT_S + SHUTDOWN_S + 5
# the image is python:3.11-slim (Debian): coreutils' sleep is there, no shell needed
PRESTOP_COMMAND = ["/bin/sleep", str(PRESTOP_S)]
ROLLING = {"maxUnavailable": 0, "maxSurge": "25%"}  # a new pod is ready before an old one goes

# Argo Rollouts: the canary of the services that have a `canary` row
ANALYSIS_TEMPLATE = "cinemesh-canary"
ROLLOUT_LABEL = "cinemesh.io/replicas-from"  # on Deployments whose pods a Rollout runs
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"
ERROR_RATIO_MAX = 0.02
CANARY_WEIGHTS = (10, 50)  # then 100; each weight is held, then judged
CANARY_SETTLE = "1m"  # held before judging, so the rate window holds the canary's traffic

# the event bus: a JetStream cluster, every stream on every node (config.yaml's replicas)
NATS_NODES = 3
NATS_IMAGE = "nats:2.10-alpine"
NATS_PORTS = {"client": 4222, "cluster": 6222, "monitor": 8222}
NATS_PID_FILE = "/var/run/nats/nats.pid"  # what the preStop hook signals
# Prometheus: where it runs and the service account it discovers pods with
MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_ACCOUNT = "prometheus"


@dataclass(frozen=True)
class Canary:
    """An Argo Rollouts canary; fails when the canary's p99 latency exceeds `p99_max_s`.
    Thresholds sit between the latency histogram's buckets (0.1, 0.25, 0.5, 1 s):
    histogram_quantile interpolates linearly inside a bucket, so a canary whose requests all
    take 0.3 s reads as a p99 near 0.5 s."""

    p99_max_s: float


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
    work_gib: int = 0  # a size limit on its own scratch disk at /data (0: none)
    database: bool = True  # has its own PostgreSQL database (PGPASSWORD from database.py)
    edge_cache_gib: int = 0  # its own cache volume of this size (object_store.py)
    canary: Canary | None = None  # shipped by an Argo Rollouts canary


SERVICES = [
    ServiceSpec(
        "gateway",
        public=True,
        replicas=3,
        autoscale=(3, 30),
        canary=Canary(p99_max_s=0.4),
        database=False,
    ),
    ServiceSpec("identity"),
    ServiceSpec("profiles"),
    ServiceSpec("catalog"),
    ServiceSpec(
        "search",
        replicas=2,
        memory="512Mi",
        memory_limit="2Gi",
        autoscale=(2, 20),
        database=False,  # a local index per instance, rebuilt from events
    ),
    ServiceSpec(
        "encoder", replicas=2, cpu="1", memory="1Gi", cpu_limit="4", memory_limit="4Gi", work_gib=20
    ),
    ServiceSpec("playback", replicas=3, autoscale=(3, 30), canary=Canary(p99_max_s=0.25)),
    ServiceSpec(
        "edge",
        public=True,
        replicas=3,
        cpu="500m",
        memory_limit="1Gi",
        autoscale=(3, 50),
        edge_cache_gib=20,  # served from its own cache of the S3 origin, no shared volume
        database=False,
    ),
    ServiceSpec("history"),
    ServiceSpec("recommender", memory="1Gi", memory_limit="3Gi", canary=Canary(p99_max_s=0.4)),
    ServiceSpec("telemetry"),
    ServiceSpec("experiments"),
]


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "cinemesh"}


def selector(name: str) -> dict[str, Any]:
    return {"matchLabels": {"app.kubernetes.io/name": name}}


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
        # kept out of the Service before SIGTERM starts the service's own drain
        "lifecycle": {"preStop": {"exec": {"command": PRESTOP_COMMAND}}},
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
    # no volume is shared: media and sources live in the S3 bucket (object_store.py), an
    # encoder keeps a job's source and work on its own scratch disk, catalog draws its artwork
    # again where an instance has not yet
    scratch: dict[str, Any] = {"sizeLimit": f"{spec.work_gib}Gi"} if spec.work_gib else {}
    volumes.append({"name": "data", "emptyDir": scratch})
    if spec.edge_cache_gib:
        add_edge_cache(container, volumes, spec.edge_cache_gib)
    if spec.database:
        container["env"].append(password_env())
    metadata: dict[str, Any] = {"name": spec.name, "labels": labels(spec.name)}
    if spec.canary:  # the Rollout runs the pods; this Deployment only holds their template
        metadata["labels"][ROLLOUT_LABEL] = "rollout"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 0 if spec.canary else spec.replicas,
            "selector": selector(spec.name),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": dict(ROLLING)},
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
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_S,
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
            "scaleTargetRef": workload(spec),
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


def workload(spec: ServiceSpec) -> dict[str, str]:
    """What runs the service's pods (and what its autoscaler scales)."""
    if spec.canary:
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": spec.name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name}


def rollout(spec: ServiceSpec) -> dict[str, Any]:
    """setWeight 10 -> hold -> judge -> 50 -> hold -> judge -> 100. Without a traffic router the
    weight is a pod ratio (kube-proxy spreads calls over the Service's pods evenly)."""
    assert spec.canary
    judge = {
        "analysis": {
            "templates": [{"templateName": ANALYSIS_TEMPLATE}],
            "args": [
                {"name": "service", "value": spec.name},
                {
                    "name": "canary-hash",
                    "valueFrom": {"podTemplateHashValue": "Latest"},
                },
                {"name": "p99-max-s", "value": str(spec.canary.p99_max_s)},
            ],
        }
    }
    steps: list[dict[str, Any]] = []
    for weight in CANARY_WEIGHTS:
        steps += [{"setWeight": weight}, {"pause": {"duration": CANARY_SETTLE}}, judge]
    steps.append({"setWeight": 100})
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": spec.name, "labels": labels(spec.name)},
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 5,
            "selector": selector(spec.name),
            "workloadRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": spec.name,
                # a cluster that ran the plain Deployment keeps its pods until this is healthy
                "scaleDown": "onsuccess",
            },
            # a canary whose pods never get ready is aborted (rolled back), not waited on
            "progressDeadlineSeconds": 600,
            "progressDeadlineAbort": True,
            "strategy": {"canary": {**ROLLING, "steps": steps}},
        },
    }


def analysis_template() -> dict[str, Any]:
    """Judges a canary's own pods: Prometheus keeps the pod label `rollouts-pod-template-hash`
    as `rollouts_pod_template_hash` (docs/deploy.md). No traffic yet reads as inconclusive
    (neither condition holds), which pauses the Rollout instead of passing it."""
    canary = 'service="{{args.service}}", rollouts_pod_template_hash="{{args.canary-hash}}"'
    window = "[{{args.window}}]"
    judged = {"interval": "30s", "count": 4, "failureLimit": 1, "inconclusiveLimit": 2}
    errors = (
        f'(sum(rate(cinemesh_http_requests_total{{{canary}, status=~"5.."}}{window}))'
        " or vector(0))\n"
        f"/ sum(rate(cinemesh_http_requests_total{{{canary}}}{window}))\n"
    )
    p99 = (
        "histogram_quantile(0.99, sum by (le) (\n"
        f"  rate(cinemesh_http_request_duration_seconds_bucket{{{canary}}}{window})))\n"
    )

    def bounded(limit: str) -> dict[str, str]:
        return {
            "successCondition": f"len(result) > 0 && result[0] <= {limit}",
            "failureCondition": f"len(result) > 0 && result[0] > {limit}",
        }

    def prometheus(query: str) -> dict[str, Any]:
        return {"prometheus": {"address": "{{args.prometheus}}", "timeout": 20, "query": query}}

    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {
            "name": ANALYSIS_TEMPLATE,
            "labels": {"app.kubernetes.io/part-of": "cinemesh"},
        },
        "spec": {
            "args": [
                {"name": "service"},
                {"name": "canary-hash"},
                {"name": "p99-max-s"},
                {"name": "error-ratio-max", "value": str(ERROR_RATIO_MAX)},
                {"name": "window", "value": "2m"},
                {"name": "prometheus", "value": PROMETHEUS},
            ],
            "metrics": [
                {
                    "name": "error-ratio",
                    **judged,
                    **bounded("{{args.error-ratio-max}}"),
                    "provider": prometheus(errors),
                },
                {
                    "name": "p99-latency",
                    **judged,
                    **bounded("{{args.p99-max-s}}"),
                    "provider": prometheus(p99),
                },
            ],
        },
    }


def network_policies() -> list[dict[str, Any]]:
    """Deny by default; cinemesh pods talk to each other; only gateway and edge face outside;
    the database operator reaches its instances."""
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
    policies.append(operator_access())
    return policies


def nats_config() -> str:
    routes = "\n".join(
        f"    nats://nats-{i}.nats:{NATS_PORTS['cluster']}" for i in range(NATS_NODES)
    )
    return (
        f"port: {NATS_PORTS['client']}\n"
        f"http_port: {NATS_PORTS['monitor']}\n"
        "server_name: $POD_NAME\n"
        f"pid_file: {NATS_PID_FILE}\n"
        "lame_duck_duration: 10s\n"
        "jetstream {\n  store_dir: /data/jetstream\n  max_file_store: 20G\n}\n"
        "cluster {\n  name: cinemesh\n"
        f"  port: {NATS_PORTS['cluster']}\n"
        f"  routes: [\n{routes}\n  ]\n}}\n"
    )


def nats() -> list[dict[str, Any]]:
    """A JetStream cluster of NATS_NODES: routes to every node, one volume each, one node
    down at a time at most (its streams keep a quorum of the other two)."""
    name = "nats"
    health = {"path": "/healthz?js-enabled-only=true", "port": "monitor"}
    container = {
        "name": name,
        "image": NATS_IMAGE,
        "args": ["--config", "/etc/nats/nats.conf"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [{"name": port, "containerPort": number} for port, number in NATS_PORTS.items()],
        "readinessProbe": {"httpGet": health, "periodSeconds": 5},
        "livenessProbe": {"httpGet": health, "periodSeconds": 10},
        # lame duck mode: clients move to the other nodes before this one stops
        "lifecycle": {
            "preStop": {"exec": {"command": ["nats-server", "--signal", f"ldm={NATS_PID_FILE}"]}}
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/nats"},
            {"name": "jetstream", "mountPath": "/data"},
            {"name": "pid", "mountPath": "/var/run/nats"},
        ],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "nats-config", "labels": labels(name)},
            "data": {"nats.conf": nats_config()},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": name, "labels": labels(name)},
            "spec": {
                "serviceName": name,
                "replicas": NATS_NODES,
                "podManagementPolicy": "Parallel",
                "selector": selector(name),
                "template": {
                    "metadata": {"labels": labels(name)},
                    "spec": {
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 1000,
                            "fsGroup": 1000,
                        },
                        "terminationGracePeriodSeconds": 60,
                        "containers": [container],
                        "volumes": [
                            {"name": "config", "configMap": {"name": "nats-config"}},
                            {"name": "pid", "emptyDir": {}},
                        ],
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "jetstream"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "20Gi"}},
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels(name)},
            "spec": {
                "clusterIP": "None",
                # routes find a restarted node by name before it is ready
                "publishNotReadyAddresses": True,
                "selector": {"app.kubernetes.io/name": name},
                "ports": [
                    {"name": port, "port": number, "targetPort": port}
                    for port, number in NATS_PORTS.items()
                ],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": labels(name)},
            "spec": {"maxUnavailable": 1, "selector": selector(name)},
        },
    ]


def monitoring() -> list[dict[str, Any]]:
    """What Prometheus in MONITORING_NAMESPACE needs: to list the pods, and to reach their
    metrics port through the default-deny policy."""
    subject = {
        "kind": "ServiceAccount",
        "name": PROMETHEUS_ACCOUNT,
        "namespace": MONITORING_NAMESPACE,
    }
    from_monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}
    }
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "prometheus-discovery"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "prometheus-discovery"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "prometheus-discovery",
            },
            "subjects": [subject],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "metrics-from-prometheus"},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "cinemesh"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [from_monitoring],
                        "ports": [{"port": PORT, "protocol": "TCP"}],
                    }
                ],
            },
        },
    ]


class Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as literal blocks and no anchors, so the base reads like
    hand-written YAML."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


Dumper.add_representer(str, _str)


def write(base: Path, name: str, docs: list[dict[str, Any]]) -> str:
    path = base / name
    path.write_text(
        "# generated by deploy/k8s/generate_base.py; edit the table there\n"
        + yaml.dump_all(docs, Dumper=Dumper, sort_keys=False)
    )
    return name


def main(base: Path = BASE) -> None:
    base.mkdir(parents=True, exist_ok=True)
    files = []
    for spec in SERVICES:
        docs = [deployment(spec)]
        if spec.canary:
            docs.append(rollout(spec))
        docs += [service(spec), disruption_budget(spec)]
        if spec.autoscale:
            docs.append(autoscaler(spec))
        files.append(write(base, f"{spec.name}.yaml", docs))
    files.append(write(base, "network-policies.yaml", network_policies()))
    files.append(write(base, "canary-analysis.yaml", [analysis_template()]))
    files.append(write(base, "nats.yaml", nats()))
    files.append(write(base, "object-store.yaml", object_store()))
    files.append(write(base, "monitoring.yaml", monitoring()))
    files.append(write(base, "postgres.yaml", database_cluster()))
    static = [
        "namespace.yaml",
        "config.yaml",
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
