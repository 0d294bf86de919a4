"""Tours benchmark: the PyVRP optimiser against the exact optimum and against a classic baseline.

(a) Single tour, 6 to 10 candidate stops, a budget that fits only some: PyVRP (the service's
    settings) against the exact optimum of the same objective (the most score, then the least
    walking), found by brute force over subsets with a Held-Karp DP for each subset's shortest
    round trip. Walking is at 3.6 km/h, so seconds and metres coincide and the DP is exact.
    Gap = (optimum - PyVRP) / optimum, on score and on walking; target <= 1 %.
(b) 60 to 300 attractions, 4 to 6 tours of 180 min: visited score, and walking per visited
    attraction, against nearest neighbour + 2-opt (each tour in turn: walk to the nearest
    unvisited attraction that still lets the tour get back in time, then shorten the tour by
    2-opt and fill the time saved the same way), measured in the same run.
(c) The time to optimise 300 attractions into 6 tours with the default settings.

(d), a 30-minute pipeline across a kill, is bench/tours_kill.py (it takes the time it simulates).

    .venv/bin/python bench/tours.py

Writes bench/results/tours.json and prints Markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skyferry.services.tours.models import LatLng
from skyferry.services.tours.optimiser import Problem, Routes, optimise, prize
from skyferry.services.tours.routing import GreatCircleRouting
from skyferry.services.tours.settings import ToursSettings

RESULTS = Path(__file__).parent / "results" / "tours.json"
CENTRE = LatLng(lat=48.8566, lng=2.3522)
DEFAULTS = ToursSettings()
VISITS = [15, 20, 30, 45, 60, 90]


def solve(problem: Problem) -> Routes:
    """The service's own solve, with its default settings."""
    return optimise(
        problem,
        seed=DEFAULTS.solver_seed,
        iterations=DEFAULTS.solver_iterations,
        max_seconds=DEFAULTS.solver_max_seconds,
    )


def instance(n: int, seed: int, *, tours: int, minutes: int, speed_kmh: float) -> Problem:
    """``n`` attractions scattered around a city centre (most within 2 km), scores skewed."""
    rng = random.Random(seed)
    points = [CENTRE]
    for _ in range(n):
        distance, bearing = abs(rng.gauss(0, 1500)), rng.uniform(0, 6.2832)
        points.append(
            LatLng(
                lat=CENTRE.lat + distance * math.cos(bearing) / 111_320,
                lng=CENTRE.lng + distance * math.sin(bearing) / 73_000,
            )
        )
    matrix = GreatCircleRouting(speed_kmh=speed_kmh, detour_factor=1.3).matrix_now(points)
    return Problem(
        distance=matrix.distance,
        duration=matrix.duration,
        scores=[round(rng.random() ** 2, 4) for _ in range(n)],
        visit_seconds=[rng.choice(VISITS) * 60 for _ in range(n)],
        tours=tours,
        budget_seconds=minutes * 60,
    )


def collected(problem: Problem, route: list[int]) -> int:
    """The solver's own prize for a route."""
    return sum(prize(problem.scores[i]) for i in route)


# -- (a) exact ------------------------------------------------------------------------------------


def exact_single_tour(problem: Problem) -> tuple[int, int]:
    """(prize, metres) of the best single tour: the most prize, then the shortest walk.

    Held-Karp over all subsets: ``best[mask][j]`` is the shortest walk from the start through
    the stops in ``mask``, ending at ``j``. With walking time equal to distance, a subset is
    feasible when its shortest round trip plus its visits fits the budget.
    """
    n = len(problem.scores)
    d = problem.distance
    inf = 1 << 60
    best = [[inf] * n for _ in range(1 << n)]
    for j in range(n):
        best[1 << j][j] = int(d[0, j + 1])
    for mask in range(1, 1 << n):
        for j in range(n):
            here = best[mask][j]
            if here == inf or not mask >> j & 1:
                continue
            for k in range(n):
                if mask >> k & 1:
                    continue
                step = here + int(d[j + 1, k + 1])
                if step < best[mask | 1 << k][k]:
                    best[mask | 1 << k][k] = step
    top = (0, 0)
    for mask in range(1, 1 << n):
        stops = [i for i in range(n) if mask >> i & 1]
        walk = min(best[mask][j] + int(d[j + 1, 0]) for j in stops)
        if walk + sum(problem.visit_seconds[i] for i in stops) > problem.budget_seconds:
            continue
        value = (collected(problem, stops), -walk)
        if value > (top[0], -top[1]) or top == (0, 0):
            top = (value[0], walk)
    return top


