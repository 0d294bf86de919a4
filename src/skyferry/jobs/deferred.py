"""The job engine of a process that runs no jobs, launched by its first job command.

A Lambda API function runs with ``SKYFERRY_DEFER_CONNECTIONS``: an event that needs no job (a
health check, an item read) then never imports DBOS nor opens its client, which is most of a
cold start; the first submit, status read or cancel launches the same ``JobEngine`` that
``skyferry serve --no-workers`` starts at once, and every later command reuses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from skyferry.jobs.current import use_engine

if TYPE_CHECKING:
    from pydantic import BaseModel

    from skyferry.jobs.engine import JobEngine
    from skyferry.jobs.kinds import JobKind, Submission
    from skyferry.jobs.models import Job, JobPage, JobStatus
    from skyferry.platform import Platform


class DeferredJobs:
    """``Jobs`` for this process, launching its engine on first use (a launch that fails, on an
    unreachable database, is tried again by the next command)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._engine: JobEngine | None = None
        self._launching = asyncio.Lock()

    async def engine(self) -> JobEngine:
        if self._engine is None:
            async with self._launching:
                if self._engine is None:
                    from skyferry.jobs.engine import JobEngine

                    engine = JobEngine(self._platform, run_workers=False)
                    await engine.launch()
                    self._engine = engine
        return self._engine

    async def submit(
        self, kind: JobKind[Any, Any], params: BaseModel, idempotency_key: str | None = None
    ) -> Submission:
        return await (await self.engine()).submit(kind, params, idempotency_key)

    async def submit_many(
        self,
        kind: JobKind[Any, Any],
        params: Sequence[BaseModel],
        idempotency_keys: Sequence[str | None] | None = None,
    ) -> list[Submission]:
        return await (await self.engine()).submit_many(kind, params, idempotency_keys)

    async def get(self, job_id: str) -> Job:
        return await (await self.engine()).get(job_id)

    async def list_jobs(
        self,
        *,
        kind: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        engine = await self.engine()
        return await engine.list_jobs(kind=kind, status=status, limit=limit, cursor=cursor)

    async def cancel(self, job_id: str) -> Job:
        return await (await self.engine()).cancel(job_id)

    async def retry(self, job_id: str) -> Job:
        return await (await self.engine()).retry(job_id)

    async def result(self, job_id: str) -> Any:
        return await (await self.engine()).result(job_id)

    async def delete(self, job_id: str) -> None:
        await (await self.engine()).delete(job_id)

    def stop(self) -> None:
        """Stop the engine if a command launched it; this process has no engine afterwards."""
        if self._engine is not None:
            self._engine.stop()
        use_engine(None)
