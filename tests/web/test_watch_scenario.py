"""A member's evening, in a real browser against the whole platform: sign up, make a profile,
search with a typo, open the title, watch (time advances, the rendition switches), find it in
Continue watching; then the recommender dies and home still renders, without an error."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.platform import LocalPlatform
from tests.web.catalog import SeededCatalog

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PLAYER = "[data-testid=player]"


def player_state(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
              const video = document.querySelector('video');
              const player = document.querySelector('[data-testid=player]');
              return {time: video ? video.currentTime : -1, ...(player ? player.dataset : {})};
            }"""
        )
    )


def wait_for(check: Any, *, timeout_s: float, every_s: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    return last


def sign_up_with_a_profile(page: Any, platform: LocalPlatform, artifacts: Path) -> None:
    page.goto(platform.gateway + "/")
    page.get_by_role("heading", name="Sign In").wait_for()
    page.get_by_role("link", name="Sign up now").click()
    page.fill("input[name=email]", f"viewer-{uuid.uuid4().hex[:10]}@example.com")
    page.fill("input[name=password]", f"Pw-{uuid.uuid4().hex}")
    page.screenshot(path=artifacts / "01-sign-up.png")
    page.get_by_role("button", name="Create account").click()
    page.locator("form.profile-form").wait_for()
    page.fill("form.profile-form input[name=name]", "Eleven")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Done").click()
    page.get_by_role("heading", name="Who's watching?").wait_for()
    page.screenshot(path=artifacts / "02-whos-watching.png")
    page.locator(".profile-tile", has_text="Eleven").click()
    page.locator(".home").wait_for()


def search_and_open(page: Any, catalog: SeededCatalog, artifacts: Path) -> None:
    page.locator("nav.mainnav").get_by_role("link", name="Search").click()
    search = page.locator("#search-input")
    search.wait_for()
    search.press_sequentially("strangr", delay=60)  # as a person types: debounced
    hit = page.locator(f'.search-results .card[data-title-id="{catalog.series_id}"]')
    hit.wait_for(timeout=15_000)
    assert "strangr" in page.url
    page.screenshot(path=artifacts / "03-search.png")
    hit.click()
    page.locator(f'.title-page[data-title-id="{catalog.series_id}"]').wait_for()
    page.get_by_role("heading", name="Episodes").wait_for()
    page.screenshot(path=artifacts / "04-title.png")


def watch(page: Any, artifacts: Path) -> dict[str, Any]:
    page.locator(".title-actions .button-play").click()
    page.locator(f'{PLAYER}[data-state="playing"]').wait_for(timeout=30_000)
    started_at = player_state(page)["time"]
    advanced = wait_for(
        lambda: player_state(page)["time"] >= started_at + 5 and player_state(page),
        timeout_s=45,
    )
    assert advanced, f"the video did not advance 5 s: {player_state(page)}"
    if int(player_state(page).get("switches", "0")) < 1:
        current = player_state(page).get("level")
        page.mouse.move(400, 300)
        page.locator("[data-control=quality]").click()
        page.screenshot(path=artifacts / "05-quality-menu.png")
        other = page.locator(".quality-menu button[data-level]:not([data-level='-1'])")
        choices = [other.nth(i) for i in range(other.count())]
        target = next(c for c in choices if not c.inner_text().startswith(f"{current}p"))
        target.click()
    switched = wait_for(lambda: int(player_state(page).get("switches", "0")) >= 1, timeout_s=20)
    state = player_state(page)
    assert switched, f"no rendition switch: {state}"
    assert int(state["levels"]) >= 2, state
    page.mouse.move(400, 300)
    seek = page.locator(".seek").bounding_box()
    page.mouse.move(seek["x"] + seek["width"] * 0.5, seek["y"] + seek["height"] / 2)
    page.screenshot(path=artifacts / "06-player.png")
    return state


def played_by_telemetry(platform: LocalPlatform, title_id: str) -> dict[str, Any] | None:
    """The title's QoE once the player's beacons (the last ones by sendBeacon) have arrived."""
    body = httpx.get(f"{platform.gateway}/api/v1/ops/telemetry", timeout=10).json()
    row = next((r for r in body.get("by_title", []) if r["title"] == title_id), None)
    return row if row and row["play_delay_p50_ms"] is not None and row["played_s"] >= 3 else None


def continue_watching_has(page: Any, platform: LocalPlatform, title_id: str) -> bool:
    page.goto(platform.gateway + "/")
    page.locator(".home").wait_for()
    card = page.locator(f'[data-row-id="continue-watching"] .card[data-title-id="{title_id}"]')
    return card.count() > 0


def test_sign_up_search_watch_and_continue(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else outside.append(request.url)
        ),
    )
    try:
        sign_up_with_a_profile(page, platform, artifacts)
        search_and_open(page, catalog, artifacts)
        state = watch(page, artifacts)
        page.keyboard.press("Escape")  # back to the title; the player stops the session
        page.locator(".title-page").wait_for()
        qoe = wait_for(
            lambda: played_by_telemetry(platform, catalog.series_id), timeout_s=30, every_s=1
        )
        assert qoe, "the player's beacons never reached telemetry"
        page.goto(platform.gateway + "/ops")
        row = page.locator(f'.qoe-table[data-by="title"] tr[data-key="{catalog.series_id}"]')
        row.wait_for(timeout=15_000)
        page.screenshot(path=artifacts / "07a-ops-play-quality.png", full_page=True)
        found = wait_for(
            lambda: continue_watching_has(page, platform, catalog.series_id),
            timeout_s=30,
            every_s=1,
        )
        page.screenshot(path=artifacts / "07-home-continue-watching.png", full_page=True)
        assert found, "the title is not in Continue watching"
        progress = page.locator(
            f'[data-row-id="continue-watching"] .card[data-title-id="{catalog.series_id}"] .progress'
        )
        assert progress.count() == 1
        assert not problems, problems
        assert not outside, f"requests left the machine: {outside}"
        assert state["time"] >= 5
    finally:
        context.close()


