"""skyferry: one Python web service and its durable jobs, on a laptop, containers or Lambda.

Everything a service author or a team's own app needs is importable from here; every other
module is internal and may change::

    import skyferry

    app = FastAPI()
    skyferry.install(app)

    @skyferry.job("mine.count", params=Count)
    async def count(ctx: skyferry.JobContext, params: Count) -> dict[str, int]: ...

The names are imported on first use (PEP 562), not with the package: ``import
skyferry.config`` (a CLI's start, a Lambda function's init phase) then costs only what it
uses, not the job engine, DBOS and SQLAlchemy behind ``skyferry.job``.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("skyferry")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

if TYPE_CHECKING:
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
    from skyferry.jobs.spread import ItemFunction, fan_out_item
    from skyferry.jobs.steps import step
    from skyferry.platform import Platform
    from skyferry.resources import Resource
    from skyferry.service import DistributedMap, Schedule, Service

_HOMES = {
    "create_app": "skyferry.app",
    "install": "skyferry.app",
    "Problem": "skyferry.errors",
    "SkyferryError": "skyferry.errors",
    "IdempotencyKey": "skyferry.jobs.api",
    "accepted": "skyferry.jobs.api",
    "batch_keys": "skyferry.jobs.api",
    "one_or_many": "skyferry.http.bodies",
    "JobContext": "skyferry.jobs.context",
    "FanOutResult": "skyferry.jobs.fanout",
    "RateLimit": "skyferry.jobs.fanout",
    "JobKind": "skyferry.jobs.kinds",
    "Submission": "skyferry.jobs.kinds",
    "job": "skyferry.jobs.kinds",
    "SharedLimit": "skyferry.jobs.limits",
    "Job": "skyferry.jobs.models",
    "JobStatus": "skyferry.jobs.models",
    "SharedRate": "skyferry.jobs.rates",
    "Retry": "skyferry.jobs.retry",
    "step": "skyferry.jobs.steps",
    "ItemFunction": "skyferry.jobs.spread",
    "fan_out_item": "skyferry.jobs.spread",
    "Platform": "skyferry.platform",
    "Resource": "skyferry.resources",
    "DistributedMap": "skyferry.service",
    "Schedule": "skyferry.service",
    "Service": "skyferry.service",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'skyferry' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # imported once; later reads are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DistributedMap",
    "FanOutResult",
    "IdempotencyKey",
    "ItemFunction",
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
    "fan_out_item",
    "install",
    "job",
    "one_or_many",
    "step",
]
