"""From ranked attractions to tours: the matrix, the solve, and each leg's walk.

The optimiser works on indices; this module turns its routes back into stops with their walks,
and totals that are recomputed from the same matrix the solver saw, so what the API shows is
what was checked against the budget.
"""

from __future__ import annotations

from skyferry.services.tours.models import LatLng, Leg, Plan, Ranked, Stop, Tour
from skyferry.services.tours.optimiser import Problem, Routes, optimise
from skyferry.services.tours.routing import Matrix


def problem(matrix: Matrix, ranked: list[Ranked], tours: int, budget_minutes: int) -> Problem:
    return Problem(
        distance=matrix.distance,
        duration=matrix.duration,
        scores=[r.score for r in ranked],
        visit_seconds=[r.visit_minutes * 60 for r in ranked],
        tours=tours,
        budget_seconds=budget_minutes * 60,
    )


def plan(
    start: LatLng,
    ranked: list[Ranked],
    matrix: Matrix,
    *,
    tours: int,
    budget_minutes: int,
    seed: int,
    iterations: int,
    max_seconds: float,
) -> Plan:
    """Solve, then describe each tour; tours are numbered by score, best first."""
    solved = problem(matrix, ranked, tours, budget_minutes)
    routes = optimise(solved, seed=seed, iterations=iterations, max_seconds=max_seconds)
    return describe(start, ranked, matrix, solved, routes, budget_minutes)


def describe(
    start: LatLng,
    ranked: list[Ranked],
    matrix: Matrix,
    solved: Problem,
    routes: Routes,
    budget_minutes: int,
) -> Plan:
    ordered = sorted(routes.routes, key=lambda route: -sum(solved.scores[i] for i in route))
    described = [
        _tour(number, route, ranked, matrix, solved) for number, route in enumerate(ordered, 1)
    ]
    visited = {i for route in routes.routes for i in route}
    return Plan(
        start=start,
        budget_minutes=budget_minutes,
        tours=described,
        unvisited=[r.attraction.place_id for i, r in enumerate(ranked) if i not in visited],
        solver=routes.solver,
    )


def _leg(matrix: Matrix, a: int, b: int) -> Leg:
    return Leg(
        distance_metres=int(matrix.distance[a, b]), walking_seconds=int(matrix.duration[a, b])
    )


def _tour(
    number: int, route: list[int], ranked: list[Ranked], matrix: Matrix, solved: Problem
) -> Tour:
    stops = []
    previous = 0
    for position, i in enumerate(route, 1):
        r = ranked[i]
        stops.append(
            Stop(
                position=position,
                place_id=r.attraction.place_id,
                name=r.attraction.name,
                location=r.attraction.location,
                types=r.attraction.types,
                rating=r.attraction.rating,
                score=r.score,
                visit_minutes=r.visit_minutes,
                leg=_leg(matrix, previous, i + 1),
            )
        )
        previous = i + 1
    back = _leg(matrix, previous, 0)
    walking_seconds = sum(s.leg.walking_seconds for s in stops) + back.walking_seconds
    visit = sum(s.visit_minutes for s in stops)
    return Tour(
        number=number,
        stops=stops,
        return_leg=back,
        walking_metres=sum(s.leg.distance_metres for s in stops) + back.distance_metres,
        walking_minutes=round(walking_seconds / 60, 1),
        visit_minutes=visit,
        total_minutes=round(solved.route_seconds(route) / 60, 1),
        score=round(sum(s.score for s in stops), 4),
    )
