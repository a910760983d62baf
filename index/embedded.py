"""The embedded search backend: tantivy files in a directory, no server (docs/architecture.md step 7).

Documents carry the tokens of index.analysis (``embedded_schema``), queries are built from the shared
query language (``embedded_query``) and answered on one searcher per request (``embedded_search``);
the directory holds generations behind a CURRENT pointer, shared by the web app, the worker and the
CLI (``embedded_store``). What differs from Elasticsearch, and why, is in docs/search.md.

Why tantivy: on synthetic 1.5–3 KB Chinese notices, a two-character query with its count took ~1 ms
at 100,000 documents and four facets ~1.5 ms, where SQLite FTS5 needed tens of ms at 20,000.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import tantivy
from tantivy import Order, Query

from index.analysis import IndexedText, ParsedQuery, Term, index_texts, parse_query, token_strings
from index.backend import (
    PUBLIC_STATES,
    RELATED_LIMIT,
    SUGGEST_LIMIT,
    BackendHealth,
    BulkResult,
    CatchUpSource,
    IndexStats,
    InvalidCursor,
    SearchBackendError,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
    Suggestion,
)
from index.embedded_query import (
    any_of,
    any_term,
    combine,
    repost_exclusion,
    states_filter,
    title_prefix_query,
    tokens_query,
)
from index.embedded_schema import F, read_payload, to_document
from index.embedded_search import EmbeddedSearch, Helpers, UnitNames, hit_of, ordered_by_relevance
from index.embedded_store import REBUILD_HEAP, Generation, IndexStore

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 10.0  # a write batch waits this long for another process's writer, then fails
REBUILD_LOCK_TIMEOUT_S = 120.0
REBUILD_CHUNK = 1_000  # documents analysed at once during a rebuild
RELATED_TOKENS = 20
# What converting one document may raise (a lone surrogate, an id out of range...): that item fails.
_DOCUMENT_ERRORS = (ValueError, TypeError, OverflowError, UnicodeError, IndexError)


@contextmanager
def _translated(action: str, where: Path) -> Iterator[None]:
    """tantivy reports its errors as ValueError/OSError: the callers expect SearchBackendError."""
    try:
        yield
    except (SearchBackendError, InvalidCursor):
        raise
    except (ValueError, OSError) as exc:
        raise SearchBackendError(f"embedded index {where} ({action}): {exc}") from exc


def _newest(documents: Iterable[SearchDocument]) -> dict[int, SearchDocument]:
    """One document per item: the newest version (on equal versions, the later one)."""
    newest: dict[int, SearchDocument] = {}
    for doc in documents:
        kept = newest.get(doc.item_id)
        if kept is None or doc.version >= kept.version:
            newest[doc.item_id] = doc
    return newest


def _analysed(documents: list[SearchDocument]) -> list[IndexedText | str]:
    """The tokens of every document, or why a document could not be analysed."""
    try:
        return list(index_texts([(doc.title, doc.text) for doc in documents]))
    except _DOCUMENT_ERRORS:
        results: list[IndexedText | str] = []
        for doc in documents:  # find the document that broke the batch
            try:
                results.extend(index_texts([(doc.title, doc.text)]))
            except _DOCUMENT_ERRORS as exc:
                results.append(f"analysis failed: {type(exc).__name__}: {exc}")
        return results


def prepare(
    documents: list[SearchDocument],
) -> tuple[list[tuple[SearchDocument, tantivy.Document]], dict[int, str]]:
    """tantivy documents for ``documents`` (analysed outside any lock), and the items that failed."""
    ready: list[tuple[SearchDocument, tantivy.Document]] = []
    failed: dict[int, str] = {}
    for doc, analysed in zip(documents, _analysed(documents), strict=True):
        if isinstance(analysed, str):
            failed[doc.item_id] = analysed
            continue
        try:
            ready.append((doc, to_document(doc, analysed)))
        except _DOCUMENT_ERRORS as exc:
            failed[doc.item_id] = f"{type(exc).__name__}: {exc}"
    return ready, failed


class EmbeddedBackend:
    """SearchBackend on a directory of tantivy index generations."""

    def __init__(
        self,
        path: str | Path,
        lock_timeout_s: float = LOCK_TIMEOUT_S,
        rebuild_lock_timeout_s: float = REBUILD_LOCK_TIMEOUT_S,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.rebuild_lock_timeout_s = rebuild_lock_timeout_s
        self._store = IndexStore(self.path, lock_timeout_s)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._unit_names = UnitNames()
        self._helper: Helpers | None = None  # facet threads (embedded_search.Helpers), on first use
        self._helper_lock = threading.Lock()

    def ensure_ready(self) -> None:
        """Create the directory and an empty first generation if missing."""
        with _translated("ensure_ready", self.path):
            self._store.ensure()

    # -- writes -------------------------------------------------------------------------------------

    def _apply(self, documents: list[SearchDocument], deletes: list[int], strict: bool) -> BulkResult:
        newest = _newest(documents)
        ready, failed = prepare(list(newest.values()))
        if failed and strict:
            item_id, reason = next(iter(failed.items()))
            raise SearchBackendError(f"{len(failed)} documents refused, first: item {item_id}: {reason}")
        with _translated("write", self.path), self._store.writing() as (generation, writer):
            stored = self._stored_versions(generation, [doc.item_id for doc, _ in ready])
            written = 0
            for doc, document in ready:
                previous = stored.get(doc.item_id)
                if previous is not None and previous > doc.version:
                    continue  # an older version never overwrites a newer one
                if previous is not None:
                    writer.delete_documents_by_term(F.item_id, doc.item_id)
                writer.add_document(document)
                written += 1
            for item_id in deletes:
                writer.delete_documents_by_term(F.item_id, item_id)
            writer.commit()
        return BulkResult(written=written + len(deletes), failed=failed)

    @staticmethod
    def _stored_versions(generation: Generation, item_ids: list[int]) -> dict[int, int]:
        if not item_ids:
            return {}
        searcher = generation.index.searcher()
        query = any_term(generation.index.schema, F.item_id, item_ids)
        addresses = [address for _score, address in searcher.search(query, len(item_ids) * 2).hits]
        if not addresses:
            return {}
        ids = searcher.fast_field_values(F.item_id, addresses)
        versions = searcher.fast_field_values(F.version, addresses)
        return {int(i or 0): int(v or 0) for i, v in zip(ids, versions, strict=True)}

    def upsert(self, documents: list[SearchDocument]) -> None:
        """Index or replace documents, never replacing a newer version; nothing is written if any
        document is refused."""
        if documents:
            self._apply(documents, [], strict=True)

    def delete(self, item_ids: list[int]) -> None:
        """Remove documents; unknown ids are ignored."""
        if item_ids:
            self._apply([], item_ids, strict=True)

    def bulk(self, documents: list[SearchDocument], deletes: list[int]) -> BulkResult:
        """Upsert and delete in one commit; a document that cannot be indexed is reported, not raised."""
        if not documents and not deletes:
            return BulkResult(written=0)
        return self._apply(documents, deletes, strict=False)

    def clear(self) -> None:
        """Drop every document."""
        with _translated("clear", self.path), self._store.writing() as (_generation, writer):
            writer.delete_all_documents()
            writer.commit()

    def rebuild(self, documents: Iterable[SearchDocument], catch_up: CatchUpSource | None = None) -> int:
        """Fill a new generation, apply ``catch_up`` to it, then switch CURRENT to it: searches answer
        from the old one until the switch. The old generation's writer lock is held throughout, so a
        batch drained meanwhile waits or fails (the outbox retries it into the new generation) instead
        of being lost."""
        with _translated("rebuild", self.path):
            with self._store.writing(self.rebuild_lock_timeout_s) as (old, _writer):
                stale = [name for name in self._store.generations() if name != old.name]
                new = self._store.create_generation()
                try:
                    written = self._fill(new, documents, catch_up)
                except BaseException:
                    self._store.remove([new.name])
                    raise
                self._store.switch(new.name)
            self._store.remove([old.name, *stale])
        return written

    @staticmethod
    def _fill(
        generation: Generation, documents: Iterable[SearchDocument], catch_up: CatchUpSource | None
    ) -> int:
        writer = generation.index.writer(heap_size=REBUILD_HEAP, num_threads=1)
        versions: dict[int, int] = {}  # item id -> version written to the new generation
        try:
            iterator = iter(documents)
            while chunk := list(islice(iterator, REBUILD_CHUNK)):
                EmbeddedBackend._add(writer, versions, chunk)
            for changes in catch_up() if catch_up is not None else ():  # what changed since goes in too
                EmbeddedBackend._add(writer, versions, changes.documents)
                for item_id in changes.deletes:
                    writer.delete_documents_by_term(F.item_id, item_id)
                    versions.pop(item_id, None)
            writer.commit()  # one commit: the new generation never shows a state before the catch-up
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()  # merges done, lock released
        return len(versions)

    @staticmethod
    def _add(writer: tantivy.IndexWriter, versions: dict[int, int], documents: list[SearchDocument]) -> None:
        """Add ``documents``; an item already added is replaced unless it was added in a newer version."""
        ready, failed = prepare(list(_newest(documents).values()))
        for item_id, reason in failed.items():
            logger.warning("rebuild: item %s left out of the index: %s", item_id, reason)
        for doc, document in ready:
            previous = versions.get(doc.item_id)
            if previous is not None:  # the same item twice in the stream, or changed meanwhile
                if previous > doc.version:
                    continue
                writer.delete_documents_by_term(F.item_id, doc.item_id)
            versions[doc.item_id] = doc.version
            writer.add_document(document)

    # -- reads --------------------------------------------------------------------------------------

    def _searcher(self) -> tuple[tantivy.Searcher, tantivy.Schema, Generation]:
        generation = self._store.live()
        return generation.index.searcher(), generation.index.schema, generation

    def count(self) -> int:
        """Number of indexed documents."""
        with _translated("count", self.path):
            searcher, _schema, _generation = self._searcher()
            return int(searcher.num_docs)

    def search(self, query: SearchQuery) -> SearchResult:
        """Answer ``query`` with the shared query language, filters, order, facets and cursors."""
        parsed = parse_query(query.text)
        with _translated("search", self.path):
            searcher, schema, generation = self._searcher()
            snapshot = (generation.name, generation.meta_stamp)
            helper = self._facet_helper() if query.facets else None
            return EmbeddedSearch(searcher, schema, self._unit_names, snapshot, helper).run(
                query, parsed, self._clock()
            )

    def _facet_helper(self) -> Helpers:
        with self._helper_lock:
            if self._helper is None:
                self._helper = Helpers()
            return self._helper

    def suggest(
        self, prefix: str, limit: int = SUGGEST_LIMIT, states: tuple[str, ...] | None = PUBLIC_STATES
    ) -> list[Suggestion]:
        """Distinct titles containing the typed tokens as a phrase (the last one as a prefix), newest
        first, in ``states``, reposts of a public original left out."""
        tokens = token_strings(prefix)
        if not tokens or limit <= 0:
            return []
        with _translated("suggest", self.path):
            searcher, schema, _generation = self._searcher()
            required = [query for query in (states_filter(schema, states),) if query is not None]
            matching = title_prefix_query(searcher, schema, tokens)
            if matching is None:
                return []
            query = combine(matching, required, [repost_exclusion(schema)])
            fetch = limit * 4
            while True:
                found = searcher.search(query, fetch, order_by_field=F.sort_key, order=Order.Desc).hits
                suggestions: dict[str, Suggestion] = {}
                for _key, address in found:
                    payload = read_payload(searcher.doc(address))
                    title = payload["title"]
                    if title not in suggestions:
                        suggestions[title] = Suggestion(int(payload["item_id"]), title)
                        if len(suggestions) == limit:
                            return list(suggestions.values())
                if len(found) < fetch:
                    return list(suggestions.values())
                fetch *= 4

    def related(
        self, item_id: int, limit: int = RELATED_LIMIT, states: tuple[str, ...] | None = PUBLIC_STATES
    ) -> list[SearchHit]:
        """An OR query over the distinct tokens of the item's title (at most 20) on title and body,
        relevance order, without the item, its original, and reposts collapsed as in search (which
        leaves out the rest of its repost group)."""
        if limit <= 0:
            return []
        with _translated("related", self.path):
            searcher, schema, _generation = self._searcher()
            found = searcher.search(Query.term_query(schema, F.item_id, item_id), 1).hits
            if not found:
                return []
            source = read_payload(searcher.doc(found[0][1]))
            tokens = list(dict.fromkeys(token_strings(source["title"])))[:RELATED_TOKENS]
            if not tokens:
                return []
            group = source["collapse_into"] if source.get("collapse_into") is not None else item_id
            excluded = [  # the item, its original, and every repost of a public original (collapsed)
                Query.term_query(schema, F.item_id, item_id),
                Query.term_query(schema, F.item_id, group),
                repost_exclusion(schema),
            ]
            required = [query for query in (states_filter(schema, states),) if query is not None]
            query = combine(any_of([tokens_query(schema, [token]) for token in tokens]), required, excluded)
            ranked, _total = ordered_by_relevance(searcher, query, limit, None)
            shown = ParsedQuery(must=[[Term((token,)) for token in tokens]])
            return [hit_of(read_payload(searcher.doc(hit.address)), hit.score, shown, 0) for hit in ranked]

    # -- upkeep -------------------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        """Documents, bytes on disk of the live generation, documents per state."""
        with _translated("stats", self.path):
            searcher, _schema, generation = self._searcher()
            answer = searcher.aggregate(
                Query.all_query(), {"s": {"terms": {"field": F.state, "size": 100, "segment_size": 100}}}
            )
            by_state = {str(bucket["key"]): int(bucket["doc_count"]) for bucket in answer["s"]["buckets"]}
            return IndexStats(
                backend="embedded",
                documents=int(searcher.num_docs),
                size_bytes=self._store.size_bytes(generation),
                by_state=by_state,
                location=str(generation.path),
            )

    def health(self) -> BackendHealth:
        """Whether the live generation opens and answers."""
        try:
            documents = self.count()
        except SearchBackendError as exc:
            return BackendHealth(ok=False, detail=str(exc))
        return BackendHealth(ok=True, detail=f"tantivy index {self.path}: {documents} documents")

    def close(self) -> None:
        """Let go of the opened generation and the facet thread."""
        self._store.close()
        with self._helper_lock:
            helper, self._helper = self._helper, None
        if helper is not None:
            helper.close()
