"""Tours as a prize-collecting VRP, solved with PyVRP.

K vehicles (the tours) leave the start and come back to it; each attraction is an optional
client whose prize grows with the square of its score and whose service duration is its
visit; each route's duration (walking plus visits) is capped by the tour's budget (PyVRP's
``shift_duration``). PyVRP minimises walking distance plus the prizes it leaves uncollected;
prizes are worth far more than any walk, so the best attractions that fit are kept first and
the walk between them is then made short.

The solve is deterministic for a seed: it stops after ``iterations``, with ``max_seconds`` as a
cap for slow machines (a solve cut by the cap may differ between runs). Attractions that cannot
fit a tour even alone are left out before solving. Every route is checked against its budget
afterwards; none has ever been over, but a tour is never reported over its budget.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

PRIZE_SCALE = 1_000_000
"""A score of 1.0 is worth a 1000 km detour: score first, walking second."""


def prize(score: float) -> int:
    """What visiting an attraction of this score is worth: its square, so one unmissable sight
    (1.0) outweighs three pleasant ones (0.5) that take the same time, and the best are kept
    when not all fit."""
    return max(1, round(score * score * PRIZE_SCALE))


@dataclass(frozen=True)
class Problem:
    """Index 0 of the matrices is the start; attraction ``i`` is index ``i + 1``."""

    distance: npt.NDArray[np.int64]
    duration: npt.NDArray[np.int64]
    scores: list[float]
    visit_seconds: list[int]
    tours: int
    budget_seconds: int

    def __post_init__(self) -> None:
        n = len(self.scores)
        if len(self.visit_seconds) != n or self.distance.shape != (n + 1, n + 1):
            raise ValueError("matrices must be (n+1) by (n+1) for n scores and visit durations")
        if self.tours < 1 or self.budget_seconds < 1:
            raise ValueError("at least one tour and a positive budget")

    def route_seconds(self, route: list[int]) -> int:
        """Walking and visits of a tour through attractions ``route``, start to start."""
        path = [0, *(i + 1 for i in route), 0]
        walk = sum(int(self.duration[a, b]) for a, b in itertools.pairwise(path))
        return walk + sum(self.visit_seconds[i] for i in route)

    def route_metres(self, route: list[int]) -> int:
        path = [0, *(i + 1 for i in route), 0]
        return sum(int(self.distance[a, b]) for a, b in itertools.pairwise(path))


@dataclass(frozen=True)
class Routes:
    """Attraction indices per tour, in walking order; empty tours are not listed."""

    routes: list[list[int]]
    solver: str


def optimise(problem: Problem, *, seed: int, iterations: int, max_seconds: float) -> Routes:
    """The tours PyVRP finds for ``problem``: each within budget, best attractions first."""
    # imported here: every skyferry process imports this module, few of them solve
    import numpy as np
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType, solve
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    fits = [
        i
        for i in range(len(problem.scores))
        if problem.route_seconds([i]) <= problem.budget_seconds
    ]
    if not fits:
        return Routes(routes=[], solver=SOLVER)
    nodes = [0, *(i + 1 for i in fits)]
    distance = np.ascontiguousarray(problem.distance[np.ix_(nodes, nodes)])
    duration = np.ascontiguousarray(problem.duration[np.ix_(nodes, nodes)])
    # the solver works on a plane only for drawing; our matrices carry the real distances
    locations = [Location(float(k), 0.0) for k in range(len(nodes))]
    clients = [
        Client(
            location=k + 1,
            service_duration=problem.visit_seconds[i],
            prize=prize(problem.scores[i]),
            required=False,
        )
        for k, i in enumerate(fits)
    ]
    vehicles = VehicleType(
        num_available=min(problem.tours, len(fits)), shift_duration=problem.budget_seconds
    )
    matrices: Any = ([distance], [duration])  # PyVRP's stubs type matrices oddly as ndarray[int]
    data = ProblemData(locations, clients, [Depot(location=0)], [vehicles], *matrices)
    stop = MultipleCriteria([MaxIterations(iterations), MaxRuntime(max_seconds)])
    result = solve(data, stop=stop, seed=seed, collect_stats=False, display=False)
    routes = [
        [fits[activity.idx] for activity in route if activity.is_client()]
        for route in result.best.routes()
    ]
    routes = [_within_budget(problem, route) for route in routes]
    return Routes(routes=[route for route in routes if route], solver=SOLVER)


def _within_budget(problem: Problem, route: list[int]) -> list[int]:
    """Drop the lowest-scoring stops of a route over budget until it fits (a safety net)."""
    route = list(route)
    while route and problem.route_seconds(route) > problem.budget_seconds:
        route.remove(min(route, key=lambda i: problem.scores[i]))
    return route


def _solver_name() -> str:
    from importlib.metadata import version

    return f"pyvrp {version('pyvrp')}"


SOLVER = _solver_name()
