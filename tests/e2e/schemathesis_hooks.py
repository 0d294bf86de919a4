"""Schemathesis hooks for fuzzing ``skyferry serve``: the failures it may drop, and why.

Loaded by ``SCHEMATHESIS_HOOKS=tests.e2e.schemathesis_hooks`` from the repository's root (see
tests/e2e/test_schemathesis.py and docs/reliability.md). Each rule below drops one failure kind
on named operations only, for an answer the README documents; everything else schemathesis
finds fails the run. Every dropped failure is still counted in schemathesis's summary.

- **ST202 (a schema-valid request rejected) with a documented 400.** The 400-vs-422 rule
  (``skyferry.http.problems``): a value that matches the schema but that the service cannot use
  is a 400. A schema cannot say which cursors the API issued, which file names stay inside
  their folder, or which columns and values a dataset has, so schemathesis's valid-looking
  cursor, file name or filter gets that 400. Dropped only when the problem's title is the one
  of that refusal (on HEAD, which has no body, only for the dataset download, whose only 400s
  are those).
- **ST202 with the documented 422 for a reused Idempotency-Key.** The first request with a key
  binds it; the same key with another body is refused (README, "Jobs over HTTP"). Schemathesis
  draws keys from their schema and so repeats short ones ("0") with different bodies.
- **ST205 (Allow header mismatch) on /jobs/demo, for GET and HEAD.** ``/jobs/demo`` is also
  ``/jobs/{job_id}`` with ``job_id=demo``, whose GET answers it (404, no such job). A 405 lists
  every method some route of the path answers, so ``Allow`` names GET and HEAD; schemathesis
  reads the OpenAPI rule that a concrete path wins over a template and expects POST alone.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import AllowHeaderMismatch, RejectedPositiveData

from skyferry.http.cursors import InvalidCursorError
from skyferry.jobs.engine import IdempotencyConflictError
from skyferry.services.datasets.errors import InvalidQueryError
from skyferry.services.inventory.errors import InvalidFilenameError

DOWNLOAD = "/{dataset}.{extension}"

DOCUMENTED_400: dict[str, set[str]] = {
    # operation label -> titles of the 400s it gives for schema-valid values
    "GET /jobs": {InvalidCursorError.title or ""},
    "GET /books": {InvalidCursorError.title or ""},
    "GET /inventory": {InvalidCursorError.title or ""},
    "GET /files": {InvalidCursorError.title or "", InvalidFilenameError.title or ""},
    "PUT /files/{filename}": {InvalidFilenameError.title or ""},
    "DELETE /files/{filename}": {InvalidFilenameError.title or ""},
    "GET /file/download/{filename}": {InvalidFilenameError.title or ""},
    f"GET {DOWNLOAD}": {InvalidQueryError.title or ""},
}

DOCUMENTED_422: dict[str, set[str]] = {
    "POST /jobs/demo": {IdempotencyConflictError.title or ""},
    "POST /books": {IdempotencyConflictError.title or ""},
}


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    """False drops ``failure``: it is one of the documented answers above."""
    label = f"{case.method.upper()} {case.path}"
    if isinstance(failure, RejectedPositiveData):
        if response.status_code == 400 and label == f"HEAD {DOWNLOAD}":
            return False
        documented = {400: DOCUMENTED_400, 422: DOCUMENTED_422}.get(response.status_code, {})
        return _title(response) not in documented.get(label, set())
    if isinstance(failure, AllowHeaderMismatch) and case.path == "/jobs/demo":
        return not set(failure.undocumented_methods) <= {"GET", "HEAD"} or bool(
            failure.missing_methods
        )
    return True


def _title(response: schemathesis.Response) -> str | None:
    """The problem document's title, or None when the body is not one."""
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return None
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return None
    title = body.get("title") if isinstance(body, dict) else None
    return title if isinstance(title, str) else None
