"""The PyVRP optimiser: budgets kept, best stops kept, few attractions, same answer per seed."""

from __future__ import annotations

from typing import TypedDict

from skyferry.services.tours.optimiser import Problem, optimise
from skyferry.services.tours.planning import plan
from skyferry.services.tours.providers.offline import offline_attractions, offline_city
from skyferry.services.tours.providers.ranker import rank
from skyferry.services.tours.routing import GreatCircleRouting

ROUTING = GreatCircleRouting(speed_kmh=4.5, detour_factor=1.3)


class Solve(TypedDict):
    seed: int
    iterations: int
    max_seconds: float


SOLVE = Solve(seed=1, iterations=300, max_seconds=5.0)


def city_problem(keep: int, tours: int, minutes: int) -> Problem:
    city = offline_city("ChIJ-optimised")
    ranked = rank(offline_attractions(city), keep)
    matrix = ROUTING.matrix_now([city.location, *(r.attraction.location for r in ranked)])
    return Problem(
        distance=matrix.distance,
        duration=matrix.duration,
        scores=[r.score for r in ranked],
        visit_seconds=[r.visit_minutes * 60 for r in ranked],
        tours=tours,
        budget_seconds=minutes * 60,
    )


def test_every_tour_keeps_its_budget_and_visits_each_stop_once() -> None:
    problem = city_problem(keep=40, tours=4, minutes=120)
    routes = optimise(problem, **SOLVE).routes
    assert 1 <= len(routes) <= 4
    stops = [i for route in routes for i in route]
    assert len(stops) == len(set(stops))
    for route in routes:
        assert route
        assert problem.route_seconds(route) <= problem.budget_seconds


def test_when_not_all_fit_the_best_are_kept() -> None:
    problem = city_problem(keep=40, tours=1, minutes=60)
    (route,) = optimise(problem, **SOLVE).routes
    visited = sum(problem.scores[i] for i in route)
    left = sorted((problem.scores[i] for i in range(40) if i not in route), reverse=True)
    assert visited > sum(left[: len(route)]) * 0.5  # far better than the leftovers' best
    assert 0 in route or problem.route_seconds([0]) > problem.budget_seconds


def test_fewer_attractions_than_tours_gives_no_empty_tours() -> None:
    problem = city_problem(keep=2, tours=6, minutes=180)
    routes = optimise(problem, **SOLVE).routes
    assert 1 <= len(routes) <= 2
    assert sorted(i for route in routes for i in route) == [0, 1]


def test_attractions_out_of_reach_make_no_tour() -> None:
    problem = city_problem(keep=5, tours=2, minutes=30)
    far = Problem(
        distance=problem.distance * 100,
        duration=problem.duration * 100,
        scores=problem.scores,
        visit_seconds=problem.visit_seconds,
        tours=2,
        budget_seconds=problem.budget_seconds,
    )
    assert optimise(far, **SOLVE).routes == []


def test_the_same_seed_gives_the_same_tours() -> None:
    problem = city_problem(keep=30, tours=3, minutes=90)
    assert optimise(problem, **SOLVE) == optimise(problem, **SOLVE)


def test_a_plan_describes_legs_and_totals_from_the_same_matrix() -> None:
    city = offline_city("ChIJ-planned")
    ranked = rank(offline_attractions(city), 20)
    matrix = ROUTING.matrix_now([city.location, *(r.attraction.location for r in ranked)])
    made = plan(city.location, ranked, matrix, tours=2, budget_minutes=90, **SOLVE)
    visited = [s.place_id for t in made.tours for s in t.stops]
    assert sorted(visited + made.unvisited) == sorted(r.attraction.place_id for r in ranked)
    for tour in made.tours:
        walked = sum(s.leg.walking_seconds for s in tour.stops) + tour.return_leg.walking_seconds
        assert tour.total_minutes == round((walked + tour.visit_minutes * 60) / 60, 1) <= 90
