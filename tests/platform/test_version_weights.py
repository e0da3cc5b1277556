"""Calls can be steered by version: the registry gives each version a share during a canary,
and the balancer sends calls in proportion."""

from __future__ import annotations

from collections import Counter

from cinemesh.platform.discovery import Instance, LoadBalancer
from cinemesh.services.registry.service import LeaseTable


def registered(table: LeaseTable, instance_id: str, version: str) -> None:
    table.renew(
        service="search",
        instance_id=instance_id,
        url=f"http://127.0.0.1/{instance_id}",
        metadata={"version": version},
        lease_s=60,
    )


def test_the_registry_splits_each_versions_weight_over_its_instances() -> None:
    table = LeaseTable()
    for name in ("old-1", "old-2", "old-3"):
        registered(table, name, "v1")
    registered(table, "new-1", "v2")
    table.set_weights("search", {"v2": 10, "v1": 90})
    weights = {i["instance_id"]: i["metadata"]["weight"] for i in table.listing("search")}
    assert weights == {"old-1": 30, "old-2": 30, "old-3": 30, "new-1": 10}
    table.set_weights("search", {})
    assert all("weight" not in i["metadata"] for i in table.listing("search"))


def test_the_balancer_sends_calls_in_proportion_to_the_weights() -> None:
    pool = [
        Instance("search", f"old-{n}", f"http://o{n}", {"version": "v1", "weight": 30})
        for n in range(3)
    ] + [Instance("search", "new-1", "http://n1", {"version": "v2", "weight": 10})]
    balancer = LoadBalancer()
    picks = Counter(balancer.pick(pool).metadata["version"] for _ in range(20_000))
    share = picks["v2"] / 20_000
    assert 0.07 < share < 0.13, picks


def test_without_weights_every_instance_is_picked_alike() -> None:
    pool = [Instance("search", f"i{n}", f"http://i{n}", {"version": f"v{n}"}) for n in range(4)]
    picks = Counter(LoadBalancer().pick(pool).instance_id for _ in range(20_000))
    assert all(4_000 < n < 6_000 for n in picks.values()), picks
