"""The inventory service, as the registry mounts it."""

from __future__ import annotations

from fastapi import APIRouter

from skyferry.registry import Service

service = Service(name="inventory", router=lambda settings: APIRouter())
