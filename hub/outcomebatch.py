"""A batch of crawl outcomes written in a few Core statements (the crawl ledger's writer).

record_outcome (hub/crawlrecord.py) builds ORM objects and lets the unit of work write them: about
1.2 ms of a crawl process's CPU per outcome, half of a re-poll's. Here the same decisions
(``outcome_columns``, ``apply_outcome``) run on small slotted records of the sources' columns, read
in one SELECT; the outcomes go in as one executemany INSERT and the sources as one executemany
UPDATE per set of changed columns (one in a re-poll). Only the columns an outcome changed are
written, as the ORM does: a column changed meanwhile by someone else (a staff edit) is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from hub.crawlrecord import Outcome, apply_outcome, insert_outcome_rows, outcome_columns
from hub.models import Source, core_table


@dataclass(slots=True)
class SourceRecord:
    """The columns of one source an outcome reads or changes (hub.crawlrecord.SourceFacts)."""

    id: int
    url: str
    check_interval_s: int
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    parsed_at: datetime | None
    consecutive_failures: int
    total_failures: int
    last_status_code: int | None
    last_error_kind: str | None
    last_error: str | None
    moved_to_url: str | None
    moved_count: int
    leased_until: datetime | None
    lease_owner: str | None
    next_check_at: datetime | None
    retry_after_until: datetime | None
    entries_pending: int
    feed_ttl_s: int | None
    max_age_s: int | None


COLUMNS: tuple[str, ...] = tuple(SourceRecord.__dataclass_fields__)
_WRITABLE = COLUMNS[1:]  # not the id
_values = attrgetter(*_WRITABLE)


def record_outcomes(session: Session, outcomes: Sequence[Outcome]) -> None:
    """record_outcome for each of ``outcomes`` (in order; at most one per source), without ORM objects.

    An outcome for a (run, source) that has one already is logged and dropped, as record_outcome does;
    the rest of the batch is written.
    """
    if not outcomes:
        return
    table = core_table(Source)
    ids = sorted({outcome.source_id for outcome in outcomes})
    rows = session.execute(select(*(table.c[name] for name in COLUMNS)).where(table.c.id.in_(ids)))
    records = {row[0]: SourceRecord(*row) for row in rows}
    before = {source_id: _values(record) for source_id, record in records.items()}

    def taken(source_id: int, url: str) -> bool:
        # As the ORM's autoflush would show it: sources of this batch as changed so far, others as stored.
        for record in records.values():
            if record.id != source_id and record.url == url:
                return True
        holder = session.scalar(select(table.c.id).where(table.c.url == url, table.c.id != source_id))
        return holder is not None and holder not in records

    outcome_rows = [outcome_columns(outcome) for outcome in outcomes]
    written = insert_outcome_rows(session, outcome_rows)
    for outcome in outcomes:
        key = (outcome.run_id, outcome.source_id)
        # A dropped outcome changes nothing on its source: the one stored first did.
        if key not in written:
            continue
        written.remove(key)  # a second one of the source in this batch was dropped too
        record = records.get(outcome.source_id)
        if record is not None:
            apply_outcome(record, outcome, taken)
    _update_sources(session, records, before)


def _update_sources(
    session: Session, records: dict[int, SourceRecord], before: dict[int, tuple[Any, ...]]
) -> None:
    """One executemany UPDATE per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for source_id, record in records.items():
        after = _values(record)
        changed = tuple(
            name for name, old, new in zip(_WRITABLE, before[source_id], after, strict=True) if old != new
        )
        if changed:
            params = {f"new_{name}": getattr(record, name) for name in changed}
            params["source_id"] = source_id
            groups.setdefault(changed, []).append(params)
    table = core_table(Source)
    for changed, params_list in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("source_id"))
            .values({name: bindparam(f"new_{name}") for name in changed})
        )
        session.execute(statement, params_list)
