"""Play delay in a real browser over a throttled link (Chromium's own network emulation, through
the DevTools protocol): the web app's own player, from pressing Play on the title page to the
first frame, beside the floor, the same hls.js on the same files from a plain static server
started at once, in the same run. Shared by the browser tests and `bench/qoe_bench.py`."""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

# The same hls.js making the same first moves as the web player: its own start module
# (views/start_level.js), served beside it.
FLOOR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><script src="/hls.min.js"></script></head>
<body><video id="v" muted playsinline></video>
<script type="module">
import { startConfig, startLevelFor } from "/start_level.js";
window.__floor = {playing: null, stalls: 0, started: null, heights: []};
window.go = (startBps) => {
  const video = document.getElementById("v");
  const started = {start_bandwidth_bps: startBps};
  window.__floor.started = performance.now();
  const hls = new Hls({...startConfig(started), capLevelToPlayerSize: false});
  window.hls = hls;
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    if (!hls.config.autoStartLoad) {
      hls.startLevel = startLevelFor(hls.levels, startBps);
      hls.startLoad(-1);
    }
    video.play().catch(() => {});
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => window.__floor.heights.push(hls.levels[d.level].height));
  video.addEventListener("playing", () => {
    if (window.__floor.playing === null) window.__floor.playing = performance.now();
  });
  video.addEventListener("waiting", () => {
    if (window.__floor.playing !== null && !video.seeking) window.__floor.stalls += 1;
  });
  hls.loadSource("/media/master.m3u8");
  hls.attachMedia(video);
};
</script></body></html>
"""

# Stalls in the app's player: the picture stopping for want of data once it has started.
APP_PROBE = """
window.__qoe = {playing: null, stalls: 0};
document.addEventListener("playing", () => {
  if (window.__qoe.playing === null) window.__qoe.playing = performance.now();
}, true);
document.addEventListener("waiting", (event) => {
  if (window.__qoe.playing !== null && !event.target.seeking) window.__qoe.stalls += 1;
}, true);
"""


@dataclass(frozen=True)
class Link:
    name: str
    mbps: float | None  # None: not throttled
    rtt_ms: float = 0

    def throttle(self, page: Any) -> None:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        if self.mbps is None:
            return
        rate = self.mbps * 1e6 / 8  # bytes a second
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": self.rtt_ms,
                "downloadThroughput": rate,
                "uploadThroughput": rate,
            },
        )


LINKS = [
    Link("loopback", None),
    Link("8 Mbit/s 40 ms", 8, 40),
    Link("4 Mbit/s 100 ms", 4, 100),
    Link("2 Mbit/s 150 ms", 2, 150),
    Link("1.2 Mbit/s 150 ms", 1.2, 150),
]


@dataclass
class Play:
    first_frame_s: float
    stalls: int
    start_height: int
    height_after: int
    start_bandwidth_bps: int | None = None
    session_answer_s: float | None = None  # from the press: the session's answer arrived
    # playlists and init segments asked of the network before the first frame (the session
    # answer carries the start's own)
    start_fetches: int | None = None
    # from the press: the first video segment asked for and arrived (resource timing)
    first_segment_s: tuple[float, float] | None = None


def wait_js(page: Any, expression: str, *, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout_s:.0f}s: {expression}")


def signed_in_context(browser: Any, gateway: str, tokens: dict[str, str], profile: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.add_init_script(APP_PROBE)
    page.goto(gateway + "/login")
    page.evaluate(
        """([tokens, profile]) => {
          localStorage.setItem('cinemesh.tokens', JSON.stringify(tokens));
          localStorage.setItem('cinemesh.profile', JSON.stringify(profile));
        }""",
        [tokens, profile],
    )
    return page


def play_in_app(page: Any, gateway: str, title_path: str, *, watch_s: float) -> Play:
    """Open the title page over the page's link, let it settle (hls.js fetched and run at idle,
    as a member reading the synopsis gives it time to), press Play, and watch for `watch_s`."""
    page.goto(gateway + title_path)
    page.locator(".button-play").first.wait_for(timeout=60_000)
    wait_js(page, "typeof window.Hls !== 'undefined'", timeout_s=60)  # warmed at idle
    page.locator(".button-play").first.click()
    wait_js(page, "window.__qoe.playing !== null && window.cinemeshPlayer", timeout_s=60)
    time.sleep(watch_s)
    seen = page.evaluate(
        r"""() => {
          const p = window.cinemeshPlayer;
          return {ttff: p.beacons.ttff, stalls: window.__qoe.stalls, first: p.switches[0] || 0,
                  now: Number(p.shell.dataset.level || 0),
                  start: Number(p.started.start_bandwidth_bps) || null,
                  session: performance.getEntriesByType('resource')
                    .filter((e) => e.name.endsWith('/api/v1/playback/sessions'))
                    .map((e) => e.responseEnd - p.pressedAt).pop() ?? null,
                  fetches: performance.getEntriesByType('resource')
                    .filter((e) => /(\.m3u8|init\.mp4)$/.test(new URL(e.name).pathname)
                      && e.startTime < p.pressedAt + p.beacons.ttff).length,
                  segment: performance.getEntriesByType('resource')
                    .filter((e) => new URL(e.name).pathname.endsWith('.m4s'))
                    .map((e) => [e.startTime - p.pressedAt, e.responseEnd - p.pressedAt])[0]
                    ?? null};
        }"""
    )
    page.go_back()  # the player closes: its last beat carries what it measured of the link
    page.locator(".button-play").first.wait_for(timeout=30_000)
    session = None if seen["session"] is None else round(seen["session"] / 1000, 3)
    return Play(
        seen["ttff"] / 1000,
        seen["stalls"],
        seen["first"],
        seen["now"],
        seen["start"],
        session,
        seen["fetches"],
        None if seen["segment"] is None else tuple(round(t / 1000, 3) for t in seen["segment"]),
    )


def play_floor(
    browser: Any, floor: StaticFloor, link: Link, *, start_bps: int | None, watch_s: float
) -> Play:
    """The same hls.js on the same files from a plain static server, the page already loaded."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.goto(floor.url + "/floor.html")
        page.wait_for_function("typeof Hls !== 'undefined' && typeof window.go === 'function'")
        link.throttle(page)
        page.evaluate("(bps) => go(bps)", start_bps)
        wait_js(page, "window.__floor.playing !== null", timeout_s=60)
        time.sleep(watch_s)
        seen = page.evaluate(
            """() => ({ttff: window.__floor.playing - window.__floor.started,
                      stalls: window.__floor.stalls, first: window.__floor.heights[0] || 0,
                      now: hls.levels[hls.currentLevel]?.height || 0})"""
        )
        return Play(seen["ttff"] / 1000, seen["stalls"], seen["first"], seen["now"], start_bps)
    finally:
        context.close()


