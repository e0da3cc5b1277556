"""How often the report's statistics call an A/A experiment significant, and how often they
catch a true lift, over RUNS repetitions in process (a platform per repetition would take
hours; test_simulated_members.py runs one of each on the real platform). Each repetition:
MEMBERS members with tastes drawn as `cinemesh simulate` draws them from the catalog's genres,
allocated by the experiments service's own allocation (a new experiment id and salt each
time), each opening a home page VISITS times and choosing with the simulator's own `pick`;
their play starts and play starts from a recommendation row counted as the service counts them,
and compared by the report's own `analyse` (Welch's t-test)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from cinemesh.contracts.rows import is_recommendation
from cinemesh.demo.simulation import pick, start_body
from cinemesh.demo.tastes import Taste, TasteSource
from cinemesh.services.experiments.public import BUCKETS, Cell, Design, analyse

RUNS = 200
MEMBERS = 200
VISITS = 4
ALPHA = 0.05
GENRES = ["Drama", "Comedy", "Action", "Thriller", "Romance", "Sci-Fi", "Horror", "Animation"]
CATALOG = {
    f"t{n}": [GENRES[n % 8]] + ([GENRES[(n + 3) % 8]] if n % 3 == 0 else []) for n in range(80)
}


def home(taste: Taste, rng: random.Random, *, taste_first: bool) -> list[dict[str, object]]:
    """Recommended rows (top picks, in the cell's order: the member's taste first, or an order
    that ignores it) above a popular row of other titles."""
    blind = dict(zip(CATALOG, rng.sample(range(len(CATALOG)), len(CATALOG)), strict=True))
    order = sorted(
        CATALOG, key=lambda t: (-taste.match(CATALOG[t]) if taste_first else 0, blind[t])
    )
    popular = [t for t in CATALOG if t not in order[:10]][-10:]
    return [
        {"id": "top-picks", "items": [{"id": t, "genres": CATALOG[t]} for t in order[:10]]},
        {"id": "popular", "items": [{"id": t, "genres": CATALOG[t]} for t in popular]},
    ]


def member(taste: Taste, rng: random.Random, *, taste_first: bool) -> Counter[str]:
    rows = home(taste, rng, taste_first=taste_first)
    done: set[str] = set()
    counts: Counter[str] = Counter()
    for _ in range(VISITS):
        chosen = pick(rows, taste, rng, skip=done)
        if chosen is not None:
            done.add(chosen.title_id)
            counts["play_starts"] += 1
            counts["row_play_starts"] += is_recommendation(start_body("p", chosen).get("row"))
    return counts


def p_values(*, lift: bool, seed: int) -> list[tuple[float, float]]:
    """Per repetition, the challenger's (difference, p) in row play starts against control."""
    tastes = TasteSource(
        Counter(g for gs in CATALOG.values() for g in gs), movielens=None, seed=seed
    )
    rng = random.Random(seed)
    found = []
    for run in range(RUNS):
        design = Design(f"exp-{seed}-{run}", f"salt{run}", "layer", 0, BUCKETS,
                        (Cell("control", 1), Cell("challenger", 1)))  # fmt: skip
        values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        members: Counter[str] = Counter()
        for n in range(MEMBERS):
            profile_id = f"p-{seed}-{run}-{n}"
            cell = design.cell_of(profile_id)
            assert cell is not None
            counts = member(tastes.draw(), rng, taste_first=lift and cell == "challenger")
            members[cell] += 1
            for name in ("play_starts", "row_play_starts"):
                values[name][cell].append(float(counts[name]))
        report = analyse(
            control="control",
            weights={"control": 1, "challenger": 1},
            members=members,
            values=values,
        )
        rows = next(m for m in report["metrics"] if m["name"] == "row_play_starts")
        compared = rows["cells"]["challenger"]
        found.append((compared["difference"], compared["p_value"]))
    return found


def test_an_a_a_experiment_is_called_significant_in_about_one_run_in_twenty() -> None:
    found = p_values(lift=False, seed=11)
    significant = sum(p < ALPHA for _, p in found)
    print(f"A/A: {significant} of {RUNS} runs had p < {ALPHA} on row play starts")
    # 5% of 200 is 10; 20 or more happens with a sound test about once in a thousand seeds
    assert significant < 20, significant


def test_a_challenger_that_truly_recommends_better_is_caught_in_nearly_every_run() -> None:
    found = p_values(lift=True, seed=12)
    caught = sum(p < ALPHA and difference > 0 for difference, p in found)
    print(f"A/B: the lift was significant in {caught} of {RUNS} runs")
    assert caught >= 0.9 * RUNS, caught