def test_home_survives_the_recommender_dying(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog, artifacts: Path
) -> None:
    names = {i["service"] for i in platform.instances()}
    assert "recommender" in names, f"the platform runs no recommender yet: {sorted(names)}"
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        member = sign_in_new_member(platform)
        page.goto(platform.gateway + "/login")
        page.evaluate(
            """([tokens, profile]) => {
              localStorage.setItem('cinemesh.tokens', JSON.stringify(tokens));
              localStorage.setItem('cinemesh.profile', JSON.stringify(profile));
            }""",
            [member["tokens"], member["profile"]],
        )
        page.goto(platform.gateway + "/")
        page.locator(".rows .row").first.wait_for(timeout=15_000)
        platform.control("POST", "/kill", json={"service": "recommender", "hold_s": 600})
        time.sleep(11)  # past the gateway's fresh window for recommendations
        page.goto(platform.gateway + "/")
        page.locator(".rows .row").first.wait_for(timeout=15_000)
        home = page.locator(".home")
        page.screenshot(path=artifacts / "08-home-recommender-down.png", full_page=True)
        assert page.locator(".rows .row .card").count() > 0
        assert page.locator("[role=alert]").count() == 0
        assert page.locator(".empty").count() == 0
        degraded = home.get_attribute("data-degraded") or ""
        assert "recommender" in degraded.split(), degraded
        assert not dialogs and not problems, (dialogs, problems)
    finally:
        context.close()
        platform.control("POST", "/revive", json={"service": "recommender"})


def sign_in_new_member(platform: LocalPlatform) -> dict[str, Any]:
    from tests.support.users import sign_up

    member = sign_up(platform, profile="Hopper")
    profile = httpx.get(
        f"{platform.gateway}/api/v1/profiles/{member.profile_id}",
        headers=member.headers,
        timeout=10,
    ).json()
    return {
        "tokens": {"access_token": member.access_token, "refresh_token": member.refresh_token},
        "profile": profile,
    }


def signed_in_page(browser: Any, platform: LocalPlatform, who: Any, profile: Any = None) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(platform.gateway + "/login")
    page.evaluate(
        """([tokens, profile]) => {
          localStorage.setItem('cinemesh.tokens', JSON.stringify(tokens));
          if (profile) localStorage.setItem('cinemesh.profile', JSON.stringify(profile));
        }""",
        [{"access_token": who.access_token, "refresh_token": who.refresh_token}, profile],
    )
    return page


