"""Elasticsearch request bodies built from the shared analysis, so ES matches what the embedded index
matches (docs/search.md).

Documents carry the tokens of index.analysis in whitespace-analysed fields (``title_tokens``,
``body_tokens``) and their distinct CJK characters in ``cjk_chars``; every query term becomes a
``match_phrase`` over those tokens (or a ``term`` on a character), like the embedded expression.
Filters are single ``term``/``range`` clauses: a subtree of units or regions is one term on the
array of ancestors each document carries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from index.analysis import ParsedQuery, Term, cjk_chars, token_text
from index.backend import SearchDocument, SearchQuery
from index.es_facets import facet_aggs
from index.es_paging import DATE, RELEVANCE, Page, sort_clause

TITLE_BOOST = 10.0
HIT_FIELDS = [
    "item_id",
    "title",
    "text",
    "summary",
    "url",
    "unit_id",
    "unit_name",
    "unit_slug",
    "source_name",
    "category",
    "state",
    "has_attachments",
    "published_at",
    "sort_date",
]
RECENCY_SCALE = "90d"  # the boost halves every 90 days of age: score × (1 + 0.5^(age_days / 90))
SUGGEST_EXPANSIONS = 1000  # terms the last word of a multi-word suggestion prefix may expand to


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
        "region_path": doc.region_path,
        "source_id": doc.source_id,
        "source_name": doc.source_name,
        "category": doc.category,
        "published_at": doc.published_at.isoformat() if doc.published_at else None,
        "first_seen_at": doc.first_seen_at.isoformat(),
        "sort_date": doc.sort_date.isoformat(),
        "month": doc.month or None,  # not counted in the month facet rather than counted as ""
        "has_attachments": doc.has_attachments,
        "state": doc.state,
        "collapse_into": doc.collapse_into,
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


def state_filter(states: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """The filter keeping ``states`` (none for None: every state)."""
    return [] if states is None else [{"terms": {"state": list(states)}}]


NOT_A_REPOST: dict[str, Any] = {"exists": {"field": "collapse_into"}}  # as must_not: collapsed away


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def filters(query: SearchQuery) -> list[dict[str, Any]]:
    """The filter clauses of ``query`` (states included)."""
    clauses: list[dict[str, Any]] = []
    for field, value in (
        ("unit_ancestors", query.unit_subtree),
        ("unit_level", query.unit_level),
        ("unit_type", query.unit_type),
        ("region_path", query.region),
        ("category", query.category),
        ("source_id", query.source_id),
        ("has_attachments", query.has_attachments),
    ):
        if value is not None:
            clauses.append({"term": {field: value}})
    dates: dict[str, str] = {}
    if query.date_from is not None:
        dates["gte"] = _iso(query.date_from)
    if query.date_to is not None:
        dates["lte"] = _iso(query.date_to)
    if dates:
        clauses.append({"range": {"sort_date": dates}})
    return clauses + state_filter(query.states)


def recency_boosted(scored: dict[str, Any], now: datetime) -> dict[str, Any]:
    """``scored`` × (1 + 0.5^(age_days / 90)), age counted from ``now``, future dates as age 0.

    An ``exp`` decay measures the distance to the origin on both sides, so documents dated after
    ``now`` get a constant 1 instead of the decay (filtered functions, summed).
    """
    origin = now.astimezone(UTC).isoformat(timespec="milliseconds")
    decay = {"sort_date": {"origin": origin, "scale": RECENCY_SCALE, "decay": 0.5}}
    return {
        "function_score": {
            "query": scored,
            "functions": [
                {"weight": 1},
                {"filter": {"range": {"sort_date": {"gt": origin}}}, "weight": 1},
                {"filter": {"range": {"sort_date": {"lte": origin}}}, "exp": decay},
            ],
            "score_mode": "sum",
            "boost_mode": "multiply",
        }
    }


def search_kind(query: SearchQuery, parsed: ParsedQuery) -> str:
    """The order of a search: relevance needs words to score; otherwise newest first."""
    return RELEVANCE if parsed.must and query.sort != "date" else DATE


def search_body(query: SearchQuery, parsed: ParsedQuery, page: Page, extra: int = 0) -> dict[str, Any]:
    """The body of a ``_search`` request answering ``query`` from ``page`` on.

    One more hit than the limit is asked for: its presence says whether there is a next page; and
    ``extra`` more for the hits a relevance page drops as seen (index/es_paging.py).
    """
    boolean: dict[str, Any] = {"filter": filters(query)}
    if parsed.must:
        boolean["must"] = [
            {"bool": {"should": [term_clause(t) for t in group], "minimum_should_match": 1}}
            for group in parsed.must
        ]
    must_not = [term_clause(t) for t in parsed.must_not]
    if query.collapse_reposts:
        must_not.append(NOT_A_REPOST)
    if must_not:
        boolean["must_not"] = must_not
    scored: dict[str, Any] = {"bool": boolean}
    if page.kind == RELEVANCE and query.recency_boost:
        scored = recency_boosted(scored, page.now)
    body: dict[str, Any] = {
        "query": scored,
        "sort": sort_clause(page.kind),
        "size": query.limit + 1 + extra,
        "track_total_hits": True,
        "_source": HIT_FIELDS,
    }
    if page.search_after is not None:
        body["search_after"] = page.search_after
    else:
        body["from"] = page.offset
    if query.facets:
        body["aggs"] = facet_aggs()
    return body


def suggest_body(prefix_tokens: list[str], limit: int, states: tuple[str, ...] | None) -> dict[str, Any]:
    """Newest documents whose title tokens hold ``prefix_tokens`` as a phrase, the last as a prefix;
    one per distinct title, reposts collapsed.

    One token is an exact ``prefix`` query; more make a ``match_phrase_prefix`` whose last token
    expands to at most SUGGEST_EXPANSIONS indexed terms.
    """
    match: dict[str, Any]
    if len(prefix_tokens) == 1:
        match = {"prefix": {"title_tokens": prefix_tokens[0]}}
    else:
        phrase = {"query": " ".join(prefix_tokens), "max_expansions": SUGGEST_EXPANSIONS}
        match = {"match_phrase_prefix": {"title_tokens": phrase}}
    return {
        "query": {"bool": {"must": [match], "filter": state_filter(states), "must_not": [NOT_A_REPOST]}},
        "collapse": {"field": "title.keyword"},
        "sort": sort_clause(DATE),
        "size": limit,
        "_source": ["item_id", "title"],
    }


def related_body(
    title_tokens: list[str], item_id: int, group: int, limit: int, states: tuple[str, ...] | None
) -> dict[str, Any]:
    """Documents sharing any of ``title_tokens`` in title or body, best first, not ``item_id`` nor its
    original ``group``, and no repost of a public original (collapsed, as in search)."""
    should = [term_clause(Term((token,))) for token in title_tokens]
    return {
        "query": {
            "bool": {
                "should": should,
                "minimum_should_match": 1,
                "filter": state_filter(states),
                # Reposts of a public original stand behind it (docs/search.md): a related list of
                # thirty copies of one notice would help nobody.
                "must_not": [
                    {"ids": {"values": [str(item_id), str(group)]}},
                    {"exists": {"field": "collapse_into"}},
                ],
            }
        },
        "sort": sort_clause(RELEVANCE),
        "size": limit,
        "track_total_hits": False,
        "_source": HIT_FIELDS,
    }
