"""Fault injection for chaos tests: added latency, an error rate, or a blackhole (abort)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from pydantic import BaseModel, Field

ABORT_HOLD_S = 30.0


class FaultSpec(BaseModel):
    latency_ms: float = Field(0, ge=0, le=60_000)
    error_rate: float = Field(0, ge=0, le=1)
    abort_rate: float = Field(0, ge=0, le=1)


@dataclass
class FaultState:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    abort_rate: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.error_rate or self.abort_rate)

    async def apply(self) -> bool:
        """Delay the request, hold it as if the process hung, or return True to fail it."""
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        if self.abort_rate and random.random() < self.abort_rate:
            await asyncio.sleep(ABORT_HOLD_S)
            return True
        return bool(self.error_rate and random.random() < self.error_rate)
