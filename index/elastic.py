"""The Elasticsearch search backend (docs/architecture.md step 7).

A versioned index ``<prefix>-items-vN`` sits behind a read alias ``<prefix>-items`` and a write alias
``<prefix>-items-write``; ``rebuild`` fills a new version and swaps both aliases in one request.
Writes are bulk requests with external versioning (``external_gte``): an older revision never
overwrites a newer one and the resulting version conflict is not an error. Mapping and settings come
from ``config/index/items.json``; the IK analyzer replaces the built-in ``cjk`` one when installed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

from index.analysis import parse_query
from index.backend import SearchBackendError, SearchDocument, SearchHit, SearchQuery, SearchResult
from index.esquery import document_source, search_body
from index.snippet import make_snippet

MAPPING_FILE = Path(__file__).resolve().parent.parent / "config" / "index" / "items.json"
IK_ANALYZER = {"type": "custom", "tokenizer": "ik_max_word", "filter": ["lowercase"]}
_IGNORED = {"index": 409, "delete": 404}  # stale version; already gone


class ElasticBackend:
    """SearchBackend on an Elasticsearch (or API-compatible) cluster, given a prepared client."""

    def __init__(
        self,
        client: Elasticsearch,
        prefix: str = "xinlian",
        mapping_file: Path = MAPPING_FILE,
        refresh: bool = True,
        chunk_size: int = 500,
        max_retries: int = 3,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.mapping_file = mapping_file
        self.refresh = refresh  # make writes visible at once (the drainer writes in batches)
        self.chunk_size = chunk_size
        self.max_retries = max_retries
        self.read_alias = f"{prefix}-items"
        self.write_alias = f"{prefix}-items-write"
        self._ready = False

    # -- index management ---------------------------------------------------------------------------

    def has_ik(self) -> bool:
        """Whether the cluster has the IK Chinese analyzer plugin."""
        try:
            self.client.indices.analyze(analyzer="ik_max_word", text="党建")
        except ApiError:
            return False
        return True

    def index_body(self) -> dict[str, Any]:
        """Settings and mappings of a new index version (IK swapped in when available)."""
        body: dict[str, Any] = json.loads(self.mapping_file.read_text(encoding="utf-8"))
        if self.has_ik():
            body["settings"]["analysis"]["analyzer"]["xl_text"] = copy.deepcopy(IK_ANALYZER)
        return body

    def _versions(self) -> dict[str, int]:
        try:
            names = self.client.indices.get_alias(name=self.read_alias).body
        except ApiError as exc:
            if exc.meta.status == 404:
                return {}
            raise
        return {name: int(name.rsplit("-v", 1)[1]) for name in names}

    def _create(self, name: str, aliases: dict[str, Any] | None = None) -> None:
        body = self.index_body()
        self.client.indices.create(
            index=name, settings=body["settings"], mappings=body["mappings"], aliases=aliases
        )

    def ensure_ready(self) -> None:
        """Create version 1 behind both aliases unless the read alias exists already."""
        with _translated("ensure_ready"):
            if not self.client.indices.exists_alias(name=self.read_alias):
                aliases = {self.read_alias: {}, self.write_alias: {"is_write_index": True}}
                self._create(f"{self.prefix}-items-v1", aliases)
        self._ready = True

    def _ensure(self) -> None:
        if not self._ready:
            self.ensure_ready()

    # -- writes -------------------------------------------------------------------------------------

    def _bulk(self, actions: Iterable[dict[str, Any]], index: str) -> int:
        errors: list[str] = []
        written = 0
        for ok, info in helpers.streaming_bulk(
            self.client,
            actions,
            chunk_size=self.chunk_size,
            max_retries=self.max_retries,  # 429 "too many requests" is retried with back-off
            raise_on_error=False,
        ):
            op, result = next(iter(info.items()))
            if ok:
                written += 1
            elif result.get("status") != _IGNORED.get(op):
                errors.append(f"{op} {result.get('_id')}: {result.get('status')} {result.get('error')}")
        if self.refresh:
            self.client.indices.refresh(index=index)
        if errors:
            raise SearchBackendError(f"{len(errors)} bulk errors, first: {errors[0]}")
        return written

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

    def upsert(self, documents: list[SearchDocument]) -> None:
        """Index documents; a stale version is skipped, not reported."""
        self._ensure()
        with _translated("upsert"):
            self._bulk(self._index_actions(documents, self.write_alias), self.write_alias)

    def delete(self, item_ids: list[int]) -> None:
        """Remove documents; unknown ids are ignored."""
        self._ensure()
        actions = ({"_op_type": "delete", "_index": self.write_alias, "_id": str(i)} for i in item_ids)
        with _translated("delete"):
            self._bulk(actions, self.write_alias)

    def clear(self) -> None:
        """Delete every document of the current index version."""
        self._ensure()
        with _translated("clear"):
            self.client.delete_by_query(index=self.write_alias, query={"match_all": {}}, refresh=True)

    def rebuild(self, documents: Iterable[SearchDocument]) -> int:
        """Fill a new index version, swap both aliases to it atomically, drop the old versions."""
        with _translated("rebuild"):
            old = self._versions()
            new = f"{self.prefix}-items-v{max(old.values(), default=0) + 1}"
            self._create(new)
            try:
                count = self._bulk(self._index_actions(documents, new), new)
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
        return count

    # -- reads --------------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of documents behind the read alias."""
        self._ensure()
        with _translated("count"):
            return int(self.client.count(index=self.read_alias).body["count"])

    def search(self, query: SearchQuery) -> SearchResult:
        """Answer ``query`` with the shared query language and filters."""
        self._ensure()
        parsed = parse_query(query.text)
        with _translated("search"):
            response = self.client.search(index=self.read_alias, **search_body(query, parsed)).body
        hits = []
        for raw in response["hits"]["hits"]:
            source = raw["_source"]
            published = source.get("published_at")
            hits.append(
                SearchHit(
                    item_id=int(source["item_id"]),
                    score=float(raw.get("_score") or 0.0),
                    title=source["title"],
                    snippet=make_snippet(source.get("text") or source.get("summary") or "", parsed),
                    url=source["url"],
                    unit_id=int(source["unit_id"]),
                    unit_name=source["unit_name"],
                    published_at=datetime.fromisoformat(published) if published else None,
                )
            )
        return SearchResult(total=int(response["hits"]["total"]["value"]), hits=hits)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn client and transport errors into SearchBackendError (the drainer retries those)."""
    try:
        yield
    except (ApiError, TransportError, helpers.BulkIndexError) as exc:
        raise SearchBackendError(f"elasticsearch {action}: {exc}") from exc
