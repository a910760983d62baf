"""The embedded search backend: SQLite FTS5 in its own file (docs/architecture.md step 7).

FTS5 stores the tokens of index.analysis (space-separated, read back by the ``ascii`` tokenizer), so
Chinese bigrams and the query language behave exactly as in the Elasticsearch backend. Filters live in
a plain table beside the FTS table; ``unit_ancestors`` is a text column " 1 4 17 " so a subtree filter
is one ``instr``. bm25 weighs the title above the body. One connection guarded by a lock: the web app
calls from worker threads.

Why own tokens: FTS5's ``trigram`` tokenizer cannot match two-character words such as 党建, and
``unicode61`` keeps a whole Chinese sentence as one token. Measured here (20,000 synthetic documents of
600 Chinese characters, worst case: nearly every bigram in every document): indexing 16.6 s, a
two-character query with a subtree filter 28 ms, a one-character query 71 ms, file 209 MB.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from index.analysis import ParsedQuery, Term, index_texts, parse_query
from index.backend import SearchBackendError, SearchDocument, SearchHit, SearchQuery, SearchResult
from index.snippet import make_snippet

TITLE_WEIGHT, BODY_WEIGHT, CHARS_WEIGHT = 10.0, 1.0, 1.0
WRITE_CHUNK = 500  # documents per round of executemany (and per IN list of the version check)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    item_id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    summary TEXT NOT NULL,
    url TEXT NOT NULL,
    unit_id INTEGER NOT NULL,
    unit_name TEXT NOT NULL,
    unit_level TEXT NOT NULL,
    unit_type TEXT NOT NULL,
    unit_ancestors TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    category TEXT,
    published_at TEXT,
    sort_ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_docs_sort ON docs (sort_ts DESC, item_id DESC);
CREATE INDEX IF NOT EXISTS ix_docs_unit ON docs (unit_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, chars, tokenize = 'ascii');
"""

# An older version never overwrites a newer one; the same version may be written again (re-drain).
_UPSERT_DOC = """
INSERT INTO docs VALUES (:item_id, :version, :title, :text, :summary, :url, :unit_id, :unit_name,
    :unit_level, :unit_type, :unit_ancestors, :source_id, :category, :published_at, :sort_ts)
ON CONFLICT (item_id) DO UPDATE SET
    version = excluded.version, title = excluded.title, text = excluded.text,
    summary = excluded.summary, url = excluded.url, unit_id = excluded.unit_id,
    unit_name = excluded.unit_name, unit_level = excluded.unit_level, unit_type = excluded.unit_type,
    unit_ancestors = excluded.unit_ancestors, source_id = excluded.source_id,
    category = excluded.category, published_at = excluded.published_at, sort_ts = excluded.sort_ts
WHERE excluded.version >= docs.version
"""


def _fts_string(tokens: Iterable[str]) -> str:
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def _fts_term(term: Term) -> str:
    if term.char is not None:
        return f"chars : {_fts_string([term.char])}"
    return "{title body} : " + _fts_string(term.tokens)


def fts_expression(terms: list[list[Term]]) -> str:
    """An FTS5 MATCH expression: every group must match, any term of a group will do."""
    return " AND ".join("(" + " OR ".join(_fts_term(t) for t in group) + ")" for group in terms)


def _doc_row(doc: SearchDocument) -> dict[str, Any]:
    return {
        "item_id": doc.item_id,
        "version": doc.version,
        "title": doc.title,
        "text": doc.text,
        "summary": doc.summary,
        "url": doc.url,
        "unit_id": doc.unit_id,
        "unit_name": doc.unit_name,
        "unit_level": doc.unit_level,
        "unit_type": doc.unit_type,
        "unit_ancestors": " " + " ".join(str(i) for i in doc.unit_ancestors) + " ",
        "source_id": doc.source_id,
        "category": doc.category,
        "published_at": doc.published_at.isoformat() if doc.published_at else None,
        "sort_ts": doc.sort_date.timestamp(),
    }


