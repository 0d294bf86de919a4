"""Services are plugins: a package declares a ``Service`` and names it in the entry-point group
``skyferry.services``; the core finds it there and imports nothing else of it.

The built-in services register exactly the way a third-party package would (see
``pyproject.toml``), so adding one touches no file outside its own package and its entry point.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel

from skyferry.config import ConfigurationError
from skyferry.jobs.retry import Retry

if TYPE_CHECKING:
    import sqlalchemy as sa
    import typer

    from skyferry.config import Settings
    from skyferry.jobs.fanout import FanOutResult
    from skyferry.resources import Resource

ENTRY_POINT_GROUP = "skyferry.services"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"

S = TypeVar("S", bound=BaseModel)

EventHandler = Callable[[dict[str, Any], Any], Awaitable[None] | None]
"""A non-HTTP Lambda event handler: ``(record, context)``, sync or async, called once per SQS
message, S3 or SNS record, or EventBridge event; raising marks that record failed."""

EVENT_SOURCES = ("sqs", "s3", "sns", "eventbridge")


@dataclass(frozen=True)
class Schedule:
    """Work a service wants done on a schedule: on Lambda an EventBridge rule invokes
    ``handler`` (an ``EventHandler``, given the scheduled event) with ``expression``
    (``rate(1 hour)`` or ``cron(0 3 * * ? *)``); the rule's name ends in ``<service>-<name>``.
    """

    name: str
    expression: str
    handler: EventHandler

    def __post_init__(self) -> None:
        import re

        if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", self.name):
            raise ValueError(f"invalid schedule name {self.name!r}: lower-case letters, digits, -")
        if not re.fullmatch(r"(rate|cron)\(.+\)", self.expression):
            raise ValueError(
                f"schedule {self.name!r}: expression {self.expression!r} is not rate(...) or "
                "cron(...)"
            )


@dataclass(frozen=True)
class DistributedMap:
    """A fan-out that can also run as an AWS Step Functions Distributed Map
    (``skyferry deploy stepfunctions``): each item through ``item`` on skyferry's Lambda
    handler, then every outcome through ``aggregate``.

    - ``item(value)``: one item's work, given the item as JSON (one element of the JSON array
      the execution's ``items`` names in S3); the same per-item code the service's
      ``ctx.fan_out`` calls, so both runners do the same work. Raising fails that item only.
    - ``aggregate(execution, result)``: given the execution's input and a ``FanOutResult``
      of every item in order (as ``ctx.fan_out`` returns it), finishes the work.
    - ``retry``: each item's attempts within its invocation, as ``ctx.fan_out(retry=)``.
    - ``concurrency``: items in flight at once across the map, or a function of the settings
      giving it (the Map's ``MaxConcurrency`` is this over ``batch_size``); ``batch_size``:
      items per invocation (1: no ``ItemBatcher``); ``tolerated_failure_percentage``:
      invocations (batches) that may fail whole before the execution fails.
    """

    name: str
    item: Callable[[Any], Awaitable[Any]]
    aggregate: Callable[[dict[str, Any], FanOutResult], Awaitable[Any]]
    retry: Retry = field(default_factory=Retry)
    concurrency: int | Callable[[Settings], int] = 40
    batch_size: int = 10
    tolerated_failure_percentage: float = 5.0

    def max_concurrency(self, settings: Settings) -> int:
        """The Map's ``MaxConcurrency``: invocations at once, each holding one batch."""
        items = self.concurrency(settings) if callable(self.concurrency) else self.concurrency
        return max(1, -(-items // self.batch_size))

    def __post_init__(self) -> None:
        import re

        if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", self.name):
            raise ValueError(f"invalid map name {self.name!r}: lower-case letters, digits, -")
        if not 1 <= self.batch_size <= 1000:
            raise ValueError(f"map {self.name!r}: batch_size must be 1 to 1000")
        if not 0 <= self.tolerated_failure_percentage <= 100:
            raise ValueError(f"map {self.name!r}: tolerated_failure_percentage must be 0 to 100")


class ServiceNotFoundError(ConfigurationError):
    """``SKYFERRY_SERVICES`` names a service no installed package provides."""


@dataclass(frozen=True)
class Service(Generic[S]):
    """What a service brings; only ``name`` is required.

    - ``router(settings)``: its HTTP routes, built once per app from the core settings (its own
      settings are ``settings.of(Model)``).
    - ``settings``: a pydantic model read from ``SKYFERRY_<NAME>__<FIELD>``.
    - ``tables`` and ``migrations``: its SQLAlchemy metadata (or a function returning it) and
      Alembic versions folder; its migrations are a branch of their own
      (``branch_labels = ("<name>",)``) off the core's.
    - ``resources``: what its jobs and routes share, opened once per process (stores, provider
      clients, shared limits); reached with ``ctx.get(resource)`` or ``Depends(resource)``.
    - ``cli``: a typer app (or a function returning it), mounted as ``skyferry <name> …``.

    Given as functions, the tables and the CLI are imported only by the processes that use
    them (migrations, the CLI): a Lambda function serving the routes then does not import
    SQLAlchemy or typer for them at start-up.
    - ``events``: handlers for non-HTTP Lambda events, by source: ``"sqs"``, ``"s3"``,
      ``"sns"``, ``"eventbridge"`` (see ``skyferry.runtimes.lambda_events``).
    - ``schedules``: ``Schedule`` objects, work run on a timer (an EventBridge rule on Lambda).
    - ``pages``: path prefixes of web pages that hold no data themselves (HTML, scripts, styles,
      e.g. ``"/library"`` for ``/library`` and ``/library/…``). With ``SKYFERRY_API_KEYS`` set,
      GET and HEAD requests there need no key, since a browser cannot send one to open a page;
      the API the pages call stays guarded.
    - ``distributed_maps``: ``DistributedMap`` objects, fan-outs that can also run as a Step
      Functions state machine (``skyferry deploy stepfunctions``).
    """

    name: str
    router: Callable[[Settings], APIRouter] | None = None
    settings: type[S] | None = None
    tables: sa.MetaData | Callable[[], sa.MetaData] | None = None
    migrations: Path | None = None
    resources: Sequence[Resource[Any]] = ()
    cli: typer.Typer | Callable[[], typer.Typer] | None = None
    events: Mapping[str, EventHandler] = field(default_factory=dict)
    schedules: Sequence[Schedule] = ()
    pages: Sequence[str] = ()
    distributed_maps: Sequence[DistributedMap] = ()

    def __post_init__(self) -> None:
        import re

        if not re.fullmatch(NAME_PATTERN, self.name):
            raise ValueError(
                f"invalid service name {self.name!r}: lower-case letters, digits and _, "
                "starting with a letter, at most 40 characters"
            )
        for prefix in self.pages:
            # "/" or "" would open every route to callers without a key
            if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
                raise ValueError(
                    f"service {self.name!r}: invalid pages prefix {prefix!r}: a path such as "
                    "'/library', without a trailing slash"
                )
        unknown = sorted(set(self.events) - set(EVENT_SOURCES))
        if unknown:
            raise ValueError(
                f"service {self.name!r}: unknown event sources {unknown}; "
                f"choose from {list(EVENT_SOURCES)}"
            )
        if self.migrations is not None and not self.migrations.is_dir():
            raise ValueError(
                f"service {self.name!r}: migrations folder {self.migrations} is missing"
            )

    def metadata(self) -> sa.MetaData | None:
        """Its tables, imported now if given as a function."""
        import sqlalchemy as sa

        if self.tables is None or isinstance(self.tables, sa.MetaData):
            return self.tables
        return self.tables()

    def command_line(self) -> typer.Typer | None:
        """Its typer app, imported now if given as a function (a typer app is callable too)."""
        import typer

        if self.cli is None or isinstance(self.cli, typer.Typer):
            return self.cli
        return self.cli()


def installed() -> dict[str, str]:
    """Every service an installed package declares: name → ``module:attribute``."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _entry_points(names: Sequence[str]) -> dict[str, EntryPoint]:
    """The services' entry points by name: skyferry's own distribution's when it declares every
    one of ``names`` (the built-in services), else every installed package's. Reading one
    distribution takes a fraction of a millisecond; scanning them all, about 20 ms of each
    start (of a Lambda cold start too) with a development environment's packages."""
    try:
        own = {
            ep.name: ep
            for ep in distribution("skyferry").entry_points
            if ep.group == ENTRY_POINT_GROUP
        }
    except PackageNotFoundError:
        own = {}
    if all(name in own for name in names):
        return own
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load(names: Sequence[str]) -> list[Service[Any]]:
    """Import the named services, in order; importing a service registers its job kinds.

    Every process that shares a queue (API and workers) must load the same services, because a
    job runs only where its kind is registered; all of them read the same ``SKYFERRY_SERVICES``.
    """
    available = _entry_points(names)
    missing = [name for name in names if name not in available]
    if missing:
        raise ServiceNotFoundError(
            f"SKYFERRY_SERVICES names {missing}, which no installed package provides; "
            f"installed: {sorted(available)}"
        )
    services: list[Service[Any]] = []
    for name in names:
        service = available[name].load()
        if not isinstance(service, Service) or service.name != name:
            raise ServiceNotFoundError(
                f"entry point {name!r} = {available[name].value} is not a Service named {name!r}"
            )
        services.append(service)
    return services
