"""An experiment's treatments travel with a request in one header (the chassis carries it:
platform/treatments.py), `key=value` pairs joined by `;` (`recommender.model=seq-ease`):
experiments writes them for a profile's cells, the gateway carries them on every call made
for the profile, and the service a key names reads its own."""

from __future__ import annotations

from collections.abc import Mapping


def encode(overrides: Mapping[str, str]) -> str:
    return ";".join(f"{key}={value}" for key, value in sorted(overrides.items()))


def treatment(header: str | None, key: str) -> str | None:
    """One override from the header; anything unreadable is no override."""
    for part in (header or "").split(";"):
        name, _, value = part.partition("=")
        if name.strip() == key:
            return value.strip() or None
    return None