class StaticFloor:
    """A plain static server of one asset's files, copied through its signed manifest, and a
    page with the same hls.js: what playing costs with no platform in front of it."""

    def __init__(
        self, folder: Path, *, manifest_url: str, hls_js: bytes, start_level_js: bytes
    ) -> None:
        self.folder = folder
        self.first_segment_bytes: dict[int, int] = {}
        media = folder / "media"
        media.mkdir(parents=True, exist_ok=True)
        (folder / "hls.min.js").write_bytes(hls_js)
        (folder / "start_level.js").write_bytes(start_level_js)
        (folder / "floor.html").write_text(FLOOR_PAGE)
        with httpx.Client(timeout=30) as client:
            master = self._copy(client, manifest_url, media / "master.m3u8").decode()
            heights = [_height(line) for line in master.splitlines() if "RESOLUTION=" in line]
            variants = [u for u in _uris(master) if not u.startswith("#")]
            others = [u for u in _tag_uris(master) if u not in variants]  # audio, subtitles
            for n, uri in enumerate(variants + others):
                url = urljoin(manifest_url, uri)
                text = self._copy(client, url, media / uri).decode()
                sizes = [
                    len(self._copy(client, urljoin(url, f), (media / uri).parent / f))
                    for f in _uris(text)
                ]
                if n < len(heights):
                    self.first_segment_bytes[heights[n]] = sum(sizes[:2])  # init + segment 0
        handler = functools.partial(_Quiet, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _copy(client: httpx.Client, url: str, to: Path) -> bytes:
        answer = client.get(url)
        answer.raise_for_status()
        to.parent.mkdir(parents=True, exist_ok=True)
        to.write_bytes(answer.content)
        return answer.content

    def physical_floor_s(self, link: Link, height: int) -> float:
        """The start rendition's init and first segment over the link, plus the round trips
        for the master, the rendition playlist and the media (init and segment in turn)."""
        if link.mbps is None:
            return 0.0
        size = self.first_segment_bytes.get(height) or min(self.first_segment_bytes.values())
        return size * 8 / (link.mbps * 1e6) + 4 * link.rtt_ms / 1000

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".m3u8": "application/vnd.apple.mpegurl",
        ".m4s": "video/iso.segment",
        ".js": "text/javascript",
    }

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _uris(playlist: str) -> list[str]:
    """The URIs of a playlist: EXT-X-MAP's first, then every non-tag line."""
    found = []
    for line in playlist.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:") and 'URI="' in line:
            found.append(line.split('URI="', 1)[1].split('"', 1)[0])
        elif line and not line.startswith("#"):
            found.append(line)
    return found


def _tag_uris(playlist: str) -> list[str]:
    return [
        line.split('URI="', 1)[1].split('"', 1)[0]
        for line in playlist.splitlines()
        if line.startswith("#EXT-X-MEDIA:") and 'URI="' in line
    ]


def _height(stream_inf: str) -> int:
    resolution = stream_inf.split("RESOLUTION=", 1)[1].split(",", 1)[0]
    return int(resolution.split("x")[1])


def player_files(gateway: str) -> dict[str, bytes]:
    """hls.js and the player's start module, as the gateway serves them to the web app."""
    found = {}
    for name, path in [("hls_js", "vendor/hls.min.js"), ("start_level_js", "views/start_level.js")]:
        answer = httpx.get(f"{gateway}/static/{path}", timeout=30)
        answer.raise_for_status()
        found[name] = answer.content
    return found
