"""Another process talking to a running local platform: the service credential its supervisor
and services accept, and the supervisor's list of instances. The CLI and the demo content
(`cinemesh.demo`) use it; it never exits the process, so a caller decides what a platform that
does not answer means."""

from __future__ import annotations

import os
from typing import Any

import httpx

from cinemesh.platform.auth import SERVICE_TOKEN_HEADER, load_service_key, service_token
from cinemesh.runner.layout import Layout


def auth_headers(layout: Layout) -> dict[str, str]:
    """The service credential of the platform whose data dir `layout` is."""
    key = load_service_key(
        data_dir=layout.data_dir, configured=os.environ.get("CINEMESH_SERVICE_KEY", "")
    )
    return {SERVICE_TOKEN_HEADER: service_token(key)}


async def instances(http: httpx.AsyncClient, layout: Layout) -> list[dict[str, Any]]:
    """Every instance the local supervisor runs (empty when it cannot be asked). `http` must
    send `auth_headers(layout)`."""
    state = layout.read_state()
    if not state:
        return []
    try:
        answer = await http.get(state["control_url"] + "/status", timeout=5)
        return list(answer.json()["instances"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return []


async def healthy_port(http: httpx.AsyncClient, layout: Layout, service: str) -> int | None:
    """The port of a healthy instance of `service`, if the supervisor runs one."""
    for inst in await instances(http, layout):
        if inst["service"] == service and inst["healthy"]:
            return int(inst["port"])
    return None
