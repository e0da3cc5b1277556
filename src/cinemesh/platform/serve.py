"""Run one service instance: bind its port (failing fast with a clear message), take the
listening socket the supervisor passed down if any, then uvicorn."""

from __future__ import annotations

import asyncio
import errno
import importlib
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
import uvloop

from cinemesh.platform.drain import DrainingServer
from cinemesh.platform.errors import StartupError
from cinemesh.platform.http import IDLE_CONNECTION_S
from cinemesh.platform.settings import PlatformSettings, load_settings

# A server that closes an idle connection while a caller reuses it fails that call: callers
# let pooled connections go first (http.IDLE_CONNECTION_S), well before the server would.
KEEP_ALIVE_S = int(2 * IDLE_CONNECTION_S) + 15


def bind_socket(host: str, port: int, *, shared: bool = False) -> socket.socket:
    """A listening socket. A `shared` one joins the other instances' on the same port, and
    listens only when the server starts serving it, after start-up: the kernel sends no
    connection to an instance that cannot answer yet."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use; stop what holds it "
                f"(`ss -ltnp 'sport = :{port}'`) or choose another port"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    if not shared:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def inherited_socket(fd: int) -> socket.socket:
    """The listening socket the supervisor passed down as file descriptor `fd`. Its queue of
    connections is shared with every other holder: the instance this one replaces keeps
    taking from it until it drains, and nothing waiting on it is lost in between."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise StartupError(f"no listening socket was passed down as fd {fd}: {exc}") from None
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise StartupError(f"fd {fd} is not a listening TCP socket")
    return sock


def load_app(service: str) -> Any:
    try:
        module = importlib.import_module(f"cinemesh.services.{service}.app")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"cinemesh.services.{service}"):
            raise StartupError(f"there is no service called {service!r}") from None
        raise
    return module.create_app()


def serve(service: str, app_factory: Callable[[], Any] | None = None) -> None:
    """Start `service` on CINEMESH_HOST:CINEMESH_PORT and run until stopped."""
    try:
        settings = load_settings(PlatformSettings)
        sockets = [bind_socket(settings.host, settings.port)]
        if settings.shared_port and settings.shared_port != settings.port:
            sockets.append(bind_socket(settings.host, settings.shared_port, shared=True))
        if settings.listen_fd:
            sockets.append(inherited_socket(settings.listen_fd))
        app = app_factory() if app_factory else load_app(service)
    except StartupError as exc:
        print(f"cinemesh {service}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if hasattr(app, "serve_socket"):  # a service with its own HTTP server (the edge's sendfile)
        asyncio.run(app.serve_socket(*sockets))
        return
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        # whom to believe about a client's address is the gateway's call (trusted proxies);
        # uvicorn would take X-Forwarded-For from any local peer
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=KEEP_ALIVE_S,
        backlog=2048,
    )
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    server = DrainingServer(
        config,
        begin_drain=runtime.begin_drain if runtime is not None else None,
        settle_s=settings.drain_s,
    )
    uvloop.install()
    try:
        asyncio.run(_serve(server, sockets))
    except StartupError as exc:
        print(f"cinemesh {service}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _serve(server: DrainingServer, sockets: list[socket.socket]) -> None:
    await server.serve(sockets=sockets)
    if not server.started:
        raise SystemExit(3)
