"""Which of our feeds an item belongs to: the WebSub hub delivers a publish to those topics only.

An item is matched through its search document (index/document.py), the same projection the search
feeds filter on: everything; a unit feed when the unit is the item's unit (or, for a subtree feed, one
of its ancestors); a category feed by the item's category (else its source's); a search feed when
every filter holds and the words match by the shared analysis (index/analysis.py). A withdrawn item
matches the feeds it was in, so their subscribers receive the feed without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from api.feeds.spec import FeedSpec
from api.search import SearchParams
from index.analysis import IndexedText, ParsedQuery, Term, index_text, parse_query
from index.backend import SearchDocument


def _term_found(term: Term, text: IndexedText) -> bool:
    if term.char is not None:
        return term.char in text.chars
    phrase = f" {' '.join(term.tokens)} "
    return phrase in f" {text.title_tokens} " or phrase in f" {text.body_tokens} "


def words_match(query: ParsedQuery, text: IndexedText) -> bool:
    """Whether analysed ``text`` matches ``query``: every group by one of its terms, no excluded term."""
    if any(_term_found(term, text) for term in query.must_not):
        return False
    return all(any(_term_found(term, text) for term in group) for group in query.must)


def _in_days(params: SearchParams, moment: datetime, zone: ZoneInfo) -> bool:
    if params.since is not None and moment < datetime.combine(params.since, time.min, tzinfo=zone):
        return False
    end = params.until + timedelta(days=1) if params.until is not None else None
    return end is None or moment < datetime.combine(end, time.min, tzinfo=zone)


def _search_matches(
    params: SearchParams, doc: SearchDocument, unit_ids: Mapping[str, int], zone: ZoneInfo
) -> bool:
    if params.unit and unit_ids.get(params.unit) not in doc.unit_ancestors:
        return False
    checks = (
        not params.level or params.level == doc.unit_level,
        not params.category or params.category == doc.category,
        not params.region or params.region in doc.region_path,
        params.source is None or params.source == doc.source_id,
        not params.attachments or doc.has_attachments,
        _in_days(params, doc.sort_date, zone),
    )
    if not all(checks):
        return False
    query = parse_query(params.q)
    return query.is_empty or words_match(query, index_text(doc.title, doc.text))


def belongs(spec: FeedSpec, doc: SearchDocument, unit_ids: Mapping[str, int], zone: ZoneInfo) -> bool:
    """Whether the item of ``doc`` is (or, withdrawn, was) an entry of the feed ``spec``.

    ``unit_ids`` maps the unit slugs named by the topics to their ids.
    """
    if spec.kind == "all":
        return True
    if spec.kind == "unit":
        unit_id = unit_ids.get(spec.unit)
        return unit_id is not None and (
            unit_id in doc.unit_ancestors if spec.subtree else unit_id == doc.unit_id
        )
    if spec.kind == "category":
        return doc.category == spec.category
    return spec.search is not None and _search_matches(spec.search, doc, unit_ids, zone)
