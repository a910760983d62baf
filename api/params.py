"""Bounded request numbers: row ids, hours, list lengths (issue 8, hostile input).

Row ids are INTEGER columns: 32-bit on PostgreSQL (an id past 2**31-1 raised NumericValueOutOfRange)
and 64-bit on SQLite (OverflowError past 2**63-1), both answered 500. Declaring the bounds here makes
such a request a 422 before it reaches the store, and documents them in OpenAPI.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import Field

MAX_ROW_ID = 2**31 - 1  # PostgreSQL INTEGER, the narrower of the two stores
MAX_HOURS = 24 * 365 * 20  # an age filter of twenty years matches everything there is
MAX_LIST_IDS = 10_000  # body id lists; moderation.bulk_max (default 500) refuses earlier


def row_id_query(description: str = "Row id.") -> Any:
    """A query parameter naming a row (FastAPI keeps only the last Query() of an Annotated, so a
    described parameter needs its own, bounded one)."""
    return Query(ge=1, le=MAX_ROW_ID, description=description)


def hours_query(description: str = "Hours.") -> Any:
    """Hours that become a timedelta: finite and at most twenty years (timedelta overflows)."""
    return Query(gt=0, le=MAX_HOURS, allow_inf_nan=False, description=description)


RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Row id.")]
RowIdQuery = Annotated[int | None, row_id_query()]
RowIdField = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
RowIdList = Annotated[list[RowIdField], Field(max_length=MAX_LIST_IDS)]
HoursQuery = Annotated[float | None, hours_query()]
