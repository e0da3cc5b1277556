"""PostgreSQL at scale, for generate_base.py: a CloudNativePG `Cluster` (an operator the cluster
runs, as it runs Argo Rollouts) instead of a StatefulSet of our own. It keeps a primary and
streaming replicas, promotes a replica by itself when the primary fails, and points the
`postgres-rw` Service at whichever instance is the primary; the services' DSN names that
Service, so after a failover their pools reconnect to the new primary (platform/db.py:
pre-ping, and a 503 DATABASE_UNAVAILABLE for what fails meanwhile).

Every commit waits until one of the two replicas has its WAL (synchronous, ANY 1, durability
required), and a failover promotes only a replica known to hold every such commit (quorum
failover). An acknowledged write, and the outbox row committed with it, so its event, survive
the primary's loss; with one replica down the other still confirms, so writes go on.

Each service still creates its own database at first start: the `cinemesh` role may create
databases. Its password is the `cinemesh-postgres` basic-auth Secret, which the operator gives
the role and the services read as PGPASSWORD."""

from __future__ import annotations

from typing import Any

NAME = "postgres"
PRIMARY_SERVICE = f"{NAME}-rw"  # the operator's Service that follows the primary
OPERATOR_NAMESPACE = "cnpg-system"  # where CloudNativePG's own manifest installs it
OPERATOR_PORTS = (8000, 5432)  # the instance manager's status endpoint, and PostgreSQL
IMAGE = "ghcr.io/cloudnative-pg/postgresql:16.10-system-trixie"
INSTANCES = 3  # a primary and two streaming replicas
ROLE = "cinemesh"
SECRET = "cinemesh-postgres"  # kubernetes.io/basic-auth: username cinemesh, password
STORAGE = "50Gi"
# 11 services, 2-3 pods each (up to 30 with the autoscalers), a pool of 10 + 10 each
MAX_CONNECTIONS = 600


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "cinemesh"}


def password_env() -> dict[str, Any]:
    """PGPASSWORD for a service's container: asyncpg reads it when the DSN has none."""
    return {
        "name": "PGPASSWORD",
        "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "password"}},
    }


def database_cluster() -> list[dict[str, Any]]:
    """The Cluster; the operator makes its pods, volumes, Services and disruption budgets."""
    return [
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": NAME, "labels": _labels()},
            "spec": {
                "instances": INSTANCES,
                "imageName": IMAGE,
                "primaryUpdateStrategy": "unsupervised",  # a switchover, then the old primary
                # part of cinemesh: the services may reach them, and they each other
                "inheritedMetadata": {"labels": {"app.kubernetes.io/part-of": "cinemesh"}},
                "affinity": {
                    "enablePodAntiAffinity": True,
                    "topologyKey": "kubernetes.io/hostname",
                },
                "postgresql": {
                    "parameters": {"max_connections": str(MAX_CONNECTIONS)},
                    "synchronous": {
                        "method": "any",
                        "number": 1,
                        "dataDurability": "required",
                        "failoverQuorum": True,
                    },
                },
                "bootstrap": {
                    "initdb": {
                        "database": ROLE,
                        "owner": ROLE,
                        "secret": {"name": SECRET},
                        "postInitSQL": [f"ALTER ROLE {ROLE} CREATEDB"],
                    }
                },
                "storage": {"size": STORAGE},
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                    "limits": {"cpu": "2", "memory": "4Gi"},
                },
            },
        }
    ]


def operator_access() -> dict[str, Any]:
    """The ingress the operator needs past `default-deny-ingress` (CloudNativePG's own
    networkpolicy-example.yaml): its pod reaches every instance's status port and PostgreSQL."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "postgres-from-operator"},
        "spec": {
            "podSelector": {"matchLabels": {"cnpg.io/cluster": NAME}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": OPERATOR_NAMESPACE}
                            },
                            "podSelector": {
                                "matchLabels": {"app.kubernetes.io/name": "cloudnative-pg"}
                            },
                        }
                    ],
                    "ports": [{"port": port, "protocol": "TCP"} for port in OPERATOR_PORTS],
                }
            ],
        },
    }
