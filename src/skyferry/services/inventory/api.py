"""The inventory's HTTP API.

The original service's five endpoints keep their paths and shapes (``GET /``, ``POST /inventory``,
``GET`` and ``DELETE /inventory/{sku}``, ``GET /file/download/{filename}``); listing, PATCH with
If-Match, atomic stock adjustment and file upload, listing and deletion are new.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from skyferry import __version__
from skyferry.config import Settings
from skyferry.http.downloads import download
from skyferry.http.etags import parse_etags
from skyferry.http.problems import errors
from skyferry.platform import Platform
from skyferry.services.inventory.etags import item_etag
from skyferry.services.inventory.files import Files, served_type
from skyferry.services.inventory.items import Inventory
from skyferry.services.inventory.models import (
    SKU_PATTERN,
    Adjustment,
    FilePage,
    Item,
    ItemPage,
    ItemPatch,
    NewItem,
    ServiceStatus,
    StoredFile,
)
from skyferry.services.inventory.settings import InventorySettings
from skyferry.services.inventory.store import open_item_store

SERVICE_NAME = "skyferry-inventory"
MAX_PAGE = 200

SkuPath = Annotated[str, Path(pattern=SKU_PATTERN, description="The item's sku.")]
FilenamePath = Annotated[
    str, Path(description="A relative path, e.g. `manuals/pump.pdf`; at most 255 bytes.")
]
IfMatch = Annotated[
    str | None,
    Header(description="The item's ETag from a read; the write fails with 412 if it changed."),
]
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "An ETag the client holds; 304 without a body if it is still current.",
}
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=400, description="`next_cursor` of a page.")]

_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the ETag in If-None-Match is current."}
}
_FILE_CONTENT = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file, in the media type stored with it.", "content": _FILE_CONTENT},
    206: {"description": "The part of the file that Range asked for.", "content": _FILE_CONTENT},
    **_NOT_MODIFIED,
    **errors(416),
}


class _Backends:
    """The app's item store and file area, built from its platform on first use.

    A DynamoDB client takes tens of milliseconds to build, so it is built once per platform
    (that is, per app start), never per request.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._own = settings.of(InventorySettings)
        self._platform: Platform | None = None
        self._inventory: Inventory | None = None

    async def inventory(self, request: Request) -> Inventory:
        platform: Platform = request.app.state.skyferry
        if self._inventory is None or self._platform is not platform:
            # two first requests at once may both build a store; either one serves
            store = await asyncio.to_thread(
                open_item_store, self._settings, lambda: platform.database
            )
            self._inventory, self._platform = Inventory(store), platform
        return self._inventory

    async def files(self, request: Request) -> Files:
        platform: Platform = request.app.state.skyferry
        return Files(
            platform.blobs,
            prefix=self._own.files_prefix,
            max_bytes=self._own.max_upload_bytes,
            folders=self._own.files_folders,
        )


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["inventory"])
    backends = _Backends(settings)
    # plain defaults rather than Annotated aliases: FastAPI resolves postponed annotations in
    # the module's globals, where an alias local to this function does not exist
    items = Depends(backends.inventory)
    stored = Depends(backends.files)

    @router.get("/", tags=["operations"], summary="The inventory service's name and version")
    async def status() -> ServiceStatus:
        return ServiceStatus(name=SERVICE_NAME, version=__version__, status="ok")

    @router.post(
        "/inventory",
        status_code=201,
        response_model=Item,
        summary="Add an item; 409 if its sku exists",
        responses=errors(409),
    )
    async def create_item(new: NewItem, inventory: Inventory = items) -> Response:
        item = await inventory.create(new)
        return _item_response(item, status_code=201, location=f"/inventory/{item.sku}")

    @router.get("/inventory", summary="Items by sku, a page at a time")
    async def list_items(
        inventory: Inventory = items,
        limit: Limit = 50,
        cursor: Cursor = None,
        name_prefix: Annotated[
            str | None, Query(max_length=200, description="Names starting so, any case.")
        ] = None,
    ) -> ItemPage:
        return await inventory.page(cursor=cursor, name_prefix=name_prefix, limit=limit)

    @router.get(
        "/inventory/{sku}",
        response_model=Item,
        summary="One item, with its ETag",
        openapi_extra={"parameters": [_IF_NONE_MATCH]},
        responses=_NOT_MODIFIED,
    )
    async def get_item(sku: SkuPath, request: Request) -> Response:
        # the hot path (bench/inventory.py): the store and If-None-Match come straight from the
        # request, because every dependency and header parameter FastAPI resolves adds work
        # to each read; here they added about a sixth of all the calls a request makes
        inventory = await backends.inventory(request)
        item = await inventory.get(sku)
        etag = item_etag(item.version)
        cached = parse_etags(request.headers.get("if-none-match"))
        if cached is not None and cached.matches_weak(etag):
            return Response(status_code=304, headers={"ETag": etag})
        return _item_response(item)

    @router.patch(
        "/inventory/{sku}",
        response_model=Item,
        summary="Change fields; with If-Match, only if nobody changed the item since",
        responses=errors(409, 412),
    )
    async def patch_item(
        sku: SkuPath, patch: ItemPatch, inventory: Inventory = items, if_match: IfMatch = None
    ) -> Response:
        return _item_response(await inventory.update(sku, patch, parse_etags(if_match)))

    @router.post(
        "/inventory/{sku}/adjust",
        response_model=Item,
        summary="Add to or take from the stock atomically; 409 rather than below 0",
        responses=errors(409, 412),
    )
    async def adjust_item(
        sku: SkuPath, adjustment: Adjustment, inventory: Inventory = items, if_match: IfMatch = None
    ) -> Response:
        item = await inventory.adjust(sku, adjustment.delta, parse_etags(if_match))
        return _item_response(item)

    @router.delete(
        "/inventory/{sku}",
        status_code=204,
        summary="Remove an item",
        responses=errors(409, 412),
    )
    async def delete_item(
        sku: SkuPath, inventory: Inventory = items, if_match: IfMatch = None
    ) -> Response:
        await inventory.delete(sku, parse_etags(if_match))
        return Response(status_code=204)

    @router.put(
        "/files/{filename:path}",
        status_code=201,
        response_model=StoredFile,
        summary="Upload a file (the request body, streamed); 201 if new, 200 if replaced",
        # raises the app-wide body limit for this route only
        max_body_size=settings.of(InventorySettings).max_upload_bytes,
        responses={
            200: {"model": StoredFile, "description": "Replaced a file."},
            **errors(409, 507),
        },
    )
    async def upload_file(
        filename: FilenamePath, request: Request, files: Files = stored
    ) -> Response:
        saved, created = await files.put(
            filename,
            request.stream(),
            content_type=request.headers.get("content-type"),
            length=_content_length(request),
        )
        headers = {"Location": "/file/download/" + quote(filename)}
        if saved.etag:
            headers["ETag"] = saved.etag
        return JSONResponse(
            saved.model_dump(mode="json"), status_code=201 if created else 200, headers=headers
        )

    @router.get("/files", summary="Stored files by name, a page at a time")
    async def list_files(
        files: Files = stored,
        prefix: Annotated[str, Query(max_length=255, description="Names starting so.")] = "",
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> FilePage:
        return await files.page(prefix=prefix, cursor=cursor, limit=limit)

    @router.delete("/files/{filename:path}", status_code=204, summary="Delete a file")
    async def delete_file(filename: FilenamePath, files: Files = stored) -> Response:
        await files.delete(filename)
        return Response(status_code=204)

    @router.get(
        "/file/download/{filename:path}",
        response_class=Response,
        summary="Download a file: streamed, with Range and conditional requests",
        responses=_DOWNLOAD_RESPONSES,
    )
    # HEAD answers a download's headers; left out of the schema, where it would repeat GET
    @router.head("/file/download/{filename:path}", response_class=Response, include_in_schema=False)
    async def download_file(
        filename: FilenamePath, request: Request, files: Files = stored
    ) -> Response:
        return await download(
            files,
            filename,
            request.headers,
            filename=filename,
            content_type=lambda info: served_type(info, filename),
            head_only=request.method == "HEAD",
        )

    return router


def _item_response(item: Item, *, status_code: int = 200, location: str | None = None) -> Response:
    headers = {"ETag": item_etag(item.version)}
    if location is not None:
        headers["Location"] = location
    return Response(
        item.model_dump_json(),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None
