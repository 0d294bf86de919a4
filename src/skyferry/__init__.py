"""skyferry: one Python web service and its durable jobs, on a laptop, containers or Lambda.

Everything a service author or a team's own app needs is importable from here; every other
module is internal and may change::

    import skyferry

    app = FastAPI()
    skyferry.install(app)

    @skyferry.job("mine.count", params=Count)
    async def count(ctx: skyferry.JobContext, params: Count) -> dict[str, int]: ...
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skyferry")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

from skyferry.app import create_app, install
from skyferry.errors import Problem, SkyferryError
from skyferry.http.bodies import one_or_many
from skyferry.jobs.api import IdempotencyKey, accepted, batch_keys
from skyferry.jobs.context import JobContext
from skyferry.jobs.fanout import FanOutResult, RateLimit
from skyferry.jobs.kinds import JobKind, Submission, job
from skyferry.jobs.limits import SharedLimit
from skyferry.jobs.models import Job, JobStatus
from skyferry.jobs.rates import SharedRate
from skyferry.jobs.retry import Retry
from skyferry.jobs.steps import step
from skyferry.platform import Platform
from skyferry.resources import Resource
from skyferry.service import Schedule, Service

__all__ = [
    "FanOutResult",
    "IdempotencyKey",
    "Job",
    "JobContext",
    "JobKind",
    "JobStatus",
    "Platform",
    "Problem",
    "RateLimit",
    "Resource",
    "Retry",
    "Schedule",
    "Service",
    "SharedLimit",
    "SharedRate",
    "SkyferryError",
    "Submission",
    "__version__",
    "accepted",
    "batch_keys",
    "create_app",
    "install",
    "job",
    "one_or_many",
    "step",
]
