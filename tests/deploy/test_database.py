"""PostgreSQL at scale is a CloudNativePG Cluster (deploy/k8s/database.py): a primary and
streaming replicas that fail over by themselves, every commit confirmed by a replica, and the
services pointed at the Service that follows the primary. Checked offline on both overlays:
the Cluster against CloudNativePG's own CRD schema, vendored in cnpg_schemas/, and what a
failover needs of the rest (cloudnative_pg.py). What a service does while the primary is away
and after, tests/system/test_database_outage.py shows on a real server."""

from __future__ import annotations

import copy

import pytest

from tests.deploy import cloudnative_pg
from tests.deploy.test_manifests import OVERLAYS, of_kind, render


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_database_is_a_cluster_that_fails_over_without_losing_a_commit(overlay: str) -> None:
    docs = render(overlay)
    clusters = of_kind(docs, "Cluster")
    assert list(clusters) == ["postgres"]
    assert cloudnative_pg.schema_problems(clusters["postgres"]) == []
    assert cloudnative_pg.failover_problems(docs) == []
    assert "postgres" not in of_kind(docs, "StatefulSet"), "no database of our own beside it"


def test_only_the_services_with_a_database_get_its_password() -> None:
    docs = render("prod")
    readers = {
        name
        for name, deployment in of_kind(docs, "Deployment").items()
        if any(
            e["name"] == "PGPASSWORD"
            for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
        )
    }
    assert readers == {
        "identity",
        "profiles",
        "catalog",
        "encoder",
        "playback",
        "history",
        "recommender",
        "telemetry",
        "experiments",
    }


def test_the_dev_overlay_ships_the_role_secret_the_operator_can_read() -> None:
    secret = of_kind(render("dev"), "Secret")["cinemesh-postgres"]
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert {"username", "password"} <= set(secret["data"])


def test_the_checks_refuse_what_would_break_a_failover() -> None:
    docs = render("prod")
    cluster = of_kind(docs, "Cluster")["postgres"]

    def with_spec(**changes: object) -> list[dict[str, object]]:
        changed = copy.deepcopy(cluster)
        changed["spec"].update(changes)
        return [changed if d is cluster else d for d in docs]

    postgresql = cluster["spec"]["postgresql"]
    asynchronous = {**postgresql, "synchronous": {"method": "any", "number": 1}}
    alone = with_spec(instances=1)
    assert any("no streaming replica" in p for p in cloudnative_pg.failover_problems(alone))
    lossy = cloudnative_pg.failover_problems(with_spec(postgresql=asynchronous))
    assert any("no replica holding it" in p for p in lossy)
    assert any("lacks acknowledged commits" in p for p in lossy)

    pinned = copy.deepcopy(docs)
    config = of_kind(pinned, "ConfigMap")["cinemesh-config"]["data"]
    config["CINEMESH_DATABASE_URL_TEMPLATE"] = config["CINEMESH_DATABASE_URL_TEMPLATE"].replace(
        "@postgres-rw:", "@postgres-1:"
    )
    assert any("not the primary's" in p for p in cloudnative_pg.failover_problems(pinned))
    closed = [d for d in docs if d["metadata"]["name"] != "postgres-from-operator"]
    assert any("operator" in p for p in cloudnative_pg.failover_problems(closed))


def test_the_cluster_schema_refuses_what_the_api_server_would() -> None:
    cluster = of_kind(render("prod"), "Cluster")["postgres"]
    typo = copy.deepcopy(cluster)
    typo["spec"]["instance"] = 3
    assert any("'instance' was unexpected" in p for p in cloudnative_pg.schema_problems(typo))
    wrong = copy.deepcopy(cluster)
    wrong["spec"]["postgresql"]["synchronous"]["method"] = "all"
    assert any("'all' is not one of" in p for p in cloudnative_pg.schema_problems(wrong))
    missing = copy.deepcopy(cluster)
    del missing["spec"]["postgresql"]["synchronous"]["number"]
    assert any("'number' is a required" in p for p in cloudnative_pg.schema_problems(missing))
