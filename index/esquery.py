"""Elasticsearch request bodies built from the shared analysis, so ES matches what FTS5 matches.

Documents carry the tokens of index.analysis in whitespace-analysed fields (``title_tokens``,
``body_tokens``) and their distinct CJK characters in ``cjk_chars``; every query term becomes a
``match_phrase`` over those tokens (or a ``term`` on a character), exactly like the FTS5 expression.
"""

from __future__ import annotations

from typing import Any

from index.analysis import ParsedQuery, Term, cjk_chars, token_text
from index.backend import SearchDocument, SearchQuery

TITLE_BOOST = 10.0
HIT_FIELDS = ["item_id", "title", "text", "summary", "url", "unit_id", "unit_name", "published_at"]


def document_source(doc: SearchDocument) -> dict[str, Any]:
    """The ``_source`` of ``doc``: its fields plus the pre-analysed token fields."""
    return {
        "item_id": doc.item_id,
        "version": doc.version,
        "title": doc.title,
        "text": doc.text,
        "summary": doc.summary,
        "title_tokens": token_text(doc.title),
        "body_tokens": token_text(doc.text),
        "cjk_chars": cjk_chars(doc.title, doc.text),
        "url": doc.url,
        "unit_id": doc.unit_id,
        "unit_name": doc.unit_name,
        "unit_slug": doc.unit_slug,
        "unit_level": doc.unit_level,
        "unit_type": doc.unit_type,
        "unit_ancestors": doc.unit_ancestors,
        "region_code": doc.region_code,
        "source_id": doc.source_id,
        "source_name": doc.source_name,
        "category": doc.category,
        "published_at": doc.published_at.isoformat() if doc.published_at else None,
        "first_seen_at": doc.first_seen_at.isoformat(),
        "sort_date": doc.sort_date.isoformat(),
        "has_attachments": doc.has_attachments,
        "state": doc.state,
    }


def term_clause(term: Term) -> dict[str, Any]:
    """One query term: a phrase over title or body tokens, or one CJK character."""
    if term.char is not None:
        return {"term": {"cjk_chars": term.char}}
    phrase = " ".join(term.tokens)
    return {
        "bool": {
            "should": [
                {"match_phrase": {"title_tokens": {"query": phrase, "boost": TITLE_BOOST}}},
                {"match_phrase": {"body_tokens": {"query": phrase}}},
            ],
            "minimum_should_match": 1,
        }
    }


def _filters(query: SearchQuery) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    if query.unit_subtree is not None:
        filters.append({"term": {"unit_ancestors": query.unit_subtree}})
    for field, value in (
        ("unit_level", query.unit_level),
        ("unit_type", query.unit_type),
        ("category", query.category),
        ("source_id", query.source_id),
    ):
        if value is not None:
            filters.append({"term": {field: value}})
    dates: dict[str, str] = {}
    if query.date_from is not None:
        dates["gte"] = query.date_from.isoformat()
    if query.date_to is not None:
        dates["lte"] = query.date_to.isoformat()
    if dates:
        filters.append({"range": {"sort_date": dates}})
    return filters


def search_body(query: SearchQuery, parsed: ParsedQuery) -> dict[str, Any]:
    """The body of a ``_search`` request answering ``query``."""
    boolean: dict[str, Any] = {"filter": _filters(query)}
    if parsed.must:
        boolean["must"] = [
            {"bool": {"should": [term_clause(t) for t in group], "minimum_should_match": 1}}
            for group in parsed.must
        ]
    if parsed.must_not:
        boolean["must_not"] = [term_clause(t) for t in parsed.must_not]
    by_date: list[Any] = [{"sort_date": {"order": "desc"}}, {"item_id": {"order": "desc"}}]
    ranked = bool(parsed.must) and query.sort != "date"
    return {
        "query": {"bool": boolean},
        "sort": ["_score", *by_date] if ranked else by_date,
        "from": query.offset,
        "size": query.limit,
        "track_total_hits": True,
        "_source": HIT_FIELDS,
    }
