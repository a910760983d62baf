"""Reposts in batches: fingerprint quality, batch linking, changed items, and the bounds on the work."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db import Database
from hub.fingerprint import normalized_text, similarity, sketch
from hub.ingest import ingest
from hub.ingestbatch import ingest_batch
from hub.models import Item, ItemFingerprintKey, Source
from hub.rawitem import RawItem
from hub.reposts import BUCKET_CAP, RepostPolicy, configure_reposts, link_reposts_by_id
from hub.settings import Settings
from tests.test_reposts import NOTICE, OTHER, _units, repost_text

DROUGHT = (
    NOTICE.replace("防汛抗旱", "抗旱")
    .replace("防汛", "抗旱")
    .replace(
        "对水库、河道、地质灾害隐患点开展拉网式排查，建立台账，限期整改。",
        "对缺水村组逐户摸排，组织送水车辆，必要时启用应急水源。",
    )
)
SMALL_EDITS = NOTICE.replace("拉网式", "全面").replace("紧迫感", "使命感")


def _exact(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' normalized 3-gram sets (what a sketch estimates)."""
    left, right = normalized_text(a), normalized_text(b)
    x = {left[i : i + 3] for i in range(len(left) - 2)}
    y = {right[i : i + 3] for i in range(len(right) - 2)}
    return len(x & y) / len(x | y)


def _similarity(a: str, b: str) -> float:
    first, second = sketch(a), sketch(b)
    assert first is not None and second is not None
    return similarity(first, second)


def test_the_estimate_separates_reposts_edits_templates_and_other_notices() -> None:
    threshold = RepostPolicy().min_similarity
    reposts = [repost_text(i) for i in range(3)]  # 转载 line, editor's footer, a word added
    assert all(_similarity(NOTICE, copy) >= 0.9 for copy in reposts)
    assert _similarity(NOTICE, SMALL_EDITS) >= 0.85 > threshold
    assert _similarity(NOTICE, DROUGHT) < threshold  # same template, another topic (Jaccard ~0.63)
    assert _similarity(NOTICE, OTHER) < 0.3
    assert "转载" not in normalized_text(reposts[0]) and "责任编辑" not in normalized_text(reposts[1])


def test_the_estimate_tracks_the_true_jaccard_similarity() -> None:
    rng = random.Random(3)
    lines, others = NOTICE.splitlines()[1:-1], OTHER.splitlines()
    errors = []
    for _ in range(100):
        base = [rng.choice(lines) for _ in range(6)]
        mixed = [line if rng.random() < 0.7 else rng.choice(others) for line in base]
        a, b = "\n".join(base), "\n".join(mixed)
        errors.append(_similarity(a, b) - _exact(a, b))
    assert abs(sum(errors) / len(errors)) < 0.03  # unbiased
    assert max(abs(error) for error in errors) < 0.15  # ~4 standard errors of a 128-slot sketch


def test_sketches_are_the_same_in_another_process() -> None:
    code = "import sys; from hub.fingerprint import sketch; print(sketch(sys.stdin.read()).tobytes().hex())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", code], input=NOTICE, capture_output=True, text=True, env=env, check=True
    )
    mine = sketch(NOTICE)
    assert mine is not None and done.stdout.strip() == mine.tobytes().hex()


def _raw(source: Source, text: str, day: int, slug: str, number: int = 1) -> RawItem:
    return RawItem(
        source_id=source.id,
        url=f"http://127.0.0.1:1/{slug}/a/{number}.html",
        title="关于做好2024年防汛工作的通知",
        text=text,
        html="".join(f"<p>{line}</p>" for line in text.splitlines()),
        published_at=datetime(2024, 5, day, 2, 0, tzinfo=UTC),
        date_source="label",
    )


def _links(session: Session) -> dict[str, int | None]:
    urls = dict(session.execute(select(Item.id, Item.url)).all())
    return {
        urls[item_id].split("/")[3]: (urls[target].split("/")[3] if target else None)
        for item_id, target in session.execute(select(Item.id, Item.repost_of_id))
    }


