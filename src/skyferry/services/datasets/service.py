"""The datasets service, as the registry mounts it."""

from __future__ import annotations

from fastapi import APIRouter

from skyferry.registry import Service

service = Service(name="datasets", router=lambda settings: APIRouter())
