"""Scrub previews: the thumbnails ffmpeg wrote tiled into one sprite (`thumbs.jpg`) and a
WebVTT track whose cues point into it with `#xywh=` fragments."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PIL import Image

from cinemesh.services.encoder.ladder import Sprite


def tile_sprite(thumbs: Path, sprite: Sprite, out: Path) -> Sprite:
    """Tile the thumbnails into `out`; answers the sprite as made (count may be lower)."""
    frames = sorted(thumbs.glob("*.jpg"))[: sprite.count]
    if not frames:
        raise ValueError("ffmpeg wrote no thumbnails")
    made = replace(sprite, count=len(frames), rows=-(-len(frames) // sprite.columns))
    sheet = Image.new("RGB", (made.columns * made.thumb_width, made.rows * made.thumb_height))
    for k, frame in enumerate(frames):
        with Image.open(frame) as image:
            tile = image.convert("RGB").resize((made.thumb_width, made.thumb_height))
        x = (k % made.columns) * made.thumb_width
        y = (k // made.columns) * made.thumb_height
        sheet.paste(tile, (x, y))
    sheet.save(out, "JPEG", quality=80)
    return made


def thumbnails_vtt(sprite: Sprite, duration_s: float, image: str = "thumbs.jpg") -> str:
    """A WebVTT track whose cues point into the sprite with `#xywh=` fragments."""
    cues = ["WEBVTT", ""]
    for k in range(sprite.count):
        start = k * sprite.interval_s
        end = min((k + 1) * sprite.interval_s, duration_s)
        if end <= start:
            break
        x = (k % sprite.columns) * sprite.thumb_width
        y = (k // sprite.columns) * sprite.thumb_height
        cues += [
            f"{_timestamp(start)} --> {_timestamp(end)}",
            f"{image}#xywh={x},{y},{sprite.thumb_width},{sprite.thumb_height}",
            "",
        ]
    return "\n".join(cues)


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"
