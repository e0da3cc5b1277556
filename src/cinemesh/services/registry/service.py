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
        self.evictions = 0

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

    def services(self) -> dict[str, list[Lease]]:
        names = sorted({lease.service for lease in self._leases.values()})
        return {name: self.of(name) for name in names}
