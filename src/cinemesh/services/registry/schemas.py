"""The registry's API payloads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

NAME = r"^[a-z][a-z0-9-]{0,62}$"


class Registration(BaseModel):
    service: str = Field(pattern=NAME)
    instance_id: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^https?://", max_length=500)
    metadata: dict[str, Any] = {}
    lease_s: float = Field(6.0, gt=0, le=300)


class VersionWeights(BaseModel):
    """Each version's share of the calls, e.g. `{"a1b2c3": 10, "d4e5f6": 90}`."""

    weights: dict[str, float] = Field(default_factory=dict, max_length=8)
