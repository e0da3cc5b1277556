"""Rendezvous (highest random weight) hashing: every node ranked for a key, the same ranking
wherever it is computed. Playback steers a title's sessions to its first edge; each edge fills
its cache ahead of demand with the titles it ranks first for; a node joining or leaving moves
only the keys it ranks first for."""

from __future__ import annotations

import hashlib


def rendezvous(key: str, nodes: list[str]) -> list[str]:
    """`nodes` ordered best first for `key`."""
    return sorted(nodes, key=lambda node: _weight(key, node), reverse=True)


def _weight(key: str, node: str) -> int:
    digest = hashlib.blake2b(f"{key}|{node}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
