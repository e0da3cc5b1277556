"""A small key-value cache with expiry: in-process by default, Redis when configured, so
several gateway instances at scale share their fallbacks."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

import orjson

from cinemesh.platform.observability import logger

log = logger("cinemesh.cache")


class Cache(Protocol):
    async def get(self, key: str) -> Any: ...

    async def set(self, key: str, value: Any, *, ttl_s: float) -> None: ...

    async def close(self) -> None: ...


class MemoryCache:
    """LRU with per-entry expiry, for one process."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    async def get(self, key: str) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            self._entries.pop(key, None)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: Any, *, ttl_s: float) -> None:
        self._entries[key] = (time.monotonic() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    """Shared across instances; a Redis outage degrades to misses, never to errors."""

    def __init__(self, url: str, *, prefix: str) -> None:
        import redis.asyncio as redis

        self.prefix = prefix
        self._redis = redis.from_url(url, socket_timeout=0.05, socket_connect_timeout=0.2)

    async def get(self, key: str) -> Any:
        try:
            raw = await self._redis.get(self.prefix + key)
        except Exception as exc:
            log.debug("cache read failed", error=str(exc))
            return None
        return orjson.loads(raw) if raw else None

    async def set(self, key: str, value: Any, *, ttl_s: float) -> None:
        try:
            await self._redis.set(self.prefix + key, orjson.dumps(value), px=int(ttl_s * 1000))
        except Exception as exc:
            log.debug("cache write failed", error=str(exc))

    async def close(self) -> None:
        await self._redis.aclose()


def make_cache(redis_url: str, *, prefix: str) -> Cache:
    return RedisCache(redis_url, prefix=prefix) if redis_url else MemoryCache()
