"""Offline checks of the CloudNativePG `Cluster`, which the Kubernetes schemas do not know.

Two layers, both returning a list of problems (empty when the manifests are right):
- `schema_problems`: the object against the openAPIV3Schema of CloudNativePG's own CRD
  (vendored in cnpg_schemas/, see vendor.py), unknown fields refused as the API server's strict
  field validation refuses them;
- `failover_problems`: what cinemesh relies on to lose nothing and keep running when the
  primary goes: a primary and streaming replicas, every commit confirmed by a replica, a
  failover that promotes only a replica holding every such commit, the services pointed at the
  Service that follows the primary and holding the role's password, the role allowed to create
  each service's database, and the operator let through the default-deny network policy.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

SCHEMA = Path(__file__).parent / "cnpg_schemas" / "cluster.json"
API_VERSION = "postgresql.cnpg.io/v1"
OPERATOR_PORTS = {8000, 5432}  # the instance manager's status endpoint, and PostgreSQL


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused wherever the CRD does not preserve them."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@cache
def validator() -> jsonschema.Draft7Validator:
    vendored = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(_strict(vendored["schema"]))


def schema_problems(doc: dict[str, Any]) -> list[str]:
    where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    if doc.get("kind") != "Cluster":
        return [f"{where}: no vendored CloudNativePG schema for this kind"]
    problems = []
    if doc.get("apiVersion") != API_VERSION:
        problems.append(f"{where}: apiVersion must be {API_VERSION}")
    for error in validator().iter_errors(doc):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{where}: {path}: {error.message}")
    return problems


def _of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def failover_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Everything in `docs` that would lose acknowledged writes or strand the services in a
    failover of the one Cluster."""
    clusters = _of_kind(docs, "Cluster")
    if len(clusters) != 1:
        return [f"one PostgreSQL Cluster expected, found {sorted(clusters)}"]
    name, cluster = next(iter(clusters.items()))
    spec = cluster["spec"]
    problems = _replication_problems(spec)
    initdb = spec.get("bootstrap", {}).get("initdb", {})
    owner, secret = initdb.get("owner"), initdb.get("secret", {}).get("name")
    if f"ALTER ROLE {owner} CREATEDB" not in initdb.get("postInitSQL", []):
        problems.append(f"the role {owner} may not create the services' databases")
    labels = spec.get("inheritedMetadata", {}).get("labels", {})
    if labels.get("app.kubernetes.io/part-of") != "cinemesh":
        problems.append("the instances are not part-of cinemesh: the services may not reach them")
    problems += _dsn_problems(docs, f"{name}-rw", owner)
    problems += _password_problems(docs, secret)
    problems += _operator_access_problems(docs, name)
    return problems


def _replication_problems(spec: dict[str, Any]) -> list[str]:
    problems = []
    instances = int(spec.get("instances", 1))
    if instances < 2:
        problems.append(f"{instances} instance: no streaming replica to fail over to")
    synchronous = spec.get("postgresql", {}).get("synchronous", {})
    if not 1 <= int(synchronous.get("number", 0)) < instances:
        problems.append("commits are not confirmed by a replica (postgresql.synchronous.number)")
    if synchronous.get("dataDurability") != "required":
        problems.append("a commit may be acknowledged with no replica holding it")
    if synchronous.get("failoverQuorum") is not True:
        problems.append("a failover may promote a replica that lacks acknowledged commits")
    return problems


def _dsn_problems(docs: list[dict[str, Any]], primary_service: str, owner: str) -> list[str]:
    config = _of_kind(docs, "ConfigMap").get("cinemesh-config", {}).get("data", {})
    dsn = urlsplit(config.get("CINEMESH_DATABASE_URL_TEMPLATE", ""))
    problems = []
    if dsn.hostname != primary_service:
        problems.append(f"the services reach {dsn.hostname}, not the primary's {primary_service}")
    if dsn.username != owner or dsn.password:
        problems.append(f"the DSN names {dsn.username}, not {owner}, or carries a password")
    return problems


def _password_problems(docs: list[dict[str, Any]], secret: str | None) -> list[str]:
    """Every service that reads PGPASSWORD reads it from the role's Secret, a basic-auth one
    where the overlay ships it (dev; prod creates it out of band)."""
    problems = []
    readers = set()
    for name, deployment in _of_kind(docs, "Deployment").items():
        env = deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
        found = [e for e in env if e["name"] == "PGPASSWORD"]
        if not found:
            continue
        readers.add(name)
        ref = found[0].get("valueFrom", {}).get("secretKeyRef", {})
        if (ref.get("name"), ref.get("key")) != (secret, "password"):
            problems.append(f"{name} reads PGPASSWORD from {ref}, not {secret}'s password")
    if not readers:
        problems.append("no service reads the database password")
    shipped = _of_kind(docs, "Secret").get(secret or "")
    if shipped is not None and shipped.get("type") != "kubernetes.io/basic-auth":
        problems.append(f"{secret} must be kubernetes.io/basic-auth for the operator")
    return problems


def _operator_access_problems(docs: list[dict[str, Any]], cluster: str) -> list[str]:
    for policy in _of_kind(docs, "NetworkPolicy").values():
        spec = policy["spec"]
        if spec["podSelector"].get("matchLabels") != {"cnpg.io/cluster": cluster}:
            continue
        for rule in spec.get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            namespaces = [f.get("namespaceSelector") for f in rule.get("from", [])]
            if ports >= OPERATOR_PORTS and any(namespaces):
                return []
    return [f"no NetworkPolicy lets the operator reach {cluster}'s instances on {OPERATOR_PORTS}"]
