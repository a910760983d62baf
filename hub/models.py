"""Domain models of the store (SQLAlchemy 2). The bottom layer: every package may import it.

Tables follow the data flow of docs/architecture.md: units and sources (registry), crawl runs and
outcomes (crawl), items and their revisions (ingest), moderation events (moderation), the index
outbox (index) and staff users (api).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hub.timeutil import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend and always returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def core_table(model: type[Base]) -> Table:
    """The Core table of a model: bulk statements on it skip the ORM's per-row bookkeeping."""
    table: Table = model.__table__  # type: ignore[assignment]
    return table


class UnitLevel(enum.StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    BRANCH = "branch"


class UnitType(enum.StrEnum):
    GOVERNMENT = "government"
    PARTY = "party"
    ENTERPRISE = "enterprise"
    COMMUNITY = "community"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    OTHER = "other"


class SourceKind(enum.StrEnum):
    FEED = "feed"  # RSS / Atom / JSON Feed
    HTML = "html"  # list page -> article pages
    SITEMAP = "sitemap"
    ACCOUNT = "account"  # Weibo / WeChat through an RSSHub-compatible bridge


class ItemState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    NEEDS_CHANGES = "needs_changes"
    WITHDRAWN = "withdrawn"


class OutboxOp(enum.StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class Role(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    VIEWER = "viewer"


def _enum(cls: type[enum.StrEnum], length: int = 16) -> Any:
    # Stored as plain strings (no DB enum types) so adding a value needs no migration on PostgreSQL.
    return String(length)


class Unit(Base):
    """An organization unit: the city, a district, ... a grassroots branch. Units form a tree."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    level: Mapped[str] = mapped_column(_enum(UnitLevel))
    unit_type: Mapped[str] = mapped_column(_enum(UnitType), default=UnitType.GOVERNMENT.value)
    region_code: Mapped[str | None] = mapped_column(String(12))
    # Materialized ancestor path of ids, "/1/4/17/": subtree = path LIKE '/1/4/%'.
    path: Mapped[str] = mapped_column(String(400), default="/", index=True)
    website: Mapped[str | None] = mapped_column(String(500))
    # Auto-approve policy (moderation/policy.py): None inherits the parent unit's; the root's default is off.
    auto_approve: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")
    sources: Mapped[list[Source]] = relationship(back_populates="unit")

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to and including this unit."""
        return [int(part) for part in self.path.strip("/").split("/") if part]


class Source(Base):
    """One place content comes from: a feed, a news list page, a sitemap or a social account."""

    __tablename__ = "sources"
    # The scheduler's claim (hub/scheduler.py): enabled sources in (next check, id) order, one index range.
    __table_args__ = (Index("ix_sources_due", "enabled", "next_check_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(_enum(SourceKind))
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    platform: Mapped[str | None] = mapped_column(String(16))  # weibo / wechat for accounts
    account_id: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(50))
    selectors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Scheduling and conditional GET.
    check_interval_s: Mapped[int] = mapped_column(Integer, default=3600)
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_item_at: Mapped[datetime | None]
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # Hash of the source URL's last answer parsed without a problem (crawlers/bodyhash.py): the same
    # bytes again are recorded as not modified, without parsing, for sites that send no validators.
    body_hash: Mapped[str | None] = mapped_column(String(64))
    # When the source's answer was last parsed (not a 304, not the same bytes): the crawl sends no
    # validators once this is older than crawl.revisit_after_s (crawlers/process.py load_jobs).
    parsed_at: Mapped[datetime | None]
    # Error counters.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    total_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error_kind: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    # A permanent redirect seen in consecutive crawls; after crawl.permanent_redirect_after the URL moves.
    moved_to_url: Mapped[str | None] = mapped_column(String(1000))
    moved_count: Mapped[int] = mapped_column(Integer, default=0)
    # Auto-approve policy (moderation/policy.py): None follows the unit's; True/False overrides it.
    auto_approve: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The adaptive schedule (hub/schedule/). A worker's lease on the source while it crawls it: no
    # other worker claims the source before it ends (a killed worker's lease simply runs out).
    leased_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    # Publication rate: new entries per week, a moving average folded in after each crawl; the new
    # entries recorded since the last fold wait in entries_pending (any crawl path records them).
    entries_per_week: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    entries_rate_at: Mapped[datetime | None]  # last fold; None: no estimate yet
    entries_pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What the source asked for: feed <ttl> and Cache-Control max-age (seconds), Retry-After (until).
    feed_ttl_s: Mapped[int | None] = mapped_column(Integer)
    max_age_s: Mapped[int | None] = mapped_column(Integer)
    retry_after_until: Mapped[datetime | None]
    # Weighted failures (hub/schedule/failures.py): the score backs the interval off exponentially.
    failure_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    failing_since: Mapped[datetime | None]  # first failure with no success since
    # Paused after failing for schedule.pause_after_days: probed slowly until a crawl succeeds.
    paused_at: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(Text)
    crawl_requested_at: Mapped[datetime | None]  # "crawl now" by staff, until a crawl started after it

    unit: Mapped[Unit] = relationship(back_populates="sources")


class Item(Base):
    """A news item or notice as the hub knows it: the live (latest approved or pending) content."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("canonical_url", name="uq_items_canonical_url"),
        Index("ix_items_source_guid", "source_id", "guid"),
        Index("ix_items_state_published", "state", "published_at"),
        # Per-unit work (the directory's counts, a unit's newest) read this index alone, not item rows.
        Index("ix_items_unit_state_published", "unit_id", "state", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(1000))
    canonical_url: Mapped[str] = mapped_column(String(1000))
    guid: Mapped[str | None] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(500))
    html: Mapped[str] = mapped_column(Text, default="")  # sanitized, safe to republish
    text: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(200))
    origin: Mapped[str | None] = mapped_column(String(200))  # 来源 line
    category: Mapped[str | None] = mapped_column(String(50))
    attachments: Mapped[list[Any]] = mapped_column(default=list)  # [{"name", "url"}]
    images: Mapped[list[Any]] = mapped_column(default=list)
    published_at: Mapped[datetime | None]
    date_source: Mapped[str] = mapped_column(String(40), default="first_seen")
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(_enum(ItemState), default=ItemState.PENDING.value)
    # Optimistic concurrency for moderation decisions.
    version: Mapped[int] = mapped_column(Integer, default=1)
    revision_count: Mapped[int] = mapped_column(Integer, default=1)
    # A newer revision seen at the source while the live content is approved: it waits for review
    # and is never shown before that (the live columns keep the approved content).
    pending_revision: Mapped[int | None] = mapped_column(Integer)
    repost_of_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), index=True)
    videos: Mapped[list[Any]] = mapped_column(default=list)  # absolute URLs of videos and known players
    date_flag: Mapped[str | None] = mapped_column(String(40))  # "future_clamped": the source's date was ahead
    # Gone at the source (404/410, or missing from its listing for N crawls); kept in the archive.
    removed_at_source_at: Mapped[datetime | None]
    missing_count: Mapped[int] = mapped_column(Integer, default=0)  # consecutive listings without it
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None]
    # Screening of the newest revision (moderation/screening.py): orders the queue, riskiest first.
    risk_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0", index=True)
    # A reviewer's claim (moderation/claims.py): others may not decide the item until it lapses.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    # Two-step review (初审 → 终审, moderation/steps.py): the first approval of revision N waits for a
    # final approval by someone else; a newer revision voids it.
    first_reviewed_by: Mapped[str | None] = mapped_column(String(100))
    first_reviewed_at: Mapped[datetime | None]
    first_reviewed_revision: Mapped[int | None] = mapped_column(Integer)

    source: Mapped[Source] = relationship()
    unit: Mapped[Unit] = relationship()
    revisions: Mapped[list[ItemRevision]] = relationship(
        back_populates="item", order_by="ItemRevision.number", cascade="all, delete-orphan"
    )


class ItemRevision(Base):
    """Every distinct content an item has had at its source, in order."""

    __tablename__ = "item_revisions"
    __table_args__ = (UniqueConstraint("item_id", "number", name="uq_item_revisions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[Item] = relationship(back_populates="revisions")


class ItemFingerprint(Base):
    """An item's MinHash sketch (bottom-k 63-bit hashes of its text shingles) for repost detection."""

    __tablename__ = "item_fingerprints"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    sketch: Mapped[bytes] = mapped_column(LargeBinary)  # k sorted 8-byte big-endian hashes


class ItemFingerprintKey(Base):
    """The few smallest hashes of an item's sketch, indexed: items sharing one are repost candidates.

    The item's source is copied here (an item never changes source) and the index on the key covers
    every column: the repost lookup reads each bucket's members and their sources from the index
    alone, without visiting the table or the items (migration 0005).
    """

    __tablename__ = "item_fingerprint_keys"
    __table_args__ = (Index("ix_item_fingerprint_keys_bucket", "key", "item_id", "source_id"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer)


class CrawlRun(Base):
    """One crawl of a set of sources, started by the CLI, the scheduler or the demo."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20), default="cli")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    sources_total: Mapped[int] = mapped_column(Integer, default=0)
    sources_ok: Mapped[int] = mapped_column(Integer, default=0)
    sources_failed: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_removed: Mapped[int] = mapped_column(Integer, default=0)
    # running / finished / abandoned (its process died: no heartbeat for worker.lease_s, closed by the
    # next crawl's sweep in hub/crawlrecord.py). Indexed: the sweep looks for running runs every crawl.
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running", index=True)
    owner: Mapped[str | None] = mapped_column(String(200))  # host:pid of the process that ran it
    heartbeat_at: Mapped[datetime | None]  # last sign of life of that process

    outcomes: Mapped[list[CrawlOutcome]] = relationship(back_populates="run", cascade="all, delete-orphan")


class CrawlOutcome(Base):
    """What one crawl run did with one source: success, not modified, or a classified failure.

    At most one per (run, source) (migration 0007): a late writer, such as a joiner still writing after
    the runner recorded the source aborted, is dropped by hub/crawlrecord.insert_outcome_rows.
    """

    __tablename__ = "crawl_outcomes"
    __table_args__ = (Index("uq_crawl_outcomes_run_source", "run_id", "source_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Looked up by run through the unique index above, which begins with run_id (migration 0008).
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # ok / not_modified / failed
    error_kind: Mapped[str | None] = mapped_column(String(40))  # timeout, http_5xx, redirect_loop, ...
    http_status: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_removed: Mapped[int] = mapped_column(Integer, default=0)  # marked removed at source this run
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Fetch statistics (hub/fetchstats.py): what the crawl cost and met, per source.
    requests: Mapped[int] = mapped_column(Integer, default=0)
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)
    status_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"200": 3, "304": 1}
    failure_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"timeout": 1}
    redirects: Mapped[list[Any]] = mapped_column(default=list)  # [{"status", "url", "to"}] of the source URL
    items_unchanged: Mapped[int] = mapped_column(Integer, default=0)

    run: Mapped[CrawlRun] = relationship(back_populates="outcomes")
    source: Mapped[Source] = relationship()


class SitemapEntry(Base):
    """A URL a sitemap source listed, with the ``lastmod`` it had when its page was last fetched."""

    __tablename__ = "sitemap_entries"
    __table_args__ = (UniqueConstraint("source_id", "url", name="uq_sitemap_entries_source_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(1000))
    lastmod: Mapped[str | None] = mapped_column(String(40))  # as written in the sitemap
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScreeningHit(Base):
    """One screening finding on one revision of an item (lexicon term, personal data, link, quality)."""

    __tablename__ = "screening_hits"
    __table_args__ = (Index("ix_screening_hits_item_revision", "item_id", "revision_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    revision_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(16))  # title / text / attachments / links / item
    start: Mapped[int] = mapped_column(Integer)  # offsets in the field's original text
    end: Mapped[int] = mapped_column(Integer)
    term: Mapped[str] = mapped_column(String(500))  # personal numbers are stored masked
    category: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[int] = mapped_column(Integer)
    lexicon_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModerationEvent(Base):
    """Audit trail: every moderation transition with the responsible person."""

    __tablename__ = "moderation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    revision_number: Mapped[int] = mapped_column(Integer, default=1)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What was decided on (moderation/audit.py): the revision's content hash and its screening snapshot.
    reason_code: Mapped[str | None] = mapped_column(String(40))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    hit_count: Mapped[int | None] = mapped_column(Integer)
    risk_score: Mapped[float | None] = mapped_column(Float)
    lexicon_version: Mapped[str | None] = mapped_column(String(40))


class OutboxEntry(Base):
    """A pending index update, written in the same transaction as the change it mirrors (index/outbox.py).

    The row names the item only: the drainer indexes the item as it is when the row is applied.
    """

    __tablename__ = "index_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)  # no FK: deletes must outlive the item
    op: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None]  # when the last attempt failed (``xinlian index status``)


class User(Base):
    """A staff account: admin, moderator (optionally limited to a unit subtree) or viewer."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(_enum(Role))
    unit_scope_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSubState(enum.StrEnum):
    DISCOVERED = "discovered"  # the feed advertises a hub; no subscription request sent yet
    PENDING = "pending"  # requested; the hub's verification GET has not come yet
    ACTIVE = "active"  # verified; deliveries are accepted until expires_at
    DENIED = "denied"  # the hub refused the subscription
    EXPIRED = "expired"  # the lease ran out without renewal


class WebSubSubscription(Base):
    """A WebSub subscription of one feed source at the hub its feed advertises (hub/websub.py)."""

    __tablename__ = "websub_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), unique=True)
    hub_url: Mapped[str] = mapped_column(String(1000))
    topic: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(100))  # HMAC key of deliveries; never logged
    callback_token: Mapped[str] = mapped_column(String(64), unique=True)  # last part of the callback URL
    state: Mapped[str] = mapped_column(_enum(WebSubState), default=WebSubState.DISCOVERED.value)
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    # The source's check interval before an active subscription lengthened it (restored when it lapses).
    base_interval_s: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    last_delivery_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class StaffSession(Base):
    """A signed-in staff browser (api/sessions.py). The cookie holds a random token and the store only
    its SHA-256, so a leaked row cannot be replayed as a cookie; deleting the row ends the session
    (logout, deactivation), and both timeouts are checked against the row on every request."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))  # sent back by staff forms and staff.js
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # the absolute end, however busy
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    """One failed sign-in (form or HTTP Basic), by user name and by client address (api/throttle.py).
    Kept in the store so every web process sees the same count."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key", "scope", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))  # "user" or "address"
    key: Mapped[str] = mapped_column(String(200))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token for the JSON API (hub/apitokens.py), stored as the SHA-256 of its value."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class HubIntent(Base):
    """A subscribe/unsubscribe request to our WebSub hub, waiting for its verification of intent
    (hub/websubhub.py): the worker GETs the callback with a challenge before anything changes."""

    __tablename__ = "hub_intents"

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # subscribe / unsubscribe
    topic: Mapped[str] = mapped_column(String(1000))  # canonical URL of one of our feeds
    callback: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str | None] = mapped_column(String(200))  # HMAC key of deliveries; never logged
    lease_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)