def test_rows_take_arrow_keys(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog
) -> None:
    member = sign_in_new_member(platform)
    page = browser.new_context().new_page()
    page.goto(platform.gateway + "/login")
    page.evaluate(
        """([tokens, profile]) => {
          localStorage.setItem('cinemesh.tokens', JSON.stringify(tokens));
          localStorage.setItem('cinemesh.profile', JSON.stringify(profile));
        }""",
        [member["tokens"], member["profile"]],
    )
    page.goto(platform.gateway + "/")
    first_row = page.locator(".rows .row").first
    first_row.locator(".card").first.focus()
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("document.activeElement.dataset.titleId")
    assert focused == first_row.locator(".card").nth(1).get_attribute("data-title-id")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.closest('.row').dataset.rowId") == (
        page.locator(".rows .row").nth(1).get_attribute("data-row-id")
    )
    page.keyboard.press("Enter")
    page.locator(".title-page").wait_for()
    page.context.close()


def test_a_play_from_a_home_row_tells_playback_the_row(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog
) -> None:
    """Experiments count the plays started from a recommendation row by the row the player
    names: the home page's cards carry their row to the title page, and its Play button to
    the session start."""
    from tests.support.users import sign_up

    member = sign_up(platform)
    page = open_as(browser, platform, member, "/")
    try:
        first_row = page.locator(".rows .row").first
        first_row.locator(".card").first.wait_for()
        row_id = first_row.get_attribute("data-row-id")
        href = first_row.locator(".card").first.get_attribute("href") or ""
        assert href.startswith("/") and "row=" in href, href
        assert parse_qs(urlsplit(href).query)["row"] == [row_id]
        page.goto(f"{platform.gateway}/title/{catalog.series_id}?row=top-picks")
        play = page.locator(".title-actions .button-play")
        play.wait_for()
        assert parse_qs(urlsplit(play.get_attribute("href") or "").query)["row"] == ["top-picks"]
        with page.expect_request(
            lambda r: r.method == "POST" and r.url.endswith("/api/v1/playback/sessions"),
            timeout=20_000,
        ) as started:
            play.click()
        assert started.value.post_data_json["row"] == "top-picks"
    finally:
        page.context.close()


def test_ops_page_shows_services_and_its_chaos_buttons_work_for_an_admin(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog, artifacts: Path
) -> None:
    from tests.support.users import login

    boss = login(platform, catalog.admin.email, catalog.admin.password)
    page = signed_in_page(browser, platform, boss)
    try:
        page.goto(platform.gateway + "/ops")
        card = page.locator('.ops-card[data-service="search"]')
        card.wait_for()
        card.locator("[data-chaos=slow]").wait_for()
        card.locator("[data-chaos=slow]").click()
        search_url = platform.url_of("search")
        slowed = wait_for(
            lambda: (
                httpx.get(f"{search_url}/internal/faults", headers=platform.headers, timeout=5)
                .json()
                .get("latency_ms")
            ),
            timeout_s=10,
        )
        assert slowed == 1500
        page.screenshot(path=artifacts / "09-ops.png", full_page=True)
        card.locator("[data-chaos=heal]").click()
        healed = wait_for(
            lambda: (
                httpx.get(f"{search_url}/internal/faults", headers=platform.headers, timeout=5)
                .json()
                .get("latency_ms")
                == 0
            ),
            timeout_s=10,
        )
        assert healed
        assert page.locator('.ops-card[data-service="gateway"] [data-chaos]').count() == 0
    finally:
        page.context.close()