class EmbeddedBackend:
    """SearchBackend on a SQLite FTS5 file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._lock = threading.Lock()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise SearchBackendError(f"embedded index {self.path}: {exc}") from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise SearchBackendError(f"embedded index {self.path}: {exc}") from exc
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise SearchBackendError(f"embedded index {self.path}: {exc}") from exc

    def ensure_ready(self) -> None:
        """Create the tables if missing."""
        with self._lock:
            self._conn.executescript(_SCHEMA)

    @staticmethod
    def _write(conn: sqlite3.Connection, documents: list[SearchDocument]) -> None:
        """Write a chunk of documents with a few executemany statements; an older version never wins."""
        newest: dict[int, SearchDocument] = {}
        for doc in documents:  # the same item twice in one call: the newer version (else the later one)
            kept = newest.get(doc.item_id)
            if kept is None or doc.version >= kept.version:
                newest[doc.item_id] = doc
        marks = ",".join("?" * len(newest))
        stored = dict(
            conn.execute(f"SELECT item_id, version FROM docs WHERE item_id IN ({marks})", list(newest))
        )
        fresh = [doc for doc in newest.values() if stored.get(doc.item_id, doc.version) <= doc.version]
        if not fresh:
            return
        # Tokens are built before anything is written: a failure leaves the chunk untouched.
        analysed = index_texts([(doc.title, doc.text) for doc in fresh])
        fts_rows = [
            (doc.item_id, fields.title_tokens, fields.body_tokens, " ".join(fields.chars))
            for doc, fields in zip(fresh, analysed, strict=True)
        ]
        conn.executemany(_UPSERT_DOC, [_doc_row(doc) for doc in fresh])
        conn.executemany(
            "DELETE FROM fts WHERE rowid = ?", [(doc.item_id,) for doc in fresh if doc.item_id in stored]
        )
        conn.executemany("INSERT INTO fts (rowid, title, body, chars) VALUES (?, ?, ?, ?)", fts_rows)

    def upsert(self, documents: list[SearchDocument]) -> None:
        """Index or replace documents, never replacing a newer version."""
        with self._transaction() as conn:
            for start in range(0, len(documents), WRITE_CHUNK):
                self._write(conn, documents[start : start + WRITE_CHUNK])

    def delete(self, item_ids: list[int]) -> None:
        """Remove documents; unknown ids are ignored."""
        with self._transaction() as conn:
            conn.executemany("DELETE FROM docs WHERE item_id = ?", [(item_id,) for item_id in item_ids])
            conn.executemany("DELETE FROM fts WHERE rowid = ?", [(item_id,) for item_id in item_ids])

    def clear(self) -> None:
        """Drop every document."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM docs")
            conn.execute("DELETE FROM fts")

    def rebuild(self, documents: Iterable[SearchDocument]) -> int:
        """Replace everything in one transaction: readers see the old index until the commit."""
        count = 0
        with self._transaction() as conn:
            conn.execute("DELETE FROM docs")
            conn.execute("DELETE FROM fts")
            chunk: list[SearchDocument] = []
            for doc in documents:
                chunk.append(doc)
                if len(chunk) == WRITE_CHUNK:
                    self._write(conn, chunk)
                    count, chunk = count + len(chunk), []
            if chunk:
                self._write(conn, chunk)
                count += len(chunk)
        return count

    def count(self) -> int:
        """Number of indexed documents."""
        return int(self._query("SELECT count(*) FROM docs")[0][0])

    def search(self, query: SearchQuery) -> SearchResult:
        """Answer ``query`` with the shared query language and filters."""
        parsed = parse_query(query.text)
        where, params = self._filters(query, parsed)
        ranked = bool(parsed.must)
        if ranked:
            source = "fts JOIN docs d ON d.item_id = fts.rowid"
            where.insert(0, "fts MATCH ?")
            params.insert(0, fts_expression(parsed.must))
            score = f"-bm25(fts, {TITLE_WEIGHT}, {BODY_WEIGHT}, {CHARS_WEIGHT})"
        else:
            source, score = "docs d", "0.0"
        clause = " AND ".join(where) or "1"
        by_date = "d.sort_ts DESC, d.item_id DESC"
        order = f"score DESC, {by_date}" if ranked and query.sort != "date" else by_date
        total = self._query(f"SELECT count(*) FROM {source} WHERE {clause}", params)[0][0]
        rows = self._query(
            f"SELECT d.*, {score} AS score FROM {source} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset],
        )
        return SearchResult(total=int(total), hits=[self._hit(row, parsed) for row in rows])

    @staticmethod
    def _filters(query: SearchQuery, parsed: ParsedQuery) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if parsed.must_not:
            where.append("d.item_id NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            params.append(fts_expression([parsed.must_not]))
        if query.unit_subtree is not None:
            where.append("instr(d.unit_ancestors, ?) > 0")
            params.append(f" {query.unit_subtree} ")
        for column, value in (
            ("unit_level", query.unit_level),
            ("unit_type", query.unit_type),
            ("category", query.category),
            ("source_id", query.source_id),
        ):
            if value is not None:
                where.append(f"d.{column} = ?")
                params.append(value)
        if query.date_from is not None:
            where.append("d.sort_ts >= ?")
            params.append(query.date_from.timestamp())
        if query.date_to is not None:
            where.append("d.sort_ts <= ?")
            params.append(query.date_to.timestamp())
        return where, params

    @staticmethod
    def _hit(row: sqlite3.Row, parsed: ParsedQuery) -> SearchHit:
        published = row["published_at"]
        return SearchHit(
            item_id=row["item_id"],
            score=float(row["score"]),
            title=row["title"],
            snippet=make_snippet(row["text"] or row["summary"], parsed),
            url=row["url"],
            unit_id=row["unit_id"],
            unit_name=row["unit_name"],
            published_at=datetime.fromisoformat(published) if published else None,
        )

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()
