"""Play telemetry: the beacon a player sends (the gateway checks it, the telemetry service
stores it) and `telemetry.*` events, which experiments read for QoE per cell.

A beacon covers one stretch of one playback session, about ten seconds: what happened in it,
not running totals, so beacons add up and a lost one loses only its own stretch. Every bound
is in the schema (an OpenAPI client sees it): values past them are absurd for a real player
(a first frame after two minutes, 200 Mb/s, a 5K picture) and refused, never stored."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_STRETCH_MS = 600_000  # ten minutes: timers in a hidden tab may fire that late
MAX_FRAMES = 240 * MAX_STRETCH_MS // 1000
MAX_BEACONS = 50

# hls.js `ErrorTypes`; `details` is one of its `ErrorDetails` (fragLoadError, bufferStalledError, ...)
HlsErrorType = Literal["networkError", "mediaError", "keySystemError", "muxError", "otherError"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PlayError(Strict):
    type: HlsErrorType
    details: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    fatal: bool = False


class RenditionSwitch(Strict):
    """The player moved to another rendition (hls.js LEVEL_SWITCHED)."""

    bitrate_kbps: float = Field(gt=0, le=200_000)
    height: int = Field(ge=1, le=4320)


class PlayBeacon(Strict):
    """One stretch of one session, as the player measured it."""

    session_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    seq: int = Field(ge=0, le=1_000_000, description="per session, from 0; a repeat is ignored")
    edge: str | None = Field(
        None,
        max_length=200,
        pattern=r"^https?://[A-Za-z0-9.\[\]:-]+$",
        description="the origin of the edge that served this stretch's segments",
    )
    ttff_ms: int | None = Field(
        None, ge=0, le=120_000, description="time to first frame, once, in the first beacon"
    )
    played_ms: int = Field(0, ge=0, le=MAX_STRETCH_MS)
    stalls: int = Field(0, ge=0, le=1000, description="stalls that began in this stretch")
    rebuffer_ms: int = Field(0, ge=0, le=MAX_STRETCH_MS)
    bitrate_kbps: float | None = Field(
        None, gt=0, le=200_000, description="mean bitrate over the time played"
    )
    height: int | None = Field(None, ge=1, le=4320, description="the picture's height at the end")
    switches: list[RenditionSwitch] = Field(default_factory=list, max_length=50)
    dropped_frames: int = Field(0, ge=0, le=MAX_FRAMES)
    decoded_frames: int = Field(0, ge=0, le=MAX_FRAMES)
    errors: list[PlayError] = Field(default_factory=list, max_length=20)


class BeaconBatch(Strict):
    beacons: list[PlayBeacon] = Field(min_length=1, max_length=MAX_BEACONS)


class PlayReported(BaseModel):
    """A beacon the telemetry service accepted, with who watched what on which plan."""

    TYPE: ClassVar[str] = "telemetry.play.reported"
    VERSION: ClassVar[int] = 1
    session_id: str
    seq: int
    account_id: str
    profile_id: str
    title_id: str
    episode_id: str | None = None
    plan: str
    edge: str | None = None
    at: str
    ttff_ms: int | None = None
    played_ms: int = 0
    stalls: int = 0
    rebuffer_ms: int = 0
    bitrate_kbps: float | None = None
    height: int | None = None
    switches: int = 0
    dropped_frames: int = 0
    decoded_frames: int = 0
    errors: list[str] = []  # hls.js error details, in order
    fatal_error: str | None = None
