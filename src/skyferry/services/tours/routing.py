"""Walking distances and times between points, behind a small port.

The default provider needs no network: great-circle distance times a detour factor (streets
are not straight lines; 1.3 is a common figure for city centres) at a walking speed. A street
router (OSRM, Valhalla, Google Routes) fits the same protocol: one matrix per call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from skyferry.services.tours.models import LatLng

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

EARTH_RADIUS_METRES = 6_371_008.8
"""The mean Earth radius (IUGG)."""


@dataclass(frozen=True)
class Matrix:
    """Square integer matrices: ``distance[i][j]`` metres and ``duration[i][j]`` seconds."""

    distance: npt.NDArray[np.int64]
    duration: npt.NDArray[np.int64]


class RoutingProvider(Protocol):
    name: str

    async def matrix(self, points: list[LatLng]) -> Matrix:
        """Walking distance and time from every point to every other one."""
        ...


def great_circle_metres(a: LatLng, b: LatLng) -> float:
    """Haversine distance: exact enough on a sphere for walks of a few kilometres."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lng - a.lng)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(h)))


class GreatCircleRouting:
    """Great-circle distance times ``detour_factor``, walked at ``speed_kmh``."""

    name = "great-circle"

    def __init__(self, *, speed_kmh: float, detour_factor: float) -> None:
        if speed_kmh <= 0 or detour_factor < 1:
            raise ValueError("speed_kmh must be positive and detour_factor at least 1")
        self.speed_metres_per_second = speed_kmh / 3.6
        self.detour_factor = detour_factor

    async def matrix(self, points: list[LatLng]) -> Matrix:
        return self.matrix_now(points)

    def matrix_now(self, points: list[LatLng]) -> Matrix:
        """The same matrix, synchronously (vectorised: 300 points take about a millisecond)."""
        import numpy as np  # here, not at the top: every skyferry process imports this module

        lat = np.radians([p.lat for p in points])
        lng = np.radians([p.lng for p in points])
        dphi = lat[:, None] - lat[None, :]
        dlmb = lng[:, None] - lng[None, :]
        h = (
            np.sin(dphi / 2) ** 2
            + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlmb / 2) ** 2
        )
        metres = 2 * EARTH_RADIUS_METRES * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        walked = metres * self.detour_factor
        distance = np.rint(walked).astype(np.int64)
        duration = np.rint(walked / self.speed_metres_per_second).astype(np.int64)
        return Matrix(distance=distance, duration=duration)
