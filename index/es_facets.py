"""Facets and repost counts of the Elasticsearch backend, as aggregations (docs/search.md).

Facets are ``terms`` aggregations over the documents a search matched (filters and collapsing
included): top ``FACET_SIZE`` buckets, larger counts first, ties by value ascending (numeric for the
unit id). The unit's label is the ``unit_name`` of its documents. Counts are exact because the
template keeps every version on one shard.
"""

from __future__ import annotations

from typing import Any

from index.backend import FACET_SIZE, FacetCount

# facet name -> indexed field
FACET_FIELDS = {"unit": "unit_id", "level": "unit_level", "category": "category", "month": "month"}
_ORDER = [{"_count": "desc"}, {"_key": "asc"}]
_LABEL = "label"
_UNITS = "units"
REPOST_UNITS = 10_000  # distinct reposting units counted per original (the city has ~1,600 units)


def facet_aggs() -> dict[str, Any]:
    """The ``aggs`` of a search asking for facets."""
    aggs: dict[str, Any] = {
        name: {"terms": {"field": field, "size": FACET_SIZE, "order": _ORDER}}
        for name, field in FACET_FIELDS.items()
    }
    aggs["unit"]["aggs"] = {_LABEL: {"terms": {"field": "unit_name", "size": 1}}}
    return aggs


def _label(bucket: dict[str, Any], value: str) -> str:
    names = bucket.get(_LABEL, {}).get("buckets", [])
    return str(names[0]["key"]) if names else value


def read_facets(aggregations: dict[str, Any]) -> dict[str, list[FacetCount]]:
    """The facets of a search response's ``aggregations``."""
    facets: dict[str, list[FacetCount]] = {}
    for name in FACET_FIELDS:
        counts = []
        for bucket in aggregations.get(name, {}).get("buckets", []):
            value = str(bucket["key"])
            label = _label(bucket, value) if name == "unit" else value
            counts.append(FacetCount(value=value, label=label, count=int(bucket["doc_count"])))
        facets[name] = counts
    return facets


def repost_count_body(item_ids: list[int], states: tuple[str, ...] | None) -> dict[str, Any]:
    """A search counting, for each of ``item_ids``, the distinct units with a document in ``states``
    collapsed into it (a unit whose two sources carry the notice reposted it once). The units are
    terms below each bucket, exact on the one shard (``cardinality`` would only estimate them)."""
    filters: list[dict[str, Any]] = [{"terms": {"collapse_into": item_ids}}]
    if states is not None:
        filters.append({"terms": {"state": list(states)}})
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": filters}},
        "aggs": {
            "reposts": {
                "terms": {"field": "collapse_into", "size": max(1, len(item_ids))},
                "aggs": {_UNITS: {"terms": {"field": "unit_id", "size": REPOST_UNITS}}},
            }
        },
    }


def read_repost_counts(aggregations: dict[str, Any]) -> dict[int, int]:
    """item id -> number of reposting units, from the response to ``repost_count_body``."""
    buckets = aggregations.get("reposts", {}).get("buckets", [])
    return {int(bucket["key"]): len(bucket.get(_UNITS, {}).get("buckets", [])) for bucket in buckets}
