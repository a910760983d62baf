"""Staff moderation API under /api/v1/moderation (docs/architecture.md steps 6 and 8).

HTTP Basic staff only (``api/auth.py``). Reading (queue, review view, reasons, stats) is open to
every staff role within its unit scope; deciding and claiming are checked by the moderation service
(admins and moderators, moderators within their unit subtree). Errors: 404 no item, 403 not allowed,
409 stale version / changed content / claimed by someone else, 422 not a valid transition or reason.
Decisions bring the search index up to date before answering, so a withdrawn item is gone from
search at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.auth import Staff
from api.crossorigin import refuse_cross_site_writes
from api.deps import BackendDep, DatabaseDep, SessionDep, SettingsDep
from api.moderation_schemas import (
    BulkIn,
    BulkOut,
    ClaimIn,
    ClaimOut,
    DecisionIn,
    DecisionOut,
    DiffLineOut,
    EventOut,
    HitOut,
    OutcomeOut,
    QueueItemOut,
    QueueOut,
    ReasonOut,
    ReviewOut,
    RevisionOut,
    StatsOut,
)
from api.params import MAX_ROW_ID, RowId, RowIdQuery, hours_query, row_id_query
from api.schemas import UnitRef
from api.strictquery import refuse_unknown_query
from hub.db import Database
from hub.models import Item, ItemRevision, ItemState, ModerationEvent, User
from hub.settings import Settings
from hub.timeutil import utcnow
from index.backend import SearchBackend
from index.catchup import catch_up
from index.factory import one_attempt
from moderation.audit import FIRST_APPROVAL, history
from moderation.bulk import BulkTarget, bulk_decide
from moderation.claims import (
    claim_item,
    claim_items,
    claim_next,
    claimed_by,
    holder,
    release_item,
    release_items,
)
from moderation.errors import Conflict, Forbidden, InvalidTransition, ModerationError, NotFound
from moderation.permissions import in_scope
from moderation.queue import QueueEntry, QueueFilter, count_queue, queue_entries
from moderation.reasons import ReasonFileError
from moderation.review import review_view
from moderation.rules import ReviewRules
from moderation.service import transition
from moderation.stats import StatsRow, moderation_stats, stats_csv

logger = logging.getLogger(__name__)
# Every write here is refused when another site could have made a moderator's browser send it.
router = APIRouter(
    prefix="/api/v1/moderation",
    tags=["moderation"],
    dependencies=[Depends(refuse_cross_site_writes), Depends(refuse_unknown_query)],
)

DECISION_ACTIONS = ("approve", "reject", "needs_changes", "withdraw")
# How each moderation error reaches the client (Claimed is a Conflict: 409).
_ERROR_STATUS: dict[type[ModerationError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    InvalidTransition: 422,
}


def _status(error: ModerationError) -> int:
    for cls, status in _ERROR_STATUS.items():
        if isinstance(error, cls):
            return status
    return 422


def _fail(error: ModerationError) -> HTTPException:
    return HTTPException(status_code=_status(error), detail=str(error))


def _rules(settings: Settings) -> ReviewRules:
    return ReviewRules.from_settings(settings.moderation)


def _claim(item: Item, now: datetime) -> ClaimOut | None:
    held_by = holder(item, now)
    return ClaimOut(by=held_by, until=item.claimed_until) if held_by else None


def _queue_item(entry: QueueEntry, rules: ReviewRules, now: datetime) -> QueueItemOut:
    item = entry.item
    age = entry.age(now)
    waiting_final = item.first_reviewed_by and item.first_reviewed_revision == entry.revision_number
    return QueueItemOut(
        id=item.id,
        title=item.title,
        url=item.url,
        unit=UnitRef(id=item.unit.id, name=item.unit.name, slug=item.unit.slug),
        state=item.state,
        version=item.version,
        category=item.category,
        published_at=item.published_at,
        first_seen_at=item.first_seen_at,
        queued_at=entry.queued_at,
        age_s=round(age.total_seconds(), 1),
        overdue=age > rules.age_limit,
        risk_score=item.risk_score,
        hit_count=entry.hit_count,
        revision_number=entry.revision_number,
        content_hash=entry.content_hash,
        claim=_claim(item, now),
        first_reviewed_by=item.first_reviewed_by if waiting_final else None,
    )


def _scope(session: Session, user: User, unit: int | None) -> int | None:
    """The unit subtree a listing covers: the asked unit (inside the user's scope), else the scope."""
    if unit is None:
        return user.unit_scope_id
    if not in_scope(session, user, unit) and user.unit_scope_id is not None:
        raise HTTPException(
            status_code=403, detail=f"unit {unit} is outside the unit scope of {user.username!r}"
        )
    return unit


@router.get("/queue", response_model=QueueOut)
def moderation_queue(
    session: SessionDep,
    settings: SettingsDep,
    user: Staff,
    state: Annotated[
        str, Query(description="pending, approved, rejected, needs_changes, withdrawn")
    ] = "pending",
    unit: Annotated[int | None, row_id_query("Only this unit's subtree (within your scope).")] = None,
    category: Annotated[str | None, Query(description="The item's category.")] = None,
    hit_category: Annotated[str | None, Query(description="A screening-hit category.")] = None,
    min_risk: Annotated[float | None, Query(ge=0)] = None,
    max_risk: Annotated[float | None, Query(ge=0)] = None,
    older_than_h: Annotated[float | None, hours_query("Waiting longer than this (hours).")] = None,
    overdue: Annotated[bool, Query(description="Only items past moderation.queue_age_limit_h.")] = False,
    step: Annotated[Literal["first", "final"] | None, Query(description="Two-step review step.")] = None,
    claim: Annotated[Literal["free", "mine", "others"] | None, Query()] = None,
    order: Annotated[Literal["risk", "age"], Query(description="Riskiest first, or oldest first.")] = "risk",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> QueueOut:
    """The queue: riskiest then oldest first by default; a scoped user sees only its unit subtree."""
    if state not in {value.value for value in ItemState}:
        raise HTTPException(status_code=422, detail=f"unknown state {state!r}")
    rules, now = _rules(settings), utcnow()
    older = rules.age_limit if overdue else None
    if older_than_h is not None:
        older = max(older or timedelta(0), timedelta(hours=older_than_h))
    wanted = QueueFilter(
        state=state,
        unit_subtree=_scope(session, user, unit),
        category=category,
        hit_category=hit_category,
        min_risk=min_risk,
        max_risk=max_risk,
        older_than=older,
        step=step,
        claim=claim,
        claimant=user.username,
    )
    entries = queue_entries(session, wanted, limit=limit, offset=offset, order=order, now=now)
    return QueueOut(
        state=state,
        total=count_queue(session, wanted=wanted, now=now),
        age_limit_h=rules.queue_age_limit_h,
        items=[_queue_item(entry, rules, now) for entry in entries],
    )


def _revision_out(revision: ItemRevision | None) -> RevisionOut | None:
    if revision is None:
        return None
    return RevisionOut(
        number=revision.number,
        title=revision.title,
        html=revision.html,
        text=revision.text,
        content_hash=revision.content_hash,
        published_at=revision.published_at,
        created_at=revision.created_at,
    )


def _event_out(event: ModerationEvent) -> EventOut:
    return EventOut(
        id=event.id,
        revision_number=event.revision_number,
        action=event.action,
        actor=event.actor,
        from_state=event.from_state,
        to_state=event.to_state,
        reason=event.reason,
        reason_code=event.reason_code,
        content_hash=event.content_hash,
        hit_count=event.hit_count,
        risk_score=event.risk_score,
        lexicon_version=event.lexicon_version,
        created_at=event.created_at,
    )


def _visible_item(session: Session, user: User, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=f"no item {item_id}")
    if user.unit_scope_id is not None and not in_scope(session, user, item.unit_id):
        raise HTTPException(
            status_code=403, detail=f"item {item_id} is outside the unit scope of {user.username!r}"
        )
    return item


@router.get("/items/{item_id}", response_model=ReviewOut)
def review_item(item_id: RowId, session: SessionDep, settings: SettingsDep, user: Staff) -> ReviewOut:
    """The review screen of one item: revision under review, hits, live revision and diff, trail."""
    item = _visible_item(session, user, item_id)
    rules, now = _rules(settings), utcnow()
    view = review_view(session, item, rules, now)
    number = item.pending_revision or item.revision_count
    queued_at = view.revision.created_at if view.revision else item.first_seen_at
    entry = QueueEntry(
        item,
        queued_at,
        len(view.hits),
        number,
        view.revision.content_hash if view.revision else item.content_hash,
    )
    return ReviewOut(
        item=_queue_item(entry, rules, now),
        revision=_revision_out(view.revision),
        live=_revision_out(view.live),
        diff=[DiffLineOut(op=line.op, live=line.live, new=line.new) for line in view.diff],
        hits=[
            HitOut(
                field=hit.field,
                start=hit.start,
                end=hit.end,
                term=hit.term,
                category=hit.category,
                severity=hit.severity,
                lexicon_version=hit.lexicon_version,
            )
            for hit in view.hits
        ],
        two_steps=view.two_steps,
        step=view.step,
        events=[_event_out(event) for event in view.events],
    )


@router.get("/items/{item_id}/events", response_model=list[EventOut])
def item_events(item_id: RowId, session: SessionDep, user: Staff) -> list[EventOut]:
    """The audit trail of one item, oldest first."""
    _visible_item(session, user, item_id)
    return [_event_out(event) for event in history(session, item_id)]


def _catch_up(database: Database, backend: SearchBackend, settings: Settings, what: str) -> None:
    """Bring the index up to date after committed decisions, promptly: one attempt per request, none
    while the index was found unreachable lately (index/catchup.py); the worker applies the rest."""
    try:
        stats = catch_up(database, one_attempt(backend, settings), settings)
    except SQLAlchemyError:
        logger.exception("index catch-up after %s failed; the worker will retry", what)
    else:
        if stats is None:
            logger.info("index catch-up after %s skipped: the index was unreachable lately", what)
        elif stats.failed:
            logger.warning("index catch-up after %s: %s", what, stats)


@router.post("/items/{item_id}/claim", response_model=OutcomeOut)
def claim_one(item_id: RowId, database: DatabaseDep, settings: SettingsDep, user: Staff) -> OutcomeOut:
    """Claim an item for moderation.claim_minutes (renews one's own claim); 409 names the holder."""
    try:
        with database.session() as session:
            item = claim_item(session, item_id, user, _rules(settings).claim_length)
            return OutcomeOut(
                id=item.id,
                ok=True,
                state=item.state,
                version=item.version,
                claim=ClaimOut(by=item.claimed_by, until=item.claimed_until),
            )
    except ModerationError as exc:
        raise _fail(exc) from exc


@router.post("/items/{item_id}/release", response_model=OutcomeOut)
def release_one(item_id: RowId, database: DatabaseDep, user: Staff) -> OutcomeOut:
    """Give a claim back (its holder, or an admin)."""
    try:
        with database.session() as session:
            item = release_item(session, item_id, user)
            return OutcomeOut(id=item.id, ok=True, state=item.state, version=item.version)
    except ModerationError as exc:
        raise _fail(exc) from exc


@router.post("/items/{item_id}/{action}", response_model=DecisionOut)
def decide(
    item_id: RowId,
    action: str,
    database: DatabaseDep,
    backend: BackendDep,
    settings: SettingsDep,
    user: Staff,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> DecisionOut:
    """approve, reject, needs_changes (or needs-changes) or withdraw one item, then update the index."""
    action = action.replace("-", "_")
    if action not in DECISION_ACTIONS:
        raise HTTPException(
            status_code=404, detail=f"unknown action {action!r}; known: {', '.join(DECISION_ACTIONS)}"
        )
    body = body or DecisionIn()
    try:
        with database.session() as session:
            item = transition(
                session,
                item_id,
                action,
                user,
                reason=body.reason,
                expected_version=body.version,
                reason_code=body.reason_code,
                expected_hash=body.content_hash,
                rules=_rules(settings),
            )
            decided = DecisionOut(
                id=item.id,
                state=item.state,
                version=item.version,
                reviewed_by=item.reviewed_by,
                reviewed_at=item.reviewed_at,
                first_reviewed_by=item.first_reviewed_by,
                step="first" if _last_action(session, item_id) == FIRST_APPROVAL else "single",
            )
    except ModerationError as exc:
        raise _fail(exc) from exc
    except ReasonFileError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from exc
    _catch_up(database, backend, settings, f"the decision on item {item_id}")
    return decided


def _last_action(session: Session, item_id: int) -> str | None:
    events = history(session, item_id)
    return events[-1].action if events else None


def _targets(body: BulkIn) -> list[BulkTarget]:
    targets = [BulkTarget(item.id, item.version, item.content_hash) for item in body.items]
    return targets + [BulkTarget(item_id) for item_id in body.ids]


@router.post("/bulk/{action}", response_model=BulkOut)
def bulk(
    action: Literal["approve", "reject"],
    body: BulkIn,
    database: DatabaseDep,
    backend: BackendDep,
    settings: SettingsDep,
    user: Staff,
) -> BulkOut:
    """Approve (clean items only: any screening hit refuses that item) or reject many items; each
    item is decided and audited on its own and reported in ``results``."""
    targets = _targets(body)
    if not targets:
        raise HTTPException(status_code=422, detail="no items given (ids or items)")
    try:
        with database.session() as session:
            outcomes = bulk_decide(
                session, targets, action, user, body.reason, body.reason_code, rules=_rules(settings)
            )
    except ModerationError as exc:
        raise _fail(exc) from exc
    except ReasonFileError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from exc
    if any(outcome.ok for outcome in outcomes):
        _catch_up(database, backend, settings, f"bulk {action}")
    return BulkOut.of(outcomes)


@router.get("/claims", response_model=list[QueueItemOut])
def my_claims(session: SessionDep, settings: SettingsDep, user: Staff) -> list[QueueItemOut]:
    """The items the signed-in reviewer holds now."""
    rules, now = _rules(settings), utcnow()
    items = claimed_by(session, user.username, now)
    return [
        _queue_item(
            QueueEntry(item, item.first_seen_at, 0, item.pending_revision or item.revision_count, None),
            rules,
            now,
        )
        for item in items
    ]


@router.post("/claims", response_model=BulkOut)
def claim_many(body: ClaimIn, database: DatabaseDep, settings: SettingsDep, user: Staff) -> BulkOut:
    """Claim named items (``ids``), or the next ``next`` unclaimed pending items of your queue."""
    rules = _rules(settings)
    if not body.ids and not body.next:
        raise HTTPException(status_code=422, detail="give ids or next")
    if len(body.ids) > rules.bulk_max:
        raise HTTPException(status_code=422, detail=f"at most {rules.bulk_max} items per claim")
    with database.session() as session:
        if body.ids:
            outcomes = claim_items(session, body.ids, user, rules.claim_length)
        else:
            outcomes = claim_next(session, user, body.next or 1, rules.claim_length)
        return BulkOut.of(outcomes)


@router.post("/claims/release", response_model=BulkOut)
def release_many(body: ClaimIn, database: DatabaseDep, user: Staff) -> BulkOut:
    """Release claims on ``ids`` (empty: every claim you hold)."""
    with database.session() as session:
        ids = body.ids or [item.id for item in claimed_by(session, user.username)]
        return BulkOut.of(release_items(session, ids, user))


@router.get("/reasons", response_model=list[ReasonOut])
def reasons(
    settings: SettingsDep,
    user: Staff,
    action: Annotated[Literal["reject", "needs_changes", "withdraw"] | None, Query()] = None,
) -> list[ReasonOut]:
    """Reason codes (for one action, or all) with their labels and templates."""
    try:
        catalog = _rules(settings).reasons()
    except ReasonFileError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from exc
    codes = catalog.for_action(action) if action else list(catalog.codes.values())
    return [
        ReasonOut(
            code=r.code, label=r.label, label_en=r.label_en, template=r.template, actions=list(r.actions)
        )
        for r in codes
    ]


def _utc(moment: datetime | None) -> datetime | None:
    """A query's time; one without a zone is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _stats_rows(
    session: Session, user: User, since: datetime | None, until: datetime | None, unit: int | None
) -> list[StatsRow]:
    return moderation_stats(
        session, since=_utc(since), until=_utc(until), unit_subtree=_scope(session, user, unit)
    )


@router.get("/stats", response_model=StatsOut)
def stats(
    session: SessionDep,
    user: Staff,
    since: Annotated[datetime | None, Query(description="Decisions from (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Decisions before (ISO 8601).")] = None,
    unit: Annotated[int | None, row_id_query("Only this unit's subtree (within your scope).")] = None,
) -> StatsOut:
    """Per reviewer and per unit: decisions by action, median time in queue, reasons given."""
    rows = _stats_rows(session, user, since, until, unit)
    return StatsOut(
        since=since,
        until=until,
        reviewers=[row.as_dict() for row in rows if row.group == "reviewer"],
        units=[row.as_dict() for row in rows if row.group == "unit"],
    )


@router.get("/stats.csv")
def stats_as_csv(
    session: SessionDep,
    user: Staff,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    unit: RowIdQuery = None,
) -> Response:
    """The same statistics as CSV."""
    rows = _stats_rows(session, user, since, until, unit)
    return Response(
        stats_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="moderation-stats.csv"'},
    )
