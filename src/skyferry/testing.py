"""Testing without a database: an in-memory job engine that records every call.

Routes that submit jobs, and the jobs themselves, can be unit-tested in milliseconds: inside
``with in_memory_jobs() as jobs:`` every ``kind.submit``/``get``/``list``/``cancel`` (and the
``/jobs`` routes) use ``jobs``; nothing runs until the test says ``await jobs.run(job_id)``,
which calls the job function with steps as plain calls and progress recorded in memory; the
resources the test hands in stand in for the real ones (in jobs, steps and routes)::

    with skyferry.testing.in_memory_jobs(resources={books: fake_books}) as jobs:
        submission = await generate_book.submit(BookRequest(topic="Kites"))
        job = await jobs.run(submission.job.id)
        assert job.status is skyferry.JobStatus.SUCCEEDED
        assert jobs.calls[0] == ("submit", "books.generate")

Durability is not simulated: use the real engine (SQLite is enough) to test resuming.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel

from skyferry.jobs.context import JobContext
from skyferry.jobs.current import (
    IdempotencyConflictError,
    JobNotFailedError,
    JobNotFinishedError,
    JobNotFoundError,
    use_engine,
)
from skyferry.jobs.fanout import FanOutResult, ItemOutcome, RateLimit, for_each, run_with_retry
from skyferry.jobs.kinds import JobKind, Submission
from skyferry.jobs.models import Job, JobError, JobPage, JobStatus, Progress
from skyferry.jobs.retry import DEFAULT_STEP_RETRY, Retry
from skyferry.resources import Resource, overridden

T = TypeVar("T")


class Call(NamedTuple):
    """One call made to the engine: its method and the kind or job id it named."""

    method: str
    target: str


class _Entry:
    def __init__(self, kind: JobKind[Any, Any], job: Job) -> None:
        self.kind = kind
        self.job = job
        self.result: Any = None


class InMemoryJobs:
    """A job engine in a dict: jobs wait as ``queued`` until ``run`` runs them."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._jobs: dict[str, _Entry] = {}
        self._keys: dict[str, tuple[str, dict[str, Any]]] = {}

    def reset(self) -> None:
        """Forget every job and call, as a fresh engine would know none."""
        self.calls.clear()
        self._jobs.clear()
        self._keys.clear()

    # -- what job handles and routes call ---------------------------------------------------------

    async def submit(
        self, kind: JobKind[Any, Any], params: BaseModel, idempotency_key: str | None = None
    ) -> Submission:
        self.calls.append(Call("submit", kind.name))
        return self._submit(kind, params, idempotency_key)

    async def submit_many(
        self,
        kind: JobKind[Any, Any],
        params: Sequence[BaseModel],
        idempotency_keys: Sequence[str | None] | None = None,
    ) -> list[Submission]:
        """As the engine's: a key reused with other params fails the batch before any job."""
        self.calls.append(Call("submit_many", kind.name))
        keys = [None] * len(params) if idempotency_keys is None else list(idempotency_keys)
        if len(keys) != len(params):
            raise ValueError(f"{len(keys)} idempotency keys for {len(params)} jobs")
        first: dict[str, dict[str, Any]] = {}
        for item, key in zip(params, keys, strict=True):
            if key is None:
                continue
            payload = item.model_dump(mode="json")
            known = self._keys.get(f"{kind.name}\0{key}")
            seen = first.setdefault(key, known[1] if known else payload)
            if seen != payload:
                raise IdempotencyConflictError(known[0] if known else key)
        return [self._submit(kind, item, key) for item, key in zip(params, keys, strict=True)]

    def _submit(
        self, kind: JobKind[Any, Any], params: BaseModel, idempotency_key: str | None
    ) -> Submission:
        payload = params.model_dump(mode="json")
        if idempotency_key is not None:
            known = self._keys.get(f"{kind.name}\0{idempotency_key}")
            if known is not None:
                job_id, first = known
                if first != payload:
                    raise IdempotencyConflictError(job_id)
                return Submission(self._jobs[job_id].job, False)
        job_id = uuid.uuid4().hex
        job = Job(
            id=job_id,
            kind=kind.name,
            status=JobStatus.QUEUED,
            params=payload,
            progress=Progress(),
            created_at=datetime.now(UTC),
            links={"self": f"/jobs/{job_id}", "cancel": f"/jobs/{job_id}/cancel"},
        )
        self._jobs[job_id] = _Entry(kind, job)
        if idempotency_key is not None:
            self._keys[f"{kind.name}\0{idempotency_key}"] = (job_id, payload)
        return Submission(job, True)

    async def get(self, job_id: str) -> Job:
        self.calls.append(Call("get", job_id))
        return self._entry(job_id).job

    async def list_jobs(
        self,
        *,
        kind: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        self.calls.append(Call("list", kind or ""))
        jobs = [
            entry.job
            for entry in reversed(self._jobs.values())
            if (kind is None or entry.job.kind == kind)
            and (status is None or entry.job.status is status)
        ]
        start = int(cursor) if cursor and cursor.isdigit() else 0
        more = len(jobs) > start + limit
        return JobPage(
            items=jobs[start : start + limit], next_cursor=str(start + limit) if more else None
        )

    async def cancel(self, job_id: str) -> Job:
        self.calls.append(Call("cancel", job_id))
        entry = self._entry(job_id)
        if not entry.job.status.is_final:
            entry.job = entry.job.model_copy(
                update={"status": JobStatus.CANCELLED, "finished_at": datetime.now(UTC)}
            )
        return entry.job

    async def retry(self, job_id: str) -> Job:
        """A failed job is queued again (``run`` runs it from the start: no checkpoints here)."""
        self.calls.append(Call("retry", job_id))
        entry = self._entry(job_id)
        if entry.job.status is not JobStatus.FAILED:
            raise JobNotFailedError(entry.job)
        entry.job = entry.job.model_copy(
            update={"status": JobStatus.QUEUED, "error": None, "finished_at": None}
        )
        return entry.job

    async def result(self, job_id: str) -> Any:
        self.calls.append(Call("result", job_id))
        entry = self._entry(job_id)
        if entry.job.status is not JobStatus.SUCCEEDED:
            raise JobNotFinishedError(entry.job)
        return entry.result

    async def delete(self, job_id: str) -> None:
        self.calls.append(Call("delete", job_id))
        self._entry(job_id)
        del self._jobs[job_id]
        self._keys = {k: v for k, v in self._keys.items() if v[0] != job_id}

    # -- what tests call ------------------------------------------------------------------------

    async def run(self, job_id: str) -> Job:
        """Run a queued job to its end now; its error, if any, is recorded as a job's would be."""
        entry = self._entry(job_id)
        if entry.job.status is not JobStatus.QUEUED:
            return entry.job
        entry.job = entry.job.model_copy(
            update={"status": JobStatus.RUNNING, "started_at": datetime.now(UTC)}
        )
        context = _MemoryContext(self, entry)
        try:
            entry.result = await entry.kind.fn(context, entry.kind.params_of(entry.job))
        except Exception as exc:
            entry.job = entry.job.model_copy(
                update={
                    "status": JobStatus.FAILED,
                    "error": JobError(type=type(exc).__name__, message=str(exc)[:2000]),
                    "finished_at": datetime.now(UTC),
                }
            )
        else:
            entry.job = entry.job.model_copy(
                update={"status": JobStatus.SUCCEEDED, "finished_at": datetime.now(UTC)}
            )
        return entry.job

    async def run_all(self) -> list[Job]:
        """Run every queued job, oldest first."""
        queued = [e.job.id for e in self._jobs.values() if e.job.status is JobStatus.QUEUED]
        return [await self.run(job_id) for job_id in queued]

    def _entry(self, job_id: str) -> _Entry:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFoundError(job_id) from None


class _MemoryContext(JobContext):
    """The context ``run`` gives a job: progress in memory, resources from the test."""

    def __init__(self, jobs: InMemoryJobs, entry: _Entry) -> None:
        self.id = entry.job.id
        self.kind = entry.kind.name
        self._jobs = jobs
        self._entry = entry

    def get(self, resource: Resource[T]) -> T:
        return resource.get()

    async def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        self._entry.job = self._entry.job.model_copy(
            update={"progress": Progress(done=done, total=total, message=message[:500])}
        )

    async def fan_out(
        self,
        name: str,
        items: Sequence[T],
        fn: Callable[[T], Awaitable[Any]],
        *,
        concurrency: int = 10,
        rate_limit: RateLimit | None = None,
        retry: Retry = DEFAULT_STEP_RETRY,
        report_progress: bool = True,
        across_workers: bool = False,
        chunk_size: int = 100,
    ) -> FanOutResult:
        # one process: a fan-out across workers runs here, as it does on SQLite
        outcomes: dict[int, ItemOutcome] = {}

        async def one(index: int) -> None:
            # the real engine's per-item retry, backoff included
            outcomes[index] = await run_with_retry(index, items[index], fn, retry)

        # as the engine does: at most ``concurrency`` tasks, whatever the number of items
        await for_each(iter(range(len(items))), one, tasks=concurrency)
        if report_progress:
            await self.progress(len(items), len(items), f"{name}: {len(items)} of {len(items)}")
        return FanOutResult([outcomes[index] for index in range(len(items))])


@contextmanager
def in_memory_jobs(
    resources: Mapping[Resource[Any], Any] | None = None,
) -> Iterator[InMemoryJobs]:
    """Make an ``InMemoryJobs`` this process's engine for the ``with`` block."""
    jobs = InMemoryJobs()
    previous = use_engine(jobs)
    try:
        with overridden(resources or {}):
            yield jobs
    finally:
        use_engine(previous)
