"""The service runtime: what one running instance of a service has (settings, database,
event bus, clients, faults) and the FastAPI app built around its routers."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from cinemesh.platform.auth import (
    SERVICE_NAME_HEADER,
    SERVICE_TOKEN_HEADER,
    Principal,
    TokenVerifier,
    bearer_token,
    load_service_key,
    service_token,
)
from cinemesh.platform.concurrency import Classifier, limiter_for, priority_from_caller
from cinemesh.platform.db import Database, database_url_for
from cinemesh.platform.discovery import Discovery, DnsDiscovery, Instance, RegistryDiscovery
from cinemesh.platform.drain import Drain
from cinemesh.platform.errors import ApiError, StartupError
from cinemesh.platform.events import Event, EventBus, WorkQueue
from cinemesh.platform.faults import FaultState
from cinemesh.platform.http import Clients
from cinemesh.platform.kept import KeptReads, announce, listen
from cinemesh.platform.middleware import PlatformMiddleware
from cinemesh.platform.observability import configure_logging, configure_tracing, logger
from cinemesh.platform.outbox import OutboxRelay, mark_processed, stage_event
from cinemesh.platform.release import announce_build
from cinemesh.platform.settings import PlatformSettings, load_settings

Hook = Callable[[], Awaitable[None]]
ReadyCheck = Callable[[], Awaitable[None]]
SessionHandler = Callable[[AsyncSession, Event], Awaitable[None]]
PlainHandler = Callable[[Event], Awaitable[None]]

log = logger("cinemesh.runtime")
SHUTDOWN_STEP_S = 3.0
NO_NATIVE_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


class ServiceRuntime:
    """Everything the chassis gives one instance of a service; a service builds one in app.py."""

    def __init__(
        self,
        name: str,
        *,
        migrations: Path | None = None,
        database_url: str = "",
        uses_events: bool = False,
        public: bool = False,
        settings: PlatformSettings | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or load_settings(PlatformSettings)
        base_id = self.settings.instance_id or f"{name}-{socket.gethostname()}"
        self.instance_id = f"{base_id}-{os.getpid()}"
        self.public = public
        self.version = announce_build(service=name, instance=self.instance_id)
        self.drain = Drain()
        configure_logging(service=name, instance=self.instance_id, level=self.settings.log_level)
        configure_tracing(service=name, instance=self.instance_id)
        self.data_dir = self.settings.data_dir
        self.service_key = load_service_key(
            data_dir=self.data_dir, configured=self.settings.service_key
        )
        self.service_token = service_token(self.service_key)
        self.auth_headers = {SERVICE_TOKEN_HEADER: self.service_token, SERVICE_NAME_HEADER: name}
        self.migrations = migrations
        self.db: Database | None = None
        if migrations is not None:
            self.db = Database(
                database_url_for(
                    service=name,
                    explicit=database_url,
                    template=self.settings.database_url_template,
                    data_dir=self.data_dir,
                )
            )
        self.bus: EventBus | None = (
            EventBus(
                self.settings.nats_url,
                service=name,
                namespace=self.settings.bus_namespace,
                replicas=self.settings.nats_replicas,
            )
            if uses_events
            else None
        )
        self.relay: OutboxRelay | None = None
        self.discovery: Discovery = self._make_discovery()
        self.clients = Clients(
            caller=name, discovery=self.discovery, auth_headers=self.auth_headers
        )
        self.faults = FaultState()
        self.limiter = limiter_for(name)
        self.verifier = TokenVerifier(
            fetch_jwks=self._fetch_jwks, jwks_file=self.data_dir / "identity" / "jwks.json"
        )
        self._consumers: list[tuple[str, PlainHandler, str]] = []
        self._kept: list[tuple[str, str | None, KeptReads[Any]]] = []
        self._startup: list[Hook] = []
        self._shutdown: list[Hook] = []
        self._ready_checks: dict[str, ReadyCheck] = {}
        self._background: list[asyncio.Task[Any]] = []
        self._lease: asyncio.Task[None] | None = None
        self.bus_ready = asyncio.Event()
        self.relay_pause_s = 0.0  # chaos tests widen the window between commit and publish

    @property
    def database(self) -> Database:
        """The service's database; a service built without migrations has none to give."""
        if self.db is None:
            raise StartupError(f"{self.name} was built without a database (give it migrations)")
        return self.db

    def _make_discovery(self) -> Discovery:
        if self.settings.discovery == "dns":
            return DnsDiscovery(port=self.settings.dns_port)
        return RegistryDiscovery(self.settings.registry_urls, auth_headers=self.auth_headers)

    async def _fetch_jwks(self) -> Any:
        response = await self.clients("identity").request("GET", "/v1/jwks", timeout_s=1.0)
        return response.json() if response.ok else None

    # --- what a service declares -------------------------------------------------------
    def on_startup(self, hook: Hook) -> Hook:
        self._startup.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        self._shutdown.append(hook)
        return hook

    def ready_check(self, name: str, check: ReadyCheck) -> None:
        self._ready_checks[name] = check

    def consume(
        self,
        pattern: str,
        *,
        delivery: str = "shared",
        consumer: str = "",
        then: PlainHandler | None = None,
    ) -> Callable[[Any], Any]:
        """Register an event handler. With a database, the handler gets a session whose
        transaction also records the event id, so a redelivered event is skipped. `then`
        runs after that transaction commits, for an event handled (not skipped)."""

        def register(handler: Any) -> Any:
            name = consumer or f"{self.name}.{handler.__name__}"
            wrapped = self._idempotent(handler, name, then) if self.db is not None else handler
            self._consumers.append((pattern, wrapped, delivery))
            return handler

        return register

    def _idempotent(
        self, handler: SessionHandler, consumer: str, then: PlainHandler | None
    ) -> PlainHandler:
        async def handle(evt: Event) -> None:
            async with self.database.transaction() as session:
                handled = await mark_processed(session, consumer=consumer, event_id=evt.id)
                if handled:
                    await handler(session, evt)
            if handled and then is not None:
                await then(evt)

        return handle

    def kept_reads(
        self,
        notice: str,
        *,
        max_age_s: float = 30.0,
        settle_s: float = 0.0,
        cleared_by: str | None = None,
    ) -> KeptReads[Any]:
        """Reads this instance keeps until `changed(notice, keys)`, from any instance, names
        their keys, or a `cleared_by` notice comes (see kept.py). Nothing is kept before the
        event bus is up."""
        kept: KeptReads[Any] = KeptReads(notice, max_age_s=max_age_s, settle_s=settle_s)
        self._kept.append((notice, cleared_by, kept))
        return kept

    async def changed(self, notice: str, keys: Iterable[str]) -> None:
        """After a commit: forget the keys here at once, and tell every instance. A notice
        that cannot be sent is logged; `max_age_s` bounds what it would have corrected."""
        keys = list(keys)
        for name, _cleared_by, kept in self._kept:
            if name == notice:
                kept.forget(keys)
        if self.bus is None or self.bus.nc is None:
            return
        try:
            await announce(self.bus, notice, keys)
        except Exception as exc:
            log.warning("a change notice was not sent", notice=notice, error=repr(exc))

    async def stage(
        self,
        session: AsyncSession,
        event_type: str,
        data: dict[str, Any],
        *,
        key: str = "",
        version: int = 1,
    ) -> Event:
        """Stage an event in the caller's transaction; the outbox relay publishes it."""
        evt = Event(type=event_type, data=data, source=self.name, key=key, version=version)
        await stage_event(session, evt)
        return evt

    async def work_queue(self, name: str) -> WorkQueue:
        await self.bus_ready.wait()
        assert self.bus is not None
        return await self.bus.work_queue(name)

    # --- requests ----------------------------------------------------------------------
    async def principal(self, request: Request) -> Principal:
        """The signed-in account behind a request (FastAPI dependency)."""
        return await self.verifier.verify(bearer_token(request))

    async def admin(self, request: Request) -> Principal:
        who = await self.principal(request)
        if not who.is_admin:
            raise ApiError(403, "ADMIN_ONLY", "this needs an admin account")
        return who

    # --- lifecycle -----------------------------------------------------------------------
    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self._start()
        try:
            yield
        finally:
            await self._stop()

    async def _start(self) -> None:
        try:
            await self._prepare_storage()
        except StartupError as exc:  # a clear sentence, not uvicorn's traceback
            print(f"cinemesh {self.name}: {exc}", file=sys.stderr, flush=True)
            os._exit(2)

    async def _prepare_storage(self) -> None:
        if self.db is not None and self.migrations is not None:
            await self.db.migrate(self.migrations)
        await self._begin()

    async def _begin(self) -> None:
        if self.bus is not None:
            self._background.append(asyncio.create_task(self._connect_bus(), name="bus"))
        for hook in self._startup:
            await hook()
        freeze_startup_objects()
        if isinstance(self.discovery, RegistryDiscovery) and self.settings.port:
            self._lease = asyncio.create_task(
                self.discovery.register_forever(self.me), name="registry-lease"
            )
            self._background.append(self._lease)
        log.info("service started", port=self.settings.port)

    async def _connect_bus(self) -> None:
        assert self.bus is not None
        await self.bus.connect_patiently()
        if self.db is not None:
            self.relay = OutboxRelay(self.db, self.bus, service=self.name)
            self.relay.pause_before_publish_s = self.relay_pause_s
            self.relay.start()
        for pattern, handler, delivery in self._consumers:
            await self.bus.consume(pattern, handler, delivery=delivery)  # type: ignore[arg-type]
        for notice, cleared_by, kept in self._kept:
            await listen(self.bus, kept, notice, cleared_by=cleared_by)
        self.bus_ready.set()

    async def begin_drain(self) -> None:
        """Leave the registry and fail readiness; requests are still answered (drain.py)."""
        self.drain.active = True
        if self._lease is not None:
            self._lease.cancel()
            await asyncio.gather(self._lease, return_exceptions=True)
        if isinstance(self.discovery, RegistryDiscovery):
            await self.discovery.deregister(self.me)

    async def _stop(self) -> None:
        """Stop in reverse order; each step is bounded so shutdown never hangs."""
        steps: list[tuple[str, Any]] = []
        if isinstance(self.discovery, RegistryDiscovery):
            steps.append(("deregister", self.discovery.deregister(self.me)))
        steps.append(("background tasks", self._cancel_background()))
        if self.bus is not None:  # the handlers in flight finish; what was fetched goes back
            steps.append(("event handlers", self.bus.stop_consuming()))
        steps += [(f"shutdown hook {h.__name__}", h()) for h in reversed(self._shutdown)]
        if self.relay is not None:  # what was committed is published before the exit
            steps.append(("outbox flush", self.relay.flush()))
            steps.append(("outbox relay", self.relay.stop()))
        if self.bus is not None:
            steps.append(("event bus", self.bus.close()))
        steps.append(("http clients", self.clients.close()))
        if isinstance(self.discovery, RegistryDiscovery):
            steps.append(("discovery", self.discovery.close()))
        if self.db is not None:
            steps.append(("database", self.db.dispose()))
        for name, step in steps:
            try:
                await asyncio.wait_for(step, timeout=SHUTDOWN_STEP_S)
            except Exception as exc:
                log.warning("shutdown step failed", step=name, error=str(exc) or type(exc).__name__)

    async def _cancel_background(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    @property
    def me(self) -> Instance:
        url = self.settings.public_url or f"http://{self.settings.host}:{self.settings.port}"
        return Instance(
            self.name, self.instance_id, url, {"pid": os.getpid(), "version": self.version}
        )

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        ok = True
        if self.drain.active:
            ok, checks["drain"] = False, "draining: finishing in-flight work before exit"
        if self.db is not None:
            try:
                await asyncio.wait_for(self.db.ping(), timeout=2.0)
                checks["database"] = "ok"
            except Exception as exc:
                ok, checks["database"] = False, f"failing: {type(exc).__name__}"
        if self.bus is not None:
            checks["events"] = "ok" if self.bus.connected else "connecting"
        for name, check in self._ready_checks.items():
            try:
                await asyncio.wait_for(check(), timeout=2.0)
                checks[name] = "ok"
            except Exception as exc:
                ok, checks[name] = False, f"failing: {str(exc) or type(exc).__name__}"
        return ok, checks

    # --- the app -------------------------------------------------------------------------
    def build_app(
        self,
        *routers: APIRouter,
        provides: Iterable[object] = (),
        title: str = "",
        priority_of: Classifier = priority_from_caller,
        **fastapi_kwargs: Any,
    ) -> FastAPI:
        """The service's app: the chassis' routes, then `routers`; each object in `provides`
        reaches handlers through `deps.provided(its type)`. `priority_of` tells each request's
        priority under the concurrency limit (concurrency.py)."""
        app = FastAPI(
            title=title or f"cinemesh {self.name}",
            lifespan=self.lifespan,
            # PlatformMiddleware already makes the request span and the metrics; FastAPI's
            # own telemetry would make a second set of spans on every request.
            telemetry=NO_NATIVE_TELEMETRY,
            **fastapi_kwargs,
        )
        app.state.runtime = self
        app.state.provided = {type(thing): thing for thing in provides}
        # imported here: own_routes takes the runtime through deps.py, which imports this module
        from cinemesh.platform.own_routes import faults_router, health_router

        app.include_router(health_router)
        app.include_router(faults_router)
        for router in routers:
            app.include_router(router)
        install_error_handlers(app)
        app.add_middleware(
            PlatformMiddleware,
            service=self.name,
            service_token=self.service_token,
            faults=self.faults,
            public=self.public,
            drain=self.drain,
            limiter=self.limiter,
            priority_of=priority_of,
        )
        return app


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as the envelope; an unexpected one never leaks its details."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg", "")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:3])
        return JSONResponse(
            {
                "error": {
                    "code": "INVALID_REQUEST",
                    "message": summary or "invalid request",
                    "details": details,
                }
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail)}},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled error", path=request.url.path, incident=incident, exc_info=exc)
        return JSONResponse(
            {
                "error": {
                    "code": "INTERNAL",
                    "message": f"something went wrong (incident {incident})",
                }
            },
            status_code=500,
        )


def allowed_methods(request: Request) -> list[str]:
    """Every method the app answers at this request's path. Starlette's own 405 names only the
    methods of the first route whose path matched (`Allow: PATCH` where DELETE works too), so
    each method is tried against the app's routes as they match any request."""
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def freeze_startup_objects() -> None:
    """Move what start-up made (modules, schemas, routes; a recommender's first model too:
    100-160k objects) out of the cyclic collector's sight before the first request. A full
    collection walks every tracked object: over those it took 65-80 ms on this 2-core
    machine, a stall of every request in flight, several times a minute under load."""
    gc.collect()
    gc.freeze()
