"""Tables the job engine keeps beside DBOS's own: progress, fan-out checkpoints, workers,
idempotency keys and shared limits' slots."""

from __future__ import annotations

import sqlalchemy as sa

from skyferry.storage.sql import metadata

job_progress = sa.Table(
    "skyferry_job_progress",
    metadata,
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("done", sa.Integer, nullable=False, default=0),
    sa.Column("total", sa.Integer, nullable=True),
    sa.Column("message", sa.String(500), nullable=False, default=""),
    sa.Column("updated_at", sa.Float, nullable=False),
)

fanout_items = sa.Table(
    "skyferry_fanout_items",
    metadata,
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("fanout", sa.String(100), primary_key=True),
    sa.Column("item", sa.Integer, primary_key=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("output", sa.JSON, nullable=True),
    sa.Column("error_type", sa.String(200), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
)

# a fan-out spread over the workers: its items in chunks, each claimed by one worker at a time
fanout_chunks = sa.Table(
    "skyferry_fanout_chunks",
    metadata,
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("fanout", sa.String(100), primary_key=True),
    sa.Column("start", sa.Integer, primary_key=True),  # the index of its first item
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),  # function, concurrency, slots, rate, retry
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("lease_expires_at", sa.Float, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)

workers = sa.Table(
    "skyferry_workers",
    metadata,
    sa.Column("executor_id", sa.String(200), primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
)

idempotency_keys = sa.Table(
    "skyferry_idempotency_keys",
    metadata,
    # the job id is derived from the kind and the key, so it identifies the key too
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(200), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# a SharedLimit's (and a SharedRate's) slots, one row each
limit_slots = sa.Table(
    "skyferry_limit_slots",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("holder", sa.String(200), nullable=True),
    sa.Column("expires_at", sa.Float, nullable=False),
)