def test_a_city_notice_and_three_branch_reposts_in_one_batch(database: Database) -> None:
    with database.session() as session:
        city, *branches = _units(session, 4)
        # The branches' copies come first in the batch; the city's notice is older and wins.
        raws = [_raw(branch, repost_text(i), 7 + i, f"b{i}") for i, branch in enumerate(branches)]
        raws.append(_raw(city, NOTICE, 6, "city"))
        raws.append(_raw(branches[0], OTHER, 8, "b0other"))
        assert [outcome.status for outcome in ingest_batch(session, raws) if outcome] == ["new"] * 5
    with database.session() as session:
        assert _links(session) == {"b0": "city", "b1": "city", "b2": "city", "city": None, "b0other": None}


def test_two_branch_reposts_in_one_batch_link_to_each_other(database: Database) -> None:
    with database.session() as session:
        _city, first, second = _units(session, 3)
        ingest_batch(session, [_raw(second, repost_text(1), 8, "b2"), _raw(first, repost_text(2), 7, "b1")])
    with database.session() as session:
        assert _links(session) == {"b2": "b1", "b1": None}


def test_batch_linking_matches_one_by_one(database: Database) -> None:
    """The same raws one by one, then (rolled back) as one batch: the same links."""
    texts = [NOTICE, repost_text(0), OTHER, DROUGHT, repost_text(1), SMALL_EDITS, repost_text(2)]
    days = [9, 7, 6, 8, 6, 10, 7]
    with database.session() as session:
        sources = _units(session, 4)
        raws = [
            _raw(sources[i % 4], text, day, f"s{i}")
            for i, (text, day) in enumerate(zip(texts, days, strict=True))
        ]
        results = []
        for one_by_one in (True, False):
            savepoint = session.begin_nested()
            if one_by_one:
                for raw in raws:
                    ingest(session, raw)
            else:
                ingest_batch(session, raws)
            results.append(_links(session))
            savepoint.rollback()
    assert results[0] == results[1]
    assert results[0]["s1"] is not None and results[0]["s2"] is None


def test_a_changed_item_is_linked_again(database: Database) -> None:
    with database.session() as session:
        city, branch, other_branch = _units(session, 3)
        original = ingest(session, _raw(city, NOTICE, 6, "city")).item_id
        copy = ingest(session, _raw(branch, OTHER, 7, "b")).item_id
        assert session.get(Item, copy).repost_of_id is None  # type: ignore[union-attr]
        # The branch page is edited into a repost of the city notice: a new revision, now linked.
        assert ingest(session, _raw(branch, repost_text(0), 7, "b")).status == "updated"
        assert session.get(Item, copy).repost_of_id == original  # type: ignore[union-attr]
        # ... and edited again into another notice: no longer a repost.
        assert ingest(session, _raw(branch, DROUGHT, 7, "b")).status == "updated"
        assert session.get(Item, copy).repost_of_id is None  # type: ignore[union-attr]
        third = ingest(session, _raw(other_branch, repost_text(1), 8, "c")).item_id
        # The city edits its notice: the branch's copy of the earlier version still reposts it.
        assert ingest(session, _raw(city, SMALL_EDITS + "\n附件：排查表", 6, "city")).status == "updated"
    with database.session() as session:
        stored = dict(session.execute(select(Item.id, Item.repost_of_id)).all())
        assert stored == {original: None, copy: None, third: original}


