"""encoder settings, under `CINEMESH_ENCODER_`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings

GIB = 1024**3


class EncoderSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_ENCODER_", extra="ignore")

    max_upload_bytes: int = Field(2 * GIB, ge=1)
    preset: str = Field("veryfast", pattern=r"^[a-z]+$")
    crf: int = Field(23, ge=0, le=51)
    segment_s: int = Field(4, ge=1, le=20)
    # every rendition opens with segments this long, doubling up to segment_s (1, 1, 2, 4 s)
    start_segment_s: float = Field(1.0, ge=0.5, le=20)
    ack_wait_s: float = Field(30.0, ge=2.0)
    max_attempts: int = Field(5, ge=1)
    vmaf_min_gain: float = Field(2.0, ge=0.0)
    vmaf_subsample: int = Field(5, ge=1, le=60)
    threads: int = Field(0, ge=0)
    worker: bool = True
    # a season's intro and credits, detected once two of its episodes are packaged
    detect_markers: bool = True
    intro_min_s: float = Field(8.0, ge=1.0)
