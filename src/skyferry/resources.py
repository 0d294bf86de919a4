"""Resources: what a service's jobs and routes share, opened once per process.

A job's dependencies (a store, a provider client, a shared limit) used to be rebuilt for every
step; a ``Resource`` is opened when the process starts (after the database and blob store) and
closed when it stops, and every step and request of that process reaches the same object::

    books = skyferry.Resource("books", open_books)     # open_books(platform) -> async CM

    @skyferry.step(name="chapter")
    async def chapter(...) -> ...:
        deps = books.get()                              # inside a job or a request

    @router.get("/books")
    async def list_books(deps: Annotated[BooksDeps, Depends(books)]) -> ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.requests import Request

if TYPE_CHECKING:
    from skyferry.platform import Platform

T = TypeVar("T")


class Resource(Generic[T]):
    """A named, typed handle on an object the platform opens once per process."""

    def __init__(
        self, name: str, opener: Callable[[Platform], AbstractAsyncContextManager[T]]
    ) -> None:
        self.name = name
        self.opener = opener

    def get(self) -> T:
        """The open object in this process (inside a job, a request or a started CLI)."""
        if self.name in _overrides:
            value: T = _overrides[self.name]
            return value
        from skyferry.platform import current

        return current().resource(self)

    async def __call__(self, request: Request) -> T:
        """As a FastAPI dependency: the object the app serving ``request`` opened."""

        platform: Platform = request.app.state.skyferry
        return platform.resource(self)

    def __repr__(self) -> str:
        return f"Resource({self.name!r})"


_overrides: dict[str, Any] = {}
"""Objects standing in for resources, by name, while ``skyferry.testing`` says so."""


@contextmanager
def overridden(values: Mapping[Resource[Any], Any]) -> Iterator[None]:
    """Let ``values`` stand in for these resources everywhere in the process (tests only)."""
    saved = dict(_overrides)
    _overrides.update({resource.name: value for resource, value in values.items()})
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)
