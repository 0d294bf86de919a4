"""The tours service's exceptions: subclasses of skyferry's root, each knowing its status.

Provider errors cross DBOS step boundaries, which pickle them (the root's ``__reduce__`` keeps
their fields); a failed job shows their type and message.
"""

from __future__ import annotations

from skyferry import SkyferryError


class ToursError(SkyferryError):
    """Root of everything the tours service raises on purpose."""


class CityNotFoundError(ToursError):
    status = 404
    title = "City not found"

    def __init__(self, city_id: str) -> None:
        super().__init__(
            f"no city with id {city_id!r}; while its job runs, GET /jobs/{{id}} shows how far "
            "it got",
            city_id=city_id,
        )


class TourNotFoundError(ToursError):
    status = 404
    title = "Tour not found"

    def __init__(self, city_id: str, number: int) -> None:
        super().__init__(f"city {city_id!r} has no tour {number}", city_id=city_id, tour=number)


class PlaceNotFoundError(ToursError):
    """The places provider knows no place with this id: the job fails, it is not retried."""

    status = 404
    title = "Place not found"

    def __init__(self, place_id: str) -> None:
        super().__init__(f"no place with id {place_id!r}", place_id=place_id)


class ProviderError(ToursError):
    """A provider failed; the message says which and why, never with credentials."""

    status = 502
    title = "Provider failed"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        http_status: int = 0,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.http_status = http_status
        self.retry_after = retry_after


class StartTooFarError(ToursError):
    """The start the request named is nowhere near the city: no walking tour could use it."""

    status = 400
    title = "Start too far from the city"

    def __init__(self, kilometres: float, limit: float) -> None:
        super().__init__(
            f"the start is {kilometres:.0f} km from the city centre; at most {limit:.0f} km",
            kilometres=round(kilometres, 1),
        )


class NoAttractionsError(ToursError):
    """The places provider found nothing to visit around the city."""

    status = 422
    title = "No attractions"

    def __init__(self, city: str) -> None:
        super().__init__(f"found no attractions around {city}", city=city)
