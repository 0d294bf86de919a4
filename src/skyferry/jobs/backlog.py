"""The queue's depth as a CloudWatch metric, so workers can be scaled on the work waiting for
them (the ECS target's worker scaling) rather than on the CPU of the work already running.

With ``SKYFERRY_QUEUE_METRIC_NAMESPACE`` set, every worker process puts ``QueuedJobs`` (jobs
submitted and not yet started) into that namespace every ``SKYFERRY_QUEUE_METRIC_SECONDS``.
Each worker reports the same number (the queue is shared), so a scaling policy reads its
maximum. Counting stops at ``COUNT_CAP``: past it, more workers is the answer anyway. A put
that fails is logged and tried again next time; the jobs never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dbos import DBOS

from skyferry.config import Settings

log = logging.getLogger(__name__)

METRIC = "QueuedJobs"
COUNT_CAP = 10_000


async def queued_jobs(queue_name: str) -> int:
    """Jobs waiting in the queue (at most ``COUNT_CAP``)."""
    waiting = await DBOS.list_workflows_async(
        status="ENQUEUED",
        queue_name=queue_name,
        load_input=False,
        load_output=False,
        limit=COUNT_CAP,
    )
    return len(waiting)


class BacklogPublisher:
    """Puts the queue's depth every interval, on the engine's event loop, until stopped."""

    def __init__(self, settings: Settings, queue_name: str) -> None:
        if settings.queue_metric_namespace is None:
            raise ValueError("BacklogPublisher needs SKYFERRY_QUEUE_METRIC_NAMESPACE")
        self._namespace = settings.queue_metric_namespace
        self._interval = settings.queue_metric_seconds
        self._endpoint = settings.aws_endpoint_url
        self._queue_name = queue_name
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="skyferry-backlog")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def publish(self) -> int:
        depth = await queued_jobs(self._queue_name)
        await asyncio.to_thread(self._put, depth)
        return depth

    async def _run(self) -> None:
        while True:
            try:
                await self.publish()
            except Exception as exc:  # the metric is for scaling: jobs never wait for it
                log.warning("could not publish the queue depth: %s", exc)
            await asyncio.sleep(self._interval)

    def _put(self, depth: int) -> None:
        if self._client is None:
            import boto3

            # credentials and region from boto3's usual chain (the task role on ECS)
            self._client = boto3.session.Session().client("cloudwatch", endpoint_url=self._endpoint)
        self._client.put_metric_data(
            Namespace=self._namespace,
            MetricData=[{"MetricName": METRIC, "Value": float(depth), "Unit": "Count"}],
        )
