"""The job engine: the one place that starts, stops and queries DBOS."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from dbos import (
    DBOS,
    DBOSConfig,
    Queue,
    SetWorkflowID,
    SetWorkflowTimeout,
    WorkflowHandleAsync,
)
from pydantic import BaseModel

from skyferry import __version__
from skyferry.config import Settings
from skyferry.errors import Problem, SkyferryError
from skyferry.http.cursors import decode_cursor, encode_cursor
from skyferry.jobs.kinds import WORKFLOW_PREFIX, JobKind, Submission, kind_of_workflow
from skyferry.jobs.models import Job, JobPage, JobStatus, Progress
from skyferry.jobs.records import DBOS_STATUSES, JobCursor, new_job_record, to_job
from skyferry.jobs.tables import fanout_items, idempotency_keys, job_progress
from skyferry.jobs.workers import WorkerMonitor
from skyferry.platform import Platform
from skyferry.storage.sql import insert_missing

log = logging.getLogger(__name__)

QUEUE_NAME = "skyferry-jobs"
JOB_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
"""What a job id looks like: ours are hex UUIDs, with dashes when derived from a key."""
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d7a4e-2b9c-4f59-9a8e-5b1f0c3d2e71")


class JobNotFoundError(SkyferryError):
    status = 404
    title = "Job not found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}", job_id=job_id)
        self.job_id = job_id


class IdempotencyConflictError(SkyferryError):
    """The Idempotency-Key was used before with a different request."""

    status = 422
    title = "Idempotency-Key reused"

    def __init__(self, job_id: str) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different request "
            f"(job {job_id}); use a new key for a new request",
            job_id=job_id,
        )
        self.job_id = job_id


class JobNotFinishedError(SkyferryError):
    status = 409
    title = "Job not finished"

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"job {job.id} is {job.status.value}; it has no result", job_status=job.status.value
        )
        self.job = job


class EngineError(RuntimeError):
    """The engine is used where none runs, or a second one is started in one process."""


class Jobs(Protocol):
    """What job handles and the ``/jobs`` routes ask of an engine: ``JobEngine`` (DBOS), or
    ``skyferry.testing.InMemoryJobs`` in unit tests."""

    async def submit(
        self, kind: JobKind[Any, Any], params: BaseModel, idempotency_key: str | None = None
    ) -> Submission: ...

    async def get(self, job_id: str) -> Job: ...

    async def list_jobs(
        self,
        *,
        kind: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage: ...

    async def cancel(self, job_id: str) -> Job: ...

    async def result(self, job_id: str) -> Any: ...

    async def delete(self, job_id: str) -> None: ...


_current: Jobs | None = None


def use_engine(engine: Jobs | None) -> Jobs | None:
    """Make ``engine`` this process's (None: none); returns the one it replaces."""
    global _current
    previous, _current = _current, engine
    return previous


def current_engine() -> Jobs:
    """The job engine of this process (started by the app's lifespan or ``skyferry worker``)."""
    if _current is None:
        raise EngineError(
            "no job engine runs in this process: submit jobs from a started app "
            "(skyferry.install or create_app, under its lifespan) or a worker"
        )
    return _current


