"""crawl_outcomes: drop the index on run_id alone

Revision ID: 0008
Revises: 0007

The unique index on (run_id, source_id) of 0007 begins with run_id: it serves every lookup by run
(a run's outcomes, the cascade from crawl_runs) that the single-column index served, and each outcome
insert no longer maintains two indexes for one job.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_crawl_outcomes_run_id", table_name="crawl_outcomes")


def downgrade() -> None:
    op.create_index("ix_crawl_outcomes_run_id", "crawl_outcomes", ["run_id"], unique=False)
