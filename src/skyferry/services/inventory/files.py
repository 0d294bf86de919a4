"""The inventory's files: named blobs under one prefix of the blob store, with an upload limit.

Every name passes ``filenames.blob_key`` first, and storage errors become inventory errors here,
so the HTTP layer sees one family of exceptions.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterable, AsyncIterator

from skyferry.services.inventory.cursors import decode_cursor, encode_cursor
from skyferry.services.inventory.errors import (
    BackendUnavailableError,
    FileConflictError,
    FileTooLargeError,
    InvalidFilenameError,
    StoredFileNotFoundError,
)
from skyferry.services.inventory.filenames import blob_key
from skyferry.services.inventory.models import FilePage, StoredFile
from skyferry.storage.blobs import BlobInfo, BlobRange, BlobStore
from skyferry.storage.errors import (
    BlobNotFoundError,
    InvalidBlobKeyError,
    StorageError,
    StorageFullError,
    StorageReadOnlyError,
)


class Files:
    """``folders=False`` keeps to single names at the prefix: a name with '/' is refused and
    the listing leaves out every key in a folder (another service's, at a bucket's root)."""

    def __init__(
        self, blobs: BlobStore, *, prefix: str, max_bytes: int, folders: bool = True
    ) -> None:
        self._blobs = blobs
        self._prefix = prefix
        self._folders = folders
        self.max_bytes = max_bytes

    def _key(self, filename: str) -> str:
        if not self._folders and "/" in filename:
            raise InvalidFilenameError(
                filename, "contains '/': this file store keeps single files, without folders"
            )
        return blob_key(self._prefix, filename)

    async def put(
        self,
        filename: str,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None,
        length: int | None,
    ) -> tuple[StoredFile, bool]:
        """Stream ``body`` into the store; True if the file is new. Nothing is stored unless
        the whole body arrives within the limit: the store's put is atomic."""
        key = self._key(filename)
        if length is not None and length > self.max_bytes:
            raise FileTooLargeError(self.max_bytes)
        # S3 would label an untyped upload binary/octet-stream; the name usually says better
        content_type = content_type or guess_type(filename)
        try:
            created = not await self._exists(key)
            info = await self._blobs.put(key, self._limited(body), content_type=content_type)
        except StorageError as exc:
            raise await self._failure(filename, key, exc, writing=True) from exc
        return self._stored(info, content_type=served_type(info, filename)), created

    async def head(self, filename: str) -> BlobInfo:
        key = self._key(filename)
        try:
            return await self._blobs.head(key)
        except StorageError as exc:
            raise await self._failure(filename, key, exc) from exc

    async def get(
        self, filename: str, *, byte_range: BlobRange | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]:
        key = self._key(filename)
        try:
            # a failure later, mid-stream, cannot become a problem document: the status line
            # is out by then, so the server ends the response early and logs the error
            return await self._blobs.get(key, byte_range=byte_range)
        except StorageError as exc:
            raise await self._failure(filename, key, exc) from exc

    async def delete(self, filename: str) -> None:
        key = self._key(filename)
        try:
            await self._blobs.delete(key)
        except StorageError as exc:
            raise await self._failure(filename, key, exc) from exc

    async def page(self, *, prefix: str, cursor: str | None, limit: int) -> FilePage:
        """Files by name. The blob port lists without order or pages, so one listing of the
        prefix is sorted here: fine for the thousands of files a shop keeps."""
        after = decode_cursor(cursor) if cursor else ""
        try:
            found = [
                self._stored(info, content_type=info.content_type)
                async for info in self._blobs.list(self._prefix + prefix)
                if info.key[len(self._prefix) :] > after
                and (self._folders or "/" not in info.key[len(self._prefix) :])
            ]
        except InvalidBlobKeyError as exc:
            raise InvalidFilenameError(prefix, exc.reason) from None
        except StorageError as exc:
            raise BackendUnavailableError(f"file store failed: {exc}") from exc
        found.sort(key=lambda stored: stored.name)
        files = found[:limit]
        more = len(found) > limit
        return FilePage(files=files, next_cursor=encode_cursor(files[-1].name) if more else None)

    async def _exists(self, key: str) -> bool:
        try:
            await self._blobs.head(key)
        except BlobNotFoundError:
            return False
        return True

    async def _failure(
        self, filename: str, key: str, exc: StorageError, *, writing: bool = False
    ) -> Exception:
        """The inventory error for a storage error; storage messages never hold credentials."""
        if isinstance(exc, BlobNotFoundError):
            return StoredFileNotFoundError(filename)
        if isinstance(exc, InvalidBlobKeyError):
            return InvalidFilenameError(filename, exc.reason)
        if isinstance(exc, StorageFullError | StorageReadOnlyError):
            return exc  # 507 or 503 as it is: the client's request was fine, the disk is not
        reason = await self._clash(key)
        if reason is not None:
            # a local store fails on such names where S3 would answer "no such file"
            return (
                FileConflictError(filename, reason)
                if writing
                else StoredFileNotFoundError(filename)
            )
        return BackendUnavailableError(f"file store failed: {exc}")

    async def _clash(self, key: str) -> str | None:
        """Why an operation failed, if a name is both a file and a folder (file:// only); None
        if the store failed for another reason, or fails again when asked."""
        parts = key[len(self._prefix) :].split("/")
        try:
            for end in range(1, len(parts)):
                if await self._exists(self._prefix + "/".join(parts[:end])):
                    return f"{'/'.join(parts[:end])!r} is a file, so it cannot be a folder"
            async for _ in self._blobs.list(key + "/"):
                return "a folder of that name holds other files"
        except StorageError:
            return None
        return None

    async def _limited(self, body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        # the route's body limit stops a long upload too, but the store must never take more
        # than max_bytes whichever server or adapter runs the app, so count here as well
        size = 0
        async for chunk in body:
            size += len(chunk)
            if size > self.max_bytes:
                raise FileTooLargeError(self.max_bytes)
            yield chunk

    def _stored(self, info: BlobInfo, *, content_type: str | None) -> StoredFile:
        return StoredFile(
            name=info.key[len(self._prefix) :],
            size=info.size,
            etag=info.etag,
            content_type=content_type,
            last_modified=info.last_modified,
        )


def served_type(info: BlobInfo, filename: str) -> str:
    """The media type a download of the file is served with: the one stored with it, or, from a
    store that keeps none (local files), what its name suggests."""
    return info.content_type or guess_type(filename)


def guess_type(filename: str) -> str:
    """The media type a file's extension suggests; application/octet-stream if none does."""
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
