"""The job engine: the one place that starts, stops and queries DBOS.

Two handles on DBOS's tables: DBOS itself runs the jobs, and on a lost connection it blocks and
retries until the database is back, which is right for a running job (it pauses, loses
nothing). What a request asks (submit, status, list, cancel, result) goes through a
``DBOSClient`` that raises instead, so the API answers 503 at once during an outage rather
than after it (one request answered after 133 s). On Postgres that client shares the
application's engine and pool when DBOS's tables live in the application database.
"""

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
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions, WorkflowHandleAsync
from dbos import error as dbos_errors
from pydantic import BaseModel

from skyferry import __version__
from skyferry.config import Settings
from skyferry.errors import Problem
from skyferry.http.cursors import decode_cursor, encode_cursor
from skyferry.jobs.backlog import BacklogPublisher
from skyferry.jobs.current import (
    IdempotencyConflictError,
    JobNotFailedError,
    JobNotFinishedError,
    JobNotFoundError,
    SubmitNotConfirmedError,
    claim_engine,
    use_engine,
)
from skyferry.jobs.dbos_idle import INTERNAL_QUEUE_NAME, QueueWake, quiet_background_threads
from skyferry.jobs.kinds import (
    WORKFLOW_PREFIX,
    JobKind,
    Submission,
    kind_of_workflow,
    register_workflows,
)
from skyferry.jobs.models import Job, JobPage, JobStatus, Progress
from skyferry.jobs.notify import (
    FAN_OUT_ENDED,
    SubmitListener,
    SubmitNotifier,
    file_changes,
    notify,
)
from skyferry.jobs.records import DBOS_STATUSES, JobCursor, new_job_record, to_job
from skyferry.jobs.spread import ChunkClaimer, use_claimer
from skyferry.jobs.tables import (
    fanout_chunks,
    fanout_items,
    idempotency_keys,
    job_progress,
    workers,
)
from skyferry.jobs.workers import WorkerMonitor
from skyferry.platform import Platform
from skyferry.storage.sql import (
    check_database,
    insert_missing,
    is_database_unreachable,
    open_database,
    postgres_connect_args,
    waiting_connector,
)

log = logging.getLogger(__name__)