def test_playback_fails_over_to_another_edge(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog, artifacts: Path
) -> None:
    member = sign_in_new_member(platform)
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(platform.gateway + "/login")
    page.evaluate(
        """([tokens, profile]) => {
          localStorage.setItem('cinemesh.tokens', JSON.stringify(tokens));
          localStorage.setItem('cinemesh.profile', JSON.stringify(profile));
        }""",
        [member["tokens"], member["profile"]],
    )
    killed = None
    try:
        page.goto(f"{platform.gateway}/watch/{catalog.series_id}?episode={catalog.episode_ids[0]}")
        page.locator(f'{PLAYER}[data-state="playing"]').wait_for(timeout=30_000)
        edges = page.evaluate("window.cinemeshPlayer.edges")
        assert len(edges) >= 2, edges
        in_use = page.evaluate("window.cinemeshPlayer.edges[window.cinemeshPlayer.edgeIndex]")
        port = int(in_use.rsplit(":", 1)[1])
        killed = next(i for i in platform.instances("edge") if i["public_port"] == port)
        platform.control(
            "POST", "/kill", json={"service": "edge", "instance": killed["instance"], "hold_s": 120}
        )
        # a new rendition needs a playlist and segments the player has not fetched yet
        other = page.evaluate(
            """() => {
              const p = window.cinemeshPlayer;
              const now = p.hls.currentLevel;
              return p.hls.levels.findIndex((_, i) => i !== now);
            }"""
        )
        page.evaluate(f"window.cinemeshPlayer.chooseLevel({other})")
        before = player_state(page)["time"]
        moved = wait_for(
            lambda: player_state(page)["time"] >= before + 4 and player_state(page), timeout_s=40
        )
        state = player_state(page)
        page.screenshot(path=artifacts / "10-player-after-failover.png")
        assert moved, f"playback stalled after the edge died: {state}"
        assert int(state.get("failovers", "0")) >= 1, state
        assert state["state"] != "error", state
    finally:
        page.context.close()
        if killed is not None:
            platform.control("POST", "/revive", json={"service": "edge"})


def open_as(browser: Any, platform: LocalPlatform, member: Any, path: str) -> Any:
    profile = httpx.get(
        f"{platform.gateway}/api/v1/profiles/{member.profile_id}",
        headers=member.headers,
        timeout=10,
    ).json()
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(platform.gateway + "/login")
    page.evaluate(
        """([tokens, profile]) => {
          localStorage.setItem('cinemesh.tokens', JSON.stringify(tokens));
          localStorage.setItem('cinemesh.profile', JSON.stringify(profile));
        }""",
        [{"access_token": member.access_token, "refresh_token": member.refresh_token}, profile],
    )
    page.goto(platform.gateway + path)
    return page


def test_player_explains_stream_limit_and_profile_restrictions(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog, artifacts: Path
) -> None:
    from tests.support.users import sign_up

    watch_path = f"/watch/{catalog.series_id}?episode={catalog.episode_ids[0]}"
    basic = sign_up(platform, plan="basic")
    elsewhere = httpx.post(
        f"{platform.gateway}/api/v1/playback/sessions",
        json={
            "profile_id": basic.profile_id,
            "title_id": catalog.series_id,
            "episode_id": catalog.episode_ids[0],
        },
        headers=basic.headers,
        timeout=10,
    )
    assert elsewhere.status_code == 201, elsewhere.text
    page = open_as(browser, platform, basic, watch_path)
    page.locator(f'{PLAYER}[data-code="STREAM_LIMIT"]').wait_for(timeout=15_000)
    assert "Too many people are watching" in page.locator("[role=alert]").inner_text()
    page.screenshot(path=artifacts / "11-stream-limit.png")
    page.context.close()

    kid = sign_up(platform, profile="Kiddo", kids=True)
    page = open_as(browser, platform, kid, watch_path)
    page.locator(f'{PLAYER}[data-state="refused"]').wait_for(timeout=15_000)
    assert "Not available on this profile" in page.locator("[role=alert]").inner_text()
    page.screenshot(path=artifacts / "12-kids-refused.png")
    page.goto(f"{platform.gateway}/title/{catalog.series_id}")
    page.get_by_text("Not available on this profile.").wait_for()
    assert page.locator(".title-actions .button-play").count() == 0
    page.context.close()


def mark_the_first_episode(platform: LocalPlatform, catalog: SeededCatalog) -> None:
    """An admin's intro (1-20 s) and credits (from 27 s) on the first episode."""
    marked = httpx.patch(
        f"{platform.gateway}/api/v1/admin/titles/{catalog.series_id}/episodes/"
        f"{catalog.episode_ids[0]}",
        json={"intro_start_s": 1, "intro_end_s": 20, "credits_start_s": 27},
        headers=catalog.admin.headers,
        timeout=10,
    )
    assert marked.status_code == 200, marked.text


