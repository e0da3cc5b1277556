"""The rows a profile gets, from a snapshot and its history, without HTTP or a database."""

from __future__ import annotations

from cinemesh.contracts.maturity import allows
from cinemesh.services.recommender.collaborative import ModelParams
from cinemesh.services.recommender.rows import build_rows
from cinemesh.services.recommender.service import ProfileHistory
from cinemesh.services.recommender.snapshot import Snapshot, build_snapshot
from tests.recommender.synthetic import cluster_records, recent, title_ids, training_data


def snapshot() -> Snapshot:
    records = [(u, i, w, recent(days=1) + t % 1000) for u, i, w, t in cluster_records()]
    return build_snapshot(training_data(records), params=ModelParams(lam=10.0))


def horror_fan() -> ProfileHistory:
    watched = title_ids("horror")[:3]
    return ProfileHistory("p1", positives=[(t, 1.0) for t in watched], finished=set(watched))


def by_id(rows: list[dict]) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    return {row["id"]: row["items"] for row in rows}


def test_a_horror_fan_gets_horror_top_picks_and_a_because_you_watched_row() -> None:
    snap = snapshot()
    rows = by_id(build_rows(snap, horror_fan(), maturity="NC-17", limit=5))
    assert [i["title_id"].split("-")[0] for i in rows["top-picks"]] == ["horror"] * 5
    assert rows["top-picks"][0]["reason"].startswith("because you watched Horror")
    because = rows[f"because-you-watched:{title_ids('horror')[0]}"]
    assert because and all(i["title_id"].startswith("horror") for i in because)
    assert "trending" in rows and "trending:Horror" in rows


def test_finished_titles_are_left_out_everywhere() -> None:
    fan = horror_fan()
    rows = build_rows(snapshot(), fan, maturity="NC-17", limit=40)
    shown = {i["title_id"] for row in rows for i in row["items"]}
    assert shown and not shown & fan.finished


def test_a_kids_profile_never_sees_a_title_above_its_maturity() -> None:
    snap = snapshot()
    for history in (horror_fan(), ProfileHistory("new")):
        rows = build_rows(snap, history, maturity="PG", limit=40)
        shown = [i["title_id"] for row in rows for i in row["items"]]
        assert shown
        assert all(allows("PG", "G" if t.startswith("kids") else "R") for t in shown)
        assert all(t.startswith("kids") for t in shown)


def test_a_new_profile_gets_what_is_popular_at_its_maturity() -> None:
    snap = snapshot()
    rows = by_id(build_rows(snap, ProfileHistory("new"), maturity="PG-13", limit=5))
    assert not any(r.startswith("because-you-watched") for r in rows)
    expected = [t for t, _ in snap.trending_at[2][:5]]
    assert [i["title_id"] for i in rows["top-picks"]] == expected
    assert all("popular" in i["reason"] for i in rows["top-picks"])
    assert not any(i["title_id"].startswith("horror") for r in rows.values() for i in r)
