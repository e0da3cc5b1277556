"""Steering: playback ranks the edges for a session by rendezvous hashing of the asset, so a
title lives mostly in one edge's cache, the catalog spreads over the edges, an edge leaving
moves only its own titles, and the rest of the ranking is the player's failover order."""

from __future__ import annotations

from collections import Counter

from cinemesh.services.playback.service import ranked_edges

EDGES = [f"http://127.0.0.1:{port}" for port in (9001, 9002, 9003)]
ASSETS = [f"asset{n:04d}" for n in range(3000)]


def first_edge(asset_id: str, edges: list[str]) -> str:
    return ranked_edges(edges, asset_id=asset_id, configured=False)[0]


def test_every_session_of_a_title_goes_to_the_same_edge_whatever_the_discovery_order() -> None:
    for asset_id in ASSETS[:50]:
        ranked = ranked_edges(EDGES, asset_id=asset_id, configured=False)
        assert ranked_edges(EDGES[::-1], asset_id=asset_id, configured=False) == ranked
        assert sorted(ranked) == sorted(EDGES), "every edge stays in the list for failover"


def test_the_catalog_spreads_evenly_over_the_edges() -> None:
    shares = Counter(first_edge(asset_id, EDGES) for asset_id in ASSETS)
    assert set(shares) == set(EDGES)
    assert all(abs(count / len(ASSETS) - 1 / 3) < 0.04 for count in shares.values()), shares


def test_an_edge_leaving_moves_only_the_titles_it_held() -> None:
    gone = EDGES[1]
    remaining = [e for e in EDGES if e != gone]
    for asset_id in ASSETS[:500]:
        before = ranked_edges(EDGES, asset_id=asset_id, configured=False)
        after = ranked_edges(remaining, asset_id=asset_id, configured=False)
        assert after == [e for e in before if e != gone], "failover goes where steering would"


def test_one_edge_or_a_configured_list_is_kept_as_it_is() -> None:
    assert ranked_edges(EDGES[:1], asset_id="a1", configured=False) == EDGES[:1]
    assert ranked_edges(EDGES, asset_id="a1", configured=True) == EDGES