def give_the_second_episode_a_video(platform: LocalPlatform, catalog: SeededCatalog) -> None:
    """A short video for episode 2, so that episode 1's next episode plays; once per session
    (the catalog names the next episode as soon as episode 2 has one)."""
    from tests.web.catalog import make_video, wait_ready

    boss, series_id, second = catalog.admin, catalog.series_id, catalog.episode_ids[1]

    def next_of_the_first() -> str | None:
        title = httpx.get(
            f"{platform.gateway}/api/v1/titles/{series_id}", headers=boss.headers, timeout=10
        ).json()
        return title["seasons"][0]["episodes"][0].get("next_episode_id")

    if next_of_the_first() == second:
        return
    video = make_video(platform.data_dir / "episode-2.mp4", seconds=4, width=320, height=180)
    with video.open("rb") as source:
        uploaded = httpx.post(
            f"{platform.gateway}/api/v1/admin/titles/{series_id}/media",
            params={"episode_id": second},
            files={"file": ("episode-2.mp4", source, "video/mp4")},
            headers=boss.headers,
            timeout=120,
        )
    assert uploaded.status_code == 202, uploaded.text
    wait_ready(platform, boss, str(uploaded.json()["job_id"]), timeout_s=240)
    assert wait_for(lambda: next_of_the_first() == second, timeout_s=60), next_of_the_first()


def test_skip_intro_then_the_credits_count_down_to_the_next_episode(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog, artifacts: Path
) -> None:
    from tests.support.users import sign_up

    first, second = catalog.episode_ids
    mark_the_first_episode(platform, catalog)
    give_the_second_episode_a_video(platform, catalog)
    page = open_as(
        browser, platform, sign_up(platform), f"/watch/{catalog.series_id}?episode={first}"
    )
    try:
        page.locator(f'{PLAYER}[data-state="playing"]').wait_for(timeout=30_000)
        skip = page.locator("[data-control=skip-intro]")
        skip.wait_for(state="visible", timeout=15_000)
        page.screenshot(path=artifacts / "13-skip-intro.png")
        skip.click()
        assert player_state(page)["time"] >= 19.9
        skip.wait_for(state="hidden", timeout=5_000)

        page.evaluate("document.querySelector('video').currentTime = 26.5")
        up_next = page.locator(".up-next")
        up_next.wait_for(state="visible", timeout=15_000)
        assert "Next episode in" in up_next.inner_text()
        page.screenshot(path=artifacts / "14-next-episode-countdown.png")
        with page.expect_request(
            lambda r: r.method == "POST" and r.url.endswith("/api/v1/playback/sessions"),
            timeout=20_000,
        ) as started:
            pass  # the countdown runs out by itself
        assert started.value.post_data_json["episode_id"] == second
        page.wait_for_url(f"**/watch/{catalog.series_id}?episode={second}", timeout=10_000)
        page.locator(f'{PLAYER}[data-state="playing"]').wait_for(timeout=30_000)
    finally:
        page.context.close()


def test_a_profile_without_autoplay_is_offered_the_next_episode_but_not_moved_on(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog
) -> None:
    """A kids profile whose grown-ups turned the next episode's autoplay off: at the credits
    the panel offers it without a countdown, nothing starts by itself, Play now still works."""
    from tests.support.users import sign_up

    first, second = catalog.episode_ids
    mark_the_first_episode(platform, catalog)
    give_the_second_episode_a_video(platform, catalog)
    member = sign_up(platform)
    turned_off = httpx.patch(
        f"{platform.gateway}/api/v1/profiles/{member.profile_id}",
        json={"autoplay_next_episode": False},
        headers=member.headers,
        timeout=10,
    )
    assert turned_off.status_code == 200 and turned_off.json()["autoplay_next_episode"] is False
    page = open_as(browser, platform, member, f"/watch/{catalog.series_id}?episode={first}")
    starts: list[str] = []
    page.on(
        "request",
        lambda r: (
            starts.append(r.url)
            if r.method == "POST" and r.url.endswith("/api/v1/playback/sessions")
            else None
        ),
    )
    try:
        page.locator(f'{PLAYER}[data-state="playing"]').wait_for(timeout=30_000)
        page.evaluate("document.querySelector('video').currentTime = 26.5")
        up_next = page.locator(".up-next")
        up_next.wait_for(state="visible", timeout=15_000)
        assert "Next episode in" not in up_next.inner_text()
        page.wait_for_timeout(12_000)  # past the 8 s countdown a profile with autoplay gets
        assert starts == [] and f"episode={first}" in page.url
        with page.expect_request(
            lambda r: r.method == "POST" and r.url.endswith("/api/v1/playback/sessions"),
            timeout=20_000,
        ) as started:
            up_next.get_by_role("button", name="Play now").click()
        assert started.value.post_data_json["episode_id"] == second
    finally:
        page.context.close()


