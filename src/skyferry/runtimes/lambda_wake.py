"""Waking the worker function: an SQS message for each job submitted on Lambda.

The worker function runs only when invoked. Its schedule (say every minute) bounds how long a
job waits; with ``SKYFERRY_LAMBDA_WAKE_QUEUE_URL`` set, the API function also sends that queue
a message for every job a submit created, and the queue (an event source of the worker
function) invokes a worker at once. The message only says "look at the queue": the job itself
is in the database, so a lost or repeated message loses or repeats nothing, and a failed send
is logged, not the submit's failure. A worker that reaches its deadline with work left sends
one too, so the work goes on without waiting for the schedule.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from skyferry.config import Settings
from skyferry.jobs.current import Jobs
from skyferry.jobs.kinds import JobKind, Submission
from skyferry.jobs.models import Job, JobPage, JobStatus

log = logging.getLogger(__name__)


class Waker:
    """Sends the wake queue its messages (boto3, imported on first use)."""

    def __init__(self, settings: Settings, queue_url: str) -> None:
        self._settings = settings
        self.queue_url = queue_url
        self._client: Any = None

    async def wake(self, reason: str, **details: str) -> None:
        try:
            await asyncio.to_thread(self._send, json.dumps({"reason": reason, **details}))
        except Exception:
            # the schedule still wakes a worker: a submit must not fail for a missed nudge
            log.warning("could not send the worker a wake-up message", exc_info=True)

    def _send(self, body: str) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", endpoint_url=self._settings.aws_endpoint_url)
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=body)


class WakingJobs:
    """The process's job engine, waking a worker after each submit that created a job."""

    def __init__(self, inner: Jobs, waker: Waker) -> None:
        self.inner = inner
        self.waker = waker

    async def submit(
        self, kind: JobKind[Any, Any], params: BaseModel, idempotency_key: str | None = None
    ) -> Submission:
        (submission,) = await self.submit_many(kind, [params], [idempotency_key])
        return submission

    async def submit_many(
        self,
        kind: JobKind[Any, Any],
        params: Sequence[BaseModel],
        idempotency_keys: Sequence[str | None] | None = None,
    ) -> list[Submission]:
        """One wake-up for the batch: one worker looking at the queue finds every job."""
        submissions = await self.inner.submit_many(kind, params, idempotency_keys)
        created = [s.job.id for s in submissions if s.created]
        if created:
            await self.waker.wake("submitted", job_id=created[0], kind=kind.name)
        return submissions

    async def get(self, job_id: str) -> Job:
        return await self.inner.get(job_id)

    async def list_jobs(
        self,
        *,
        kind: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        return await self.inner.list_jobs(kind=kind, status=status, limit=limit, cursor=cursor)

    async def cancel(self, job_id: str) -> Job:
        return await self.inner.cancel(job_id)

    async def retry(self, job_id: str) -> Job:
        """A retried job is queued again: wake a worker for it as for a new one."""
        job = await self.inner.retry(job_id)
        await self.waker.wake("retried", job_id=job.id, kind=job.kind)
        return job

    async def result(self, job_id: str) -> Any:
        return await self.inner.result(job_id)

    async def delete(self, job_id: str) -> None:
        await self.inner.delete(job_id)