QUEUE_NAME = "skyferry-jobs"
JOB_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
"""What a job id looks like: ours are hex UUIDs, with dashes when derived from a key."""
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d7a4e-2b9c-4f59-9a8e-5b1f0c3d2e71")
_SHUTDOWN_CHECK_SECONDS = 0.05


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
        self._backlog: BacklogPublisher | None = None
        self._requests: DBOSClient
        self._requests_engine: sa.Engine | None = None
        self._wake: QueueWake | None = None
        self._notifier: SubmitNotifier | None = None
        self._listener: SubmitListener | None = None
        self._claimer: ChunkClaimer | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Launch DBOS on the running event loop: DBOS runs queued async jobs on the loop it was
        launched from, the loop that opened the services' resources (an HTTP client belongs to
        the loop it was opened on)."""
        claim_engine(self)
        try:
            await self.launch()
        except BaseException:
            use_engine(None)
            raise

    async def launch(self) -> None:
        """Start DBOS and the request client, without claiming the process's engine (for a
        ``DeferredJobs`` that stands in for it)."""
        # DBOS's connects wait out an outage; a database that is not there at start-up is more
        # likely a wrong URL than an outage, and should stop the process with that message
        await asyncio.to_thread(check_database, self.platform.database)
        quiet_background_threads()  # fewer polls of the database from an idle process
        register_workflows()
        DBOS(config=self._dbos_config())
        if not self.run_workers:
            DBOS.listen_queues([])
        DBOS.launch()
        await DBOS.register_queue_async(
            QUEUE_NAME,
            worker_concurrency=self.settings.worker_concurrency,
            polling_interval_sec=self.settings.queue_polling_seconds,
            on_conflict="always_update",
        )
        self._requests = self._request_client()
        if self.run_workers and self.platform.database.dialect.name == "postgresql":
            # this worker's share of the fan-outs spread over the workers (jobs/spread.py)
            self._claimer = ChunkClaimer(
                self.platform.database,
                self.executor_id,
                lease_seconds=self.settings.executor_timeout_seconds,
                renew_seconds=self.settings.heartbeat_seconds,
                give_up_after=self.settings.database_outage_seconds,
                wake_others=self._submitted,
                announce_end=lambda: notify(self._notify_engine, FAN_OUT_ENDED),
            )
            self._claimer.start()
            use_claimer(self._claimer)
        self._start_wakeups()
        if self.run_workers:
            self._monitor = WorkerMonitor(
                self.platform.database,
                self.executor_id,
                self.settings,
                wake_workers=self._submitted,
            )
            self._monitor.start()
            if self.settings.queue_metric_namespace:
                self._backlog = BacklogPublisher(self.settings, QUEUE_NAME)
                self._backlog.start()
        log.info(
            "job engine started",
            extra={"executor_id": self.executor_id, "workers": self.run_workers},
        )

    def stop(self, grace_seconds: int | None = None) -> None:
        """Let running jobs finish for the grace period; what is left resumes on another worker."""
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        if self._backlog is not None:
            self._backlog.stop()
            self._backlog = None
        if self._monitor is not None:
            # keep heartbeating while jobs drain, or others would take them over mid-run
            self._monitor.stop_recovering()
        if self._claimer is not None:
            self._claimer.stop()
            use_claimer(None)
            self._claimer = None
        if self._listener is not None:
            self._listener.stop(wake=lambda: notify(self._notify_engine))
        if self._notifier is not None:
            self._notifier.stop()
        if self.run_workers and grace > 0:
            self._finish_running_jobs(grace)
        DBOS.destroy(workflow_completion_timeout_sec=0)
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        self._requests.destroy()
        if self._requests_engine is not None:
            self._requests_engine.dispose()
        use_engine(None)

    def _finish_running_jobs(self, grace_seconds: float) -> None:
        """Take no more jobs and wait up to ``grace_seconds`` for the running ones to end.

        DBOS.destroy can wait too, but it checks once a second, from a second after it is
        called: every worker's shutdown would take a second or more with nothing running.
        """
        if self._wake is None:
            return
        self._wake.hold()
        deadline = time.monotonic() + grace_seconds
        while self._wake.running_jobs() and time.monotonic() < deadline:
            time.sleep(_SHUTDOWN_CHECK_SECONDS)

    def _start_wakeups(self) -> None:
        """Idle workers sleep until a submit wakes them (jobs/dbos_idle.py, jobs/notify.py).

        On Postgres a submit NOTIFYs every process and each process running jobs LISTENs; on
        SQLite the process's own submits wake its workers directly, and a change of DBOS's
        database file (another process's submit) within 100 ms. Behind a transaction pooler no
        connection can LISTEN, so the workers poll at ``queue_polling_seconds`` as before.
        """
        settings = self.settings
        postgres = settings.dbos_system_url.startswith("postgresql")
        listens = postgres and settings.database_pooler != "transaction" and self.run_workers
        idle = settings.queue_idle_polling_seconds
        # DBOS's own queue, polled in every process; skyferry enqueues nothing on it
        QueueWake(INTERNAL_QUEUE_NAME, idle_seconds=idle, busy_grace_seconds=1.0).install()
        if postgres:
            self._notifier = SubmitNotifier(self._notify_engine)
        if not self.run_workers:
            return
        self._wake = QueueWake(
            QUEUE_NAME,
            idle_seconds=idle if listens or not postgres else settings.queue_polling_seconds,
            busy_grace_seconds=1.0,
            busy_at=settings.worker_concurrency if listens or not postgres else 1,
            changed=None if postgres else file_changes(sqlite_path(settings.dbos_system_url)),
        )
        self._wake.install()
        if listens:
            connect = waiting_connector(
                settings.dbos_system_url,
                postgres_connect_args(
                    application_name=settings.application_name("listen"),
                    connect_timeout_seconds=settings.database_connect_timeout_seconds,
                ),
                give_up_after=None,
            )
            self._listener = SubmitListener(connect, self._ring)

    def _ring(self, payload: str) -> None:
        """A NOTIFY came: a job was submitted, or a fan-out has chunks to claim, or ended."""
        if payload == FAN_OUT_ENDED:
            if self._claimer is not None:
                self._claimer.ended()
            return
        if self._wake is not None:
            self._wake.ring()
        if self._claimer is not None:
            self._claimer.ring()

    def hold_queue(self) -> None:
        """Take no more queued jobs until ``release_queue``; jobs running go on. The Lambda
        worker holds the queue outside its invocations: a job taken then would only be
        suspended."""
        if self._wake is not None:
            self._wake.hold()

    def release_queue(self) -> None:
        """Take queued jobs again, at once."""
        if self._wake is not None:
            self._wake.release()

    @property
    def _notify_engine(self) -> sa.Engine:
        """An engine on DBOS's database, where the workers LISTEN."""
        return self._requests_engine or self.platform.database

    def _submitted(self) -> None:
        if self._wake is not None:
            self._wake.ring()
        if self._notifier is not None:
            self._notifier.submitted()

    def _request_client(self) -> DBOSClient:
        """The handle requests use: it raises on a lost connection instead of waiting."""
        settings = self.settings
        system_url = settings.dbos_system_url
        timeout = settings.database_statement_timeout_seconds
        options: dict[str, Any] = {
            "application_name": "skyferry",
            "retry_connection_errors": False,
            "lazy": True,
            "observability_query_timeout_sec": timeout if timeout > 0 else None,
        }
        if system_url.startswith("sqlite"):
            return DBOSClient(system_database_url=system_url, **options)
        engine = self.platform.database
        if settings.uses_own_system_database:
            # our engine factory, for the same timeouts, pooler handling and application_name
            engine = self._requests_engine = open_database(
                settings, url=settings.system_sqlalchemy_url, name="requests"
            )
        return DBOSClient(system_database_engine=engine, **options)

    def _dbos_config(self) -> DBOSConfig:
        config: DBOSConfig = {
            "name": "skyferry",
            "system_database_url": self.settings.dbos_system_url,
            "executor_id": self.executor_id,
            # DBOS's default version is a hash of the workflow code, so a redeploy of the same
            # release (a dyno restart with a new slug) would strand the jobs of the old processes
            "application_version": self._app_version,
            "log_level": self.settings.log_level,
            # DBOS's connections of this process: each job's step checkpoints (short
            # transactions), dequeueing and DBOS's background threads. The connection budget
            # in README's settings table counts them, plus the one DBOS holds for LISTEN.
            "sys_db_pool_size": self.settings.system_database_pool_size,
            "max_executor_threads": max(64, self.settings.worker_concurrency * 2),
            "notification_listener_polling_interval_sec": (
                self.settings.notification_polling_seconds
            ),
            # how often DBOS pushes the NOTIFYs of workflow events and streams, which skyferry
            # does not use: its default (10 ms) wakes a thread a hundred times a second
            "notification_coalesce_sec": 0.5,
        }
        if self.settings.dbos_system_url.startswith("postgresql"):
            connect_args = postgres_connect_args(
                application_name=self.settings.application_name("dbos"),
                connect_timeout_seconds=self.settings.database_connect_timeout_seconds,
                pooler=self.settings.database_pooler,
            )
            config["db_engine_kwargs"] = {
                # DBOS's defaults, except how it connects; with no overflow the pool size is
                # the most connections it opens. No statement timeout: a checkpoint cancelled
                # half way is an error DBOS does not retry, and it fails the job.
                "pool_timeout": 30,
                "max_overflow": 0,
                # No ping before each checkout: it was a round trip per write, and a quarter
                # of a no-op job's CPU in the worker and in Postgres. A connection that died
                # (an outage, a failover) fails its statement as a disconnect instead, which
                # makes SQLAlchemy drop the whole pool and DBOS retry the write on a new one.
                "pool_pre_ping": False,
                # connects wait out an outage, so jobs resume as soon as the database is back;
                # the system database must exist (it is created like the application's)
                "creator": waiting_connector(
                    self.settings.dbos_system_url,
                    connect_args,
                    give_up_after=self.settings.database_outage_seconds,
                ),
            }
        if self.settings.database_pooler == "transaction":
            # DBOS SETs idle_in_transaction_session_timeout on each new connection; through a
            # transaction pooler that session setting would stay on a server connection other
            # clients share. The pooler's own idle_transaction_timeout does that job there.
            config["sys_db_idle_transaction_timeout_sec"] = 0
            # DBOS's migrations serialise on a session advisory lock, which a transaction
            # pooler cannot keep; `skyferry db upgrade` runs them against Postgres directly
            config["run_migrations"] = False
        return config

    @property
    def _app_version(self) -> str:
        return self.settings.app_version or f"skyferry-{__version__}"

    # -- commands --------------------------------------------------------------------------------

    async def submit(
        self, kind: JobKind[Any, Any], params: BaseModel, idempotency_key: str | None = None
    ) -> Submission:
        """Enqueue a job: ``submit_many`` of one."""
        (submission,) = await self.submit_many(kind, [params], [idempotency_key])
        return submission

    async def submit_many(
        self,
        kind: JobKind[Any, Any],
        params: Sequence[BaseModel],
        idempotency_keys: Sequence[str | None] | None = None,
    ) -> list[Submission]:
        """Enqueue jobs of one kind in one transaction: every job is created, or none is.

        Jobs without a key cost one write (DBOS's enqueue) and no read: the records returned
        are built from what was enqueued. One round trip per job was what bounded a producer
        (about 300 submits/s on Postgres here, against thousands a second in one transaction).

        ``idempotency_keys`` holds one key (or None) per item. A keyed job's id is derived from
        the kind and the key, and the one submit whose insert of the key's row succeeds is the
        one that created the job; every other submit with that key (or a later item of the same
        batch), however they race, gets ``created=False`` and the same job. A key used before
        with other params fails the whole batch with ``IdempotencyConflictError``, before any
        job is created.
        """
        keys: list[str | None] = (
            [None] * len(params) if idempotency_keys is None else list(idempotency_keys)
        )
        if len(keys) != len(params):
            raise ValueError(f"{len(keys)} idempotency keys for {len(params)} jobs")
        if any(key is not None and not key for key in keys):
            raise Problem(422, "an Idempotency-Key must not be empty", title="Invalid request")
        job_ids = [uuid.uuid4().hex if key is None else _job_id(kind, key) for key in keys]
        if not job_ids:
            return []
        try:
            return await self._submit_many(kind, job_ids, params, keys)
        except sa.exc.SQLAlchemyError as exc:
            if is_database_unreachable(exc):
                # the enqueue is one transaction: the jobs exist whole or not at all, and the
                # same Idempotency-Key finds them again once the database is back
                raise SubmitNotConfirmedError(job_ids[0]) from exc
            raise

    async def _submit_many(
        self,
        kind: JobKind[Any, Any],
        job_ids: list[str],
        params: Sequence[BaseModel],
        keys: list[str | None],
    ) -> list[Submission]:
        payloads = [p.model_dump(mode="json") for p in params]
        fingerprints: dict[str, str] = {}  # a keyed job's id: its first item's fingerprint
        for job_id, payload, key in zip(job_ids, payloads, keys, strict=True):
            if key is not None:
                fingerprint = _fingerprint(kind.name, payload)
                if fingerprints.setdefault(job_id, fingerprint) != fingerprint:
                    raise IdempotencyConflictError(job_id)
        claimed: set[str] = set()
        existing: dict[str, Job] = {}
        if fingerprints:
            claimed = await asyncio.to_thread(self._claim_keys, kind.name, fingerprints)
            repeats = [job_id for job_id in fingerprints if job_id not in claimed]
            if repeats:
                existing = {job.id: job for job in await self.get_many(repeats)}
        now = _now()
        submissions: list[Submission] = []
        # the creator enqueues; a repeat that finds no job yet (its creator is between the two
        # writes, or died there) enqueues too: DBOS keeps one workflow per id either way
        enqueue: dict[str, dict[str, Any]] = {}
        for job_id, payload, key in zip(job_ids, payloads, keys, strict=True):
            if job_id in existing:
                submissions.append(Submission(existing[job_id], False))
                continue
            created = job_id not in enqueue and (key is None or job_id in claimed)
            enqueue.setdefault(job_id, payload)
            submissions.append(Submission(new_job_record(job_id, kind.name, payload, now), created))
        if enqueue:
            await asyncio.to_thread(self._enqueue, kind, enqueue)
            self._submitted()
        return submissions

    def _enqueue(self, kind: JobKind[Any, Any], payloads: dict[str, dict[str, Any]]) -> None:
        options: EnqueueOptions = {
            "queue_name": QUEUE_NAME,
            "workflow_name": kind.workflow_name,
            "workflow_timeout": kind.timeout_seconds or self.settings.default_job_timeout_seconds,
            # what DBOS's own enqueue stamps: only workers of this version run the job
            "app_version": self._app_version,
        }
        # the client's own engine: on Postgres the one it was given, on SQLite DBOS's
        with self._requests._sys_db.engine.begin() as connection:
            for job_id, payload in payloads.items():
                options["workflow_id"] = job_id
                self._requests.enqueue_in_transaction(connection, options, payload)

    def _claim_keys(self, kind: str, fingerprints: dict[str, str]) -> set[str]:
        """Insert each key's row unless it exists, in one transaction: the ids whose rows this
        call inserted. A key found with another fingerprint rolls every claim back."""
        created_at = time.time()
        with self.platform.database.begin() as connection:
            claimed = {
                job_id
                for job_id, fingerprint in fingerprints.items()
                if insert_missing(
                    connection,
                    idempotency_keys,
                    {
                        "job_id": job_id,
                        "kind": kind,
                        "fingerprint": fingerprint,
                        "created_at": created_at,
                    },
                )
            }
            others = [job_id for job_id in fingerprints if job_id not in claimed]
            if others:
                query = sa.select(idempotency_keys.c.job_id, idempotency_keys.c.fingerprint)
                rows = connection.execute(query.where(idempotency_keys.c.job_id.in_(others)))
                stored = {job_id: fingerprint for job_id, fingerprint in rows}
                for job_id in others:
                    if stored.get(job_id) != fingerprints[job_id]:
                        raise IdempotencyConflictError(job_id)
        return claimed

    async def get(self, job_id: str) -> Job:
        workflow = await self._status(job_id)
        if workflow is None:
            raise JobNotFoundError(job_id)
        return await self._to_job(workflow)

    async def get_many(self, job_ids: list[str]) -> list[Job]:
        """Several jobs in one query; unknown ids are left out."""
        workflows = await self._requests.list_workflows_async(workflow_ids=job_ids, load_input=True)
        workflows = [w for w in workflows if kind_of_workflow(w.name) is not None]
        progress = await asyncio.to_thread(self._progress, [w.workflow_id for w in workflows])
        return [to_job(w, progress.get(w.workflow_id)) for w in workflows]

    async def unfinished_runs(self) -> tuple[int, int]:
        """Started jobs not finished: ``(this process's, orphaned)``, where orphaned jobs belong
        to workers that stopped heartbeating and are due to be taken over.

        The Lambda worker waits for both before it ends an invocation: its own jobs to finish,
        and orphans to reach a live worker (jobs of live workers are theirs to finish).
        """
        pending = await DBOS.list_workflows_async(
            status="PENDING", queue_name=QUEUE_NAME, load_input=False, load_output=False
        )
        owners = {w.executor_id for w in pending} - {self.executor_id}
        live = await asyncio.to_thread(self._live_workers, owners) if owners else set()
        mine = sum(w.executor_id == self.executor_id for w in pending)
        orphaned = sum(
            w.executor_id not in live and w.executor_id != self.executor_id for w in pending
        )
        return mine, orphaned

    def _live_workers(self, executor_ids: set[str | None]) -> set[str | None]:
        since = time.time() - self.settings.executor_timeout_seconds
        query = sa.select(workers.c.executor_id).where(
            workers.c.executor_id.in_([e for e in executor_ids if e]),
            workers.c.heartbeat_at >= since,
        )
        with self.platform.database.connect() as connection:
            return set(connection.execute(query).scalars())

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
        workflows = await self._requests.list_workflows_async(
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
            await self._requests.cancel_workflow_async(job_id)
            job = await self.get(job_id)
        return job

    async def retry(self, job_id: str) -> Job:
        """Run a failed job again from its last checkpoint, under the same id.

        The steps that finished keep their checkpoints and are not run again (nor are the
        fan-out items that finished, whose checkpoints are the job's); the step that failed,
        and everything after it, runs again. DBOS's ``rewind_workflow`` does it in one
        transaction, and refuses a job that is not in a final state, so of two racing retries
        one re-enqueues the job and the other gets a 409. The job gets a new deadline of its
        kind's timeout when a worker starts it again.
        """
        job = await self.get(job_id)
        if job.status is not JobStatus.FAILED:
            raise JobNotFailedError(job)
        # outputs load too: a step's error travels with them (a rare request; results are small)
        steps = await self._requests.list_workflow_steps_async(job_id)
        start_step = _retry_step(steps)
        try:
            await self._requests.rewind_workflow_async(
                job_id,
                start_step=start_step,
                application_version=self._app_version,
                queue_name=QUEUE_NAME,
            )
        except dbos_errors.DBOSException as exc:
            if isinstance(exc, dbos_errors.DBOSNonExistentWorkflowError):
                raise JobNotFoundError(job_id) from exc
            raise JobNotFailedError(await self.get(job_id)) from exc
        self._submitted()  # the job is queued again: wake the workers
        log.info("job retried", extra={"job_id": job_id, "from_step": start_step})
        return await self.get(job_id)

    async def result(self, job_id: str) -> Any:
        job = await self.get(job_id)
        if job.status is not JobStatus.SUCCEEDED:
            raise JobNotFinishedError(job)
        handle: WorkflowHandleAsync[Any] = await self._requests.retrieve_workflow_async(job_id)
        return await handle.get_result()

    async def delete(self, job_id: str) -> None:
        """Forget a finished job: its record, steps, progress and idempotency key."""
        await self._requests.delete_workflow_async(job_id)
        await asyncio.to_thread(self._delete_rows, job_id)

    def _delete_rows(self, job_id: str) -> None:
        with self.platform.database.begin() as connection:
            for table in (job_progress, idempotency_keys, fanout_items, fanout_chunks):
                connection.execute(sa.delete(table).where(table.c.job_id == job_id))

    # -- helpers ---------------------------------------------------------------------------------

    async def _status(self, job_id: str) -> Any:
        if not JOB_ID.fullmatch(job_id):
            return None  # no job has such an id, and a NUL byte would not reach Postgres
        # outputs load too: a failed job's error travels with them (results should stay small)
        found = await self._requests.list_workflows_async(workflow_ids=[job_id], load_input=True)
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


def _retry_step(steps: list[Any]) -> int:
    """Where a retry starts: at the first step that failed, or, when the job failed in its own
    code between steps, after the last step (every step is replayed from its checkpoint)."""
    failed = [step["function_id"] for step in steps if step["error"] is not None]
    if failed:
        return int(min(failed))
    return max((int(step["function_id"]) for step in steps), default=0) + 1


def sqlite_path(url: str) -> str:
    return str(sa.make_url(url).database)


def _job_id(kind: JobKind[Any, Any], idempotency_key: str) -> str:
    """The id a keyed submit's job has, the same for every submit with the key."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{kind.name}\0{idempotency_key}"))


def _fingerprint(kind: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps([kind, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000) + 1
