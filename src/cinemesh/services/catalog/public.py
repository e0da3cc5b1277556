"""What of the catalog code runs outside the service, and nothing more:
`bench/search_bench.py` measures the catalog's batch get against single gets on a SQLite
catalog of its own (the tables, the domain object and the summary a batch answers). Code
outside `cinemesh.services.catalog` imports the catalog through this module only
(`make contracts` checks it)."""

from __future__ import annotations

from cinemesh.services.catalog.models import Base, Title
from cinemesh.services.catalog.service import Catalog
from cinemesh.services.catalog.views import summary

__all__ = ["Base", "Catalog", "Title", "summary"]
