"""Which S3 client the media store uses, measured: PUT and GET of 450 KB objects (a 2 s
segment) against the local SeaweedFS (`weed mini`, as `cinemesh up --media-store s3` starts
it), `--concurrency` requests at a time, through obstore and through aiobotocore, plus each
client's import time in a fresh interpreter. aiobotocore is not a dependency of cinemesh:
`pip install aiobotocore` to compare (without it only obstore is measured). Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import obstore

from cinemesh.platform.media_store import MediaStoreSettings, S3MediaStore
from cinemesh.runner.seaweed import SeaweedS3

OBJECT_BYTES = 450 * 1024


async def timed(calls: list[Callable[[], Awaitable[Any]]], concurrency: int) -> float:
    """Objects per second over `calls`, `concurrency` at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[Any]]) -> None:
        async with limit:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in calls))
    return len(calls) / (time.perf_counter() - started)


async def with_obstore(seaweed: SeaweedS3, body: bytes, count: int, conc: int) -> dict[str, float]:
    env = seaweed.env(prefix="obstore")
    settings = MediaStoreSettings.model_validate(
        {
            "media_store": env["CINEMESH_MEDIA_STORE"],
            "s3_endpoint": seaweed.endpoint,
            "CINEMESH_S3_ACCESS_KEY": seaweed.access_key,
            "CINEMESH_S3_SECRET_KEY": seaweed.secret_key,
        }
    )
    store = S3MediaStore(settings).store
    keys = [f"bench/{i:05d}.m4s" for i in range(count)]

    async def get(key: str) -> None:
        found = await obstore.get_async(store, key)
        assert len(await found.bytes_async()) == OBJECT_BYTES

    warm_up = [f"warm-up/{i:03d}" for i in range(2 * conc)]  # the store allocates its volumes
    await timed([lambda k=k: obstore.put_async(store, k, body) for k in warm_up], conc)
    put_rate = await timed([lambda k=k: obstore.put_async(store, k, body) for k in keys], conc)
    get_rate = await timed([lambda k=k: get(k) for k in keys], conc)
    return {"put_per_s": round(put_rate, 1), "get_per_s": round(get_rate, 1)}


async def with_aiobotocore(
    seaweed: SeaweedS3, body: bytes, count: int, conc: int
) -> dict[str, float]:
    from aiobotocore.session import get_session

    keys = [f"aiobotocore/bench/{i:05d}.m4s" for i in range(count)]
    async with get_session().create_client(
        "s3",
        endpoint_url=seaweed.endpoint,
        region_name="us-east-1",
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
    ) as client:

        async def put(key: str) -> None:
            await client.put_object(Bucket=seaweed.bucket, Key=key, Body=body)

        async def get(key: str) -> None:
            found = await client.get_object(Bucket=seaweed.bucket, Key=key)
            async with found["Body"] as stream:
                assert len(await stream.read()) == OBJECT_BYTES

        put_rate = await timed([lambda k=k: put(k) for k in keys], conc)
        get_rate = await timed([lambda k=k: get(k) for k in keys], conc)
    return {"put_per_s": round(put_rate, 1), "get_per_s": round(get_rate, 1)}


def import_ms(module: str, rounds: int = 3) -> float | None:
    """The fastest of `rounds` fresh-interpreter imports of `module`, in milliseconds."""
    best = None
    for _ in range(rounds):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
        if done.returncode != 0:
            return None
        elapsed = (time.perf_counter() - started) * 1000
        best = elapsed if best is None else min(best, elapsed)
    return round(best or 0.0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="100 objects")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    count = 20 if args.tiny else 100 if args.quick else args.objects
    body = os.urandom(OBJECT_BYTES)
    results: dict[str, Any] = {"object_bytes": OBJECT_BYTES, "objects": count}
    results["concurrency"] = args.concurrency
    with tempfile.TemporaryDirectory(prefix="media-store-bench-") as tmp:
        seaweed = SeaweedS3(Path(tmp)).start()
        try:
            results["obstore"] = asyncio.run(with_obstore(seaweed, body, count, args.concurrency))
            results["obstore"]["import_ms"] = import_ms("obstore")
            if import_ms("aiobotocore") is not None:
                results["aiobotocore"] = asyncio.run(
                    with_aiobotocore(seaweed, body, count, args.concurrency)
                )
                results["aiobotocore"]["import_ms"] = import_ms("aiobotocore.session")
        finally:
            seaweed.stop()
    print(
        json.dumps({"benchmark": "media_store", "summary": summarize(results), **results}, indent=2)
    )


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """obstore's rates, beside aiobotocore's where it is installed to compare with."""
    ours, other = results["obstore"], results.get("aiobotocore")
    rows = []
    for key, what in (("put_per_s", "PUTs/s"), ("get_per_s", "GETs/s")):
        row: dict[str, Any] = {
            "measurement": f"media store, obstore {what} of {OBJECT_BYTES // 1024} KB objects",
            "baseline": "aiobotocore, same server and concurrency" if other else "-",
            "value": ours[key],
            "better": "higher",
        }
        if other:
            row |= {
                "baseline_value": other[key],
                "ratio": round(ours[key] / max(other[key], 1e-9), 3),
            }
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
