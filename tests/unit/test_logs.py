from __future__ import annotations

import json
import logging

import pytest

from skyferry.config import load_settings
from skyferry.logs import configure_logging, request_id


def test_json_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(load_settings(log_format="json"))
    token = request_id.set("req-7")
    try:
        logging.getLogger("skyferry.test").warning("stock low", extra={"sku": "A-1"})
    finally:
        request_id.reset(token)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "stock low"
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-7"
    assert line["sku"] == "A-1"
    assert line["job_id"] is None


def test_a_cancelled_job_is_one_info_line_not_an_error_with_a_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dbos import error as dbos_errors

    configure_logging(load_settings(log_format="json"))
    cancelled = dbos_errors.DBOSWorkflowCancelledError("workflow j1 was cancelled")
    logging.getLogger("dbos").error(
        "Exception encountered in asynchronous workflow:", exc_info=cancelled
    )
    logging.getLogger("dbos").error("Exception encountered", exc_info=ValueError("real"))
    first, second = (json.loads(line) for line in capsys.readouterr().err.strip().splitlines()[-2:])
    assert (first["level"], first["message"]) == ("INFO", "job cancelled")
    assert "exc_info" not in first
    assert second["level"] == "ERROR"
    assert "ValueError: real" in second["exc_info"]
