"""sources: when the source's answer was last parsed (parsed_at)

Revision ID: 0006
Revises: 0005

With ETag/Last-Modified and the body hash, an unchanged list page costs no parsing, and so no
article under it is fetched again: an article edited while its list page stays the same was never
seen, nor was a change behind a server's validators that never change. The crawl now sends no
validators when the answer was last parsed longer ago than crawl.revisit_after_s (a day by default).
Sources stored before this migration have no time yet: their next crawl reads them whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parsed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("parsed_at")
