"""Waiting on a job over HTTP until it reaches a state."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

FINAL = ("succeeded", "failed", "cancelled")


def poll(
    client: httpx.Client,
    job_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda job: job["status"] in FINAL,
    timeout: float = 60,
) -> dict[str, Any]:
    """GET /jobs/{id} until ``until(job)`` holds (by default: the job is final)."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = dict(client.get(f"/jobs/{job_id}").json())
        if until(job):
            return job
        time.sleep(0.03)
    raise TimeoutError(f"job {job_id} did not reach the expected state; last seen: {job}")
