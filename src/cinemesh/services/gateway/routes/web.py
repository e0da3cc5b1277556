"""The web app at `/`: static ES modules, styles and the vendored hls.js, with the right content
types and caching; the app's own paths answer index.html so its router can take them (deep
links work), and any other non-API path answers the same shell with a 404 status, so the app
shows its not-found page while crawlers, probes and scanners see the truth. `/api/...`,
health, metrics and internal paths are never caught."""

from __future__ import annotations

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
    cache_control: str


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
    """Reads each file once per change (mtime), answers 304 to a matching If-None-Match."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[float, StaticFile]] = {}

    def load(self, path: Path, *, cache_control: str) -> StaticFile:
        mtime = path.stat().st_mtime
        cached = self._seen.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        body = path.read_bytes()
        loaded = StaticFile(
            body=body,
            content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            cache_control=cache_control,
        )
        self._seen[path] = (mtime, loaded)
        return loaded

    def respond(self, request: Request, path: Path, *, cache_control: str) -> Response:
        found = self.load(path, cache_control=cache_control)
        headers = {
            "ETag": found.etag,
            "Cache-Control": found.cache_control,
            **SECURITY_HEADERS,
        }
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else found.body
        response = Response(content=body, media_type=found.content_type, headers=headers)
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(found.body))
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


def shell(files: StaticFiles, request: Request, *, found: bool = True) -> Response:
    response = files.respond(request, WEB_DIR / "index.html", cache_control=APP_CACHE)
    if not found and response.status_code == 200:
        response.status_code = 404
    return response


@router.api_route("/static/vendor/{name}", methods=["GET", "HEAD"])
async def vendor(request: Request, files: Files, name: str) -> Response:
    """Browser libraries installed by npm (hls.js), never from a CDN."""
    path = vendor_path(name)
    if path is None:
        raise not_found("file")
    return files.respond(request, path, cache_control=VENDOR_CACHE)


@router.api_route("/static/{relative:path}", methods=["GET", "HEAD"])
async def static(request: Request, files: Files, relative: str) -> Response:
    path = app_path(relative)
    if path is None:
        raise not_found("file")
    return files.respond(request, path, cache_control=APP_CACHE)


@router.api_route("/{path:webapp}", methods=["GET", "HEAD"])
async def app_shell(request: Request, files: Files, path: str) -> Response:
    """index.html for every other path: deep links open in the app, unknown ones as 404."""
    return shell(files, request, found=path.split("/", 1)[0] in APP_SECTIONS)