def test_continue_watching_offers_the_next_episode_once_one_is_finished(
    platform: LocalPlatform, catalog: SeededCatalog
) -> None:
    """A finished episode puts the next one in the row, from the start (history keeps the
    finished episode, the gateway asks the catalog which one follows it)."""
    from tests.support.users import sign_up

    first, second = catalog.episode_ids
    give_the_second_episode_a_video(platform, catalog)
    member = sign_up(platform)
    sessions = f"{platform.gateway}/api/v1/playback/sessions"
    body = {"profile_id": member.profile_id, "title_id": catalog.series_id, "episode_id": first}
    started = httpx.post(sessions, json=body, headers=member.headers, timeout=10)
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]
    watched_to = {"position_s": 39.5}  # of the first episode's 40 s
    beat = httpx.post(
        f"{sessions}/{session_id}/heartbeat", json=watched_to, headers=member.headers, timeout=10
    )
    assert beat.status_code == 200, beat.text
    httpx.delete(f"{sessions}/{session_id}", headers=member.headers, timeout=10)

    def row() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = httpx.get(
            f"{platform.gateway}/api/v1/profiles/{member.profile_id}/continue-watching",
            headers=member.headers,
            timeout=10,
        ).json()["items"]
        return [i for i in items if i["title_id"] == catalog.series_id]

    def offered() -> bool:
        found = row()
        return bool(found) and found[0]["episode_id"] == second

    assert wait_for(offered, timeout_s=15), row()
    item = row()[0]
    assert (item["episode_id"], item["after_episode_id"], item["position_s"]) == (second, first, 0)
    assert item["finished"] is False
    home = httpx.get(
        f"{platform.gateway}/api/v1/home",
        params={"profile_id": member.profile_id},
        headers=member.headers,
        timeout=10,
    ).json()
    rows = {r["id"]: r["items"] for r in home["rows"]}
    resumed = [i for i in rows.get("continue-watching", []) if i["id"] == catalog.series_id]
    assert resumed and resumed[0]["episode_id"] == second, home


def test_the_audio_and_subtitle_menu_starts_in_the_profiles_languages_and_saves_a_choice(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog
) -> None:
    """hls.js reports the tracks; a stand-in for it here (the encoder publishes audio and subtitle
    renditions, tests/encoder/test_ingest.py, but this module's platform seeds no such title).
    The choice is saved to the profile through the real API; the caption style in the browser."""
    from tests.support.users import sign_up

    member = sign_up(platform)
    profile_url = f"{platform.gateway}/api/v1/profiles/{member.profile_id}"
    prefer = {"audio_language": "fr", "subtitle_language": "pt-BR"}
    assert httpx.patch(profile_url, json=prefer, headers=member.headers, timeout=10).is_success
    page = open_as(browser, platform, member, "/")
    try:
        chosen = page.evaluate(
            """async () => {
              const { TrackMenu } = await import('/static/views/track_menu.js');
              const hls = {
                on() {}, audioTrack: 0, subtitleTrack: -1, subtitleDisplay: false,
                media: document.createElement('video'),
                audioTracks: [{ lang: 'en', name: 'English' }, { lang: 'fra', name: 'Français' }],
                subtitleTracks: [{ lang: 'en', name: 'English' }, { lang: 'pt-BR', name: 'Português' }],
              };
              const Events = { AUDIO_TRACKS_UPDATED: 1, SUBTITLE_TRACKS_UPDATED: 2,
                               AUDIO_TRACK_SWITCHED: 3, SUBTITLE_TRACK_SWITCH: 4 };
              const menu = new TrackMenu({ hls, Hls: { Events } });
              menu.element.style.cssText = 'position: fixed; left: 40px; bottom: 40px; z-index: 1000';
              document.body.append(menu.element);
              menu.applyPreferred('audio');
              menu.applyPreferred('subtitles');
              window.trackMenu = menu;
              return { audio: hls.audioTrack, subtitles: hls.subtitleTrack, shown: hls.subtitleDisplay,
                       button: !menu.button.hidden };
            }"""
        )
        assert chosen == {"audio": 1, "subtitles": 1, "shown": True, "button": True}
        page.locator("[data-control=tracks]").click()
        page.locator(".tracks-menu button", has_text="Off").click()

        def saved() -> Any:
            return httpx.get(profile_url, headers=member.headers, timeout=10).json()

        assert wait_for(lambda: saved()["subtitle_language"] is None, timeout_s=10), saved()
        assert page.evaluate("window.trackMenu.hls.subtitleDisplay") is False
        assert saved()["audio_language"] == "fr"

        # caption size and background: kept per profile in this browser, drawn by ::cue rules
        page.locator("[data-control=tracks]").click()
        page.locator(".tracks-menu button", has_text="Large").click()
        page.locator(".tracks-menu button", has_text="Solid background").click()
        drawn = page.evaluate(
            """(id) => ({ size: window.trackMenu.hls.media.dataset.captionSize,
                         background: window.trackMenu.hls.media.dataset.captionBackground,
                         kept: JSON.parse(localStorage.getItem('cinemesh.captions.' + id)) })""",
            member.profile_id,
        )
        assert drawn == {
            "size": "large",
            "background": "solid",
            "kept": {"size": "large", "background": "solid"},
        }, drawn
    finally:
        page.context.close()


