"""Inventory items (the SQL backend of the inventory service).

Revision ID: inventory_0001
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "inventory_0001"
down_revision = "0001"
branch_labels = ("inventory",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_items",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_folded", sa.String(800), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_inventory_items"),
        sa.CheckConstraint("quantity >= 0", name="ck_inventory_items_quantity_not_negative"),
    )


def downgrade() -> None:
    op.drop_table("inventory_items")
