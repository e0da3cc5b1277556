"""Leases: an instance is listed while it keeps renewing; one that stops is evicted."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Lease:
    service: str
    instance_id: str
    url: str
    metadata: dict[str, Any]
    lease_s: float
    registered_at: float = field(default_factory=time.time)
    renewed_at: float = field(default_factory=time.monotonic)

    def expired(self, now: float) -> bool:
        return now - self.renewed_at > self.lease_s

    def view(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "instance_id": self.instance_id,
            "url": self.url,
            "metadata": self.metadata,
            "registered_at": self.registered_at,
            "age_s": round(time.monotonic() - self.renewed_at, 3),
        }


class LeaseTable:
    """All leases this registry instance holds, in memory (peers hold their own copy)."""

    def __init__(self) -> None:
        self._leases: dict[tuple[str, str], Lease] = {}
        self._weights: dict[str, dict[str, float]] = {}
        self.evictions = 0

    def set_weights(self, service: str, weights: dict[str, float]) -> None:
        """Each version's share of the calls to `service` (a canary); empty: shares end."""
        if weights:
            self._weights[service] = dict(weights)
        else:
            self._weights.pop(service, None)

    def weights(self, service: str) -> dict[str, float]:
        return dict(self._weights.get(service, {}))

    def listing(self, service: str) -> list[dict[str, Any]]:
        """The live instances of `service`; under version weights each carries its `weight`
        (its version's share split over that version's instances), which callers' balancers
        honour."""
        leases = self.of(service)
        weights = self._weights.get(service)
        if not weights:
            return [lease.view() for lease in leases]
        per_version: dict[str, int] = {}
        for lease in leases:
            version = str(lease.metadata.get("version", ""))
            per_version[version] = per_version.get(version, 0) + 1
        views = []
        for lease in leases:
            view = lease.view()
            version = str(lease.metadata.get("version", ""))
            share = weights.get(version, 0.0) / per_version[version]
            view["metadata"] = {**lease.metadata, "weight": share}
            views.append(view)
        return views

    def renew(
        self, *, service: str, instance_id: str, url: str, metadata: dict[str, Any], lease_s: float
    ) -> bool:
        """Register or renew; True when the instance is new."""
        key = (service, instance_id)
        lease = self._leases.get(key)
        if lease is None or lease.url != url:
            self._leases[key] = Lease(service, instance_id, url, metadata, lease_s)
            return True
        lease.renewed_at = time.monotonic()
        lease.lease_s = lease_s
        lease.metadata = metadata
        return False

    def remove(self, *, service: str, instance_id: str) -> bool:
        return self._leases.pop((service, instance_id), None) is not None

    def evict_expired(self) -> list[Lease]:
        now = time.monotonic()
        gone = [lease for lease in self._leases.values() if lease.expired(now)]
        for lease in gone:
            del self._leases[(lease.service, lease.instance_id)]
        self.evictions += len(gone)
        return gone

    def of(self, service: str) -> list[Lease]:
        now = time.monotonic()
        return sorted(
            (
                lease
                for lease in self._leases.values()
                if lease.service == service and not lease.expired(now)
            ),
            key=lambda lease: lease.instance_id,
        )

    def services(self) -> dict[str, list[dict[str, Any]]]:
        names = sorted({lease.service for lease in self._leases.values()})
        return {name: self.listing(name) for name in names}