def test_play_delay_on_a_4_mbit_link_is_near_the_static_floor(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog, tmp_path: Path
) -> None:
    """Pressing Play in the web app over 4 Mbit/s with 100 ms round trips shows the picture
    about as soon as the same hls.js does from a plain static server of the same files: the
    player's code is not in front of the video and the first segment is a small one."""
    from tests.web.play_delay import (
        Link,
        StaticFloor,
        play_floor,
        play_in_app,
        player_files,
        signed_in_context,
    )

    link = Link("4 Mbit/s 100 ms", 4, 100)
    member = sign_in_new_member(platform)
    page = signed_in_context(browser, platform.gateway, member["tokens"], member["profile"])
    try:
        link.throttle(page)
        title = f"/title/{catalog.series_id}"
        app = play_in_app(page, platform.gateway, title, watch_s=4)
    finally:
        page.context.close()
    who = member["tokens"]["access_token"]
    started = httpx.post(
        f"{platform.gateway}/api/v1/playback/sessions",
        json={
            "profile_id": member["profile"]["id"],
            "title_id": catalog.series_id,
            "episode_id": catalog.episode_ids[0],
        },
        headers={"Authorization": f"Bearer {who}"},
        timeout=10,
    ).json()
    files = player_files(platform.gateway)
    floor = StaticFloor(tmp_path / "floor", manifest_url=started["manifest_url"], **files)
    try:
        plain = play_floor(browser, floor, link, start_bps=app.start_bandwidth_bps, watch_s=4)
    finally:
        floor.close()
    print(f"play delay at {link.name}: app {app}, floor {plain}")
    assert app.start_bandwidth_bps == 500_000  # a first play: the conservative start
    assert app.stalls == 0 and plain.stalls == 0, (app, plain)
    assert app.first_frame_s <= 1.1 * plain.first_frame_s + 0.6, (app, plain)


def test_a_first_play_climbs_to_the_top_without_a_rebuffer_and_the_next_starts_from_the_link(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog
) -> None:
    """A new member on a steady 4 Mbit/s link starts at the conservative default on the lowest
    rendition, reaches the highest one the link sustains (this episode's top) within 20 s and
    never rebuffers; the next play on the same device starts from what that play measured (on
    this ladder still the lowest rung: the 360p first second does not load within half a
    second at 70% of 4 Mbit/s), without a stall."""
    from tests.web.play_delay import Link, play_in_app, signed_in_context

    link = Link("4 Mbit/s 100 ms", 4, 100)
    member = sign_in_new_member(platform)
    page = signed_in_context(browser, platform.gateway, member["tokens"], member["profile"])
    try:
        link.throttle(page)
        title = f"/title/{catalog.series_id}"
        first = play_in_app(page, platform.gateway, title, watch_s=20)
        time.sleep(1)  # the closing beat carries what the first play measured
        again = play_in_app(page, platform.gateway, title, watch_s=2)
    finally:
        page.context.close()
    print(f"at {link.name}: first {first}, again {again}")
    top = max(episode_heights(platform, member, catalog))
    assert first.start_bandwidth_bps == 500_000 and first.start_height < top, first
    assert first.height_after == top and first.stalls == 0, first
    assert again.start_bandwidth_bps and again.start_bandwidth_bps > 500_000, again
    assert again.start_height >= first.start_height and again.stalls == 0, (first, again)


