"""The staff moderation pages (/staff): sign-in redirect and HTTP Basic, risk-first queue, unit scope,
hits marked in place, escaping."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.i18n import Translator
from api.moderation_schemas import HitOut
from api.staff_view import Segment, highlight
from hub.db import Database
from hub.ingest import ingest
from hub.models import Role, Source
from moderation.checks import SEVERITY as CHECK_SEVERITY
from moderation.pii import SEVERITY as PII_SEVERITY
from moderation.screen import DUPLICATE
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import HIT_BODY, T0, Queue, raw, seed_queue

HOSTILE_TITLE = '<img src=x onerror="alert(1)">通知'
# The body's entities become literal markup in the extracted text, right before the classified marking.
HOSTILE_BODY = "<p>&lt;script&gt;alert('x')&lt;/script&gt;此件为内部资料，请勿外传，落实第{n}期工作。</p>"


@pytest.fixture
def queue(database: Database, app: FastAPI) -> Queue:
    seeded = seed_queue(database)
    add_user(database, "alice", Role.MODERATOR)
    add_user(database, "east-mod", Role.MODERATOR, unit_scope_id=seeded.east)
    add_user(database, "watcher", Role.VIEWER)
    return seeded


def auth(name: str) -> tuple[str, str]:
    return (name, STAFF_PASSWORD)


def _row_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr class="queue-row[^"]*" id="item-(\d+)"', html)]


def test_staff_pages_need_staff_auth(client: TestClient, queue: Queue) -> None:
    for path in ("/staff/queue", f"/staff/items/{queue.east_hit}"):
        # Anonymous visitors are sent to the sign-in page, which brings them back here afterwards.
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == f"/staff/login?next={path}"
        assert "内部资料" not in anonymous.text
        assert client.get(path, auth=("alice", "wrong")).status_code == 401
    page = client.get("/staff/queue", auth=auth("alice"))
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store, private"
    assert "noindex" in page.headers["x-robots-tag"]


def test_queue_lists_pending_items_riskiest_first(client: TestClient, queue: Queue) -> None:
    page = client.get("/staff/queue", auth=auth("alice"))
    ids = _row_ids(page.text)
    # Both items with hits first (ties by age: east's came first), then the clean ones oldest first.
    assert ids == [queue.east_hit, queue.west_hit, *queue.east_clean, queue.west_clean]
    assert "超时" in page.text  # seeded in 2024: every item is past the 24 h limit
    oldest = client.get("/staff/queue", params={"order": "age"}, auth=auth("alice"))
    assert _row_ids(oldest.text) == [*queue.east_clean, queue.east_hit, queue.west_clean, queue.west_hit]
    classified = client.get("/staff/queue", params={"hit_category": "classified"}, auth=auth("alice"))
    assert _row_ids(classified.text) == [queue.east_hit, queue.west_hit]
    west = client.get("/staff/queue", params={"unit": queue.west}, auth=auth("alice"))
    assert _row_ids(west.text) == [queue.west_hit, queue.west_clean]


def test_queue_shows_who_holds_a_claim(client: TestClient, queue: Queue) -> None:
    claimed = client.post(f"/api/v1/moderation/items/{queue.west_clean}/claim", auth=auth("alice"))
    assert claimed.status_code == 200
    page = client.get("/staff/queue", params={"claim": "others"}, auth=auth("east-mod"))
    assert _row_ids(page.text) == []  # west is outside east-mod's scope
    page = client.get("/staff/queue", auth=auth("alice"))
    row = page.text.split(f'id="item-{queue.west_clean}"', 1)[1].split("</tr>", 1)[0]
    assert "alice 认领至" in row


def test_district_moderator_sees_only_their_subtree(client: TestClient, queue: Queue) -> None:
    page = client.get("/staff/queue", auth=auth("east-mod"))
    assert set(_row_ids(page.text)) == {queue.east_hit, *queue.east_clean}
    assert "west单位" not in page.text  # neither its items nor the unit in the filter
    assert client.get(f"/staff/items/{queue.west_hit}", auth=auth("east-mod")).status_code == 403
    assert client.get("/staff/queue", params={"unit": queue.west}, auth=auth("east-mod")).status_code == 403


def test_review_page_marks_hits_in_place_and_escapes_item_text(
    client: TestClient, database: Database, queue: Queue
) -> None:
    with database.session() as session:
        source = session.query(Source).filter_by(unit_id=queue.east).one()
        item_id = ingest(session, raw(source, 9, HOSTILE_BODY, title=HOSTILE_TITLE), now=T0).item_id
    view = client.get(f"/api/v1/moderation/items/{item_id}", auth=auth("alice")).json()
    text = view["revision"]["text"]
    hit = next(h for h in view["hits"] if h["field"] == "text" and h["category"] == "classified")
    assert text[hit["start"] : hit["end"]] == "内部资料" and text.startswith("<script>")

    page = client.get(f"/staff/items/{item_id}", auth=auth("alice"))
    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;此件为" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;通知" in html
    body = html.split('id="review-text">', 1)[1].split("</div>", 1)[0]
    marked = re.findall(r"<mark [^>]*>(.*?)</mark>", body)
    assert "内部资料" in marked
    # Unescaped, the body is the revision text with marks exactly at the hit offsets.
    plain = re.sub(r"</?mark[^>]*>", "", body)
    assert plain.replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'") == text
    assert re.search(r"此件为<mark [^>]*>内部资料</mark>，请勿外传", body)
    # Codes are shown by their labels: the hit's category (table and tooltip), the audit trail's action.
    assert re.search(r'<mark class="hit"[^>]* title="涉密: 内部资料 \(\d+\)">内部资料</mark>', body)
    hits_table = html[html.index(">内部资料</td>") :]
    assert hits_table.startswith(">内部资料</td><td>涉密</td>")
    assert "<td>采集入库</td>" in html and ">submitted<" not in html and ">classified<" not in html
    english = client.get(f"/staff/items/{item_id}", params={"lang": "en"}, auth=auth("alice")).text
    assert "<td>Submitted</td>" in english and "<td>Classified</td>" in english
    queue_page = client.get("/staff/queue", params={"lang": "zh-CN"}, auth=auth("alice")).text
    assert '<option value="classified">涉密</option>' in queue_page


def test_viewer_sees_the_queue_without_decision_buttons(client: TestClient, queue: Queue) -> None:
    page = client.get("/staff/queue", auth=auth("watcher"))
    assert page.status_code == 200 and _row_ids(page.text)
    assert 'data-action="approve"' not in page.text and "只能查看" in page.text


def test_highlight_merges_overlapping_hits_and_clamps_offsets() -> None:
    def hit(start: int, end: int, field: str = "text") -> HitOut:
        return HitOut(
            field=field, start=start, end=end, term="t", category="c", severity=1, lexicon_version="v"
        )

    hits = [hit(2, 5), hit(4, 7), hit(9, 99), hit(0, 1, "title"), hit(8, 8)]
    assert highlight("0123456789ab", hits, "text") == [
        Segment("01"),
        Segment("23456", (0, 1)),
        Segment("78"),
        Segment("9ab", (2,)),
    ]
    assert highlight("标题", hits, "title") == [Segment("标", (3,)), Segment("题")]
    assert highlight("", hits, "text") == []


def test_review_page_of_an_edited_item_shows_the_diff_against_the_live_revision(
    client: TestClient, database: Database, queue: Queue
) -> None:
    item_id = queue.west_clean
    assert client.post(f"/api/v1/moderation/items/{item_id}/approve", auth=auth("alice")).status_code == 200
    with database.session() as session:
        source = session.query(Source).filter_by(unit_id=queue.west).one()
        edited = "<p>本社区今天组织志愿者开展环境清洁活动。</p><p>新增：<b>下周继续</b>开展活动。</p>"
        assert ingest(session, raw(source, 4, edited), now=T0).item_id == item_id
    html = client.get(f"/staff/items/{item_id}", auth=auth("alice")).text
    assert 'class="diff"' in html
    assert "<ins>新增：下周继续开展活动。</ins>" in html
    assert "<del>" in html and "共清理卫生死角4处" in html  # the live line, shown as removed


def test_review_page_says_where_hits_are_and_links_the_item_a_duplicate_repeats(
    client: TestClient, database: Database, queue: Queue
) -> None:
    """A hit's place is worded (field label and span), and a duplicate links the item it repeats instead
    of showing the code "item 12"; every category the shipped checks and lexicons give has a label."""
    with database.session() as session:
        west = session.query(Source).filter_by(unit_id=queue.west).one()
        copy_id = ingest(session, raw(west, 3, HIT_BODY), now=T0 + timedelta(hours=9)).item_id  # = east's #3
    view = client.get(f"/api/v1/moderation/items/{copy_id}", auth=auth("alice")).json()
    assert {hit["category"] for hit in view["hits"]} >= {"quality_duplicate", "classified"}

    html = client.get(f"/staff/items/{copy_id}", auth=auth("alice")).text
    table = html[html.index('<table class="hits">') :]
    link = f'<a href="/staff/items/{queue.east_hit}">与 #{queue.east_hit} 重复</a>'
    assert f"<td>整条</td><td>{link}</td><td>重复内容</td>" in table
    assert re.search(r"<td>正文 \d+–\d+</td><td>内部资料</td><td>涉密</td>", table)
    assert f"item {queue.east_hit}" not in table and "quality_duplicate" not in table
    english = client.get(f"/staff/items/{copy_id}", params={"lang": "en"}, auth=auth("alice")).text
    assert f">Same as #{queue.east_hit}</a></td><td>Duplicate</td>" in english

    categories = {DUPLICATE, *CHECK_SEVERITY, *PII_SEVERITY}
    for lexicon in (Path(__file__).parents[1] / "config" / "lexicons").glob("*.txt"):
        rows = (line.split("\t") for line in lexicon.read_text("utf-8").splitlines() if "\t" in line)
        categories |= {row[1] for row in rows if not row[0].startswith("#")}
    assert {"advertising", "classified", "pii_mobile", "link_shortener"} <= categories
    for language in ("zh-CN", "en"):
        translator = Translator(language)
        unlabelled = {c for c in categories if translator.label("hitcat", c) == c}
        assert unlabelled == set(), language


def _reason_options(html: str) -> dict[str, str]:
    dialog = html[html.index('id="reason-dialog"') :]
    return dict(re.findall(r'<option value="(\w+)"[^>]*>([^<]*)</option>', dialog))


def test_the_reason_dialog_speaks_the_page_language(client: TestClient, queue: Queue) -> None:
    """The shipped reasons carry an English label (``label_en``): staff reading in English pick from
    English labels; the template recorded and sent to the source stays in the organization's language."""
    chinese = _reason_options(client.get("/staff/queue", auth=auth("alice")).text)
    english = _reason_options(client.get("/staff/queue", params={"lang": "en"}, auth=auth("alice")).text)
    assert chinese["personal_data"] == "含个人信息"
    assert english["personal_data"] == "Contains personal data"
    assert english.keys() == chinese.keys() and len(english) >= 10
    assert [label for label in english.values() if re.search(r"[\u4e00-\u9fff]", label)] == []
    review = client.get(f"/staff/items/{queue.east_hit}", params={"lang": "en"}, auth=auth("alice")).text
    assert _reason_options(review) == english
