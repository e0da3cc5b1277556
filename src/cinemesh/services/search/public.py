"""What of the search code runs outside the service, and nothing more:
`bench/search_bench.py` measures the in-memory index against SQLite FTS5 in process. Code
outside `cinemesh.services.search` imports search through this module only (`make contracts`
checks it)."""

from __future__ import annotations

from cinemesh.services.search.index import Doc, Query, TitleIndex
from cinemesh.services.search.text import terms

__all__ = ["Doc", "Query", "TitleIndex", "terms"]
