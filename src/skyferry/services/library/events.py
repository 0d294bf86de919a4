"""S3 notifications: an export put under the upload prefix starts an import, as ``POST /upload``.

A team that collects exports in S3 (a form that uploads straight to the bucket, a nightly
sync) needs no HTTP call: the bucket's ``ObjectCreated`` notification reaches the API function,
and this handler submits the import. The object is read through the service's blob store, so
its key is matched from the upload prefix on (whatever prefix the blob URL adds in front).
Lambda may deliver a notification twice: the import's idempotency key (the object's key and
ETag) makes the second delivery return the first job.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import unquote_plus

from skyferry.services.library.errors import ExportError
from skyferry.services.library.exports import check_header
from skyferry.services.library.models import ImportRequest
from skyferry.services.library.resources import library
from skyferry.services.library.store import export_key
from skyferry.services.library.workflows import import_library

log = logging.getLogger(__name__)


async def on_s3_record(record: dict[str, Any], context: Any) -> None:
    """Submit an import for an export created under ``SKYFERRY_LIBRARY__UPLOAD_PREFIX``."""
    if not str(record.get("eventName", "")).startswith("ObjectCreated"):
        return
    deps = library.get()
    obj = record["s3"]["object"]
    key = unquote_plus(str(obj["key"]))  # S3 notifications URL-encode keys, spaces as +
    prefix = deps.settings.upload_prefix
    at = 0 if key.startswith(prefix) else key.find("/" + prefix) + 1
    if at == 0 and not key.startswith(prefix):
        return  # another object in the bucket, not an upload
    blob_key = key[at:]
    if int(obj.get("size") or 0) > deps.settings.max_upload_bytes:
        log.warning("export over the upload limit ignored", extra={"key": blob_key})
        return
    data = await deps.store.blobs.read(blob_key)
    try:
        check_header(data)
    except ExportError:
        # a file that is not an export stays unimported; retrying would not change it
        log.warning("object under the upload prefix is not an export", extra={"key": blob_key})
        return
    sha256 = hashlib.sha256(data).hexdigest()
    await deps.store.blobs.put(export_key(sha256), data, content_type="text/csv")
    filename = blob_key.rsplit("/", 1)[-1]
    params = ImportRequest(filename=filename, file_size=len(data), sha256=sha256)
    delivery = hashlib.sha256(f"{blob_key}\n{obj.get('eTag', '')}".encode()).hexdigest()
    submission = await import_library.submit(params, idempotency_key=f"s3-{delivery}")
    await deps.store.record(submission.job.id, filename, len(data), sha256)
    log.info("import started from S3", extra={"key": blob_key, "job_id": submission.job.id})
