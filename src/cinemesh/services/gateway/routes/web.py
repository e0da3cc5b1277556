"""The web app at `/`: static ES modules, styles and the vendored hls.js, with the right content
types and caching; the app's own paths answer index.html so its router can take them (deep
links work), and any other non-API path answers the same shell with a 404 status, so the app
shows its not-found page while crawlers, probes and scanners see the truth. `/api/...`,
health, metrics and internal paths are never caught.

Nothing of the player's code may stand between pressing play and the picture: text files go
out gzip-compressed (once per change, not per request), the vendored hls.js is named in the
shell by a content-hashed URL that is cached for a year (`immutable`), the shell asks the
browser to fetch it at idle (prefetch) and, on a `/watch/...` deep link, at once (preload),
and lists every app module as a `modulepreload` so the module graph loads
in one round trip instead of one per level of imports."""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from cinemesh.platform.deps import provided
from cinemesh.platform.errors import not_found

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# Paths the app shell never answers: the API, the platform's own endpoints, static files.
RESERVED = r"(?:api|health|internal|static|metrics|docs|redoc|openapi\.json)(?:/|$)"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".map": "application/json",
}
# App files change with each release and have no hashed names: revalidate (cheap, ETag).
APP_CACHE = "no-cache"
# First path segments of the routes in web/app.js; anything else is a 404 for the app to show.
APP_SECTIONS = {"", "login", "signup", "profiles", "my-list", "title", "watch", "search", "ops"}
# A vendored library only changes when package-lock.json does.
VENDOR_CACHE = "public, max-age=86400"
# Asked for by its content hash (`?v=`): that URL's bytes never change.
HASHED_CACHE = "public, max-age=31536000, immutable"
COMPRESSIBLE = {".html", ".js", ".mjs", ".css", ".svg", ".json", ".webmanifest", ".map"}
MIN_COMPRESSED_BYTES = 512
# In index.html: the placeholders the shell fills with this release's URLs.
HLS_PLACEHOLDER = "/static/vendor/hls.min.js"
MODULES_PLACEHOLDER = "<!-- modulepreload -->"
VENDOR_FILES = {"hls.min.js": ("hls.js", "dist/hls.min.js")}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Media and sprites come from the edges (other origins); everything else is this origin.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; "
        "connect-src 'self' http: https:; worker-src 'self' blob:; font-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    ),
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str
    gzipped: bytes | None = None

    @property
    def digest(self) -> str:
        return self.etag.strip('"')

    @classmethod
    def of(cls, body: bytes, *, suffix: str) -> StaticFile:
        """The file and, when it is text worth compressing, its gzip form (made once)."""
        packed = None
        if suffix in COMPRESSIBLE and len(body) >= MIN_COMPRESSED_BYTES:
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            packed = packed if len(packed) < len(body) else None
        return cls(
            body=body,
            content_type=CONTENT_TYPES.get(suffix, "application/octet-stream"),
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            gzipped=packed,
        )


def accepts_gzip(request: Request) -> bool:
    """`Accept-Encoding` names gzip (or `*`) without refusing it with `q=0`."""
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() not in {"gzip", "*"}:
            continue
        quality = params.strip().removeprefix("q=").strip()
        try:
            return not quality or float(quality) > 0
        except ValueError:
            return False
    return False


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match against a file's ETag, whichever encoding's form the browser kept."""
    if not header:
        return False
    base = etag.strip('"')
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag == "*" or tag == base or tag == base + "-gz":
            return True
    return False


def node_modules_dirs() -> list[Path]:
    """Where `npm install` put the packages: configured, else the repository root, else cwd."""
    found = []
    if os.environ.get("CINEMESH_NODE_MODULES"):
        found.append(Path(os.environ["CINEMESH_NODE_MODULES"]))
    found += [parent / "node_modules" for parent in WEB_DIR.parents]
    found.append(Path.cwd() / "node_modules")
    return found


def vendor_path(name: str) -> Path | None:
    """A vendored browser library: a copy in `web/vendor/` if packaged, else from node_modules."""
    if name not in VENDOR_FILES:
        return None
    packaged = WEB_DIR / "vendor" / name
    if packaged.is_file():
        return packaged
    package, inside = VENDOR_FILES[name]
    for folder in node_modules_dirs():
        candidate = folder / package / inside
        if candidate.is_file():
            return candidate
    return None


def app_path(relative: str) -> Path | None:
    """A file of the web app, never outside its folder."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    candidate = (WEB_DIR / relative).resolve()
    if not candidate.is_relative_to(WEB_DIR) or not candidate.is_file():
        return None
    return candidate


