"""What a play needs before its first segment of video, sent with the session answer so that the
player's first request over the member's link is for video: the master playlist as the edge
serves it to this session (capped to the plan), the media playlist of the rendition the player
will start on, and that rendition's init segment. They are read from an edge once per asset and
cap and kept (a published package never changes); a session whose files are not at hand within
the deadline goes without them, and the player fetches them itself."""

from __future__ import annotations

import asyncio
import base64
import posixpath
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cinemesh.platform.http import ServiceUnavailable
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime

log = logger("cinemesh.playback.start_files")

# The web player's start rule (gateway/web/views/start_level.js), which this guesses: the
# highest rendition whose first segment (the encoder makes it 1 s long) loads within half a
# second at the session's start bandwidth, else the lowest.
START_SEGMENT_S = 1.0
FIRST_SEGMENT_BUDGET_S = 0.5
# a long title's playlist costs a slow link more than the round trip it would save
MAX_PLAYLIST_BYTES = 16_384
KEPT_FILES = 2048
BANDWIDTH = re.compile(r"(?:^|[:,])BANDWIDTH=(\d+)")
MAP_URI = re.compile(r'#EXT-X-MAP:.*?URI="([^"]+)"')

Fetch = Callable[[str], Awaitable[bytes | None]]


def start_variant(master: str, bps: int) -> str | None:
    """The URI of the variant the player starts on."""
    variants: list[tuple[int, str]] = []
    pending: int | None = None
    for raw in master.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            found = BANDWIDTH.search(line)
            pending = int(found.group(1)) if found else 0
        elif line and not line.startswith("#") and pending is not None:
            variants.append((pending, line))
            pending = None
    if not variants:
        return None
    fits = [v for v in variants if v[0] * START_SEGMENT_S <= bps * FIRST_SEGMENT_BUDGET_S]
    return max(fits)[1] if fits else min(variants)[1]


def init_uri(playlist: str) -> str | None:
    found = MAP_URI.search(playlist)
    return found.group(1) if found else None


@dataclass
class StartFiles:
    """The start files of each asset and cap, read through `fetch` (a signed path on an edge)."""

    fetch: Fetch
    deadline_s: float = 0.25
    kept: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    _reading: set[asyncio.Task[dict[str, dict[str, str]]]] = field(default_factory=set)

    async def for_session(
        self, manifest_path: str, start_bps: int | None
    ) -> dict[str, dict[str, str]]:
        """Each file by its URI relative to the master playlist: `{"text": ...}` for a
        playlist, `{"base64": ...}` for the init segment; what is not at hand in time is left
        out (the reading goes on, so the next session of the asset has it)."""
        found: dict[str, dict[str, str]] = {}
        task = asyncio.ensure_future(self._read(manifest_path, start_bps or 0, found))
        self._reading.add(task)
        task.add_done_callback(self._settled)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.deadline_s)
        except TimeoutError:
            return dict(found)  # what was at hand in time
        except Exception as exc:  # never a failed start for want of a shortcut
            log.warning("start files not read", error=str(exc) or type(exc).__name__)
            return {}

    def _settled(self, task: asyncio.Task[dict[str, dict[str, str]]]) -> None:
        self._reading.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("start files not read", error=str(task.exception()))

    async def _read(
        self, manifest_path: str, bps: int, found: dict[str, dict[str, str]]
    ) -> dict[str, dict[str, str]]:
        folder, name = manifest_path.rsplit("/", 1)
        master = await self._file(folder, name)
        if master is None:
            return found
        found[name] = {"text": master.decode()}
        variant = start_variant(master.decode(), bps)
        playlist = None if variant is None else await self._file(folder, variant)
        if variant is None or playlist is None or len(playlist) > MAX_PLAYLIST_BYTES:
            return found
        found[variant] = {"text": playlist.decode()}
        init = init_uri(playlist.decode())
        if init is not None:
            init_path = posixpath.normpath(posixpath.join(posixpath.dirname(variant), init))
            data = await self._file(folder, init_path)
            if data is not None:
                found[init_path] = {"base64": base64.b64encode(data).decode()}
        return found

    async def _file(self, folder: str, uri: str) -> bytes | None:
        """A file of the session's asset folder; kept by asset and cap, not by signature."""
        key = folder.rsplit("/", 1)[-1] + "/" + uri
        if (data := self.kept.get(key)) is not None:
            self.kept.move_to_end(key)
            return data
        data = await self.fetch(f"{folder}/{uri}")
        if data is not None:
            self.kept[key] = data
            while len(self.kept) > KEPT_FILES:
                self.kept.popitem(last=False)
        return data


def edge_reader(runtime: ServiceRuntime) -> Fetch:
    """GET a signed path on any edge, through the resilient client; None when none answers."""

    async def fetch(path: str) -> bytes | None:
        try:
            answer = await runtime.clients("edge").request(
                "GET", path, timeout_s=2.0, idempotent=True
            )
        except ServiceUnavailable:
            return None
        except Exception as exc:  # the registry itself may be away
            log.warning("edge not asked for start files", error=str(exc) or type(exc).__name__)
            return None
        return answer.body if answer.status == 200 else None

    return fetch
