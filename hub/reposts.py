"""Reposts: the same notice on several units' sites, linked to the earliest original (step 5).

Each item's body gets a MinHash sketch and 10 LSH band keys (``hub/fingerprint.py``); two bodies whose
sketches agree in ``min_similarity`` of their slots or more are one notice. Linking works on a batch
of items in a few statements: all sketches at once, one executemany of fingerprints and of band keys,
one lookup of every band key of the batch (chunked under the bind-parameter limit), one of the
candidates' sketches, one of the candidates' ages, and one executemany of the new ``repost_of_id``s.
Within the batch the items are linked in id order, exactly as one-by-one ingest links them.

Bounded work, so that a corpus of one template cannot go quadratic:
- a band key is stored for at most ``BUCKET_CAP`` items. A key that many notices share comes from
  template sentences, not from one notice; the items that fill it first stay findable through it (and
  "the earliest is the original" is what the lookup needs), later ones are found through their rarer
  keys: a repost (J ~0.95) shares about 9 of 10 keys with its original, a same-template notice
  (J ~0.78) about 5, an unrelated one almost none.
- an item is compared with at most ``MAX_CANDIDATES`` other items, those sharing most band keys first.
So one item costs at most 10 x 64 key rows read and 24 sketch comparisons, whatever the store holds.
64 members are enough for the cap to matter only for template phrases: the key of a real notice is
shared by its copies (a few, rarely dozens), and 640 rows per item stay cheap to read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, bindparam, delete, func, insert, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from hub.fingerprint import SKETCH_BYTES, band_keys, pack, similarities, sketches, stored_form, unpack_many
from hub.models import Item, ItemFingerprint, ItemFingerprintKey, OutboxEntry, OutboxOp, Unit, core_table
from hub.repostbands import Ints, find_candidates
from hub.timeutil import to_zone, utcnow

if TYPE_CHECKING:
    from hub.settings import Settings

DEFAULT_MIN_SIMILARITY = 0.8
# A band key shared by more items than this is a template phrase: later items are not indexed under it.
BUCKET_CAP = 64
# Sketches compared per item at most (those sharing most band keys first): a repost shares ~9 of 10.
MAX_CANDIDATES = 24
# Values per IN (...): under SQLite's 32,766 bind parameters (3.32+) and PostgreSQL's 65,535.
CHUNK = 4000
POLICY_KEY = "xinlian.reposts"  # where configure_reposts leaves the policy in Session.info
MARK_CHARS = 300  # a repost mark ("转载自 …") counts in the first this many characters
_REPOST_MARK = re.compile(r"转载|转自")
_T = TypeVar("_T")
# Item id -> (row of ``sketches``, whether it is valid) of its current text, computed by the caller.
Sketched = Mapping[int, tuple[npt.NDArray[np.uint64], bool]]


@dataclass(frozen=True, slots=True)
class RepostPolicy:
    """How similar two bodies must be to count as one notice, and the zone that decides "same day"."""

    min_similarity: float = DEFAULT_MIN_SIMILARITY
    zone: str = "Asia/Shanghai"

    @classmethod
    def from_settings(cls, settings: Settings) -> RepostPolicy:
        """The policy configured in ``[crawl] repost_min_similarity`` and ``timezone``."""
        return cls(min_similarity=settings.crawl.repost_min_similarity, zone=settings.timezone)


def configure_reposts(sessions: sessionmaker[Session], settings: Settings) -> RepostPolicy:
    """Give every session of a process the configured policy (called where its sessions are made).

    Both ingest paths link reposts with it unless a caller passes a policy of its own.
    """
    policy = RepostPolicy.from_settings(settings)
    info = dict(sessions.kw.get("info") or {})
    info[POLICY_KEY] = policy
    sessions.configure(info=info)
    return policy


def policy_for(session: Session, policy: RepostPolicy | None = None) -> RepostPolicy:
    """``policy`` if given, else the session's configured one, else the defaults."""
    if policy is not None:
        return policy
    configured = session.info.get(POLICY_KEY)
    return configured if isinstance(configured, RepostPolicy) else RepostPolicy()


