"""edge: serves playlists, segments and thumbnails behind signed, expiring URLs (an Open
Connect appliance in miniature). It trusts nothing but the URL; any number of instances. With
files as the media store it serves the shared asset folders; with S3, its own cache of them."""

from __future__ import annotations

from cinemesh.contracts.signed_urls import load_edge_key
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.edge.media import open_media
from cinemesh.services.edge.server import EdgeServer
from cinemesh.services.edge.settings import EdgeSettings


def create_app() -> EdgeServer:
    """Not an ASGI app: `cinemesh serve edge` runs its own server (see `serve_socket`)."""
    runtime = ServiceRuntime("edge", public=True)
    settings = load_settings(EdgeSettings)
    key = load_edge_key(runtime.data_dir, settings.edge_key)
    return EdgeServer(runtime, key=key, media=open_media(runtime, settings))
