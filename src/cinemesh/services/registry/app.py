"""registry: where instances announce themselves and find each other (Eureka's job)."""

from __future__ import annotations

from fastapi import FastAPI

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.registry.api import router
from cinemesh.services.registry.eviction import evict_expired_leases
from cinemesh.services.registry.service import LeaseTable


def create_app() -> FastAPI:
    runtime = ServiceRuntime("registry")
    table = LeaseTable()
    evict_expired_leases(runtime, table)
    return runtime.build_app(router, provides=[table])
