"""The tantivy schema of the embedded index and the conversion of a SearchDocument into its fields.

Token fields hold the tokens of index.analysis joined by spaces and are split again by tantivy's
whitespace tokenizer, which keeps each token's position: a query term is a phrase query over them, so
both backends match exactly the same documents (docs/search.md). tantivy's own ngram tokenizer is no
use here: it gives every gram of a text position 0, so phrases cannot be checked.

Everything a result line shows travels in one stored JSON ``payload`` (one read per hit); filters are
indexed terms, facets and sorting read fast (columnar) fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import tantivy

from index.analysis import IndexedText
from index.backend import SearchDocument

TOKENS = "ws"  # whitespace tokenizer: our tokens are pre-analysed
RAW = "raw"  # the whole value is one term (keyword fields)
# Date order and its cursor use one u64 sort key: seconds since 1970 (shifted so earlier dates fit) in
# the high bits, the item id in the low 31 (the store's integer ids are 32-bit signed), so "sort date
# descending, then item id descending" is one fast-field sort and a cursor is one range bound.
ID_BITS = 31
_SECONDS_SHIFT = 1 << 32  # sort dates from 1833 to 2106 keep their order; others are clamped
_MAX_SECONDS = (1 << 33) - 1


@dataclass(frozen=True, slots=True)
class Fields:
    """Field names, in one place."""

    item_id: str = "item_id"
    version: str = "version"
    title_tokens: str = "title_tokens"
    body_tokens: str = "body_tokens"
    chars: str = "chars"
    state: str = "state"
    unit_id: str = "unit_id"
    unit_name: str = "unit_name"
    unit_level: str = "unit_level"
    unit_type: str = "unit_type"
    unit_ancestors: str = "unit_ancestors"
    region_path: str = "region_path"
    source_id: str = "source_id"
    category: str = "category"
    month: str = "month"
    has_attachments: str = "has_attachments"
    collapse_into: str = "collapse_into"
    is_repost: str = "is_repost"
    sort_key: str = "sort_key"
    sort_us: str = "sort_us"
    payload: str = "payload"


F = Fields()


def build_schema() -> tantivy.Schema:
    """The schema of every generation of the embedded index."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field(F.item_id, indexed=True, fast=True)
    builder.add_integer_field(F.version, fast=True)
    builder.add_text_field(F.title_tokens, tokenizer_name=TOKENS, index_option="position")
    builder.add_text_field(F.body_tokens, tokenizer_name=TOKENS, index_option="position")
    builder.add_text_field(F.chars, tokenizer_name=TOKENS, index_option="basic")  # no phrases on it
    for keyword in (F.state, F.unit_level, F.unit_type, F.category, F.month, F.unit_name):
        builder.add_text_field(keyword, tokenizer_name=RAW, index_option="basic", fast=True)
    builder.add_text_field(F.region_path, tokenizer_name=RAW, index_option="basic")
    builder.add_integer_field(F.unit_id, indexed=True, fast=True)
    builder.add_integer_field(F.unit_ancestors, indexed=True)
    builder.add_integer_field(F.source_id, indexed=True)
    builder.add_integer_field(F.collapse_into, indexed=True, fast=True)
    builder.add_boolean_field(F.is_repost, indexed=True)
    builder.add_boolean_field(F.has_attachments, indexed=True)
    builder.add_unsigned_field(F.sort_key, fast=True)
    builder.add_integer_field(F.sort_us, fast=True)
    builder.add_bytes_field(F.payload, stored=True)
    return builder.build()


def register_tokenizers(index: tantivy.Index) -> None:
    """Tokenizers are not stored in the index: every process registers them after opening it."""
    index.register_tokenizer(TOKENS, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())