class HubSubscription(Base):
    """A verified subscriber of one of our feeds, until its lease ends."""

    __tablename__ = "hub_subscriptions"
    __table_args__ = (UniqueConstraint("topic", "callback", name="uq_hub_subscriptions_topic_callback"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(1000), index=True)
    callback: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str | None] = mapped_column(String(200))  # never logged
    lease_seconds: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_delivery_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class HubPublish(Base):
    """An item that went live or left the portal, written in the moderation transaction; the hub job
    turns it into deliveries to the subscribers of every feed the item belongs to."""

    __tablename__ = "hub_publish_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)  # no FK: a publish may outlive the item
    event: Mapped[str] = mapped_column(String(16))  # approved / withdrawn
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HubDelivery(Base):
    """The next delivery owed to one subscription: its feed as it is when sent, retried with backoff.

    One row per subscription: a publish while a delivery waits only bumps ``generation``, and a send
    that saw an older generation is sent again, so no publish is lost and none is sent twice.
    """

    __tablename__ = "hub_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("hub_subscriptions.id", ondelete="CASCADE"), unique=True
    )
    generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class HealthStatus(enum.StrEnum):
    """A source's or unit's health (hub/health/status.py, docs/health.md)."""

    ACTIVE = "active"
    SLOWING = "slowing"
    STALE = "stale"
    DORMANT = "dormant"
    BROKEN = "broken"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"  # never read yet: no successful crawl and no item