class StaticFiles:
    """Reads and compresses each file once per change (mtime), answers 304 to a matching
    If-None-Match, and fills the shell with this release's hashed and preloaded URLs."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[float, StaticFile]] = {}
        self._shells: dict[bool, tuple[tuple[float, ...], StaticFile]] = {}

    def load(self, path: Path) -> StaticFile:
        mtime = path.stat().st_mtime
        cached = self._seen.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        loaded = StaticFile.of(path.read_bytes(), suffix=path.suffix)
        self._seen[path] = (mtime, loaded)
        return loaded

    def hls_url(self) -> str | None:
        """hls.js by its content hash, the URL the shell names and browsers keep for a year."""
        path = vendor_path("hls.min.js")
        if path is None:
            return None
        return f"{HLS_PLACEHOLDER}?v={self.load(path).digest[:16]}"

    def shell(self, *, watching: bool = False) -> StaticFile:
        """index.html with the hashed hls.js URL (fetched at idle, or at once on a watch page)
        and a modulepreload for every app module."""
        index = WEB_DIR / "index.html"
        modules = sorted(p for p in WEB_DIR.rglob("*.js") if "vendor" not in p.parts)
        vendor = vendor_path("hls.min.js")
        stamps = tuple(p.stat().st_mtime for p in [index, *modules, *([vendor] if vendor else [])])
        cached = self._shells.get(watching)
        if cached and cached[0] == stamps:
            return cached[1]
        text = index.read_text(encoding="utf-8")
        hls = self.hls_url()
        if hls:
            text = text.replace(f'href="{HLS_PLACEHOLDER}"', f'href="{hls}"')
        if watching:
            text = text.replace(
                '<link rel="prefetch" as="script"', '<link rel="preload" as="script"'
            )
        preloads = "\n  ".join(
            f'<link rel="modulepreload" href="/static/{p.relative_to(WEB_DIR).as_posix()}">'
            for p in modules
        )
        text = text.replace(MODULES_PLACEHOLDER, preloads)
        built = StaticFile.of(text.encode(), suffix=".html")
        self._shells[watching] = (stamps, built)
        return built

    def respond(self, request: Request, found: StaticFile, *, cache_control: str) -> Response:
        packed = found.gzipped if found.gzipped is not None and accepts_gzip(request) else None
        headers = {
            "ETag": f'"{found.digest}-gz"' if packed is not None else found.etag,
            "Cache-Control": cache_control,
            **SECURITY_HEADERS,
        }
        if found.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if etag_matches(request.headers.get("if-none-match"), found.etag):
            return Response(status_code=304, headers=headers)
        sent = packed if packed is not None else found.body
        if packed is not None:
            headers["Content-Encoding"] = "gzip"
        body = b"" if request.method == "HEAD" else sent
        response = Response(content=body, media_type=found.content_type, headers=headers)
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(sent))
        return response


class AppPath(Convertor[str]):
    """A path the web app's own router handles: anything but the reserved prefixes."""

    regex = rf"(?!{RESERVED})[^\x00]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("webapp", AppPath())


Files = Annotated[StaticFiles, provided(StaticFiles)]
router = APIRouter(include_in_schema=False)


def shell(files: StaticFiles, request: Request, *, found: bool = True, path: str = "") -> Response:
    """The app shell; on a `/watch/...` deep link it preloads hls.js instead of prefetching."""
    found_shell = files.shell(watching=path.startswith("watch/"))
    response = files.respond(request, found_shell, cache_control=APP_CACHE)
    if not found and response.status_code == 200:
        response.status_code = 404
    return response


@router.api_route("/static/vendor/{name}", methods=["GET", "HEAD"])
async def vendor(request: Request, files: Files, name: str) -> Response:
    """Browser libraries installed by npm (hls.js), never from a CDN."""
    path = vendor_path(name)
    if path is None:
        raise not_found("file")
    found = files.load(path)
    hashed = request.query_params.get("v") == found.digest[:16]
    return files.respond(request, found, cache_control=HASHED_CACHE if hashed else VENDOR_CACHE)


@router.api_route("/static/{relative:path}", methods=["GET", "HEAD"])
async def static(request: Request, files: Files, relative: str) -> Response:
    path = app_path(relative)
    if path is None:
        raise not_found("file")
    return files.respond(request, files.load(path), cache_control=APP_CACHE)


@router.api_route("/{path:webapp}", methods=["GET", "HEAD"])
async def app_shell(request: Request, files: Files, path: str) -> Response:
    """index.html for every other path: deep links open in the app, unknown ones as 404."""
    return shell(files, request, found=path.split("/", 1)[0] in APP_SECTIONS, path=path)
