"""crawl_outcomes: at most one outcome per (run, source)

Revision ID: 0007
Revises: 0006

The process that ends a source writes its one outcome; but a joiner of a frontier run (xinlian crawl
join) still writing after the runner stopped waiting for it (crawl.frontier_stall_s) could add one after
the runner recorded the source aborted. The store now refuses the second, and the writers drop it
(hub/crawlrecord.insert_outcome_rows). Duplicates stored before keep the earliest row: the one the run's
totals and the schedule took first.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM crawl_outcomes WHERE id NOT IN"
        " (SELECT MIN(id) FROM crawl_outcomes GROUP BY run_id, source_id)"
    )
    op.create_index("uq_crawl_outcomes_run_source", "crawl_outcomes", ["run_id", "source_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_crawl_outcomes_run_source", table_name="crawl_outcomes")
