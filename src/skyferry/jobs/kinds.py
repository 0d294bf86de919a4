"""Job kinds: a typed async function registered once as a DBOS workflow under its kind name.

``@skyferry.job("mine.count", params=Count)`` turns ``fn(ctx, params)`` into a ``JobKind``: a
handle to submit it (``await count.submit(Count(n=3))``), read its jobs and their results.

A kind becomes a DBOS workflow when the process's engine launches (``register_workflows``), not
when it is declared: declaring kinds then imports no DBOS, so a process that never starts an
engine (a CLI command, a Lambda function's first events) does not pay for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from skyferry.jobs.models import Job, JobPage, JobStatus

if TYPE_CHECKING:
    from skyferry.jobs.context import JobContext

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R")

WORKFLOW_PREFIX = "skyferry:"

JobFunction = Callable[["JobContext", P], Awaitable[R]]


class Submission(NamedTuple):
    """What a submit did: the job, and whether this call created it (False: an idempotent
    repeat of an earlier submit, which returns that submit's job)."""

    job: Job
    created: bool


class JobKind(Generic[P, R]):
    """A registered kind. ``result_path`` is where its result lives, ``{id}`` filled in."""

    def __init__(
        self,
        name: str,
        params: type[P],
        fn: JobFunction[P, R],
        *,
        timeout_seconds: float | None,
        result_path: str,
    ) -> None:
        self.name = name
        self.params = params
        self.fn = fn
        self.timeout_seconds = timeout_seconds
        self.result_path = result_path
        self.__doc__ = fn.__doc__
        self._registered = False

    def register(self) -> None:
        """Register the kind as DBOS workflow ``skyferry:<name>`` (once per process)."""
        if self._registered:
            return
        from dbos import DBOS

        from skyferry.jobs.context import JobContext

        name, params, fn = self.name, self.params, self.fn

        async def workflow(raw_params: dict[str, Any]) -> Any:
            workflow_id = DBOS.workflow_id
            assert workflow_id is not None  # DBOS runs this only as a workflow
            ctx = JobContext(workflow_id, name)
            try:
                result = await fn(ctx, params.model_validate(raw_params))
            except BaseException:
                with contextlib.suppress(Exception):  # the job's own error is the one to see
                    await ctx.flush()
                raise
            await ctx.flush()  # its progress lands before the job is seen to end
            return result

        workflow.__qualname__ = workflow.__name__ = f"job_{name}"
        DBOS.workflow(name=WORKFLOW_PREFIX + name)(workflow)
        self._registered = True

    @property
    def workflow_name(self) -> str:
        return WORKFLOW_PREFIX + self.name

    async def submit(self, params: P, idempotency_key: str | None = None) -> Submission:
        """Enqueue a job of this kind. With an ``idempotency_key``, repeats with the same params
        return the first job (``created=False``); other params raise ``IdempotencyConflictError``.
        """
        from skyferry.jobs.current import current_engine

        return await current_engine().submit(self, params, idempotency_key)

    async def submit_many(
        self, params: Sequence[P], idempotency_keys: Sequence[str | None] | None = None
    ) -> list[Submission]:
        """Enqueue many jobs of this kind in one transaction (all or none), one
        ``Submission`` per item in order. ``idempotency_keys``, one key or None per item, work
        as ``submit``'s; a key reused with other params fails the whole batch.
        """
        from skyferry.jobs.current import current_engine

        return await current_engine().submit_many(self, params, idempotency_keys)

    async def get(self, job_id: str) -> Job:
        """The job ``job_id`` of this kind; ``JobNotFoundError`` if there is none."""
        from skyferry.jobs.current import JobNotFoundError, current_engine

        found = await current_engine().get(job_id)
        if found.kind != self.name:
            raise JobNotFoundError(job_id)
        return found

    async def list(
        self, *, status: JobStatus | None = None, limit: int = 50, cursor: str | None = None
    ) -> JobPage:
        """Jobs of this kind, newest first, a page at a time (``next_cursor``)."""
        from skyferry.jobs.current import current_engine

        return await current_engine().list_jobs(
            kind=self.name, status=status, limit=limit, cursor=cursor
        )

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job of this kind; finished steps stay done."""
        from skyferry.jobs.current import current_engine

        await self.get(job_id)
        return await current_engine().cancel(job_id)

    async def delete(self, job_id: str) -> None:
        """Forget a job of this kind: its record, steps, progress and idempotency key."""
        from skyferry.jobs.current import current_engine

        await self.get(job_id)
        await current_engine().delete(job_id)

    def params_of(self, job: Job) -> P:
        """The params a job of this kind was submitted with."""
        return self.params.model_validate(job.params or {})

    async def result(self, job_id: str) -> R:
        """A succeeded job's result; ``JobNotFinishedError`` before."""
        from skyferry.jobs.current import current_engine

        await self.get(job_id)
        value: R = await current_engine().result(job_id)
        return value

    def __repr__(self) -> str:
        return f"JobKind({self.name!r})"


_kinds: dict[str, JobKind[Any, Any]] = {}
_launched = False  # an engine has launched: kinds declared since register at once


def job(
    name: str,
    *,
    params: type[P],
    timeout_seconds: float | None = None,
    result_path: str = "/jobs/{id}/result",
) -> Callable[[JobFunction[P, R]], JobKind[P, R]]:
    """Register ``fn(ctx, params)`` as job kind ``name`` and return its handle.

    DBOS needs its workflows registered before it launches, so kinds are declared at import
    time, in a module the app (or the service) imports; every process that runs or submits
    the kind must import it.
    """
    if name in _kinds:
        raise ValueError(f"job kind {name!r} is already registered")

    def register(fn: JobFunction[P, R]) -> JobKind[P, R]:
        kind = JobKind(name, params, fn, timeout_seconds=timeout_seconds, result_path=result_path)
        _kinds[name] = kind
        if _launched:
            kind.register()
        return kind

    return register


def register_workflows() -> None:
    """Register every declared kind with DBOS, before the engine launches it."""
    global _launched
    for kind in _kinds.values():
        kind.register()
    _launched = True


def get_kind(name: str) -> JobKind[Any, Any] | None:
    return _kinds.get(name)


def kind_of_workflow(workflow_name: str) -> str | None:
    if workflow_name.startswith(WORKFLOW_PREFIX):
        return workflow_name.removeprefix(WORKFLOW_PREFIX)
    return None
