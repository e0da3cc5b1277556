"""Generated artwork for titles that have none: a poster and a backdrop drawn from the title's
name, deterministic, made on first request and kept on disk. With an S3 media store the first
instance to draw an image also puts it in the bucket's `artwork/` folder, and an instance that
has not drawn it reads it from there instead of drawing it again. A deleted title's images go
from both."""

from __future__ import annotations

import asyncio
import colorsys
import contextlib
import hashlib
import os
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from cinemesh.platform.media_store import OriginUnavailable, S3MediaStore
from cinemesh.platform.observability import logger

ARTWORK = "artwork"
SIZES = {"poster": (400, 600), "backdrop": (1280, 720)}
KINDS = tuple(SIZES)

log = logger("cinemesh.catalog.artwork")


@dataclass(frozen=True)
class ArtworkShelf:
    """The folder where one instance keeps its images, and on S3 the bucket they are shared in
    (None on files: every instance of the embedded platform shares the data dir already)."""

    folder: Path
    store: S3MediaStore | None = None

    async def image(self, title_id: str, kind: str, name: str) -> Path:
        """The image's file here: kept already, read from the bucket, or drawn (and then put in
        the bucket for the other instances; with the store down it is drawn here all the same)."""
        path = artwork_path(self.folder, title_id, kind, name)
        if path.exists():
            return path
        key = f"{ARTWORK}/{path.relative_to(self.folder).as_posix()}"
        if self.store is not None:
            with contextlib.suppress(OriginUnavailable):
                body = await self.store.read(key)
                if body is not None:
                    _write(path, body)
                    return path
        await asyncio.to_thread(render, name, title_id, kind, path)
        if self.store is not None:
            with contextlib.suppress(OriginUnavailable):
                await self.store.put_file(key, path)
        return path

    async def forget(self, title_id: str) -> None:
        """Drop every image of a deleted title, here and in the bucket (with the store down the
        bucket's copies stay behind: they are never served again, since the title is gone)."""
        await asyncio.to_thread(_forget_files, self.folder, title_id)
        if self.store is not None:
            try:
                await self.store.delete_prefixed(f"{ARTWORK}/{_title_prefix(title_id)}")
            except OriginUnavailable as exc:
                log.warning("artwork left in the bucket", title_id=title_id, error=str(exc))


def artwork_path(folder: Path, title_id: str, kind: str, name: str) -> Path:
    """Where a title's image lives; a renamed title gets a new file (the name is drawn on it)."""
    drawn = hashlib.sha256(name.encode()).hexdigest()[:8]
    return folder / f"{_title_prefix(title_id)}{drawn}-{kind}.jpg"


def _title_prefix(title_id: str) -> str:
    """How the path of each of a title's images starts, below the shelf's folder."""
    digest = hashlib.sha256(title_id.encode()).hexdigest()[:16]
    return f"{digest[:2]}/{digest}-"


def render(title: str, title_id: str, kind: str, path: Path) -> Path:
    width, height = SIZES[kind]
    hue = int(hashlib.sha256(title_id.encode()).hexdigest()[:4], 16) / 0xFFFF
    top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.65, 0.55))
    bottom = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.08) % 1, 0.8, 0.12))
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for row in range(height):
        mix = row / height
        draw.line(
            [(0, row), (width, row)],
            fill=tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)),
        )
    size = width // 11 if kind == "poster" else width // 18
    font = ImageFont.load_default(size=size)
    lines = textwrap.wrap(title, width=14 if kind == "poster" else 26)[:4]
    y: float = height * (0.55 if kind == "poster" else 0.6)
    for line in lines:
        draw.text((width * 0.08, y), line, font=font, fill=(245, 245, 245))
        y += size * 1.2
    draw.text(
        (width * 0.08, height * 0.08),
        "CINEMESH",
        font=ImageFont.load_default(size=size // 2),
        fill=(229, 9, 20),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(path)
    image.save(tmp, "JPEG", quality=82)
    tmp.replace(path)  # atomic: a concurrent request sees the old file or the whole new one
    return path


def _tmp_beside(path: Path) -> Path:
    return path.with_name(f"{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def _write(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(path)
    tmp.write_bytes(body)
    tmp.replace(path)


def _forget_files(folder: Path, title_id: str) -> None:
    for path in folder.glob(f"{_title_prefix(title_id)}*.jpg"):
        path.unlink(missing_ok=True)
