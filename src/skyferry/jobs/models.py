"""The public record of a job, as the HTTP API and the CLI show it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    """Where a job is in its life; the last three are final.

    - ``queued``: accepted and durably stored, waiting for a worker.
    - ``running``: a worker is executing it (or will resume it, if that worker died).
    - ``succeeded``: finished; ``result_url`` says where the result is.
    - ``failed``: an error ended it, or it ran past its timeout; ``error`` says why.
    - ``cancelled``: someone cancelled it; finished steps stay done, the rest never run.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Progress(BaseModel):
    done: int = 0
    total: int | None = None
    message: str = ""


class JobError(BaseModel):
    """What went wrong, for people: an exception type and message, never a stack trace."""

    type: str
    message: str


class Job(BaseModel):
    """A job's public record; the job is the only source of truth for its status."""

    id: str
    kind: str
    status: JobStatus
    params: dict[str, Any] | None = Field(
        default=None, description="What the job was submitted with."
    )
    progress: Progress
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: JobError | None = None
    result_url: str | None = None
    links: dict[str, str] = Field(default_factory=dict)


class JobPage(BaseModel):
    items: list[Job]
    next_cursor: str | None = None


class JobResult(BaseModel):
    id: str
    kind: str
    result: Any
