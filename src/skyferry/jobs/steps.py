"""Checkpointed steps: ``@skyferry.step(...)`` on an async function makes every call of it from
a job one durable step.

A step that finished is never run again: when a job resumes after a crash, the step's recorded
result is returned instead. A step that was running when its worker died runs again, so a step
should be safe to repeat (write with an idempotent key, or look for its own earlier output).
Called outside a job, the function simply runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from skyferry.jobs.retry import DEFAULT_STEP_RETRY, Retry
from skyferry.platform import current

if TYPE_CHECKING:
    from dbos import StepOptions

P = ParamSpec("P")
R = TypeVar("R")

StepFunction = Callable[P, Coroutine[Any, Any, R]]


@overload
def step(fn: StepFunction[P, R], /) -> StepFunction[P, R]: ...


@overload
def step(
    *, name: str | None = None, retry: Retry = DEFAULT_STEP_RETRY, timeout: float | None = None
) -> Callable[[StepFunction[P, R]], StepFunction[P, R]]: ...


def step(
    fn: StepFunction[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retry: Retry = DEFAULT_STEP_RETRY,
    timeout: float | None = None,
) -> StepFunction[P, R] | Callable[[StepFunction[P, R]], StepFunction[P, R]]:
    """Make ``fn`` a checkpointed step, retried per ``retry``, each attempt cut at ``timeout``.

    ``name`` (default: the function's name) labels the step in DBOS's step log.
    """
    if timeout is not None and timeout <= 0:
        raise ValueError(f"step timeout must be positive, got {timeout}")

    def decorate(function: StepFunction[P, R]) -> StepFunction[P, R]:
        options: StepOptions = {
            **retry.dbos_options(),
            "name": name or function.__name__,
            # a cancelled job's running step is interrupted instead of running to its end
            "preemptible": True,
        }
        if timeout is not None:
            options["timeout_seconds"] = timeout

        @functools.wraps(function)
        async def riding_out_outages(*args: P.args, **kwargs: P.kwargs) -> R:
            # A step's retry policy is for its own failures; a database outage of a minute
            # would exhaust any sensible policy and fail the job for good. A step that met an
            # outage had not finished (its checkpoint comes after it), so running it again is
            # what DBOS would do after a crash. functools.wraps keeps the name DBOS records.
            from skyferry.storage.sql import retry_while_unreachable

            return await retry_while_unreachable(
                lambda: function(*args, **kwargs),
                what=f"step {function.__qualname__}",
                give_up_after=current().settings.database_outage_seconds,
            )

        @functools.wraps(function)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            # imported on the first call, not when a service declares its steps
            from dbos import DBOS

            if DBOS.workflow_id is None:  # not in a job (a test, a CLI): nothing to checkpoint
                return await function(*args, **kwargs)
            return await DBOS.run_step_async(options, riding_out_outages, *args, **kwargs)

        return run

    return decorate(fn) if fn is not None else decorate
