"""One Lambda worker instance in a process of its own, driven as Lambda drives it.

``python -m tests.e2e.lambda_instance SUBMIT_JSON|- INVOCATION_SECONDS [JOB_ID]`` starts the
worker (settings from the environment), submits a demo job when given one, then invokes it
with a context whose deadline is INVOCATION_SECONDS away, printing each outcome as a JSON line,
until an invocation ends idle (and, given JOB_ID, that job is finished: the schedule goes on
invoking the function). Between invocations it waits as a frozen instance waits, so the test
may kill it there.
"""

from __future__ import annotations

import json
import sys
import time

from skyferry.runtimes.asgi import call
from skyferry.runtimes.lambda_http import parse
from skyferry.runtimes.lambda_worker import LambdaWorker
from tests.integration.test_lambda_worker import FakeContext, submit_event


def finished(worker: LambdaWorker, job_id: str) -> bool:
    event = {**submit_event({}), "rawPath": f"/jobs/{job_id}", "body": None}
    event["requestContext"] = {"http": {"method": "GET"}}
    request = parse(event, "http")
    answer = worker._loop.run_until_complete(call(worker.app, request.scope(), request.body))
    return json.loads(answer.body)["status"] in ("succeeded", "failed", "cancelled")


def main(submit: str, seconds: float, watched: str | None) -> None:
    worker = LambdaWorker(margin_seconds=0.3)
    if submit != "-":
        request = parse(submit_event(json.loads(submit)), "http")
        answer = worker._loop.run_until_complete(call(worker.app, request.scope(), request.body))
        print(json.dumps({"submitted": json.loads(answer.body)["id"]}), flush=True)
    while True:
        result = worker.run({}, FakeContext(deadline=time.monotonic() + seconds))
        print(json.dumps(result), flush=True)
        if result["outcome"] == "idle" and (watched is None or finished(worker, watched)):
            break
        time.sleep(0.5)  # frozen until the next invocation
    worker.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