def sort_seconds(when: datetime) -> int:
    """Whole seconds of ``when`` since 1970, clamped to what the sort key holds (naive means UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int(when.timestamp() // 1)
    return min(max(seconds + _SECONDS_SHIFT, 0), _MAX_SECONDS) - _SECONDS_SHIFT


def sort_key(seconds: int, item_id: int) -> int:
    """The u64 that orders documents by (sort date, item id); ValueError for an id it cannot hold."""
    if not 0 <= item_id < 1 << ID_BITS:
        raise ValueError(f"item id {item_id} is outside the embedded index's range 0..2^31-1")
    return ((seconds + _SECONDS_SHIFT) << ID_BITS) | item_id


def sort_key_parts(key: int) -> tuple[int, int]:
    """(seconds, item id) of a sort key."""
    return (key >> ID_BITS) - _SECONDS_SHIFT, key & ((1 << ID_BITS) - 1)


def micros(when: datetime) -> int:
    """Microseconds since 1970 (naive means UTC): exact date filters and the recency boost."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_TEXT_AFTER = b"\n"  # JSON as written here never holds a raw newline: the text follows the first one


def payload_of(doc: SearchDocument) -> bytes:
    """The stored part: what a hit, "related" and a snippet need. JSON of the short fields, a newline,
    then the text (UTF-8): the text, most of it, is not parsed as JSON on every read."""
    fields = json.dumps(
        {
            "item_id": doc.item_id,
            "title": doc.title,
            "summary": doc.summary,
            "url": doc.url,
            "unit_id": doc.unit_id,
            "unit_name": doc.unit_name,
            "unit_slug": doc.unit_slug,
            "source_name": doc.source_name,
            "category": doc.category,
            "state": doc.state,
            "has_attachments": doc.has_attachments,
            "published_at": doc.published_at.isoformat() if doc.published_at else None,
            "sort_date": doc.sort_date.isoformat(),
            "collapse_into": doc.collapse_into,
        },
        ensure_ascii=False,
    )
    # A lone surrogate in crawled text fails here, for this document only.
    return fields.encode() + _TEXT_AFTER + doc.text.encode()


def read_payload(document: tantivy.Document) -> dict[str, Any]:
    """The payload of a stored document (written by ``payload_of``, or all JSON by earlier versions)."""
    raw = document.get_first(F.payload)
    if raw is None:
        return {}
    fields, after, text = bytes(raw).partition(_TEXT_AFTER)
    payload = dict(json.loads(fields))
    if after:
        payload["text"] = text.decode()
    return payload


def to_document(doc: SearchDocument, analysed: IndexedText) -> tantivy.Document:
    """The tantivy document of ``doc`` (raises ValueError/TypeError/OverflowError/UnicodeError on
    a value tantivy cannot take: the caller reports that item as failed)."""
    out = tantivy.Document()
    out.add_integer(F.item_id, doc.item_id)
    out.add_integer(F.version, doc.version)
    out.add_text(F.title_tokens, analysed.title_tokens)
    out.add_text(F.body_tokens, analysed.body_tokens)
    out.add_text(F.chars, " ".join(analysed.chars))
    out.add_text(F.state, doc.state)
    out.add_integer(F.unit_id, doc.unit_id)
    out.add_text(F.unit_name, doc.unit_name)
    out.add_text(F.unit_level, doc.unit_level)
    out.add_text(F.unit_type, doc.unit_type)
    for ancestor in doc.unit_ancestors:
        out.add_integer(F.unit_ancestors, ancestor)
    for region in doc.region_path:
        out.add_text(F.region_path, region)
    out.add_integer(F.source_id, doc.source_id)
    if doc.category:
        out.add_text(F.category, doc.category)
    if doc.month:
        out.add_text(F.month, doc.month)
    out.add_boolean(F.has_attachments, doc.has_attachments)
    if doc.collapse_into is not None:
        out.add_integer(F.collapse_into, doc.collapse_into)
    out.add_boolean(F.is_repost, doc.collapse_into is not None)
    out.add_unsigned(F.sort_key, sort_key(sort_seconds(doc.sort_date), doc.item_id))
    out.add_integer(F.sort_us, micros(doc.sort_date))
    out.add_bytes(F.payload, payload_of(doc))
    return out
