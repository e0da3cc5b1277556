"""Start-up objects are frozen out of the cyclic collector before the first request: a full
collection over them stalled every request in flight for tens of milliseconds."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi import FastAPI

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import PlatformSettings


async def test_a_started_service_has_frozen_its_start_up_objects(tmp_path: Path) -> None:
    runtime = ServiceRuntime("probe", settings=PlatformSettings(data_dir=tmp_path, port=0))
    made_at_start_up: list[dict[str, int]] = []

    @runtime.on_startup
    async def build_caches() -> None:
        made_at_start_up.extend({"n": n} for n in range(1000))

    gc.unfreeze()
    try:
        async with runtime.lifespan(FastAPI()):
            collected = {id(o) for o in gc.get_objects()}  # frozen objects are not listed
            assert not any(id(o) in collected for o in made_at_start_up)
            assert gc.get_freeze_count() >= len(made_at_start_up)
    finally:
        gc.unfreeze()
