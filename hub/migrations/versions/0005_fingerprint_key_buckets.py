"""item_fingerprint_keys: the item's source copied in, one index covering the bucket lookup

Revision ID: 0005
Revises: 0004

Repost linking reads every stored member of each band key a batch touches (up to 64 per key, ~10
keys per item) and the source of each member. With an index on the key alone, every member cost a
visit to the table for its item id and another to items for its source: a quarter of the crawl's
write transaction at cold ingest. The source is now stored with the key (an item never changes
source) and the index (key, item_id, source_id) answers the lookup alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item_fingerprint_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE item_fingerprint_keys SET source_id ="
        " (SELECT items.source_id FROM items WHERE items.id = item_fingerprint_keys.item_id)"
    )
    with op.batch_alter_table("item_fingerprint_keys", schema=None) as batch_op:
        batch_op.alter_column("source_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index("ix_item_fingerprint_keys_key")
        batch_op.create_index(
            "ix_item_fingerprint_keys_bucket", ["key", "item_id", "source_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("item_fingerprint_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_item_fingerprint_keys_bucket")
        batch_op.create_index("ix_item_fingerprint_keys_key", ["key"], unique=False)
        batch_op.drop_column("source_id")
