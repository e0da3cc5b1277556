"""Which media an edge serves: the shared asset folders when the media store is files, or,
when it is S3, its own bounded cache of the origin (cache.py), filled ahead of demand with
the popular titles steered to it (prefill.py)."""

from __future__ import annotations

from cinemesh.platform.media_store import MediaStoreSettings, open_media_store
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.edge.cache import CachedAssets, EdgeCache
from cinemesh.services.edge.prefill import Prefill
from cinemesh.services.edge.server import Media, MediaFiles
from cinemesh.services.edge.settings import EdgeSettings


def open_media(runtime: ServiceRuntime, settings: EdgeSettings) -> Media:
    if not load_settings(MediaStoreSettings).is_s3:
        return MediaFiles((runtime.data_dir / "media" / "assets").resolve())
    stable_id = runtime.settings.instance_id or "edge"  # the same after a restart: a warm cache
    folder = settings.edge_cache_dir or runtime.data_dir / "edge-cache" / stable_id
    cache = EdgeCache(
        folder, max_bytes=settings.edge_cache_bytes, origin=open_media_store(runtime.data_dir)
    )
    cache.load()
    assets = CachedAssets(cache)
    if settings.edge_prefill_every_s > 0:
        prefill = Prefill(
            runtime,
            assets,
            titles=settings.edge_prefill_titles,
            segments=settings.edge_prefill_segments,
            every_s=settings.edge_prefill_every_s,
        )
        runtime.on_startup(prefill.start)
        runtime.on_shutdown(prefill.stop)
    return assets
