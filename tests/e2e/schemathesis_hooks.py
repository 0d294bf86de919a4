"""Schemathesis hooks for fuzzing ``skyferry serve``: the failures it may drop, and why.

Named by tests/e2e/schemathesis.toml (``hooks = "tests.e2e.schemathesis_hooks"``), so found from
the repository's root or with it on PYTHONPATH (tests/e2e/test_schemathesis.py,
docs/reliability.md). Each rule below drops one failure kind on named operations only, for an
answer the docs give; everything else schemathesis finds fails the run. Dropped failures are
counted in schemathesis's summary ("Filtered: N (dropped by `filter_failure`)").

- **ST202 (a schema-valid request rejected) with a documented 400.** The 400-vs-422 rule
  (``skyferry.http.problems``): a value that matches the schema but that the service cannot use
  is a 400. A schema cannot say which cursors the API issued, which file names the file store
  takes (none that leaves its folder, none with a control character), which columns and
  values a dataset has, or that an uploaded file is a library export, so schemathesis's
  valid-looking cursor, file name, filter or file gets that 400. Dropped only when the
  problem's title is the one of that refusal (on HEAD, which has no body, only for the dataset
  download, whose only 400s are those).
- **ST202 with a 412 from If-Match.** A write with If-Match happens only if the item still has
  that ETag (RFC 9110, 13.1.1; the README's "412 on a stale version"); schemathesis cannot know
  the current ETag, so its If-Match, valid as a header, names another version.
- **ST202 with the documented 422 for a reused Idempotency-Key.** The first request with a key
  binds it; the same key with another body is refused (README, "Jobs over HTTP"). Schemathesis
  draws keys from their schema and so repeats short ones ("0") with different bodies.
- **ST301 (a deleted resource still there) after DELETE /books/{book_id} of an unfinished
  book.** That DELETE cancels the book (200, README and the route's summary), which is then
  there, cancelled, until a second DELETE removes it (204). Dropped only when what is still
  there says ``"status": "cancelled"``.
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
from schemathesis.openapi.checks import AllowHeaderMismatch, RejectedPositiveData, UseAfterFree

DOWNLOAD = "/{dataset}.{extension}"

# the titles of the errors that answer them, written out rather than imported: importing any
# skyferry module loads the whole package, seconds of every run; should a title change, what
# it refuses is no longer dropped and the run fails, so these cannot hide anything
CURSOR = "Invalid cursor"  # skyferry.http.cursors.InvalidCursorError
FILENAME = "Invalid filename"  # skyferry.services.inventory.errors.InvalidFilenameError
QUERY = "Invalid dataset query"  # skyferry.services.datasets.errors.InvalidQueryError
KEY_REUSED = "Idempotency-Key reused"  # skyferry.jobs.current.IdempotencyConflictError
STALE = "Precondition failed"  # skyferry.services.inventory.errors.PreconditionFailedError
EXPORT = "Not a library export"  # skyferry.services.library.errors.ExportError

DOCUMENTED: dict[int, dict[str, set[str]]] = {
    # status -> operation -> titles of the problems it answers a schema-valid request with
    400: {
        "GET /jobs": {CURSOR},
        "GET /books": {CURSOR},
        "GET /cities": {CURSOR},
        "GET /inventory": {CURSOR},
        "GET /files": {CURSOR, FILENAME},
        "PUT /files/{filename}": {FILENAME},
        "DELETE /files/{filename}": {FILENAME},
        "GET /file/download/{filename}": {FILENAME},
        f"GET {DOWNLOAD}": {QUERY},
        "POST /upload": {EXPORT},
    },
    412: {
        "PATCH /inventory/{sku}": {STALE},
        "DELETE /inventory/{sku}": {STALE},
        "POST /inventory/{sku}/adjust": {STALE},
    },
    422: {
        "POST /jobs/demo": {KEY_REUSED},
        "POST /books": {KEY_REUSED},
        "POST /upload": {KEY_REUSED},
        "POST /api/generate-city": {KEY_REUSED},
    },
}


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext,
    failure: Failure,
    case: schemathesis.Case[Any],
    response: schemathesis.Response,
) -> bool:
    """False drops ``failure``: it is one of the documented answers above."""
    label = f"{case.method.upper()} {case.path}"
    if isinstance(failure, RejectedPositiveData):
        if response.status_code == 400 and label == f"HEAD {DOWNLOAD}":
            return False
        documented = DOCUMENTED.get(response.status_code, {}).get(label, set())
        return _title(response) not in documented
    if isinstance(failure, UseAfterFree) and failure.free.startswith("DELETE /books/"):
        return _json(response).get("status") != "cancelled"
    if isinstance(failure, AllowHeaderMismatch) and case.path == "/jobs/demo":
        the_job_routes = set(failure.undocumented_methods) <= {"GET", "HEAD"}
        return not (the_job_routes and not failure.missing_methods)
    return True


def _title(response: schemathesis.Response) -> str | None:
    """The problem document's title, or None when the body is not one."""
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return None
    title = _json(response).get("title")
    return title if isinstance(title, str) else None


def _json(response: schemathesis.Response) -> dict[str, Any]:
    """The body's JSON object, or {} when it is not one."""
    try:
        body: Any = json.loads(response.content or b"")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