def new_executor_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class JobEngine:
    """Owns DBOS for this process. ``run_workers`` decides whether this process runs jobs."""

    def __init__(self, platform: Platform, *, run_workers: bool) -> None:
        self.platform = platform
        self.settings: Settings = platform.settings
        self.run_workers = run_workers
        self.executor_id = platform.settings.executor_id or new_executor_id()
        self._monitor: WorkerMonitor | None = None
        self._queue: Queue

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Launch DBOS on the running event loop: DBOS runs queued async jobs on the loop it was
        launched from, the loop that opened the services' resources (an HTTP client belongs to
        the loop it was opened on)."""
        global _current
        if _current is not None:
            raise EngineError(
                "a job engine already runs in this process: DBOS keeps one engine per "
                "process, so start one app or worker per process"
            )
        _current = self
        try:
            await self._launch()
        except BaseException:
            _current = None
            raise

    async def _launch(self) -> None:
        DBOS(config=self._dbos_config())
        if not self.run_workers:
            DBOS.listen_queues([])
        DBOS.launch()
        self._queue = await DBOS.register_queue_async(
            QUEUE_NAME,
            worker_concurrency=self.settings.worker_concurrency,
            polling_interval_sec=self.settings.queue_polling_seconds,
            on_conflict="always_update",
        )
        if self.run_workers:
            self._monitor = WorkerMonitor(self.platform.database, self.executor_id, self.settings)
            self._monitor.start()
        log.info(
            "job engine started",
            extra={"executor_id": self.executor_id, "workers": self.run_workers},
        )

    def stop(self, grace_seconds: int | None = None) -> None:
        """Let running jobs finish for the grace period; what is left resumes on another worker."""
        global _current
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        if self._monitor is not None:
            # keep heartbeating while jobs drain, or others would take them over mid-run
            self._monitor.stop_recovering()
        DBOS.destroy(workflow_completion_timeout_sec=grace if self.run_workers else 0)
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        _current = None

    def _dbos_config(self) -> DBOSConfig:
        return {
            "name": "skyferry",
            "system_database_url": self.settings.dbos_system_url,
            "executor_id": self.executor_id,
            # DBOS's default version is a hash of the workflow code, so a redeploy of the same
            # release (a dyno restart with a new slug) would strand the jobs of the old processes
            "application_version": self.settings.app_version or f"skyferry-{__version__}",
            "log_level": self.settings.log_level,
            # every job's steps and the fan-out writer share this pool; DBOS's default of 20
            # starves a process running dozens of jobs at once
            "sys_db_pool_size": max(20, self.settings.worker_concurrency // 2),
            "max_executor_threads": max(64, self.settings.worker_concurrency * 2),
        }

    # -- commands --------------------------------------------------------------------------------

    async def submit(
        self, kind: JobKind[Any, Any], params: BaseModel, idempotency_key: str | None = None
    ) -> Submission:
        """Enqueue a job. A plain submit is one write (DBOS's enqueue).

        With an idempotency key the job id is derived from the kind and the key, and the one
        submit whose insert of the key's row succeeds is the one that created the job; every
        other submit with that key, however they race, gets ``created=False`` and the same job
        (or ``IdempotencyConflictError`` when its params differ).
        """
        payload = params.model_dump(mode="json")
        if idempotency_key is None:
            job_id = uuid.uuid4().hex
            await self._enqueue(kind, job_id, payload)
            return Submission(new_job_record(job_id, kind.name, payload, _now()), True)
        if not idempotency_key:
            raise Problem(422, "an Idempotency-Key must not be empty", title="Invalid request")
        job_id = str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{kind.name}\0{idempotency_key}"))
        fingerprint = _fingerprint(kind.name, payload)
        created, stored = await asyncio.to_thread(self._claim_key, job_id, kind.name, fingerprint)
        if stored != fingerprint:
            raise IdempotencyConflictError(job_id)
        if not created:
            existing = await self._status(job_id)
            if existing is not None:
                return Submission(await self._to_job(existing), False)
        # the creator enqueues; a repeat that finds no job yet (its creator is between the two
        # writes, or died there) enqueues too: DBOS keeps one workflow per id either way
        await self._enqueue(kind, job_id, payload)
        return Submission(new_job_record(job_id, kind.name, payload, _now()), created)

    async def _enqueue(self, kind: JobKind[Any, Any], job_id: str, payload: dict[str, Any]) -> None:
        timeout = kind.timeout_seconds or self.settings.default_job_timeout_seconds
        with SetWorkflowID(job_id), SetWorkflowTimeout(timeout):
            await self._queue.enqueue_async(kind.workflow, payload)

    def _claim_key(self, job_id: str, kind: str, fingerprint: str) -> tuple[bool, str]:
        """Insert the key's row unless it exists: (whether this call did, its fingerprint)."""
        row = {
            "job_id": job_id,
            "kind": kind,
            "fingerprint": fingerprint,
            "created_at": time.time(),
        }
        with self.platform.database.begin() as connection:
            if insert_missing(connection, idempotency_keys, row):
                return True, fingerprint
            stored = connection.execute(
                sa.select(idempotency_keys.c.fingerprint).where(idempotency_keys.c.job_id == job_id)
            ).scalar_one()
        return False, str(stored)

    async def get(self, job_id: str) -> Job:
        workflow = await self._status(job_id)
        if workflow is None:
            raise JobNotFoundError(job_id)
        return await self._to_job(workflow)

    async def get_many(self, job_ids: list[str]) -> list[Job]:
        """Several jobs in one query; unknown ids are left out."""
        workflows = await DBOS.list_workflows_async(workflow_ids=job_ids, load_input=True)
        workflows = [w for w in workflows if kind_of_workflow(w.name) is not None]
        progress = await asyncio.to_thread(self._progress, [w.workflow_id for w in workflows])
        return [to_job(w, progress.get(w.workflow_id)) for w in workflows]

    async def list_jobs(
        self,
        *,
        kind: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        if cursor is None:
            before_ms, offset = _now_ms(), 0
        else:
            position = decode_cursor(cursor, JobCursor)
            before_ms, offset = position.b, position.o
        workflows = await DBOS.list_workflows_async(
            name=WORKFLOW_PREFIX + kind if kind else None,
            status=DBOS_STATUSES[status] if status else None,
            end_time=datetime.fromtimestamp(before_ms / 1000, UTC).isoformat(),
            limit=limit + 1,
            offset=offset,
            sort_desc=True,
            load_input=True,
        )
        workflows = [w for w in workflows if kind_of_workflow(w.name) is not None]
        page, more = workflows[:limit], len(workflows) > limit
        progress = await asyncio.to_thread(self._progress, [w.workflow_id for w in page])
        items = [to_job(w, progress.get(w.workflow_id)) for w in page]
        return JobPage(
            items=items,
            next_cursor=encode_cursor(JobCursor(b=before_ms, o=offset + limit)) if more else None,
        )

    async def cancel(self, job_id: str) -> Job:
        job = await self.get(job_id)
        if not job.status.is_final:
            await DBOS.cancel_workflow_async(job_id)
            job = await self.get(job_id)
        return job

    async def result(self, job_id: str) -> Any:
        job = await self.get(job_id)
        if job.status is not JobStatus.SUCCEEDED:
            raise JobNotFinishedError(job)
        handle: WorkflowHandleAsync[Any] = await DBOS.retrieve_workflow_async(job_id)
        return await handle.get_result()

    async def delete(self, job_id: str) -> None:
        """Forget a finished job: its record, steps, progress and idempotency key."""
        await DBOS.delete_workflow_async(job_id)
        await asyncio.to_thread(self._delete_rows, job_id)

    def _delete_rows(self, job_id: str) -> None:
        with self.platform.database.begin() as connection:
            for table in (job_progress, idempotency_keys):
                connection.execute(sa.delete(table).where(table.c.job_id == job_id))
            connection.execute(sa.delete(fanout_items).where(fanout_items.c.job_id == job_id))

    # -- helpers ---------------------------------------------------------------------------------

    async def _status(self, job_id: str) -> Any:
        if not JOB_ID.fullmatch(job_id):
            return None  # no job has such an id, and a NUL byte would not reach Postgres
        # outputs load too: a failed job's error travels with them (results should stay small)
        found = await DBOS.list_workflows_async(workflow_ids=[job_id], load_input=True)
        return found[0] if found and kind_of_workflow(found[0].name) else None

    async def _to_job(self, workflow: Any) -> Job:
        progress = await asyncio.to_thread(self._progress, [workflow.workflow_id])
        return to_job(workflow, progress.get(workflow.workflow_id))

    def _progress(self, job_ids: list[str]) -> dict[str, Progress]:
        if not job_ids:
            return {}
        query = sa.select(job_progress).where(job_progress.c.job_id.in_(job_ids))
        with self.platform.database.connect() as connection:
            return {
                row.job_id: Progress(done=row.done, total=row.total, message=row.message)
                for row in connection.execute(query)
            }


def _fingerprint(kind: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps([kind, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000) + 1
