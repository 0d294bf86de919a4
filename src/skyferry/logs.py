"""Logging: JSON lines (or plain text) that carry the request id and the job id."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from skyferry.config import Settings

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = _current_job_id()
        return True


class _CancelIsNotAnError(logging.Filter):
    """DBOS logs every exception that ends a workflow as an ERROR with its trace, a cancel
    included; a cancelled job (by a user, or by its timeout) is expected, so it becomes one
    INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        # no DBOS imported, no DBOS error (and a log line must not import it)
        if record.exc_info and record.levelno >= logging.ERROR and "dbos" in sys.modules:
            from dbos import error as dbos_errors

            cancelled = (
                dbos_errors.DBOSWorkflowCancelledError,
                dbos_errors.DBOSAwaitedWorkflowCancelledError,
            )
            if isinstance(record.exc_info[1], cancelled):
                record.levelno, record.levelname = logging.INFO, "INFO"
                record.msg, record.args = "job cancelled", ()
                record.exc_info = record.exc_text = None
        return True


def _current_job_id() -> str | None:
    if "dbos" not in sys.modules:
        return None  # no engine has started in this process, so no job runs in it
    try:
        from dbos import DBOS

        return DBOS.workflow_id
    except Exception:  # outside a workflow, or DBOS not started: there is no job
        return None


def configure_logging(settings: Settings) -> None:
    """Replace the root handler, so uvicorn, DBOS and our own logs all come out the same way."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.addFilter(_CancelIsNotAnError())
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s %(job_id)s] %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # DBOS installs its own console handler only on a logger that has none
    dbos_logger = logging.getLogger("dbos")
    dbos_logger.handlers[:] = [handler]
    dbos_logger.propagate = False
