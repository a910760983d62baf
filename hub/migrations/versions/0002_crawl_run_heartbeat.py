"""crawl runs: status, owner and heartbeat (abandoned runs are closed)

Revision ID: 0002
Revises: 0001

A run whose process was killed stayed open for good; the heartbeat tells a live run from a dead one
(hub/crawlrecord.py close_abandoned_runs). Runs closed before this revision are "finished"; runs still
open are "running" and, having no heartbeat, are judged by their start.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="running", nullable=False)
        )
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_crawl_runs_status"), ["status"], unique=False)
    op.execute("UPDATE crawl_runs SET status = 'finished' WHERE finished_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_runs_status"))
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("owner")
        batch_op.drop_column("status")
