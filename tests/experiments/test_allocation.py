"""Allocation by hashing: deterministic, balanced, independent between experiments, exclusive
within a layer; and the report's statistics (analysis.py) on numbers whose truth is known."""

from __future__ import annotations

import uuid
from collections import Counter

import numpy as np
import pytest

from cinemesh.services.experiments.allocation import BUCKETS, Cell, Design, free_range
from cinemesh.services.experiments.analysis import analyse, compare, sample_ratio
from cinemesh.services.experiments.service import Running, allocate

PROFILES = [uuid.uuid5(uuid.NAMESPACE_URL, f"profile-{n}").hex for n in range(2000)]
HALVES = (Cell("control", 1), Cell("treatment", 1))


def design(experiment: str = "e1", *, layer: str = "recs", cells=HALVES, buckets=(0, BUCKETS)):
    return Design(experiment, "salt", layer, buckets[0], buckets[1], cells)


def test_a_profile_gets_the_same_cell_every_time_and_from_a_fresh_design() -> None:
    first = [design().cell_of(p) for p in PROFILES]
    again = [design().cell_of(p) for p in PROFILES]
    assert first == again
    assert design().cell_of(PROFILES[0]) == design().cell_of(str(PROFILES[0]))


def test_two_cells_of_50_percent_get_50_percent_within_3_points_of_2000_profiles() -> None:
    counts = Counter(design().cell_of(p) for p in PROFILES)
    assert set(counts) == {"control", "treatment"}
    assert abs(counts["control"] / len(PROFILES) - 0.5) <= 0.03, counts


def test_weights_are_honoured() -> None:
    cells = (Cell("control", 9), Cell("treatment", 1))
    counts = Counter(design(cells=cells).cell_of(p) for p in PROFILES)
    assert abs(counts["treatment"] / len(PROFILES) - 0.1) <= 0.02, counts


def test_two_experiments_of_different_layers_allocate_independently() -> None:
    a, b = design("e1", layer="recs"), design("e2", layer="artwork")
    pairs = Counter((a.cell_of(p), b.cell_of(p)) for p in PROFILES)
    assert len(pairs) == 4
    for count in pairs.values():  # each combination a quarter, as if drawn independently
        assert abs(count / len(PROFILES) - 0.25) <= 0.03, pairs


def test_experiments_of_one_layer_never_share_a_profile() -> None:
    first = design("e1", buckets=(0, 3000))
    second = design("e2", buckets=(3000, 5000))
    inside = [(first.cell_of(p) is not None, second.cell_of(p) is not None) for p in PROFILES]
    assert not any(a and b for a, b in inside)
    assert abs(sum(a for a, _ in inside) / len(PROFILES) - 0.3) <= 0.03
    assert abs(sum(b for _, b in inside) / len(PROFILES) - 0.2) <= 0.03


def test_a_layer_hands_out_free_ranges_until_it_is_full() -> None:
    assert free_range([], size=3000) == (0, 3000)
    assert free_range([(0, 3000)], size=5000) == (3000, 8000)
    assert free_range([(0, 3000), (5000, 10000)], size=2000) == (3000, 5000)
    assert free_range([(0, 3000), (5000, 10000)], size=2001) is None


def test_allocations_name_every_cell_and_merge_the_overrides() -> None:
    from cinemesh.services.experiments.models import StoredExperiment

    def running(name: str, layer: str, key: str) -> Running:
        return Running.of(
            StoredExperiment(
                id=name, name=name, layer=layer, salt="s", first_bucket=0, end_bucket=BUCKETS,
                cells=[
                    {"name": "control", "weight": 1, "treatments": {}},
                    {"name": "b", "weight": 1, "treatments": {key: "on"}},
                ],
            )
        )  # fmt: skip

    both = [running("e1", "recs", "recommender.model"), running("e2", "art", "artwork.style")]
    found = allocate(both, PROFILES[0])
    assert [a.experiment for a in found.allocations] == ["e1", "e2"]
    expected = sorted(
        f"{key}=on"
        for a, key in zip(found.allocations, ["recommender.model", "artwork.style"], strict=True)
        if a.cell == "b"
    )
    assert found.treatments == ";".join(expected)


def test_compare_finds_a_real_lift_with_an_interval_that_holds_it() -> None:
    rng = np.random.default_rng(1)
    control, treatment = rng.poisson(2.0, 800), rng.poisson(2.4, 800)
    result = compare(control.tolist(), treatment.tolist())
    assert result["p_value"] < 0.001
    low, high = result["ci"]
    assert low < 0.4 < high and low > 0
    assert result["lift"] == pytest.approx(0.2, abs=0.08)


def test_an_a_a_comparison_is_mostly_not_significant() -> None:
    rng = np.random.default_rng(2)
    significant = sum(
        compare(rng.poisson(2.0, 300).tolist(), rng.poisson(2.0, 300).tolist())["p_value"] < 0.05
        for _ in range(200)
    )
    assert significant <= 20  # 5% expected: 10 of 200


def test_a_sample_ratio_mismatch_is_reported() -> None:
    assert not sample_ratio({"a": 1010, "b": 990}, {"a": 1, "b": 1})["mismatch"]
    assert sample_ratio({"a": 1100, "b": 900}, {"a": 1, "b": 1})["mismatch"]
    report = analyse(
        control="a",
        weights={"a": 1, "b": 1},
        members={"a": 1100, "b": 900},
        values={"play_starts": {"a": [1.0] * 1100, "b": [1.0] * 900}},
    )
    assert report["warnings"] and "sample ratio mismatch" in report["warnings"][0]
    starts = next(m for m in report["metrics"] if m["name"] == "play_starts")
    assert starts["cells"]["b"]["difference"] == 0.0 and starts["cells"]["b"]["p_value"] == 1.0


def test_a_cell_on_the_command_line_reads_as_the_apis() -> None:
    from cinemesh.cli.commands.experiments import parse_cell

    assert parse_cell("control") == {"name": "control", "weight": 1.0, "treatments": {}}
    assert parse_cell("b:3:a.b=c,d=e") == {
        "name": "b",
        "weight": 3.0,
        "treatments": {"a.b": "c", "d": "e"},
    }
    with pytest.raises(Exception, match="not a number"):
        parse_cell("b:x")
