"""What of the edge runs outside the service, and nothing more: `bench/origin_bench.py` serves
from an edge's cache of an S3 origin in process (the cache, and the server's sender of files)
to measure hits against plain files and misses against direct origin reads, and simulates the
cache's admission with its own frequency filter (Popularity, ADMISSION_PROBES). Code outside
`cinemesh.services.edge` imports the edge through this module only (`make contracts`)."""

from __future__ import annotations

from cinemesh.services.edge.cache import ADMISSION_PROBES, EdgeCache, Popularity
from cinemesh.services.edge.delivery import send_file

__all__ = ["ADMISSION_PROBES", "EdgeCache", "Popularity", "send_file"]