class _Node:
    """What linking needs of one item: its source, its link, and (computed when needed) its age."""

    __slots__ = ("_age", "_row", "_zone", "id", "repost_of_id", "source_id")

    def __init__(self, row: Any, zone: str) -> None:
        self.id: int = row.id
        self.source_id: int = row.source_id
        self.repost_of_id: int | None = row.repost_of_id
        self._row, self._zone = row, zone
        self._age: tuple[str, int, int, datetime, int] | None = None

    @property
    def age(self) -> tuple[str, int, int, datetime, int]:
        if self._age is None:  # most items of a batch are nobody's copy: their age is never asked
            self._age = _age(self._row, self._zone)
        return self._age


def _chunks(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _age(row: Any, zone: str) -> tuple[str, int, int, datetime, int]:
    """Which of two copies is the original: earlier day, not marked as a repost, higher unit, earlier."""
    when = row.published_at or row.first_seen_at
    marked = 1 if _REPOST_MARK.search(row.head or "") else 0
    depth = row.path.count("/") if row.path is not None else 0
    return (to_zone(when, zone).date().isoformat(), marked, depth, when, row.id)


def _plain_rows(session: Session, query: Any) -> list[tuple[Any, ...]]:
    """The rows of a Core query as the driver's tuples (integer columns only: no type conversion).

    A batch reads ~10,000 band-key rows inside the write transaction; SQLAlchemy's Row objects cost
    ~15 µs each there, the driver's tuples a tenth of that.
    """
    result = session.connection().execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _node_query(extra: Sequence[Any] = ()) -> Any:
    return select(
        Item.id,
        Item.source_id,
        Item.repost_of_id,
        Item.published_at,
        Item.first_seen_at,
        func.substr(Item.text, 1, MARK_CHARS).label("head"),
        Unit.path,
        *extra,
    ).outerjoin(Unit, Unit.id == Item.unit_id)


def _load_nodes(session: Session, ids: Iterable[int], nodes: dict[int, _Node], zone: str) -> None:
    wanted = sorted(set(ids) - nodes.keys())
    for chunk in _chunks(wanted):
        for row in session.execute(_node_query().where(Item.id.in_(chunk))):
            nodes[row.id] = _Node(row, zone)


class _Linker:
    """One batch's linking: state in memory, a few bulk statements to read and write the store."""

    def __init__(self, session: Session, policy: RepostPolicy, sketched: Sketched | None = None) -> None:
        self.session = session
        self.policy = policy
        self.sketched = sketched or {}
        self.nodes: dict[int, _Node] = {}
        self.initial: dict[int, int | None] = {}  # repost_of_id as read, to write only changes
        self.remapped: dict[int, int] = {}  # a former original -> the original it now reposts
        self.parents: set[int] = set()  # batch items that stored items repost (changed items only)
        self.children: dict[int, set[int]] = defaultdict(set)  # loaded items by the item they repost
        self.batch: set[int] = set()  # the items the caller passed

    def run(self, ids: list[int]) -> None:
        self.batch = set(ids)
        batch = self._load_batch(ids)
        found = self._similar(batch)
        self._load_groups(found)
        for item_id in ids:
            self._link(item_id, found.get(item_id, []))
        self._write()

    # --- reading -----------------------------------------------------------------------------------
    def _load_batch(self, ids: list[int]) -> list[Any]:
        rows: list[Any] = []
        for chunk in _chunks(ids):
            query = _node_query([Item.text, Item.content_hash]).where(Item.id.in_(chunk))
            rows.extend(self.session.execute(query))
        rows.sort(key=lambda row: row.id)
        for row in rows:
            self.nodes[row.id] = _Node(row, self.policy.zone)
            self.initial[row.id] = row.repost_of_id
        for chunk in _chunks(ids):
            query = select(Item.repost_of_id).where(Item.repost_of_id.in_(chunk)).distinct()
            self.parents.update(self.session.scalars(query))
            self.session.execute(delete(ItemFingerprintKey).where(ItemFingerprintKey.item_id.in_(chunk)))
            self.session.execute(delete(ItemFingerprint).where(ItemFingerprint.item_id.in_(chunk)))
        return rows

    def _similar(self, batch: list[Any]) -> dict[int, list[int]]:
        """For each batch item, the items of other sources it is a copy of (earlier batch items included)."""
        if batch and all(row.id in self.sketched for row in batch):
            matrix = np.stack([self.sketched[row.id][0] for row in batch])
            valid = np.array([self.sketched[row.id][1] for row in batch], dtype=bool)
        else:
            matrix, valid = sketches([row.text for row in batch])
        long_rows = [row for row, ok in zip(batch, valid, strict=True) if ok]
        found = self._exact_copies([row for row, ok in zip(batch, valid, strict=True) if not ok])
        if not long_rows:
            return found
        mine = matrix[valid]
        keys = band_keys(mine)
        ids = np.array([row.id for row in long_rows], dtype=np.int64)
        sources = np.array([row.source_id for row in long_rows], dtype=np.int64)
        bucket_keys, bucket_ids, bucket_sources = self._buckets(np.unique(keys))
        chosen = find_candidates(
            keys, ids, sources, bucket_keys, bucket_ids, bucket_sources, BUCKET_CAP, MAX_CANDIDATES
        )
        # As stored (the low 32 bits of each slot), in 32-bit columns: the pairs' rows gathered below
        # are the bulk of the memory traffic, half as much as in uint64.
        mine32 = stored_form(mine)
        self._store(ids, sources, mine32, keys, chosen.stored)
        known_ids, known = self._stored_sketches(np.setdiff1d(chosen.item_ids, ids))
        all_ids = np.concatenate([ids, known_ids])
        all_sketches = np.concatenate([mine32, known])
        sorter = np.argsort(all_ids)
        slot = np.searchsorted(all_ids, chosen.item_ids, sorter=sorter)
        present = slot < len(all_ids)
        present[present] = all_ids[sorter[slot[present]]] == chosen.item_ids[present]
        positions, others = chosen.positions[present], chosen.item_ids[present]
        right = all_sketches[sorter[slot[present]]]
        close = similarities(mine32[positions], right) >= self.policy.min_similarity
        for position, other in zip(positions[close].tolist(), others[close].tolist(), strict=True):
            found.setdefault(int(ids[position]), []).append(other)
        return found

    def _buckets(self, keys: npt.NDArray[np.int64]) -> tuple[Ints, Ints, Ints]:
        """Every stored (key, item id, source id) of the given band keys (read from the index alone)."""
        table = core_table(ItemFingerprintKey)
        rows: list[Any] = []
        for chunk in _chunks(keys.tolist()):
            query = select(table.c.key, table.c.item_id, table.c.source_id).where(table.c.key.in_(chunk))
            rows.extend(_plain_rows(self.session, query))
        # Flattened first: numpy would probe each row object for array protocols.
        flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=3 * len(rows))
        return flat[0::3], flat[1::3], flat[2::3]

    def _stored_sketches(self, ids: npt.NDArray[np.int64]) -> tuple[Ints, npt.NDArray[np.uint32]]:
        found_ids: list[int] = []
        blobs: list[bytes] = []
        table = core_table(ItemFingerprint)
        for chunk in _chunks(ids.tolist()):
            query = select(table.c.item_id, table.c.sketch).where(table.c.item_id.in_(chunk))
            for item_id, data in self.session.execute(query):
                if len(data) == SKETCH_BYTES:  # another length: an older format, compared with nothing
                    found_ids.append(item_id)
                    blobs.append(data)
        return np.array(found_ids, dtype=np.int64), unpack_many(blobs)

    def _exact_copies(self, rows: list[Any]) -> dict[int, list[int]]:
        """Bodies too short to fingerprint match other sources' items by content hash only."""
        found: dict[int, list[int]] = {}
        if not rows:
            return found
        batch_ids = set(self.initial)
        by_hash: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for chunk in _chunks(sorted({row.content_hash for row in rows})):
            query = select(Item.id, Item.source_id, Item.content_hash).where(Item.content_hash.in_(chunk))
            for item_id, source_id, digest in self.session.execute(query.order_by(Item.id)):
                if item_id not in batch_ids:
                    by_hash[digest].append((item_id, source_id))
        for row in rows:  # in id order: earlier batch items count, as they would one by one
            copies = by_hash[row.content_hash]
            others = [item_id for item_id, source_id in copies if source_id != row.source_id]
            if others:
                found[row.id] = others
            copies.append((row.id, row.source_id))
        return found

    def _load_groups(self, found: dict[int, list[int]]) -> None:
        """Age and link of every item found, and of the originals they repost."""
        zone = self.policy.zone
        _load_nodes(self.session, (other for others in found.values() for other in others), self.nodes, zone)
        roots = (node.repost_of_id for node in list(self.nodes.values()) if node.repost_of_id is not None)
        _load_nodes(self.session, roots, self.nodes, zone)
        for node in self.nodes.values():
            self.initial.setdefault(node.id, node.repost_of_id)
            if node.repost_of_id is not None:
                self.children[node.repost_of_id].add(node.id)

    # --- linking -----------------------------------------------------------------------------------
    def _root(self, item_id: int) -> _Node:
        node = self.nodes[item_id]
        if node.repost_of_id is None:
            return node
        return self.nodes.get(node.repost_of_id, node)

    def _link(self, item_id: int, found: list[int]) -> None:
        """Link ``item_id`` and the groups it joins to the earliest of their originals."""
        if not found:
            return
        item = self.nodes[item_id]
        roots = {root.id: root for root in (self._root(other) for other in found) if root.id != item_id}
        original = min([item, *roots.values()], key=lambda node: node.age)
        self._point(original, None)
        # The item itself, if older items repost it (a changed item), hands them over too.
        members = [*roots.values(), item] if item_id in self.parents else list(roots.values())
        old_roots = {member.id for member in members if member.id != original.id}
        for member in [*roots.values(), item]:
            if member.id != original.id:
                self._point(member, original.id)
        for old in old_roots:
            for child in list(self.children.pop(old, ())):
                self._point(self.nodes[child], original.id)
            self.remapped[old] = original.id

    def _point(self, node: _Node, target: int | None) -> None:
        """Set ``node``'s link, keeping the index of who reposts whom (loaded items only) in step."""
        if node.repost_of_id is not None:
            self.children[node.repost_of_id].discard(node.id)
        node.repost_of_id = target
        if target is not None:
            self.children[target].add(node.id)

    # --- writing -----------------------------------------------------------------------------------
    def _store(
        self,
        ids: Ints,
        sources: Ints,
        values: npt.NDArray[np.uint32],
        keys: npt.NDArray[np.int64],
        stored: npt.NDArray[np.bool_],
    ) -> None:
        sketch_rows = [(item_id, pack(row)) for item_id, row in zip(ids.tolist(), values, strict=True)]
        _insert_many(self.session, core_table(ItemFingerprint), ("item_id", "sketch"), sketch_rows)
        kept = stored.ravel()
        owners = np.repeat(ids, keys.shape[1])[kept]
        owner_sources = np.repeat(sources, keys.shape[1])[kept]
        key_rows = list(
            zip(owners.tolist(), keys.ravel()[kept].tolist(), owner_sources.tolist(), strict=True)
        )
        _insert_many(self.session, core_table(ItemFingerprintKey), ("item_id", "key", "source_id"), key_rows)

    def _write(self) -> None:
        table = core_table(Item)
        changed = {
            node.id: node.repost_of_id
            for node in self.nodes.values()
            if node.repost_of_id != self.initial[node.id]
        }
        final = {old: self._final(old) for old in self.remapped}
        self._queue_index(changed, final)
        if changed:
            self.session.execute(
                update(table)
                .where(table.c.id == bindparam("item_id"))
                .values(repost_of_id=bindparam("target")),
                [{"item_id": item_id, "target": target} for item_id, target in changed.items()],
            )
        if final:
            # Items not read here that reposted a former original follow it to the new one.
            self.session.execute(
                update(table)
                .where(table.c.repost_of_id == bindparam("old"))
                .values(repost_of_id=bindparam("target")),
                [{"old": old, "target": target} for old, target in final.items()],
            )
        _sync_session(self.session, changed, final)

    def _queue_index(self, changed: dict[int, int | None], final: dict[int, int]) -> None:
        """Index outbox rows for the items whose link changes (their ``collapse_into`` may), except
        those the caller passed: it changed them and queues them itself (hub/ingest, moderation.service).
        Called before the links are written: the items that follow a former original are found by it."""
        queued = set(changed)
        olds = sorted(final)
        for chunk in _chunks(olds):  # items not read here that the "final" UPDATE re-points
            queued.update(self.session.scalars(select(Item.id).where(Item.repost_of_id.in_(chunk))))
        others = sorted(queued - self.batch)
        if others:
            now = utcnow()
            self.session.execute(
                insert(core_table(OutboxEntry)),
                [
                    {"item_id": i, "op": OutboxOp.UPSERT.value, "created_at": now, "attempts": 0}
                    for i in others
                ],
            )

    def _final(self, item_id: int) -> int:
        while item_id in self.remapped:
            item_id = self.remapped[item_id]
        return item_id