def quality_against_exact() -> dict[str, Any]:
    score_gaps: list[float] = []
    walk_gaps: list[float] = []
    for seed in range(30):
        n = 6 + seed % 5
        problem = instance(n, seed, tours=1, minutes=90, speed_kmh=3.6)
        assert (problem.distance == problem.duration).all()
        optimum_prize, optimum_walk = exact_single_tour(problem)
        routes = solve(problem).routes
        route = routes[0] if routes else []
        got_prize, got_walk = collected(problem, route), problem.route_metres(route) if route else 0
        score_gaps.append((optimum_prize - got_prize) / optimum_prize if optimum_prize else 0.0)
        if got_prize == optimum_prize and optimum_walk:  # the same stops: compare the walks
            walk_gaps.append((got_walk - optimum_walk) / optimum_walk)
    return {
        "instances": len(score_gaps),
        "optimal_score": sum(1 for g in score_gaps if g <= 1e-9),
        "mean_score_gap_pct": round(100 * statistics.mean(score_gaps), 3),
        "max_score_gap_pct": round(100 * max(score_gaps), 3),
        "mean_walk_gap_pct": round(100 * statistics.mean(walk_gaps), 3) if walk_gaps else None,
        "max_walk_gap_pct": round(100 * max(walk_gaps), 3) if walk_gaps else None,
    }


# -- (b) baseline ---------------------------------------------------------------------------------


def two_opt(problem: Problem, route: list[int]) -> list[int]:
    """Reverse segments while that shortens the walk (the start stays first and last)."""
    improved = True
    while improved:
        improved = False
        for a, b in itertools.combinations(range(len(route)), 2):
            candidate = route[:a] + route[a : b + 1][::-1] + route[b + 1 :]
            if problem.route_seconds(candidate) < problem.route_seconds(route):
                route, improved = candidate, True
    return route


def nearest_neighbour_two_opt(problem: Problem) -> list[list[int]]:
    left = set(range(len(problem.scores)))
    routes = []
    for _ in range(problem.tours):
        route: list[int] = []
        while True:
            grown = False
            here = route[-1] + 1 if route else 0
            for i in sorted(left, key=lambda i: (problem.duration[here, i + 1], i)):
                if problem.route_seconds([*route, i]) <= problem.budget_seconds:
                    route.append(i)
                    left.discard(i)
                    grown = True
                    break
            if not grown:
                shorter = two_opt(problem, route)
                if shorter == route:
                    break
                route = shorter  # 2-opt freed some time: try to fill it
        if route:
            routes.append(route)
    return routes


def summary(problem: Problem, routes: list[list[int]]) -> dict[str, float]:
    visited = [i for route in routes for i in route]
    walking = sum(problem.route_metres(route) for route in routes)
    assert all(problem.route_seconds(route) <= problem.budget_seconds for route in routes)
    return {
        "score": round(sum(problem.scores[i] for i in visited), 3),
        "visited": len(visited),
        "metres_per_visit": round(walking / len(visited), 1) if visited else 0.0,
    }


def against_baseline() -> list[dict[str, Any]]:
    rows = []
    for n, tours in ((60, 4), (120, 4), (200, 6), (300, 6)):
        problem = instance(n, 1000 + n, tours=tours, minutes=180, speed_kmh=4.5)
        ours = summary(problem, solve(problem).routes)
        base = summary(problem, nearest_neighbour_two_opt(problem))
        rows.append(
            {
                "attractions": n,
                "tours": tours,
                "pyvrp": ours,
                "baseline": base,
                "score_ratio": round(ours["score"] / base["score"], 3),
                "walk_per_visit_ratio": round(
                    ours["metres_per_visit"] / base["metres_per_visit"], 3
                ),
            }
        )
    return rows


# -- (c) time ------------------------------------------------------------------------------------


def solve_time() -> dict[str, Any]:
    problem = instance(300, 7, tours=6, minutes=180, speed_kmh=4.5)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        routes = solve(problem).routes
        times.append(time.perf_counter() - started)
    return {
        "attractions": 300,
        "tours": len(routes),
        "iterations": DEFAULTS.solver_iterations,
        "seconds_median": round(statistics.median(times), 3),
        "seconds_max": round(max(times), 3),
    }


def main() -> None:
    exact = quality_against_exact()
    baseline = against_baseline()
    timing = solve_time()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "settings": {
                    "seed": DEFAULTS.solver_seed,
                    "iterations": DEFAULTS.solver_iterations,
                    "max_seconds": DEFAULTS.solver_max_seconds,
                },
                "exact": exact,
                "baseline": baseline,
                "time": timing,
            },
            indent=2,
        )
        + "\n"
    )
    print("| instances | optimal score | score gap mean / max | walk gap mean / max |")
    print("|---|---|---|---|")
    print(
        f"| {exact['instances']} | {exact['optimal_score']} "
        f"| {exact['mean_score_gap_pct']} % / {exact['max_score_gap_pct']} % "
        f"| {exact['mean_walk_gap_pct']} % / {exact['max_walk_gap_pct']} % |"
    )
    print()
    print(
        "| attractions | tours | score PyVRP / baseline | visited PyVRP / baseline "
        "| m per visit PyVRP / baseline | score ratio | walk per visit ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in baseline:
        ours, base = row["pyvrp"], row["baseline"]
        print(
            f"| {row['attractions']} | {row['tours']} | {ours['score']} / {base['score']} "
            f"| {ours['visited']} / {base['visited']} "
            f"| {ours['metres_per_visit']} / {base['metres_per_visit']} "
            f"| {row['score_ratio']} | {row['walk_per_visit_ratio']} |"
        )
    print()
    print(
        f"300 attractions into {timing['tours']} tours: {timing['seconds_median']} s median, "
        f"{timing['seconds_max']} s max ({timing['iterations']} iterations)"
    )


if __name__ == "__main__":
    main()
