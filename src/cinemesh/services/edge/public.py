"""What of the edge runs outside the service, and nothing more: `bench/origin_bench.py` serves
from an edge's cache of an S3 origin in process (the cache, and the server's sender of files)
to measure hits against plain files and misses against direct origin reads, and simulates the
cache's eviction and admission with the very class the cache keeps its disk to (Holdings).
Code outside `cinemesh.services.edge` imports the edge through this module only
(`make contracts`)."""

from __future__ import annotations

from cinemesh.services.edge.cache import EdgeCache, Holdings
from cinemesh.services.edge.delivery import send_file

__all__ = ["EdgeCache", "Holdings", "send_file"]