def _insert_many(session: Session, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """One executemany straight to the driver: thousands of plain rows, no per-row work in SQLAlchemy."""
    if not rows:
        return
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"  # sqlite3 / psycopg
    names = ", ".join(quote(column) for column in columns)
    markers = ", ".join(marker for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({markers})", rows)


def _sync_session(session: Session, changed: dict[int, int | None], final: dict[int, int]) -> None:
    """Items loaded in the session see the links written by Core statements behind its back."""
    for obj in list(session.identity_map.values()):
        if not isinstance(obj, Item):
            continue
        identity = inspect(obj).identity  # no attribute access: an expired object would be reloaded
        current = obj.__dict__.get("repost_of_id")
        if identity is not None and identity[0] in changed:
            set_committed_value(obj, "repost_of_id", changed[identity[0]])
        elif current is not None and current in final:
            set_committed_value(obj, "repost_of_id", final[current])


def link_reposts_by_id(
    session: Session,
    item_ids: Iterable[int],
    policy: RepostPolicy | None = None,
    sketched: Sketched | None = None,
) -> None:
    """Fingerprint stored items (new, or with new content) and link them and their copies to the originals.

    Items are taken in id order, each linked as if the ones before it were already stored: an item
    older than the group it joins becomes the group's original and the others are re-pointed.
    ``sketched``: the items' sketches (``hub.fingerprint.sketches`` of their text), computed before
    the caller's write transaction; used when it holds every item.
    Other items whose link changes get an index outbox row here; the caller queues ``item_ids``.
    """
    ids = sorted(set(item_ids))
    if not ids:
        return
    session.flush()
    _Linker(session, policy_for(session, policy), sketched).run(ids)


def link_repost(session: Session, item: Item, policy: RepostPolicy | None = None) -> int | None:
    """``link_reposts_by_id`` for one item; returns the id it now reposts, or None for an original."""
    session.flush()  # item.id
    link_reposts_by_id(session, [item.id], policy)
    return item.repost_of_id


def link_reposts(session: Session, items: Iterable[Item], policy: RepostPolicy | None = None) -> None:
    """``link_reposts_by_id`` for ORM items."""
    session.flush()
    link_reposts_by_id(session, [item.id for item in items], policy)


def relink_repost(session: Session, item: Item, policy: RepostPolicy | None = None) -> None:
    """After ``item``'s content changed: refresh its fingerprint and decide its own link afresh.

    A repost whose text changed may no longer be one, so its link is dropped before linking again.
    Items that reposted ``item`` keep it as their original: they copied an earlier version of it.
    Nothing happens when the fingerprinted text did not change (an approved item's revision waits
    for review with the live text unchanged).
    """
    session.flush()
    stored = session.scalars(select(ItemFingerprint.sketch).where(ItemFingerprint.item_id == item.id)).first()
    matrix, valid = sketches([item.text])
    if stored is not None and valid[0] and pack(matrix[0]) == stored:
        return
    if item.repost_of_id is not None:
        table = core_table(Item)
        session.execute(update(table).where(table.c.id == item.id).values(repost_of_id=None))
        set_committed_value(item, "repost_of_id", None)
    link_reposts_by_id(session, [item.id], policy)
