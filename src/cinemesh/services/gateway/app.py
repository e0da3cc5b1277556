"""gateway: the only public entry (Zuul's job). Each module in `routes/` adds one area of
`/api/v1` (the last one, `web`, the web app at `/`) with a module-level `router`; the gateway
owns no database, only calls to the services behind it (core.py)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from cinemesh.platform.errors import error_responses
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.home import HomePage
from cinemesh.services.gateway.priorities import priority_of
from cinemesh.services.gateway.ratelimit import ClientRateLimit
from cinemesh.services.gateway.routes import (
    admin_titles,
    auth,
    catalog,
    experiments,
    history,
    home,
    media,
    ops,
    ops_chaos,
    playback,
    profiles,
    search,
    telemetry,
    web,
)
from cinemesh.services.gateway.settings import GatewaySettings


def create_app() -> FastAPI:
    # events: the notices that say when what it kept for a home page changed (kept_parts.py)
    runtime = ServiceRuntime("gateway", public=True, uses_events=True)
    gateway = Gateway(runtime, load_settings(GatewaySettings))
    app = runtime.build_app(
        *area_routers(runtime),
        provides=[
            gateway,
            HomePage(gateway),
            ops.InstanceHealth(gateway),
            ops_chaos.Chaos(gateway),
            web.StaticFiles(),
        ],
        title="cinemesh API",
        version="1",
        responses=error_responses(),
        priority_of=priority_of,
    )
    app.add_middleware(
        ClientRateLimit, limit=gateway.client_limits, addresses=gateway.client_addresses
    )
    runtime.on_shutdown(gateway.cache.close)
    return app


def area_routers(runtime: ServiceRuntime) -> list[APIRouter]:
    """Every area's routes, the web app's catch-all last. The chaos buttons only where a local
    supervisor may run: with DNS discovery (Kubernetes) those routes do not exist (404)."""
    chaos = [ops_chaos.router] if runtime.settings.discovery != "dns" else []
    return [
        admin_titles.router,
        auth.router,
        catalog.router,
        experiments.router,
        history.router,
        home.router,
        media.router,
        ops.router,
        *chaos,
        playback.router,
        profiles.router,
        search.router,
        telemetry.router,
        web.router,
    ]
