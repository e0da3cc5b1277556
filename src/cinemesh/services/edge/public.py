"""What of the edge runs outside the service, and nothing more: `bench/origin_bench.py` serves
from an edge's cache of an S3 origin in process (the cache, and the server's sender of files)
to measure hits against plain files and misses against direct origin reads, and simulates the
cache's eviction, admission and fill ahead of demand with the very class the cache keeps its
disk to (Holdings, fed FillCandidates as the prefill feeds it). Code outside
`cinemesh.services.edge` imports the edge through this module only (`make contracts`)."""

from __future__ import annotations

from cinemesh.services.edge.cache import EdgeCache, FillCandidate, Holdings
from cinemesh.services.edge.delivery import send_file
from cinemesh.services.edge.settings import PREFILL_SEGMENTS, PREFILL_TITLES

__all__ = [
    "PREFILL_SEGMENTS",
    "PREFILL_TITLES",
    "EdgeCache",
    "FillCandidate",
    "Holdings",
    "send_file",
]
