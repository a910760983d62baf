"""source_health, unit_health, health_events: the reason's key and values beside its English sentence

Revision ID: 0009
Revises: 0008

The staff health pages word a reason in the reader's language from its key and values
(hub/health/reasons.py). Rows written before keep only their English sentence, which those pages
show as it is until the next sweep rewrites the current rows (events keep theirs).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("source_health", "unit_health", "health_events")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reason_data", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reason_data")
