"""Moderation workflow on the one transition function: needs-changes, reasons, claims, bulk, two-step
review, scope, audit trail, content pinning, queue filters and statistics."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import Database
from hub.ingest import ingest
from hub.models import Item, ModerationEvent, OutboxEntry, Source, User
from hub.users import create_user
from moderation.audit import approvers, history
from moderation.bulk import BulkTarget, bulk_decide
from moderation.claims import claim_item, claim_items, claim_next, release_item
from moderation.errors import Claimed, Conflict, Forbidden, InvalidTransition, UnknownReason
from moderation.queue import QueueFilter, count_queue, queue_entries
from moderation.reasons import ReasonCatalog, ReasonFileError
from moderation.rules import ReviewRules
from moderation.service import transition
from moderation.stats import moderation_stats, stats_csv
from tests.moderation_seed import CLEAN_BODY, T0, Queue, raw, seed_queue

CLAIM = timedelta(minutes=30)
LATER = T0 + timedelta(days=1)  # every seeded item exists by then


@pytest.fixture
def queue(database: Database) -> Queue:
    return seed_queue(database)


def _moderators(session: Session, queue: Queue) -> dict[str, User]:
    return {
        "alice": create_user(session, "alice", "pw-secret-a1", "moderator"),
        "bob": create_user(session, "bob", "pw-secret-b2", "moderator"),
        "east": create_user(session, "east-mod", "pw-secret-e3", "moderator", unit_scope_id=queue.east),
        "admin": create_user(session, "root", "pw-secret-r4", "admin"),
    }


def _outbox(session: Session, item_id: int) -> list[str]:
    query = select(OutboxEntry.op).where(OutboxEntry.item_id == item_id).order_by(OutboxEntry.id)
    return list(session.scalars(query))


def test_needs_changes_then_a_new_revision_puts_it_back_to_pending(database: Database, queue: Queue) -> None:
    item_id = queue.east_clean[0]
    with database.session() as session:
        with pytest.raises(InvalidTransition, match="needs a reason"):
            transition(session, item_id, "needs_changes", "alice", now=LATER)
        item = transition(session, item_id, "needs_changes", "alice", reason_code="formatting", now=LATER)
        assert item.state == "needs_changes"
        assert _outbox(session, item_id) == ["upsert", "upsert"]  # ingest, decision: staff search all states
        source_id = item.source_id
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        ingest(session, raw(source, 1, CLEAN_BODY.replace("积极", "踊跃")), now=LATER + timedelta(hours=1))
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None and (item.state, item.revision_count) == ("pending", 2)
        trail = [(e.action, e.from_state, e.to_state) for e in history(session, item_id)]
        assert trail[-2:] == [
            ("needs_changes", "pending", "needs_changes"),
            ("revised", "needs_changes", "pending"),
        ]


def test_reason_codes_fill_in_templates_and_unknown_codes_are_refused(
    database: Database, queue: Queue
) -> None:
    with database.session() as session:
        with pytest.raises(UnknownReason, match="no_such_code"):
            transition(session, queue.east_hit, "reject", "alice", reason_code="no_such_code")
        with pytest.raises(UnknownReason, match="outdated"):  # a withdraw-only code
            transition(session, queue.east_hit, "reject", "alice", reason_code="outdated")
        item = transition(
            session, queue.east_hit, "reject", "alice", reason="第二段", reason_code="classified_marking"
        )
        assert item.state == "rejected"
        event = history(session, queue.east_hit)[-1]
        assert event.reason_code == "classified_marking"
        assert (
            event.reason is not None
            and event.reason.startswith("内容含有“内部资料”")
            and event.reason.endswith("第二段")
        )


def test_reason_file_is_read_per_decision_and_bad_files_name_the_code(tmp_path: Path) -> None:
    path = tmp_path / "reasons.toml"
    path.write_text('[late]\nlabel = "迟"\ntemplate = "过期"\nactions = ["withdraw"]\n', encoding="utf-8")
    rules = ReviewRules(reasons_file=str(path))
    assert rules.reasons().resolve("withdraw", "late", None) == "过期"
    path.write_text('[late]\nlabel = "迟"\ntemplate = "已过时效"\nactions = ["withdraw"]\n', encoding="utf-8")
    assert rules.reasons().resolve("withdraw", "late", "见通知") == "已过时效\n见通知"
    path.write_text('[late]\nlabel = "迟"\nactions = ["withdraw"]\n', encoding="utf-8")
    with pytest.raises(ReasonFileError, match=r"\[late\] needs a template"):
        ReasonCatalog.load(path)
    path.write_text('[late]\nlabel = "迟"\nlabel_en = ""\ntemplate = "过期"\n', encoding="utf-8")
    with pytest.raises(ReasonFileError, match=r"reasons.toml:3: \[late\] label_en must be a non-empty text"):
        ReasonCatalog.load(path)


def test_a_reason_label_falls_back_to_the_organizations_language(tmp_path: Path) -> None:
    path = tmp_path / "reasons.toml"
    path.write_text(
        '[late]\nlabel = "迟"\nlabel_en = "Late"\ntemplate = "过期"\n'
        '[other]\nlabel = "其他"\ntemplate = "其他"\n',
        encoding="utf-8",
    )
    codes = ReasonCatalog.load(path).codes
    assert (codes["late"].label_in("en"), codes["late"].label_in("zh-CN")) == ("Late", "迟")
    assert codes["other"].label_in("en") == "其他"  # no English given: the label as written


def test_withdraw_with_a_code_deletes_from_the_index(database: Database, queue: Queue) -> None:
    item_id = queue.west_clean
    with database.session() as session:
        transition(session, item_id, "approve", "alice")
        with pytest.raises(InvalidTransition, match="needs a reason"):
            transition(session, item_id, "withdraw", "alice")
        item = transition(session, item_id, "withdraw", "alice", reason_code="source_request")
        assert item.state == "withdrawn"
        assert _outbox(session, item_id) == ["upsert"] * 3  # ingest, approve, withdraw: indexed as withdrawn
        assert history(session, item_id)[-1].reason == "应发布单位要求撤下。"


def test_a_claim_held_by_another_refuses_their_decision_until_it_lapses(
    database: Database, queue: Queue
) -> None:
    item_id = queue.east_clean[0]
    with database.session() as session:
        people = _moderators(session, queue)
        claim_item(session, item_id, people["alice"], CLAIM, now=LATER)
        with pytest.raises(Claimed, match=r"claimed by 'alice' until 2024-06-04T08:30:00") as refused:
            transition(session, item_id, "approve", people["bob"], now=LATER + timedelta(minutes=5))
        assert refused.value.holder == "alice"
        with pytest.raises(Claimed):
            claim_item(session, item_id, people["bob"], CLAIM, now=LATER + timedelta(minutes=5))
        with pytest.raises(Forbidden, match="only they or an admin"):
            release_item(session, item_id, people["bob"], now=LATER + timedelta(minutes=5))
        # The claim lapses: bob may claim and decide; the decision ends his claim.
        claim_item(session, item_id, people["bob"], CLAIM, now=LATER + timedelta(minutes=31))
        item = transition(session, item_id, "approve", people["bob"], now=LATER + timedelta(minutes=32))
        assert (item.state, item.claimed_by, item.reviewed_by) == ("approved", None, "bob")
        # The holder decides freely; an admin may release someone else's claim.
        other = queue.east_clean[1]
        claim_item(session, other, people["alice"], CLAIM, now=LATER)
        assert release_item(session, other, people["admin"], now=LATER).claimed_by is None
        claim_item(session, other, people["alice"], CLAIM, now=LATER)
        assert transition(session, other, "reject", people["alice"], now=LATER).state == "rejected"


def test_batch_claims_report_each_item_and_claim_next_skips_held_ones(
    database: Database, queue: Queue
) -> None:
    with database.session() as session:
        people = _moderators(session, queue)
        claim_item(session, queue.west_hit, people["bob"], CLAIM, now=LATER)
        outcomes = claim_items(
            session, [queue.west_clean, queue.west_hit, 999_999], people["alice"], CLAIM, LATER
        )
        assert [(o.item_id, o.ok, o.error) for o in outcomes] == [
            (queue.west_clean, True, None),
            (queue.west_hit, False, "claimed"),
            (999_999, False, "not_found"),
        ]
        # The east moderator's next two: riskiest first within the east subtree, never another's claim.
        taken = claim_next(session, people["east"], 2, CLAIM, now=LATER)
        assert [o.item_id for o in taken] == [queue.east_hit, queue.east_clean[0]]
        mine = QueueFilter(claim="mine", claimant="east-mod")
        assert count_queue(session, wanted=mine, now=LATER) == 2
        assert count_queue(session, wanted=QueueFilter(claim="free"), now=LATER) == 1
        assert count_queue(session, wanted=QueueFilter(claim="free"), now=LATER + timedelta(hours=1)) == 5


def test_bulk_approve_refuses_items_with_hits_and_reports_conflicts_per_item(
    database: Database, queue: Queue
) -> None:
    with database.session() as session:
        people = _moderators(session, queue)
        targets = [
            BulkTarget(queue.east_clean[0], version=1),
            BulkTarget(queue.east_clean[1], version=7),  # stale: someone decided meanwhile
            BulkTarget(queue.east_hit),
            BulkTarget(queue.west_clean),
        ]
        outcomes = bulk_decide(session, targets, "approve", people["alice"])
        assert [(o.item_id, o.ok, o.error) for o in outcomes] == [
            (queue.east_clean[0], True, None),
            (queue.east_clean[1], False, "conflict"),
            (queue.east_hit, False, "has_hits"),
            (queue.west_clean, True, None),
        ]
        assert "screening hits" in (outcomes[2].message or "")
        approvals = session.scalars(
            select(ModerationEvent.item_id).where(
                ModerationEvent.action == "approve", ModerationEvent.actor == "alice"
            )
        ).all()
        assert sorted(approvals) == sorted([queue.east_clean[0], queue.west_clean])  # one event per item
        # Approving the item with hits on its own, after a look, is allowed.
        assert transition(session, queue.east_hit, "approve", people["alice"]).state == "approved"


def test_district_moderator_cannot_act_on_another_district_also_in_bulk(
    database: Database, queue: Queue
) -> None:
    with database.session() as session:
        people = _moderators(session, queue)
        east = people["east"]
        with pytest.raises(Forbidden, match="outside the unit scope"):
            transition(session, queue.west_clean, "approve", east)
        with pytest.raises(Forbidden):
            claim_item(session, queue.west_clean, east, CLAIM)
        outcomes = bulk_decide(
            session,
            [BulkTarget(i) for i in (queue.east_clean[0], queue.west_clean, queue.west_hit)],
            "reject",
            east,
        )
        assert [(o.ok, o.error) for o in outcomes] == [
            (True, None),
            (False, "forbidden"),
            (False, "forbidden"),
        ]
        # Bulk approve: the other district's item with hits is refused for scope, not for its hits.
        outcomes = bulk_decide(session, [BulkTarget(queue.west_hit)], "approve", east)
        assert outcomes[0].error == "forbidden"
        west = session.scalars(
            select(Item.state).where(Item.id.in_([queue.west_clean, queue.west_hit]))
        ).all()
        assert west == ["pending", "pending"]


def test_two_step_review_needs_two_different_people(database: Database, queue: Queue) -> None:
    rules = ReviewRules(two_step_levels=frozenset({"district"}))
    item_id = queue.west_clean  # a district's item
    with database.session() as session:
        people = _moderators(session, queue)
        first = transition(session, item_id, "approve", people["alice"], rules=rules)
        assert (first.state, first.first_reviewed_by, first.reviewed_by) == ("pending", "alice", None)
        assert _outbox(session, item_id) == ["upsert"] * 2  # ingest, 初审: still pending in the index
        assert [e.item.id for e in queue_entries(session, QueueFilter(step="final"))] == [item_id]
        with pytest.raises(Forbidden, match="someone other than the first reviewer"):
            transition(session, item_id, "approve", people["alice"], rules=rules)
        final = transition(session, item_id, "approve", people["bob"], rules=rules)
        assert (final.state, final.reviewed_by, final.first_reviewed_by) == ("approved", "bob", "alice")
        assert _outbox(session, item_id) == ["upsert"] * 3
        named = approvers(session, item_id)
        assert named is not None and (named.final, named.first) == ("bob", "alice")
        assert named.content_hash == final.content_hash  # the exact approved content is what is live
        # A branch item is outside the two-step scope: one approval publishes it.
        assert (
            transition(session, queue.east_clean[0], "approve", people["alice"], rules=rules).state
            == "approved"
        )


def test_a_new_revision_voids_the_first_approval(database: Database, queue: Queue) -> None:
    rules = ReviewRules(two_step_levels=frozenset({"district"}))
    item_id = queue.west_clean
    with database.session() as session:
        people = _moderators(session, queue)
        transition(session, item_id, "approve", people["alice"], rules=rules)
        item = session.get(Item, item_id)
        assert item is not None
        ingest(session, raw(item.source, 4, CLEAN_BODY.replace("积极", "热情")))
        # bob's approval is now a first approval of revision 2, not a final one.
        again = transition(session, item_id, "approve", people["bob"], rules=rules)
        assert (again.state, again.first_reviewed_by, again.first_reviewed_revision) == ("pending", "bob", 2)


def test_decisions_are_pinned_to_the_content_the_reviewer_saw(database: Database, queue: Queue) -> None:
    item_id = queue.east_clean[0]
    with database.session() as session:
        seen = session.get(Item, item_id)
        assert seen is not None
        seen_hash, source = seen.content_hash, seen.source
        ingest(session, raw(source, 1, CLEAN_BODY.replace("积极", "热情")))  # the source edits it meanwhile
        with pytest.raises(Conflict, match="changed at its source"):
            transition(session, item_id, "approve", "alice", expected_hash=seen_hash)
        current = session.get(Item, item_id)
        assert current is not None
        approved = transition(session, item_id, "approve", "alice", expected_hash=current.content_hash)
        assert history(session, item_id)[-1].content_hash == approved.content_hash != seen_hash


def test_every_transition_is_in_the_audit_trail_with_actor_reason_and_snapshot(
    database: Database, queue: Queue
) -> None:
    with database.session() as session:
        people = _moderators(session, queue)
        item_id = queue.east_hit
        transition(session, item_id, "needs_changes", people["alice"], reason="请删除涉密标识")
        item = session.get(Item, item_id)
        assert item is not None
        ingest(
            session,
            raw(item.source, 3, "<p>此件为内部资料，第二稿，请各支部认真学习会议精神并抓好落实工作。</p>"),
        )
        transition(session, item_id, "approve", people["bob"], reason="已核实可公开")
        transition(session, item_id, "withdraw", people["admin"], reason_code="outdated", reason="补充说明")
        events = history(session, item_id)
        decisions = [e for e in events if e.action not in ("submitted", "revised")]
        assert [(e.action, e.actor, e.from_state, e.to_state, e.revision_number) for e in decisions] == [
            ("needs_changes", "alice", "pending", "needs_changes", 1),
            ("approve", "bob", "pending", "approved", 2),
            ("withdraw", "root", "approved", "withdrawn", 2),
        ]
        assert [e.reason for e in decisions] == [
            "请删除涉密标识",
            "已核实可公开",
            "内容已过时效，撤下处理。\n补充说明",
        ]
        for event in decisions:
            assert event.content_hash and event.hit_count and event.hit_count >= 1
            assert event.risk_score and event.risk_score > 0 and event.lexicon_version
            assert event.created_at is not None
        assert decisions[0].content_hash != decisions[1].content_hash  # each revision's own hash


def test_queue_filters_risk_age_category_and_overdue(database: Database, queue: Queue) -> None:
    with database.session() as session:
        default = [e.item.id for e in queue_entries(session, QueueFilter(), now=LATER)]
        assert default[:2] == [queue.east_hit, queue.west_hit] or default[:2] == [
            queue.west_hit,
            queue.east_hit,
        ]
        assert set(default[2:]) == {*queue.east_clean, queue.west_clean}
        by_age = [e.item.id for e in queue_entries(session, QueueFilter(), order="age", now=LATER)]
        assert by_age == [*queue.east_clean, queue.east_hit, queue.west_clean, queue.west_hit]
        classified = QueueFilter(hit_category="classified")
        assert {e.item.id for e in queue_entries(session, classified)} == {queue.east_hit, queue.west_hit}
        assert count_queue(session, wanted=QueueFilter(min_risk=0.1)) == 2
        assert count_queue(session, wanted=QueueFilter(unit_subtree=queue.east)) == 3
        # Seen at T0+1h .. T0+5h: at T0+4h30 those older than 2 hours are the first three.
        old = QueueFilter(older_than=timedelta(hours=2))
        assert [
            e.item.id
            for e in queue_entries(session, old, order="age", now=T0 + timedelta(hours=4, minutes=30))
        ] == [
            *queue.east_clean,
        ]
        entry = queue_entries(session, QueueFilter(unit_subtree=queue.west), order="age", now=LATER)[0]
        assert entry.age(LATER) == timedelta(hours=20) and entry.hit_count == 0 and entry.revision_number == 1


def test_stats_per_reviewer_and_unit_on_a_seeded_queue(database: Database, queue: Queue) -> None:
    with database.session() as session:
        people = _moderators(session, queue)
        # Items seen at T0+1h..T0+5h; decisions at T0+10h: waits 9h, 8h, 7h, 6h, 5h.
        at = T0 + timedelta(hours=10)
        transition(session, queue.east_clean[0], "approve", people["alice"], now=at)  # 9 h
        transition(
            session, queue.east_clean[1], "reject", people["alice"], reason_code="duplicate", now=at
        )  # 8 h
        transition(
            session, queue.east_hit, "reject", people["bob"], reason_code="classified_marking", now=at
        )  # 7 h
        transition(session, queue.west_clean, "approve", people["bob"], now=at)  # 6 h
        transition(
            session, queue.west_hit, "needs_changes", people["alice"], reason_code="personal_data", now=at
        )
        transition(
            session, queue.west_clean, "withdraw", people["admin"], reason="撤稿", now=at + timedelta(hours=1)
        )
        rows = {(row.group, row.key): row for row in moderation_stats(session)}
        alice, bob, root = rows["reviewer", "alice"], rows["reviewer", "bob"], rows["reviewer", "root"]
        assert (alice.decisions, alice.by_action["approve"], alice.by_action["reject"]) == (3, 1, 1)
        assert alice.median_queue_s == 8 * 3600  # 9 h, 8 h, 5 h
        assert dict(alice.reasons) == {"duplicate": 1, "personal_data": 1}
        assert (bob.decisions, bob.median_queue_s) == (2, 6.5 * 3600)
        assert (root.by_action["withdraw"], root.median_queue_s, dict(root.reasons)) == (1, None, {"-": 1})
        west = rows["unit", "west"]
        assert (west.decisions, west.median_queue_s) == (3, 5.5 * 3600)  # 6 h and 5 h; the withdrawal not
        east_branch, east = rows["unit", "east-branch"], rows["unit", "east"]
        assert (east_branch.decisions, east.decisions) == (2, 1)
        # A unit subtree and a time window narrow the figures.
        east_only = moderation_stats(session, unit_subtree=queue.east)
        assert {(r.group, r.key) for r in east_only} == {
            ("reviewer", "alice"),
            ("reviewer", "bob"),
            ("unit", "east"),
            ("unit", "east-branch"),
        }
        assert [r.key for r in moderation_stats(session, since=at + timedelta(minutes=1))] == ["root", "west"]
        csv_text = stats_csv(moderation_stats(session))
        lines = csv_text.splitlines()
        assert lines[0].startswith("group,key,name,decisions,approve,approve_first,auto_approve,reject")
        assert "reviewer,alice,alice,3,1,0,0,1,1,0,28800.0,duplicate=1; personal_data=1" in lines


def test_two_reviewers_claiming_at_once_one_wins(database: Database, queue: Queue) -> None:
    """Both sessions read the item unclaimed; the second conditional UPDATE matches nothing."""
    item_id = queue.east_clean[0]
    first, second = database.sessions(), database.sessions()
    try:
        assert first.get(Item, item_id) is not None and second.get(Item, item_id) is not None
        first.commit()
        second.commit()
        claim_item(first, item_id, "alice", CLAIM)
        first.commit()
        with pytest.raises(Claimed, match="alice"):
            claim_item(second, item_id, "bob", CLAIM)
        second.rollback()
    finally:
        first.close()
        second.close()
    with database.session() as session:
        item = session.get(Item, item_id)
        assert item is not None and item.claimed_by == "alice"
