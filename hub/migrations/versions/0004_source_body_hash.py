"""sources: hash of the source URL's last parsed answer (body_hash)

Revision ID: 0004
Revises: 0003

Many branch sites send neither ETag nor Last-Modified, so every re-poll parsed the whole feed or list
page again. The crawl keeps a hash of the last answer it parsed (crawlers/bodyhash.py); an identical
answer is recorded as not modified, as a 304 is, without parsing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("body_hash")
