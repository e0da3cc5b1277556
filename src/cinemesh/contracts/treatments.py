"""An experiment's treatments travel with a request in one header, `key=value` pairs joined by
`;` (`recommender.model=seq-ease`): experiments writes them for a profile's cells, the gateway
passes them on, and the service a key names reads its own."""

from __future__ import annotations

from collections.abc import Mapping

HEADER = "X-Cinemesh-Treatments"


def encode(overrides: Mapping[str, str]) -> str:
    return ";".join(f"{key}={value}" for key, value in sorted(overrides.items()))


def treatment(header: str | None, key: str) -> str | None:
    """One override from the header; anything unreadable is no override."""
    for part in (header or "").split(";"):
        name, _, value = part.partition("=")
        if name.strip() == key:
            return value.strip() or None
    return None
