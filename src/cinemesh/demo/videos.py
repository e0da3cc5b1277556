"""Demo videos for a fresh catalog: moving ffmpeg test patterns with the title drawn on them
(rendered with Pillow: the static ffmpeg may have no fonts) and a sine tone. ffmpeg runs through
the encoder's public face, the same runner the encoder's pipeline uses."""

from __future__ import annotations

import tempfile
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from cinemesh.services.encoder.public import run_ffmpeg

PATTERNS = (
    "testsrc2=size={w}x{h}:rate={fps}",
    "mandelbrot=size={w}x{h}:rate={fps}:end_scale=0.01",
    "life=size={w}x{h}:rate={fps}:mold=10:ratio=0.2:death_color=#202060:life_color=#e0a040",
    "cellauto=size={w}x{h}:rate={fps}:rule=110,format=yuv420p,hue=h=t*20:s=4",
    "gradients=size={w}x{h}:rate={fps}:speed=0.02:n=5",
    "testsrc=size={w}x{h}:rate={fps},hue=h=t*30",
)
TONES = (220, 262, 330, 392, 440, 523)


def title_card(text: str, *, width: int, height: int, out: Path) -> Path:
    """A transparent PNG with the title in a dark band near the bottom."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    size = max(14, height // 12)
    font = ImageFont.load_default(size=size)
    box = draw.textbbox((0, 0), text, font=font)
    text_w, text_h = box[2] - box[0], box[3] - box[1]
    top = height - text_h - height // 6
    draw.rectangle((0, top - size // 2, width, top + text_h + size // 2), fill=(0, 0, 0, 160))
    draw.text(((width - text_w) // 2, top - box[1]), text, font=font, fill=(255, 255, 255, 255))
    image.save(out, "PNG")
    return out


async def make_demo_video(
    out: Path,
    *,
    title: str,
    seconds: float = 20.0,
    width: int = 640,
    height: int = 360,
    fps: int = 24,
) -> Path:
    """An mp4 (H.264 + AAC) of a moving pattern chosen by the title, with its name on it."""
    pick = zlib.crc32(title.encode())
    pattern = PATTERNS[pick % len(PATTERNS)].format(w=width, h=height, fps=fps)
    tone = TONES[pick % len(TONES)]
    with tempfile.TemporaryDirectory(prefix="cinemesh-demo-") as tmp:
        card = title_card(title, width=width, height=height, out=Path(tmp) / "title.png")
        await run_ffmpeg(
            [
                "-hide_banner",
                "-nostdin",
                "-y",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-t",
                f"{seconds}",
                "-i",
                pattern,
                "-i",
                str(card),
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={tone}:sample_rate=48000:duration={seconds}",
                "-filter_complex",
                "[0:v][1:v]overlay=0:0:format=auto,format=yuv420p[v]",
                "-map",
                "[v]",
                "-map",
                "2:a",
                "-t",
                f"{seconds}",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "20",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-movflags",
                "+faststart",
                str(out),
            ]
        )
    return out
