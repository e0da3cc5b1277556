"""The media origin at scale, for generate_base.py: SeaweedFS (`weed server -s3`) as a
StatefulSet with its own volume, the S3 API on `seaweedfs:8333`, its admin keys the services'
own AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from `cinemesh-secrets` (the bucket is made by
the encoder's first upload). config.yaml points the services at it; a cloud bucket instead is
a change of CINEMESH_MEDIA_STORE and CINEMESH_S3_ENDPOINT there, and no StatefulSet.

Edges mount no shared volume: each keeps its own cache (services/edge/cache.py) on an
emptyDir bounded a little above CINEMESH_EDGE_CACHE_BYTES, so the kubelet evicts a pod before
its cache outgrows the node's disk, never before the cache has reached its own limit."""

from __future__ import annotations

from typing import Any

NAME = "seaweedfs"
IMAGE = "chrislusf/seaweedfs:4.48"
S3_PORT = 8333
STORAGE = "500Gi"
CACHE_MOUNT = "/cache"
CACHE_HEADROOM = 1.1  # the emptyDir's limit over the cache's own byte limit
GIB = 1024**3


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "cinemesh"}


def _secret(key: str) -> dict[str, Any]:
    return {"name": key, "valueFrom": {"secretKeyRef": {"name": "cinemesh-secrets", "key": key}}}


def object_store() -> list[dict[str, Any]]:
    """The StatefulSet and its Service."""
    probe = {"tcpSocket": {"port": "s3"}, "periodSeconds": 10}
    container = {
        "name": NAME,
        "image": IMAGE,
        "args": [
            "server",
            "-dir=/data",
            "-ip=127.0.0.1",
            "-ip.bind=0.0.0.0",
            "-s3",
            f"-s3.port={S3_PORT}",
            "-master.volumeSizeLimitMB=1024",
        ],
        "env": [_secret("AWS_ACCESS_KEY_ID"), _secret("AWS_SECRET_ACCESS_KEY")],
        "ports": [{"name": "s3", "containerPort": S3_PORT}],
        "readinessProbe": {**probe, "periodSeconds": 5},
        "livenessProbe": probe,
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "4", "memory": "4Gi"},
        },
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": STORAGE}}},
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": NAME, "labels": _labels()},
            "spec": {
                "serviceName": NAME,
                "replicas": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                "template": {
                    "metadata": {"labels": _labels()},
                    "spec": {
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 1000,
                            "fsGroup": 1000,
                        },
                        "containers": [container],
                    },
                },
                "volumeClaimTemplates": [claim],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "labels": _labels()},
            "spec": {
                "selector": {"app.kubernetes.io/name": NAME},
                "ports": [{"name": "s3", "port": S3_PORT, "targetPort": "s3"}],
            },
        },
    ]


def add_edge_cache(container: dict[str, Any], volumes: list[dict[str, Any]], gib: int) -> None:
    """An edge's own cache: an emptyDir at CACHE_MOUNT and the settings that bound it."""
    volumes.append({"name": "cache", "emptyDir": {"sizeLimit": f"{round(gib * CACHE_HEADROOM)}Gi"}})
    container["volumeMounts"].append({"name": "cache", "mountPath": CACHE_MOUNT})
    container["env"] += [
        {"name": "CINEMESH_EDGE_CACHE_DIR", "value": CACHE_MOUNT},
        {"name": "CINEMESH_EDGE_CACHE_BYTES", "value": str(gib * GIB)},
    ]
