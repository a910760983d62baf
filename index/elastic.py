"""The Elasticsearch search backend (docs/architecture.md step 7, docs/search.md).

A versioned index ``<prefix>-items-vN`` sits behind a read alias ``<prefix>-items`` and a write alias
``<prefix>-items-write``; every version is created from the index template ``<prefix>-items``
(``config/index/items.json``, IK analyzers when the cluster has them: index/es_template.py).
``rebuild`` fills a new version and swaps both aliases in one request, so searches keep answering.
Writes are bulk requests with external versioning (``external_gte``): an older revision never
overwrites a newer one (index/es_bulk.py). Queries come from index/esquery.py, facets and repost
counts from index/es_facets.py, cursors from index/es_paging.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, TransportError

from index.analysis import ParsedQuery, Term, parse_query, token_strings
from index.backend import (
    PUBLIC_STATES,
    RELATED_LIMIT,
    SUGGEST_LIMIT,
    BackendHealth,
    BulkResult,
    CatchUpSource,
    IndexStats,
    SearchBackendError,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
    Suggestion,
)
from index.es_bulk import BulkOptions, bulk_write
from index.es_facets import read_facets, read_repost_counts, repost_count_body
from index.es_paging import next_cursor, start_of_page
from index.es_template import TEMPLATE_FILE, IndexTemplate, load_template
from index.esquery import document_source, related_body, search_body, search_kind, suggest_body
from index.snippet import make_snippet, mark_matches

log = logging.getLogger(__name__)

RELATED_TITLE_TOKENS = 20  # distinct title tokens a "related" query is made of (docs/search.md)
HEALTH_TIMEOUT_S = 5.0
SEEN_ALLOWANCE = 10  # hits a relevance page after a cursor may drop as seen (index/es_paging.py)
_STATES_BUCKETS = 100  # more than there are item states


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _hit(raw: dict[str, Any], parsed: ParsedQuery) -> SearchHit:
    source = raw["_source"]
    return SearchHit(
        item_id=int(source["item_id"]),
        score=float(raw.get("_score") or 0.0),
        title=source["title"],
        snippet=make_snippet(source.get("text") or source.get("summary") or "", parsed),
        title_marked=mark_matches(source["title"], parsed),
        url=source["url"],
        unit_id=int(source["unit_id"]),
        unit_name=source["unit_name"],
        published_at=_date(source.get("published_at")),
        unit_slug=source.get("unit_slug") or "",
        source_name=source.get("source_name") or "",
        category=source.get("category"),
        state=source.get("state") or "",
        has_attachments=bool(source.get("has_attachments")),
        sort_date=_date(source.get("sort_date")),
    )


class ElasticBackend:
    """SearchBackend on an Elasticsearch (or API-compatible) cluster, given a prepared client."""

    def __init__(
        self,
        client: Elasticsearch,
        prefix: str = "xinlian",
        mapping_file: Path = TEMPLATE_FILE,
        refresh: bool = True,
        chunk_size: int = 500,
        max_retries: int = 3,
        initial_backoff: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.template_file = mapping_file  # the index template (settings and mappings)
        self.refresh = refresh  # make writes visible at once (the drainer writes in batches)
        self.bulk_options = BulkOptions(
            chunk_size=chunk_size, max_retries=max_retries, initial_backoff=initial_backoff
        )
        self.clock = clock  # "now" of the recency boost
        self.read_alias = f"{prefix}-items"
        self.write_alias = f"{prefix}-items-write"
        self._ik: bool | None = None  # detected once, when the template is first installed
        self._template_installed = False
        self._ready = False

    # -- index management ---------------------------------------------------------------------------

    def has_ik(self) -> bool:
        """Whether the cluster has the IK Chinese analyzer plugin."""
        try:
            self.client.indices.analyze(analyzer="ik_max_word", text="党建")
        except BadRequestError:  # "failed to find global analyzer"
            return False
        return True

    def template(self) -> IndexTemplate:
        """The index template for this prefix (IK analyzers if the cluster has them)."""
        if self._ik is None:
            self._ik = self.has_ik()
        return load_template(self.prefix, self._ik, self.template_file)

    def _install_template(self) -> IndexTemplate:
        """Put the index template (every start-up: the next version follows the current file)."""
        template = self.template()
        if not self._template_installed:
            self.client.indices.put_index_template(name=template.name, body=template.body)
            self._template_installed = True
        return template

    def _versions(self) -> dict[str, int]:
        try:
            names = self.client.indices.get_alias(name=self.read_alias).body
        except NotFoundError:
            return {}
        return {name: int(name.rsplit("-v", 1)[1]) for name in names}

    def _add_new_fields(self, template: IndexTemplate) -> None:
        """Add fields the template gained since the live version was made (adding is allowed in place;
        documents written before lack them until the next reindex). A changed field cannot be: warn."""
        try:
            self.client.indices.put_mapping(
                index=self.write_alias, properties=template.mappings["properties"]
            )
        except BadRequestError as exc:
            log.warning(
                "index %s differs from %s (%s): run `xinlian index reindex`",
                self.write_alias,
                self.template_file,
                exc.message,
            )

    def ensure_ready(self) -> None:
        """Install the template; create version 1 behind both aliases unless the read alias exists."""
        with _translated("ensure_ready"):
            template = self._install_template()
            if self.client.indices.exists_alias(name=self.read_alias):
                self._add_new_fields(template)
            else:
                aliases = {self.read_alias: {}, self.write_alias: {"is_write_index": True}}
                try:
                    self.client.indices.create(index=f"{self.prefix}-items-v1", aliases=aliases)
                except BadRequestError as exc:
                    if exc.error != "resource_already_exists_exception":  # another process won
                        raise
        self._ready = True

    def _ensure(self) -> None:
        if not self._ready:
            self.ensure_ready()

    # -- writes -------------------------------------------------------------------------------------

    @staticmethod
    def _index_actions(documents: Iterable[SearchDocument], index: str) -> Iterator[dict[str, Any]]:
        for doc in documents:
            yield {
                "_op_type": "index",
                "_index": index,
                "_id": str(doc.item_id),
                "version": doc.version,
                "version_type": "external_gte",
                "_source": document_source(doc),
            }

    @staticmethod
    def _delete_actions(item_ids: Iterable[int], index: str) -> Iterator[dict[str, Any]]:
        for item_id in item_ids:
            yield {"_op_type": "delete", "_index": index, "_id": str(item_id)}

    def _refresh(self, index: str) -> None:
        """Make writes searchable now; if that fails they still become visible at the next periodic
        refresh, so a failure here is logged, not reported as lost writes."""
        try:
            self.client.indices.refresh(index=index)
        except (ApiError, TransportError) as exc:
            log.warning("elasticsearch refresh of %s failed: %s", index, exc)

    def bulk(self, documents: list[SearchDocument], deletes: list[int]) -> BulkResult:
        """Upsert and delete, reporting per-item failures (a stale version is not one)."""
        self._ensure()
        actions = chain(
            self._index_actions(documents, self.write_alias),
            self._delete_actions(deletes, self.write_alias),
        )
        result = bulk_write(self.client, actions, self.bulk_options)
        if self.refresh and result.written:
            self._refresh(self.write_alias)
        return result

    def _bulk_or_raise(self, documents: list[SearchDocument], deletes: list[int]) -> None:
        result = self.bulk(documents, deletes)
        if result.failed:
            item_id, reason = next(iter(result.failed.items()))
            raise SearchBackendError(f"{len(result.failed)} bulk errors, first: {item_id}: {reason}")

    def upsert(self, documents: list[SearchDocument]) -> None:
        """Index documents; a stale version is skipped, not reported; any other failure raises."""
        self._bulk_or_raise(documents, [])

    def delete(self, item_ids: list[int]) -> None:
        """Remove documents; unknown ids are ignored."""
        self._bulk_or_raise([], item_ids)

    def clear(self) -> None:
        """Delete every document of the current index version."""
        self._ensure()
        with _translated("clear"):
            self.client.delete_by_query(index=self.write_alias, query={"match_all": {}}, refresh=True)

    def rebuild(self, documents: Iterable[SearchDocument], catch_up: CatchUpSource | None = None) -> int:
        """Fill a new index version, apply ``catch_up`` to it, swap both aliases to it atomically, drop
        the old versions.

        Searches read the old version until the swap; any document refused aborts the rebuild (the
        new version is dropped) rather than publishing an index with holes.
        """
        with _translated("rebuild"):
            self._install_template()
            old = self._versions()
            new = f"{self.prefix}-items-v{max(old.values(), default=0) + 1}"
            self.client.indices.create(index=new)
            try:
                bulk_write(self.client, self._index_actions(documents, new), self.bulk_options, strict=True)
                if catch_up is not None:  # the documents are all read: what changed since goes in too
                    changed = chain.from_iterable(
                        chain(
                            self._index_actions(changes.documents, new),
                            self._delete_actions(changes.deletes, new),
                        )
                        for changes in catch_up()
                    )
                    bulk_write(self.client, changed, self.bulk_options, strict=True)
                self.client.indices.refresh(index=new)
                # Counted, not summed: an item written twice (changed meanwhile) is one document.
                written = int(self.client.count(index=new).body["count"])
            except BaseException:
                self.client.indices.delete(index=new)
                raise
            actions: list[dict[str, Any]] = [
                {"remove": {"index": name, "alias": alias}}
                for name in old
                for alias in (self.read_alias, self.write_alias)
            ]
            actions += [
                {"add": {"index": new, "alias": self.read_alias}},
                {"add": {"index": new, "alias": self.write_alias, "is_write_index": True}},
            ]
            self.client.indices.update_aliases(actions=actions)
            for name in old:
                self.client.indices.delete(index=name)
        self._ready = True
        return written

    # -- reads --------------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of documents behind the read alias."""
        self._ensure()
        with _translated("count"):
            return int(self.client.count(index=self.read_alias).body["count"])

    def _repost_counts(self, hits: list[SearchHit], states: tuple[str, ...] | None) -> None:
        body = repost_count_body([hit.item_id for hit in hits], states)
        response = self.client.search(index=self.read_alias, **body).body
        counts = read_repost_counts(response.get("aggregations", {}))
        for hit in hits:
            hit.repost_count = counts.get(hit.item_id, 0)

    def search(self, query: SearchQuery) -> SearchResult:
        """Answer ``query`` (docs/search.md); InvalidCursor for a cursor this backend did not issue."""
        parsed = parse_query(query.text)
        page = start_of_page(search_kind(query, parsed), query.cursor, query.offset, self.clock())
        self._ensure()
        with _translated("search"):
            extra = SEEN_ALLOWANCE if page.after is not None else 0
            while True:
                body = search_body(query, parsed, page, extra)
                response = self.client.search(index=self.read_alias, **body).body
                raw_hits = [raw for raw in response["hits"]["hits"] if not page.seen(raw["sort"])]
                if len(raw_hits) > query.limit or len(response["hits"]["hits"]) < body["size"]:
                    break
                extra = 2 * extra + query.limit  # a long run of equal scores: reach further
            more = len(raw_hits) > query.limit
            raw_hits = raw_hits[: query.limit]
            hits = [_hit(raw, parsed) for raw in raw_hits]
            if query.collapse_reposts and hits:
                self._repost_counts(hits, query.states)
        result = SearchResult(total=int(response["hits"]["total"]["value"]), hits=hits)
        if query.facets:
            result.facets = read_facets(response.get("aggregations", {}))
        if more and raw_hits:
            result.next_cursor = next_cursor(page, raw_hits[-1]["sort"], query.recency_boost)
        return result

    def suggest(
        self, prefix: str, limit: int = SUGGEST_LIMIT, states: tuple[str, ...] | None = PUBLIC_STATES
    ) -> list[Suggestion]:
        """Distinct titles holding what was typed (the last word may be incomplete), newest first."""
        tokens = token_strings(prefix)
        if not tokens or limit <= 0:
            return []
        self._ensure()
        with _translated("suggest"):
            response = self.client.search(index=self.read_alias, **suggest_body(tokens, limit, states))
        return [
            Suggestion(item_id=int(raw["_source"]["item_id"]), title=raw["_source"]["title"])
            for raw in response.body["hits"]["hits"]
        ]

    def related(
        self, item_id: int, limit: int = RELATED_LIMIT, states: tuple[str, ...] | None = PUBLIC_STATES
    ) -> list[SearchHit]:
        """Documents sharing words of the item's title, outside its repost group, best first."""
        self._ensure()
        with _translated("related"):
            try:
                source = self.client.get(
                    index=self.read_alias, id=str(item_id), source=["title_tokens", "collapse_into"]
                ).body["_source"]
            except NotFoundError:
                return []
            tokens = list(dict.fromkeys(source.get("title_tokens", "").split()))[:RELATED_TITLE_TOKENS]
            if not tokens or limit <= 0:
                return []
            group = source.get("collapse_into") or item_id
            body = related_body(tokens, item_id, group, limit, states)
            response = self.client.search(index=self.read_alias, **body).body
        parsed = ParsedQuery(must=[[Term((token,)) for token in tokens]])
        return [_hit(raw, parsed) for raw in response["hits"]["hits"]]

    def stats(self) -> IndexStats:
        """Documents, size on the cluster and documents per state of the version behind the read alias."""
        self._ensure()
        with _translated("stats"):
            versions = self._versions()
            response = self.client.search(
                index=self.read_alias,
                size=0,
                track_total_hits=True,
                aggs={"states": {"terms": {"field": "state", "size": _STATES_BUCKETS}}},
            ).body
            store = self.client.indices.stats(index=self.read_alias, metric="store").body
        buckets = response["aggregations"]["states"]["buckets"]
        size = store.get("_all", {}).get("total", {}).get("store", {}).get("size_in_bytes")
        return IndexStats(
            backend="elasticsearch",
            documents=int(response["hits"]["total"]["value"]),
            size_bytes=int(size) if size is not None else None,
            by_state={str(bucket["key"]): int(bucket["doc_count"]) for bucket in buckets},
            location=",".join(sorted(versions)),
        )

    def health(self) -> BackendHealth:
        """Whether the cluster answers, its status and the version behind the read alias; never raises."""
        quick = self.client.options(request_timeout=HEALTH_TIMEOUT_S, max_retries=0)
        try:
            cluster = quick.cluster.health().body
            names = (
                list(quick.indices.get_alias(name=self.read_alias).body)
                if quick.indices.exists_alias(name=self.read_alias)
                else []
            )
        except (ApiError, TransportError) as exc:
            return BackendHealth(ok=False, detail=f"elasticsearch unreachable: {exc}")
        status = str(cluster.get("status", "unknown"))
        index = ",".join(sorted(names)) or f"no index behind {self.read_alias} yet"
        return BackendHealth(ok=status in ("green", "yellow"), detail=f"cluster {status}; {index}")

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn client and transport errors into SearchBackendError (the drainer retries those)."""
    try:
        yield
    except (ApiError, TransportError) as exc:
        raise SearchBackendError(f"elasticsearch {action}: {exc}") from exc
