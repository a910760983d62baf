"""The one page shape of every list of /api/v1 (the fields of the search results: ``SearchOut``).

A list answers ``total``, ``page``, ``page_size``, ``pages``, ``items`` and ``next_cursor``; lists that
page only by number leave ``next_cursor`` null, lists with deep paging fill it (``cursor`` wins over
``page``, as in search).
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

MAX_PAGE = 500  # as in search: page numbers are for people, deep paging goes by cursor
MAX_LIMIT = 100

PageParam = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")]
LimitParam = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="Results per page.")]


class PageOut(BaseModel):
    """Pagination fields shared by every list (subclasses add a typed ``items``)."""

    total: int = Field(description="Rows matching the filters, over all pages.")
    page: int = Field(description="This page's number (1 when paging by cursor).")
    page_size: int
    pages: int = Field(description="Number of pages (at least 1).")
    next_cursor: str | None = Field(
        None, description="Pass as ?cursor= for the next page; null on the last or where paging is by number."
    )


def page_count(total: int, page_size: int) -> int:
    """Number of pages of ``total`` rows (at least 1)."""
    return max(1, math.ceil(total / page_size))
