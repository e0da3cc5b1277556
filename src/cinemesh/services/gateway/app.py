"""gateway: the only public entry (Zuul's job). Each module in `routes/` adds one area of
`/api/v1` and exposes `router(gateway) -> APIRouter`."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI

from cinemesh.platform.errors import error_responses
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.gateway import routes
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.ratelimit import IpRateLimit
from cinemesh.services.gateway.settings import GatewaySettings


def create_app() -> FastAPI:
    # events: the notices that say when what it kept for a home page changed (kept_parts.py)
    runtime = ServiceRuntime("gateway", public=True, uses_events=True)
    gateway = Gateway(runtime, load_settings(GatewaySettings))
    routers = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        routers.append(module.router(gateway))
    app = runtime.build_app(
        *routers, title="cinemesh API", version="1", responses=error_responses()
    )
    app.state.gateway = gateway
    app.add_middleware(
        IpRateLimit,
        buckets=gateway.ip_limits,
        trust_forwarded_for=gateway.settings.trust_forwarded_for,
    )
    runtime.on_shutdown(gateway.cache.close)
    return app
