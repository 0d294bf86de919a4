"""Job kinds: a typed async function registered once as a DBOS workflow under its kind name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dbos import DBOS
from pydantic import BaseModel

from skyferry.jobs.context import JobContext

ParamsT = TypeVar("ParamsT", bound=BaseModel)

WORKFLOW_PREFIX = "skyferry:"

JobFunction = Callable[[JobContext, ParamsT], Awaitable[Any]]


@dataclass(frozen=True)
class JobKind(Generic[ParamsT]):
    """A registered kind. ``result_path`` is where its result lives, ``{id}`` filled in."""

    name: str
    params: type[ParamsT]
    workflow: Callable[[dict[str, Any]], Coroutine[Any, Any, Any]]
    timeout_seconds: float | None
    result_path: str

    @property
    def workflow_name(self) -> str:
        return WORKFLOW_PREFIX + self.name


_kinds: dict[str, JobKind[Any]] = {}


def job(
    name: str,
    *,
    params: type[ParamsT],
    timeout_seconds: float | None = None,
    result_path: str = "/jobs/{id}/result",
) -> Callable[[JobFunction[ParamsT]], JobFunction[ParamsT]]:
    """Register ``fn(ctx, params)`` as job kind ``name``.

    DBOS needs its workflows registered before it launches, so kinds are declared at import
    time; which of them an app serves is still chosen by settings.
    """
    if name in _kinds:
        raise ValueError(f"job kind {name!r} is already registered")

    def register(fn: JobFunction[ParamsT]) -> JobFunction[ParamsT]:
        async def workflow(raw_params: dict[str, Any]) -> Any:
            workflow_id = DBOS.workflow_id
            assert workflow_id is not None
            return await fn(JobContext(workflow_id, name), params.model_validate(raw_params))

        workflow.__qualname__ = workflow.__name__ = f"job_{name}"
        registered = DBOS.workflow(name=WORKFLOW_PREFIX + name)(workflow)
        _kinds[name] = JobKind(name, params, registered, timeout_seconds, result_path)
        return fn

    return register


def get_kind(name: str) -> JobKind[Any] | None:
    return _kinds.get(name)


def kind_of_workflow(workflow_name: str) -> str | None:
    if workflow_name.startswith(WORKFLOW_PREFIX):
        return workflow_name.removeprefix(WORKFLOW_PREFIX)
    return None


def all_kinds() -> list[JobKind[Any]]:
    return list(_kinds.values())
