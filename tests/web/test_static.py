"""The gateway serves the web app with no browser in the loop: the shell, the ES modules, the
styles and the vendored hls.js with the right content types and caching, the SPA fallback,
and JSON 404s for unknown API paths."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

MODULES = [
    "app.js",
    "api.js",
    "beacons.js",
    "router.js",
    "ui.js",
    "views/auth.js",
    "views/home.js",
    "views/title.js",
    "views/player.js",
    "views/hls_loader.js",
    "views/start_level.js",
    "views/markers.js",
    "views/tracks.js",
    "views/track_menu.js",
    "views/search.js",
    "views/profiles.js",
    "views/ops.js",
    "views/ops_qoe.js",
    "views/ops_experiments.js",
]


def gateway_client(monkeypatch: pytest.MonkeyPatch, data_dir: Path, **env: str) -> TestClient:
    monkeypatch.setenv("CINEMESH_DATA_DIR", str(data_dir))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from cinemesh.services.gateway.app import create_app

    return TestClient(create_app())


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[TestClient]:
    yield gateway_client(monkeypatch, data_dir)


def test_root_serves_the_app_shell(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/static/app.js">' in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]


@pytest.mark.parametrize("module", MODULES)
def test_every_module_is_javascript(client: TestClient, module: str) -> None:
    answer = client.get(f"/static/{module}")
    assert answer.status_code == 200, module
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_styles_are_css_and_revalidate_with_etag(client: TestClient) -> None:
    first = client.get("/static/styles.css")
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/css; charset=utf-8"
    again = client.get("/static/styles.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_hls_js_comes_from_node_modules(client: TestClient) -> None:
    answer = client.get("/static/vendor/hls.min.js")
    assert answer.status_code == 200, "run `make install` (npm install) first"
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "max-age" in answer.headers["cache-control"]
    assert b"isSupported" in answer.content
    assert client.get("/static/vendor/other.js").status_code == 404


@pytest.mark.parametrize(
    "path", ["/title/abc", "/watch/abc?episode=e1", "/search", "/ops", "/login"]
)
def test_app_paths_fall_back_to_the_shell(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "/static/app.js" in answer.text


@pytest.mark.parametrize("path", ["/x/y", "/v1/services", "/wp-login.php"])
def test_unknown_pages_answer_the_shell_with_404(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "/static/app.js" in answer.text


@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-thing", "/api", "/api/v2/home", "/static/nope.js"]
)
def test_unknown_api_and_static_paths_stay_json_404(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fcore.py"]
)
def test_static_files_never_leave_the_web_folder(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404 or "text/html" in answer.headers["content-type"]
    assert b"create_app" not in answer.content


def test_no_asset_points_outside_the_machine(client: TestClient) -> None:
    for name in ["index.html", "styles.css", *MODULES]:
        text = client.get(f"/static/{name}" if name != "index.html" else "/").text
        assert "https://" not in text and "http://" not in text.replace(
            "http://www.w3.org/2000/svg", ""
        ), name


def test_chaos_needs_an_admin(client: TestClient) -> None:
    answer = client.post("/api/v1/ops/chaos/kill", json={"service": "recommender"})
    assert answer.status_code == 401


def test_chaos_does_not_exist_with_dns_discovery(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    client = gateway_client(monkeypatch, data_dir, CINEMESH_DISCOVERY="dns")
    assert client.post("/api/v1/ops/chaos/kill", json={"service": "search"}).status_code == 404
    assert client.get("/api/v1/ops/chaos").status_code == 404


def hls_url_in_shell(text: str) -> str:
    found = re.search(
        r'<link rel="(?:prefetch|preload)" as="script" href="([^"]+)" id="hls-src">', text
    )
    assert found, "the shell names hls.js for the browser to fetch ahead"
    return found.group(1)


def test_hls_js_by_its_hash_is_compressed_and_immutable(client: TestClient) -> None:
    url = hls_url_in_shell(client.get("/").text)
    assert re.fullmatch(r"/static/vendor/hls\.min\.js\?v=[0-9a-f]{16}", url)
    answer = client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert "immutable" in answer.headers["cache-control"]
    assert "max-age=31536000" in answer.headers["cache-control"]
    assert int(answer.headers["content-length"]) < len(answer.content) / 2
    assert b"isSupported" in answer.content
    stale = client.get("/static/vendor/hls.min.js?v=0000000000000000")
    assert "immutable" not in stale.headers["cache-control"]


def test_a_client_without_gzip_gets_plain_bytes(client: TestClient) -> None:
    answer = client.get("/static/app.js", headers={"Accept-Encoding": "identity"})
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers
    refused = client.get("/static/app.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_the_shell_revalidates_and_preloads_the_module_graph(client: TestClient) -> None:
    first = client.get("/")
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["content-encoding"] == "gzip"
    for module in MODULES:
        assert f'<link rel="modulepreload" href="/static/{module}">' in first.text, module
    assert 'rel="prefetch" as="script"' in first.text  # at idle on other pages
    again = client.get("/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    watch = client.get("/watch/abc")
    assert 'rel="preload" as="script"' in watch.text  # at once when the player opens
    assert hls_url_in_shell(watch.text) == hls_url_in_shell(first.text)
