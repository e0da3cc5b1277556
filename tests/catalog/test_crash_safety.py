"""kill -9 of catalog while admins create and rename titles loses nothing acknowledged, on both
backends: every title answered 201 is there with its content, every change answered 200 holds
(or a later one whose answer the kill swallowed), and search, which knows titles only from
catalog's outbox events, ends up with exactly what catalog holds."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.catalog.api import start_platform
from tests.support.backends import Backend

SERVICES = ["registry", "catalog", "search", "gateway"]
WRITERS = 3
KILL_AFTER_S = 2.5
Content = tuple[str, int, float]  # what an admin wrote: name, year, popularity


def content_of(title: dict[str, Any]) -> Content:
    return (str(title["title"]), int(title["year"]), float(title["popularity"]))


class TitleWriter:
    """One admin creating titles and renaming its own, remembering what was acknowledged."""

    def __init__(self, client: httpx.Client, *, number: int, run: str, genre: str) -> None:
        self.client, self.number, self.genre = client, number, genre
        self.tag = f"{run} w{number}"
        self.acknowledged: dict[str, Content] = {}  # id -> content of the last 200/201
        self.unanswered: dict[str, set[Content]] = {}  # changes tried since that answer
        self.acked_at: list[float] = []
        self.statuses: list[int] = []
        self.misanswered: list[str] = []  # a success whose body is not what was written

    def step(self, n: int) -> None:
        mine = list(self.acknowledged)
        # popularity unique across writers: search pages are ordered by it, and ties across a
        # page boundary would hide hits from this check
        popularity = float(n * WRITERS + self.number)
        content: Content = (f"Crash {self.tag} n{n}", 1950 + n % 70, popularity)
        if n % 2 == 0 or not mine:
            body = {"title": content[0], "kind": "movie", "genres": [self.genre]}
            made = self.client.post(
                "/admin/titles", json={**body, "year": content[1], "popularity": content[2]}
            )
            self.statuses.append(made.status_code)
            if made.status_code == 201:
                if content_of(made.json()) != content:
                    self.misanswered.append(made.text)
                self.acknowledged[made.json()["id"]] = content
                self.acked_at.append(time.monotonic())
            return
        title_id = mine[n % len(mine)]
        renamed: Content = (f"Renamed {self.tag} n{n}", content[1], content[2])
        self.unanswered.setdefault(title_id, set()).add(renamed)
        changes = {"title": renamed[0], "year": renamed[1], "popularity": renamed[2]}
        changed = self.client.patch(f"/admin/titles/{title_id}", json=changes)
        self.statuses.append(changed.status_code)
        if changed.status_code == 200:
            if content_of(changed.json()) != renamed:
                self.misanswered.append(changed.text)
            self.acknowledged[title_id] = renamed
            self.unanswered[title_id] = set()
            self.acked_at.append(time.monotonic())

    def run(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            acked = len(self.acked_at)
            try:
                self.step(n)
            except httpx.HTTPError:
                pass
            if len(self.acked_at) == acked:
                time.sleep(0.1)  # back off while catalog is down, as an admin's tool would
            n += 1

    def allowed(self, title_id: str) -> set[Content]:
        """A change may commit while its answer is lost in the kill."""
        return {self.acknowledged[title_id]} | self.unanswered.get(title_id, set())


def wait_until(check: Any, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s}s")
        time.sleep(0.3)


def indexed(client: httpx.Client, genre: str) -> dict[str, Content]:
    """Every title search holds in the run's genre, with the content it indexed."""
    found: dict[str, Content] = {}
    offset = 0
    while True:
        page = client.get("/search", params={"genre": genre, "limit": 100, "offset": offset})
        if page.status_code != 200:
            return {}
        hits = page.json()["hits"]
        found.update({hit["id"]: content_of(hit) for hit in hits})
        offset += len(hits)
        if not hits or offset >= page.json()["total"]:
            return found


def test_no_acknowledged_title_change_or_its_event_is_lost(
    backend: Backend, data_dir: Path
) -> None:
    platform, mint = start_platform(data_dir, services=SERVICES, env=backend.env)
    try:
        run = uuid.uuid4().hex[:6]
        genre = f"Crash{run}"
        client = httpx.Client(
            base_url=f"{platform.gateway}/api/v1", headers=mint.admin_headers(), timeout=5
        )
        writers = [
            TitleWriter(
                httpx.Client(base_url=client.base_url, headers=client.headers, timeout=5),
                number=w,
                run=run,
                genre=genre,
            )
            for w in range(WRITERS)
        ]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        for thread in threads:
            thread.start()
        try:
            time.sleep(KILL_AFTER_S)
            platform.kill("catalog")
            killed_at = time.monotonic()

            def written_since_restart() -> bool:
                return sum(t > killed_at for w in writers for t in w.acked_at) >= 20

            wait_until(written_since_restart, timeout_s=30, what="catalog took no writes again")
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            for writer in writers:
                writer.client.close()
        platform.wait_healthy(service="catalog", timeout_s=60)
        assert platform.instances("catalog")[0]["restarts"] >= 1, "catalog was really killed"
        assert all(sum(t < killed_at for t in w.acked_at) > 5 for w in writers)
        assert 500 not in {s for w in writers for s in w.statuses}, "a write failed with a 500"
        assert not [m for w in writers for m in w.misanswered]

        stored: dict[str, Content] = {}
        for writer in writers:
            for title_id in writer.acknowledged:
                got = client.get(f"/titles/{title_id}")
                assert got.status_code == 200, (title_id, got.text)
                stored[title_id] = content_of(got.json())
                assert stored[title_id] in writer.allowed(title_id), (title_id, stored[title_id])
                assert got.json()["genres"] == [genre]

        def search_disagrees() -> dict[str, tuple[Content, Content | None]]:
            found = indexed(client, genre)
            return {i: (c, found.get(i)) for i, c in stored.items() if found.get(i) != c}

        deadline = time.monotonic() + 20
        while (behind := search_disagrees()) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not behind, f"search lacks {len(behind)} committed changes: {behind}"
        after = sum(t > killed_at for w in writers for t in w.acked_at)
        total = sum(len(w.acked_at) for w in writers)
        print(f"{backend.name}: {total - after} writes acknowledged before the kill, {after} after")
        client.close()
    finally:
        platform.stop()
