"""edge's settings: the key media URLs are signed with, from `CINEMESH_EDGE_KEY`, the variable
playback signs them with (unset, both use the key in the data folder: `load_edge_key`); and,
when the media store is S3, this instance's cache of the origin (`CINEMESH_EDGE_CACHE_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings

GIB = 1024**3
PREFILL_TITLES = 500
PREFILL_SEGMENTS = 50


class EdgeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_", extra="ignore")

    edge_key: str = ""
    # the most bytes the cache keeps on disk, and where (default: <data_dir>/edge-cache/<id>)
    edge_cache_bytes: int = Field(2 * GIB, ge=1024**2)
    edge_cache_dir: Path | None = None
    # the fill ahead of demand (prefill.py): how often (0: never), how many of catalog's most
    # popular and newest titles it weighs, how far into each rendition it may reach (what it
    # brings of those is what fits: FILL_SHARE of the cache, the likeliest first)
    edge_prefill_every_s: float = Field(900.0, ge=0)
    edge_prefill_titles: int = Field(PREFILL_TITLES, ge=1, le=5000)
    edge_prefill_segments: int = Field(PREFILL_SEGMENTS, ge=1, le=1000)
