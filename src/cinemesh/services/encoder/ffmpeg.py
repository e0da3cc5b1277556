"""Running the shipped ffmpeg: an argument list (never a shell), progress read from
`-progress pipe:1`, the child killed with its worker so no orphan keeps writing."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path

import imageio_ffmpeg

PR_SET_PDEATHSIG = 1
Progress = Callable[[float], Awaitable[None]]


class FfmpegError(Exception):
    """ffmpeg failed; the message carries the end of what it said."""


@cache
def ffmpeg_exe() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _die_with_worker() -> None:
    """preexec_fn: the kernel kills ffmpeg when the worker dies, even by kill -9."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


async def run_ffmpeg(
    args: list[str],
    *,
    cwd: Path | None = None,
    duration_s: float = 0.0,
    fps: float = 0.0,
    on_progress: Progress | None = None,
) -> None:
    """Run ffmpeg to the end; `on_progress` gets the fraction done (0..1) as it goes, from
    the frames of the first output when `fps` is known (output time runs ahead with several
    outputs), else from the output time."""
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(),
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_worker,
    )
    said: deque[str] = deque(maxlen=20)
    try:
        await asyncio.gather(
            _read_progress(proc.stdout, duration_s, duration_s * fps, on_progress),
            _collect(proc.stderr, said),
        )
        code = await proc.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if code != 0:
        detail = " | ".join(line for line in said if line) or f"exit code {code}"
        raise FfmpegError(f"ffmpeg failed: {detail[-800:]}")


async def _read_progress(
    stream: asyncio.StreamReader | None,
    duration_s: float,
    frames: float,
    on_progress: Progress | None,
) -> None:
    assert stream is not None
    while line := await stream.readline():
        if on_progress is None:
            continue
        key, _, value = line.decode(errors="replace").strip().partition("=")
        try:
            if key == "frame" and frames > 0:
                done = int(value) / frames
            elif key == "out_time_us" and frames <= 0 < duration_s:
                done = int(value) / 1e6 / duration_s
            else:
                continue
        except ValueError:
            continue
        await on_progress(min(max(done, 0.0), 1.0))


async def _collect(stream: asyncio.StreamReader | None, into: deque[str]) -> None:
    assert stream is not None
    while line := await stream.readline():
        into.append(line.decode(errors="replace").strip())