def test_a_member_measured_on_a_fast_link_starts_higher_and_does_not_stall_when_it_got_slower(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog
) -> None:
    """A new member's first play starts on the lowest rendition; what it measured on an 8 Mbit/s
    link starts the next one on a higher rendition of the same title. When that next play
    meets a 1.2 Mbit/s link with 150 ms round trips instead, the short first segment and ABR
    keep the picture going: no stall in its first 8 s. The session answer carried the start's
    playlists and init segment: nothing of them asked of the link before the picture."""
    from tests.web.play_delay import Link, play_in_app, signed_in_context

    member = sign_in_new_member(platform)
    page = signed_in_context(browser, platform.gateway, member["tokens"], member["profile"])
    title = f"/title/{catalog.series_id}"
    try:
        Link("8 Mbit/s 40 ms", 8, 40).throttle(page)
        fast = play_in_app(page, platform.gateway, title, watch_s=5)
        time.sleep(1)
        Link("1.2 Mbit/s 150 ms", 1.2, 150).throttle(page)
        slower = play_in_app(page, platform.gateway, title, watch_s=8)
    finally:
        page.context.close()
    print(f"fast {fast}, then slower {slower}")
    assert slower.start_bandwidth_bps and slower.start_bandwidth_bps > 2_000_000, slower
    assert fast.start_bandwidth_bps == 500_000, fast  # a new member
    assert slower.start_height > fast.start_height, (fast, slower)
    assert slower.stalls == 0, slower
    assert slower.start_fetches == 0, slower


def test_the_first_segment_is_asked_for_when_the_session_answers_and_only_once(
    browser: Any, platform: LocalPlatform, catalog: SeededCatalog
) -> None:
    """The player asks for the start rendition's first segment itself the moment the session
    answers (a fetch, while hls.js is being built; hls.js's own requests are XHRs), and hls.js
    takes that answer instead of asking the link for the segment again."""
    from tests.web.play_delay import Link, play_in_app, signed_in_context

    member = sign_in_new_member(platform)
    page = signed_in_context(browser, platform.gateway, member["tokens"], member["profile"])
    try:
        Link("8 Mbit/s 40 ms", 8, 40).throttle(page)
        play = play_in_app(page, platform.gateway, f"/title/{catalog.series_id}", watch_s=2)
        asked = page.evaluate(
            """() => {
              const all = performance.getEntriesByType('resource');
              const session = all.find((e) => e.name.endsWith('/api/v1/playback/sessions'));
              const segments = all.filter((e) => new URL(e.name).pathname.endsWith('.m4s'));
              const first = segments[0];
              return { by: first.initiatorType, after_answer: first.startTime >= session.responseEnd,
                       times: segments.filter((e) => e.name === first.name).length };
            }"""
        )
    finally:
        page.context.close()
    assert play.stalls == 0, play
    assert asked == {"by": "fetch", "after_answer": True, "times": 1}, asked


def episode_heights(
    platform: LocalPlatform, member: dict[str, Any], catalog: SeededCatalog
) -> list[int]:
    """The heights of the first episode's renditions, from a signed master playlist."""
    headers = {"Authorization": f"Bearer {member['tokens']['access_token']}"}
    started = httpx.post(
        f"{platform.gateway}/api/v1/playback/sessions",
        json={
            "profile_id": member["profile"]["id"],
            "title_id": catalog.series_id,
            "episode_id": catalog.episode_ids[0],
        },
        headers=headers,
        timeout=10,
    ).json()
    master = httpx.get(started["manifest_url"], timeout=10).text
    httpx.delete(
        f"{platform.gateway}/api/v1/playback/sessions/{started['session_id']}",
        headers=headers,
        timeout=10,
    )
    return [
        int(line.split("RESOLUTION=", 1)[1].split(",", 1)[0].split("x")[1])
        for line in master.splitlines()
        if "RESOLUTION=" in line
    ]