class HealthProbe(Base):
    """One homepage probe of one source's site (hub/health/probe.py); kept health.probe_keep_days."""

    __tablename__ = "health_probes"
    __table_args__ = (Index("ix_health_probes_source_at", "source_id", "probed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(1000))  # the homepage probed
    probed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reachable: Mapped[bool] = mapped_column(Boolean)  # an HTTP answer came back (any status)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error_kind: Mapped[str | None] = mapped_column(String(40))  # the crawl's kinds: timeout, dns, tls, ...
    message: Mapped[str | None] = mapped_column(Text)
    redirects: Mapped[list[Any]] = mapped_column(default=list)  # [{"status", "url", "to"}]
    tls_expires_at: Mapped[datetime | None]
    robots_blocked: Mapped[bool | None] = mapped_column(Boolean)  # None: robots.txt not read


class SourceHealth(Base):
    """The current health of one source: its signals and status (hub/health/sweep.py)."""

    __tablename__ = "source_health"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(_enum(HealthStatus), default=HealthStatus.UNKNOWN.value, index=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    # The reason's key and values (hub/health/reasons.py): staff pages word it in the reader's language.
    reason_data: Mapped[dict[str, Any] | None]
    status_since: Mapped[datetime | None]
    computed_at: Mapped[datetime | None]
    # The latest homepage probe (copied from health_probes so the sweep reads one row per source).
    next_probe_at: Mapped[datetime | None] = mapped_column(index=True)
    probed_at: Mapped[datetime | None]
    probe_url: Mapped[str | None] = mapped_column(String(1000))
    reachable: Mapped[bool | None] = mapped_column(Boolean)
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    probe_error_kind: Mapped[str | None] = mapped_column(String(40))
    probe_message: Mapped[str | None] = mapped_column(Text)
    redirects: Mapped[list[Any]] = mapped_column(default=list)
    tls_expires_at: Mapped[datetime | None]
    robots_blocked: Mapped[bool | None] = mapped_column(Boolean)
    # Signals from crawl outcomes and items, as of computed_at.
    parse_ok: Mapped[bool | None] = mapped_column(Boolean)  # the last crawl read the feed/page
    extraction_failing: Mapped[bool] = mapped_column(Boolean, default=False)
    last_new_item_at: Mapped[datetime | None]  # newest item's publication (else first-seen) time
    items_4w: Mapped[int] = mapped_column(Integer, default=0)
    items_12w: Mapped[int] = mapped_column(Integer, default=0)
    removed_12w: Mapped[int] = mapped_column(Integer, default=0)
    availability: Mapped[float | None] = mapped_column(Float)  # successes / attempts in the window


class UnitHealthSummary(Base):
    """The current health and activity score of one unit, rolled up from its sources."""

    __tablename__ = "unit_health"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(_enum(HealthStatus), default=HealthStatus.UNKNOWN.value, index=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    # The reason's key and values (hub/health/reasons.py): staff pages word it in the reader's language.
    reason_data: Mapped[dict[str, Any] | None]
    status_since: Mapped[datetime | None]
    computed_at: Mapped[datetime | None]
    source_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"active": 2, "broken": 1}
    score: Mapped[float | None] = mapped_column(Float, index=True)  # 0-100; None: no indicator had data
    breakdown: Mapped[dict[str, Any]] = mapped_column(default=dict)  # indicator -> {"value", "weight", ...}


class HealthEvent(Base):
    """A status change of a source or a unit: the health history (hub/health/events.py)."""

    __tablename__ = "health_events"
    __table_args__ = (
        Index("ix_health_events_source_at", "source_id", "at"),
        Index("ix_health_events_unit_at", "unit_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(8))  # "source" or "unit"
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))  # the source's unit
    from_status: Mapped[str | None] = mapped_column(String(16))  # None: first classification
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    # The reason's key and values (hub/health/reasons.py): staff pages word it in the reader's language.
    reason_data: Mapped[dict[str, Any] | None]


class UnitScoreMonth(Base):
    """A unit's activity score as of the last sweep of a month (the monthly trend)."""

    __tablename__ = "unit_score_months"
    __table_args__ = (UniqueConstraint("unit_id", "month", name="uq_unit_score_months_unit_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # "2024-06", in the configured zone
    score: Mapped[float | None] = mapped_column(Float)
    breakdown: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertOutbox(Base):
    """An alert owed to one recipient (hub/alerts/): written in the health sweep's transaction, sent by
    the worker's alerts job with retries; kept after sending (the repeat interval looks the last one up)."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        Index("ix_alert_outbox_source_event", "source_id", "event", "due_at"),
        Index("ix_alert_outbox_pending", "sent_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "webhook" or "email"
    target: Mapped[str] = mapped_column(String(1000))  # the webhook URL or the e-mail address
    event: Mapped[str] = mapped_column(String(16))  # failing / recovered / digest / test
    source_id: Mapped[int | None] = mapped_column(Integer)  # no FK: an alert may outlive its source
    unit_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)  # held until then by the repeat interval
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    dropped_at: Mapped[datetime | None]  # a held alert the source's next change made moot
    failed_at: Mapped[datetime | None]  # given up after alerts.max_attempts
    last_error: Mapped[str | None] = mapped_column(Text)


class AlertDigest(Base):
    """When a unit's contacts last got the weekly digest (hub/alerts/digest.py)."""

    __tablename__ = "alert_digests"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    sent_for: Mapped[datetime]  # the weekly slot (digest weekday and hour) the last digest covered
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
