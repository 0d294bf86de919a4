"""The tours service: a city's attractions turned into optimised walking tours by a durable job."""

from __future__ import annotations