def test_a_changed_original_older_than_another_group_brings_its_reposts(database: Database) -> None:
    with database.session() as session:
        city, first, second = _units(session, 3)
        notice = ingest(session, _raw(city, OTHER, 5, "city")).item_id
        copy = ingest(session, _raw(first, NOTICE, 7, "b1")).item_id  # an original of its own ...
        reposts = ingest(session, _raw(second, repost_text(0), 8, "b2")).item_id  # ... with a repost
        assert session.get(Item, reposts).repost_of_id == copy  # type: ignore[union-attr]
        # The city's page turns out to carry the notice (an edit): it is older, so the group is its.
        ingest(session, _raw(city, NOTICE, 5, "city"))
    with database.session() as session:
        stored = dict(session.execute(select(Item.id, Item.repost_of_id)).all())
        assert stored == {notice: None, copy: notice, reposts: notice}


def test_buckets_stay_bounded_on_a_template_corpus(database: Database) -> None:
    """Two hundred notices of one template: no band key indexes more than BUCKET_CAP items, and a
    repost of a late notice still finds it."""
    rng = random.Random(5)
    fillers = OTHER.splitlines()
    with database.session() as session:
        sources = _units(session, 5)
        texts = []
        for number in range(200):
            topic = "".join(rng.choice(fillers)[:12] for _ in range(2)) + f"第{number}号"
            texts.append(NOTICE.replace("防汛抗旱工作", topic).replace("限期整改", topic))
        ingest_batch(session, [_raw(sources[n % 4], t, 6, f"s{n}", n) for n, t in enumerate(texts)])
        late = session.scalars(select(Item).where(Item.url.endswith("/s190/a/190.html"))).one()
        ingest_batch(session, [_raw(sources[4], "转载自：市政府\n" + texts[190], 7, "copy")])
        biggest = session.scalar(
            select(
                func.max(
                    select(func.count())
                    .select_from(ItemFingerprintKey)
                    .group_by(ItemFingerprintKey.key)
                    .subquery()
                    .c[0]
                )
            )
        )
        copy = session.scalars(select(Item).where(Item.url.endswith("/copy/a/1.html"))).one()
        assert copy.repost_of_id is not None and copy.repost_of_id == (late.repost_of_id or late.id)
    assert biggest == BUCKET_CAP  # reached, never passed


def test_the_policy_comes_from_settings(settings: Settings, database: Database) -> None:
    strict = settings.model_copy(
        update={"crawl": settings.crawl.model_copy(update={"repost_min_similarity": 0.95})}
    )
    policy = configure_reposts(database.sessions, strict)  # as the crawl process, web app and CLI do
    assert policy == RepostPolicy(min_similarity=0.95, zone=settings.timezone)
    with database.session() as session:
        city, branch, other = _units(session, 3)
        ingest(session, _raw(city, NOTICE, 6, "city"))
        edited = ingest(session, _raw(branch, SMALL_EDITS, 7, "b")).item_id  # J ~0.91: below 0.95 here
        ingest_batch(session, [_raw(other, SMALL_EDITS, 8, "c")])
        assert session.get(Item, edited).repost_of_id is None  # type: ignore[union-attr]
        # An explicit policy wins over the configured one.
        link_reposts_by_id(session, [edited], RepostPolicy())
        assert session.get(Item, edited).repost_of_id is not None  # type: ignore[union-attr]
    with database.session() as session:
        linked = session.scalars(select(Item.url).where(Item.repost_of_id.is_not(None))).all()
        # The batch's item copies the edited one exactly: it follows it into the city's group.
        assert sorted(url.split("/")[3] for url in linked) == ["b", "c"]


def test_a_sketch_does_not_depend_on_the_other_texts_of_its_batch() -> None:
    # Batch ingest sketches raws before its transaction, in other groupings than the linker would.
    from hub.fingerprint import sketches

    texts = [f"关于做好第{n}季度安全生产检查工作的通知，各单位要高度重视，认真组织。" * 3 for n in range(4)]
    texts.insert(2, "太短")
    together, valid = sketches(texts)
    for n, text in enumerate(texts):
        alone, ok = sketches([text])
        assert bool(ok[0]) == bool(valid[n])
        assert (alone[0] == together[n]).all()
