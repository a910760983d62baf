"""The search conformance suite (docs/search.md, issue 5): every scenario on every backend.

``search_backend`` runs each test on the embedded index, on Elasticsearch through osmem and, when
XINLIAN_TEST_ES_URL is set, on a real cluster. The corpus and the expected answers are plain data in
tests/fixtures/search_scenarios.py, written from docs/search.md rather than from any backend's output.
A backend that cannot do something the way the others do must say so under "Differences between
backends" in docs/search.md; the one test concerned is then marked xfail for that backend only.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.timeutil import utcnow
from index.backend import InvalidCursor, SearchBackend, SearchDocument, SearchHit, SearchQuery, SearchResult
from tests.fixtures.search import make_document
from tests.fixtures.search_scenarios import (
    ALL_IDS,
    BROWSE_ORDER,
    BY_STATE,
    CORPUS,
    DONE_WHEN,
    FACETS,
    PUBLIC_IDS,
    REPOSTS_OF_1,
    SEARCHES,
    STAFF_ORDER,
    SUGGESTIONS,
    UNITS,
    Expect,
    q,
)

BACKEND_NAMES = {"embedded": "embedded", "osmem": "elasticsearch", "realcluster": "elasticsearch"}


@pytest.fixture
def corpus(search_backend: SearchBackend) -> SearchBackend:
    """The backend holding the scenario corpus."""
    search_backend.upsert(CORPUS)
    return search_backend


def hit_ids(result: SearchResult) -> list[int]:
    return [hit.item_id for hit in result.hits]


def ids(backend: SearchBackend, text: str = "", **options: object) -> list[int]:
    """Every hit of a query, checking that the total agrees with them."""
    result = backend.search(q(text, **options))
    assert result.total == len(result.hits)
    return hit_ids(result)


def check(backend: SearchBackend, expect: Expect) -> None:
    """The backend answers ``expect.query`` with exactly ``expect.ids`` (and order, counts where defined)."""
    result = backend.search(expect.query)
    found = hit_ids(result)
    assert len(found) == len(set(found)), f"duplicate hits: {found}"
    if expect.ordered:
        assert found == list(expect.ids)
    else:
        assert sorted(found) == sorted(expect.ids)
    assert result.total == len(expect.ids)
    assert result.next_cursor is None  # everything fitted on this page
    for higher, lower in expect.above:
        assert found.index(higher) < found.index(lower), f"{higher} should rank above {lower}: {found}"
    if expect.query.collapse_reposts:
        assert {hit.item_id: hit.repost_count for hit in result.hits if hit.repost_count} == expect.reposts


def hit_of(result: SearchResult, item_id: int) -> SearchHit:
    [hit] = [hit for hit in result.hits if hit.item_id == item_id]
    return hit


# -- Issue 5, "done when": each returns exactly the expected documents on every backend ------------------


def test_done_when_two_character_chinese_query_finds_exactly_its_documents(corpus: SearchBackend) -> None:
    check(corpus, DONE_WHEN["two_chinese_characters"])


def test_done_when_one_character_query_finds_exactly_its_documents(corpus: SearchBackend) -> None:
    check(corpus, DONE_WHEN["one_chinese_character"])


def test_done_when_english_word_finds_exactly_its_documents(corpus: SearchBackend) -> None:
    check(corpus, DONE_WHEN["english_word"])


def test_done_when_phrase_finds_exactly_its_documents(corpus: SearchBackend) -> None:
    check(corpus, DONE_WHEN["chinese_phrase"])
    check(corpus, DONE_WHEN["quoted_chinese_phrase"])
    check(corpus, DONE_WHEN["english_phrase"])


# -- Words, filters, states, collapsing: tests/fixtures/search_scenarios.py SEARCHES ---------------------


@pytest.mark.parametrize("expect", SEARCHES, ids=[expect.name for expect in SEARCHES])
def test_search_scenario(corpus: SearchBackend, expect: Expect) -> None:
    check(corpus, expect)


def test_every_public_hit_is_approved_and_staff_see_every_state(corpus: SearchBackend) -> None:
    public = corpus.search(q(collapse_reposts=False))
    assert {hit.item_id for hit in public.hits} == PUBLIC_IDS
    assert {hit.state for hit in public.hits} == {"approved"}
    staff = corpus.search(q(states=None, collapse_reposts=False))
    assert {hit.item_id for hit in staff.hits} == ALL_IDS
    assert {hit.item_id: hit.state for hit in staff.hits} == {doc.item_id: doc.state for doc in CORPUS}


def test_recency_boost_keeps_the_hits(corpus: SearchBackend) -> None:
    for text in ("党", "wifi", "党费 OR wifi -社区"):
        plain, boosted = corpus.search(q(text)), corpus.search(q(text, recency_boost=True))
        assert sorted(hit_ids(boosted)) == sorted(hit_ids(plain)) and boosted.total == plain.total


def test_recency_boost_lifts_a_recent_document_over_a_slightly_better_old_one(
    search_backend: SearchBackend,
) -> None:
    # Same fields, same lengths; the old one says 台风 three times in its body, the recent one once, so the
    # old one scores higher, but by less than the factor of two a one-day-old document gets from the boost
    # (score × (1 + 0.5^(age/90)): ~1.99 against ~1.0 at three years).
    now = utcnow()
    filler = "各单位要按照防汛防台工作要求，落实值班值守，加强巡查，及时报告险情，确保人员安全。"
    old = make_document(
        1, title="台风防御演练", text=f"台风{filler}台风{filler}台风", published_at=now - timedelta(days=1100)
    )
    recent = make_document(
        2, title="台风防御演练", text=f"台风{filler}防汛{filler}防台", published_at=now - timedelta(days=1)
    )
    others = [make_document(n, title=f"其他通知{n}", text=filler, published_at=now) for n in range(3, 9)]
    search_backend.upsert([old, recent, *others])
    assert ids(search_backend, "台风") == [1, 2]  # by score: the date alone would put 2 first
    assert ids(search_backend, "台风", recency_boost=True) == [2, 1]
    assert ids(search_backend, "台风", sort="date", recency_boost=True) == [2, 1]


# -- Facets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "query", "expected"), FACETS, ids=[facet[0] for facet in FACETS])
def test_facets_count_every_matching_document(
    corpus: SearchBackend, name: str, query: SearchQuery, expected: dict[str, list[tuple[str, int]]]
) -> None:
    result = corpus.search(query)
    assert set(result.facets) == set(expected), name
    for facet, buckets in expected.items():
        assert [(bucket.value, bucket.count) for bucket in result.facets[facet]] == buckets, facet
    for bucket in result.facets["unit"]:
        assert bucket.label == UNITS[int(bucket.value)].name


def test_facets_keep_the_top_twenty_largest_first_ties_by_value(search_backend: SearchBackend) -> None:
    # Unit 30 + k has k documents (k = 1..25); the 325 documents spread evenly over 25 categories.
    documents: list[SearchDocument] = []
    for k in range(1, 26):
        for _ in range(k):
            index = len(documents)
            documents.append(
                make_document(
                    index + 1,
                    unit_id=30 + k,
                    unit_name=f"支部{k:02d}",
                    unit_ancestors=[1, 30 + k],
                    category=f"c{index % 25 + 1:02d}",
                    title=f"通知 {index}",
                )
            )
    search_backend.upsert(documents)
    result = search_backend.search(SearchQuery(facets=True, limit=1))
    assert result.total == len(documents) == 325
    assert [(b.value, b.label, b.count) for b in result.facets["unit"]] == [
        (str(30 + k), f"支部{k:02d}", k) for k in range(25, 5, -1)
    ]
    assert [(b.value, b.count) for b in result.facets["category"]] == [
        (f"c{c:02d}", 13) for c in range(1, 21)
    ]


def test_filters_match_whole_ids_and_codes_not_prefixes(search_backend: SearchBackend) -> None:
    search_backend.upsert(
        [
            make_document(
                1, unit_id=11, unit_ancestors=[1, 11], region_path=["3301", "330111"], category="news"
            ),
            make_document(2, unit_id=111, unit_ancestors=[1, 111], region_path=["3301", "33011"]),
            make_document(3, unit_id=21, unit_ancestors=[2, 21], region_path=["4401"], source_id=11),
            make_document(4, unit_id=1, unit_ancestors=[1], region_path=["3301"], category="newsletter"),
        ]
    )
    subtrees = {unit: sorted(ids(search_backend, unit_subtree=unit)) for unit in (1, 11, 111, 2, 21, 12)}
    assert subtrees == {1: [1, 2, 4], 11: [1], 111: [2], 2: [3], 21: [3], 12: []}
    regions = {
        code: sorted(ids(search_backend, region=code)) for code in ("3301", "33011", "330111", "330", "4401")
    }
    assert regions == {"3301": [1, 2, 4], "33011": [2], "330111": [1], "330": [], "4401": [3]}
    assert sorted(ids(search_backend, source_id=1)) == [1, 2, 4] and ids(search_backend, source_id=11) == [3]
    assert ids(search_backend, category="news") == [1]


def test_facets_cover_all_matches_not_just_the_page(corpus: SearchBackend) -> None:
    result = corpus.search(SearchQuery(facets=True, limit=2))
    assert len(result.hits) == 2 and result.total == len(BROWSE_ORDER)
    assert sum(bucket.count for bucket in result.facets["level"]) == len(BROWSE_ORDER)


def test_facets_only_when_asked(corpus: SearchBackend) -> None:
    assert corpus.search(q("党费")).facets == {}


# -- Snippets and hit fields ---------------------------------------------------------------------------


def test_snippet_marks_a_two_character_word(corpus: SearchBackend) -> None:
    hit = hit_of(corpus.search(q("党费")), 35)
    assert hit.snippet == "公示本学期<mark>党费</mark>交纳情况。"


def test_snippet_marks_one_character_inside_words(corpus: SearchBackend) -> None:
    result = corpus.search(q("党"))
    assert hit_of(result, 16).snippet == "学校开展爱<mark>党</mark>爱国主题教育。"
    assert hit_of(result, 17).snippet == "会议强调：<mark>党</mark>，是领导一切的。"


def test_snippet_marks_the_original_full_width_text(corpus: SearchBackend) -> None:
    assert hit_of(corpus.search(q("wifi")), 12).snippet == "西区完成<mark>ＷＩＦＩ</mark>覆盖，覆盖主要街道。"


def test_snippet_escapes_markup(corpus: SearchBackend) -> None:
    [hit] = corpus.search(q("规划")).hits
    assert (
        hit.snippet == "<mark>规划</mark>公示期间征求意见 &lt;script&gt;alert(1)&lt;/script&gt; &amp; 反馈。"
    )


def test_title_is_marked_whole(corpus: SearchBackend) -> None:
    result = corpus.search(q("wifi"))
    assert hit_of(result, 8).title_marked == "社区公共<mark>WiFi</mark>开通"
    assert hit_of(result, 9).title_marked == "社区公共网络开通"  # a body match marks nothing in the title
    result = corpus.search(q("党"))
    assert hit_of(result, 16).title_marked == "爱<mark>党</mark>爱国教育进校园"
    assert hit_of(result, 7).title_marked == "第一<mark>党</mark>支部三月主题<mark>党</mark>日"


def test_hit_carries_what_a_result_line_shows(corpus: SearchBackend) -> None:
    [hit] = corpus.search(q("规划")).hits
    doc = next(doc for doc in CORPUS if doc.item_id == 14)
    assert (hit.item_id, hit.title, hit.url) == (14, "城市建设规划公示", doc.url)
    assert (hit.unit_id, hit.unit_name, hit.unit_slug, hit.source_name) == (3, "西区", "west", "西区网站")
    assert (hit.category, hit.state, hit.has_attachments) == ("notice", "approved", False)
    assert hit.published_at == doc.published_at and hit.sort_date == doc.published_at
    [seen] = corpus.search(q("志愿")).hits  # 15: never published, only first seen
    assert seen.item_id == 15 and seen.published_at is None
    assert seen.sort_date == next(doc.first_seen_at for doc in CORPUS if doc.item_id == 15)
    assert hit_of(corpus.search(q("环境整治")), 28).has_attachments is True


# -- Pagination ----------------------------------------------------------------------------------------


def walk(backend: SearchBackend, query: SearchQuery) -> list[list[int]]:
    """Every page of ``query`` by following ``next_cursor``; each page keeps the total, the last has None."""
    pages: list[list[int]] = []
    cursor: str | None = None
    total: int | None = None
    while True:
        query.cursor = cursor
        result = backend.search(query)
        total = result.total if total is None else total
        assert result.total == total
        pages.append(hit_ids(result))
        if result.next_cursor is None:
            return pages
        assert result.hits, "a page without hits must be the last one"
        assert len(pages) <= 50, "the cursor never ends"
        cursor = result.next_cursor


def test_offset_pages_slice_the_order(corpus: SearchBackend) -> None:
    for offset in range(0, len(BROWSE_ORDER) + 7, 7):
        result = corpus.search(SearchQuery(limit=7, offset=offset))
        assert result.total == len(BROWSE_ORDER)
        assert hit_ids(result) == list(BROWSE_ORDER[offset : offset + 7])


def test_cursor_walks_date_order_to_the_end(corpus: SearchBackend) -> None:
    pages = walk(corpus, SearchQuery(limit=7))
    assert [len(page) for page in pages] == [7, 7, 7, 4]
    assert [item for page in pages for item in page] == list(BROWSE_ORDER)


def test_cursor_last_full_page_has_no_cursor(corpus: SearchBackend) -> None:
    # 25 hits in pages of 5: the fifth page is the last, though it is full.
    pages = walk(corpus, SearchQuery(limit=5))
    assert [item for page in pages for item in page] == list(BROWSE_ORDER)
    assert [len(page) for page in pages] == [5, 5, 5, 5, 5]


def test_cursor_walks_every_state_uncollapsed(corpus: SearchBackend) -> None:
    pages = walk(corpus, SearchQuery(limit=10, states=None, collapse_reposts=False))
    assert [item for page in pages for item in page] == list(STAFF_ORDER)


def test_cursor_walks_words_in_date_order(corpus: SearchBackend) -> None:
    expect = next(expect for expect in SEARCHES if expect.name == "one character in date order")
    pages = walk(corpus, SearchQuery(text="党", sort="date", limit=4))
    assert [len(page) for page in pages] == [4, 4, 4]
    assert [item for page in pages for item in page] == list(expect.ids)


def test_cursor_walks_relevance_order_without_loss_or_repeat(corpus: SearchBackend) -> None:
    full = ids(corpus, "党")
    assert sorted(full) == sorted(DONE_WHEN["one_chinese_character"].ids)
    pages = walk(corpus, SearchQuery(text="党", limit=5))
    assert [item for page in pages for item in page] == full


def test_cursor_ignores_the_offset(corpus: SearchBackend) -> None:
    first = corpus.search(SearchQuery(limit=7))
    assert first.next_cursor is not None
    with_offset = corpus.search(SearchQuery(limit=7, offset=3, cursor=first.next_cursor))
    assert hit_ids(with_offset) == list(BROWSE_ORDER[7:14])


def test_cursor_of_another_sort_is_refused(corpus: SearchBackend) -> None:
    by_date = corpus.search(SearchQuery(text="党", sort="date", limit=3)).next_cursor
    by_relevance = corpus.search(SearchQuery(text="党", sort="relevance", limit=3)).next_cursor
    assert by_date is not None and by_relevance is not None
    with pytest.raises(InvalidCursor):
        corpus.search(SearchQuery(text="党", sort="relevance", limit=3, cursor=by_date))
    with pytest.raises(InvalidCursor):
        corpus.search(SearchQuery(text="党", sort="date", limit=3, cursor=by_relevance))
    with pytest.raises(InvalidCursor):
        corpus.search(SearchQuery(text="党", limit=3, cursor="not a cursor"))


def test_limit_keeps_the_total(corpus: SearchBackend) -> None:
    result = corpus.search(SearchQuery(text="党", sort="date", limit=2, offset=1))
    assert result.total == len(DONE_WHEN["one_chinese_character"].ids)
    assert hit_ids(result) == [10, 35]


# -- Suggestions and related items ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "states", "titles"),
    SUGGESTIONS,
    ids=[f"{s[0]}-{'public' if s[1] else 'all'}" for s in SUGGESTIONS],
)
def test_suggest(
    corpus: SearchBackend, prefix: str, states: tuple[str, ...] | None, titles: list[str]
) -> None:
    suggestions = corpus.suggest(prefix, states=states)
    assert [suggestion.title for suggestion in suggestions] == titles
    by_id = {doc.item_id: doc for doc in CORPUS}
    for suggestion in suggestions:
        assert by_id[suggestion.item_id].title == suggestion.title


def test_suggest_respects_the_limit(corpus: SearchBackend) -> None:
    assert [s.title for s in corpus.suggest("党费", limit=2)] == ["学校党费公示", "党费收缴工作推进会召开"]


def test_related_leaves_out_the_repost_group_and_puts_the_closest_first(corpus: SearchBackend) -> None:
    for item_id in (1, 3):  # the original, and one of its reposts: the group is the same
        related = corpus.related(item_id, limit=5)
        found = [hit.item_id for hit in related]
        assert not set(found) & ({1} | REPOSTS_OF_1), found
        assert set(found[:2]) == {6, 23}, found  # the two 党费收缴工作推进会 notices
        assert {hit.state for hit in related} == {"approved"}
        assert len(found) == len(set(found)) <= 5


def test_related_finds_the_same_title_first(corpus: SearchBackend) -> None:
    found = [hit.item_id for hit in corpus.related(6)]
    assert found[0] == 23 and 6 not in found


def test_related_collapses_reposts_behind_their_original(corpus: SearchBackend) -> None:
    # Notice 1 and its reposts all share words with 6: the original stands for them, once.
    for states in (("approved",), None):
        found = [hit.item_id for hit in corpus.related(6, limit=10, states=states)]
        assert 1 in found, found
        assert not REPOSTS_OF_1 & set(found), found


def test_related_follows_the_states(corpus: SearchBackend) -> None:
    # 22 reposts the pending 21 without collapsing into it: they are two groups.
    assert not {21, 22} & {hit.item_id for hit in corpus.related(22)}
    assert corpus.related(22, states=None)[0].item_id == 21
    assert not ({1} | REPOSTS_OF_1) & {hit.item_id for hit in corpus.related(2, states=None)}


def test_repost_count_is_the_number_of_distinct_reposting_units(search_backend: SearchBackend) -> None:
    # "Also reposted by N units": unit 2 carries the notice on its website and its account (one unit),
    # unit 3 once; unit 4's repost is pending, so only staff, who see every state, count it.
    def repost(item_id: int, unit_id: int, source_id: int, state: str = "approved") -> SearchDocument:
        return make_document(
            item_id, title="转载：汛期值班安排", unit_id=unit_id, unit_ancestors=[1, unit_id],
            source_id=source_id, collapse_into=900, state=state,
        )  # fmt: skip

    search_backend.upsert(
        [
            make_document(900, title="汛期值班安排"),
            repost(901, 2, 20),
            repost(902, 2, 21),
            repost(903, 3, 30),
            repost(904, 4, 40, state="pending"),
        ]
    )
    assert hit_of(search_backend.search(q("值班")), 900).repost_count == 2
    assert hit_of(search_backend.search(q("值班", states=None)), 900).repost_count == 3


# -- Stats, health, writes -----------------------------------------------------------------------------


def test_count_stats_and_health(request: pytest.FixtureRequest, corpus: SearchBackend) -> None:
    assert corpus.count() == len(CORPUS)
    stats = corpus.stats()
    assert stats.backend == BACKEND_NAMES[request.node.callspec.params["search_backend"]]
    assert stats.documents == len(CORPUS)
    assert {state: count for state, count in stats.by_state.items() if count} == BY_STATE
    assert stats.location
    health = corpus.health()
    assert health.ok, health.detail


def test_empty_index(search_backend: SearchBackend) -> None:
    result = search_backend.search(SearchQuery(text="党费", facets=True))
    assert (result.total, result.hits, result.next_cursor) == (0, [], None)
    assert search_backend.count() == 0 and search_backend.stats().documents == 0
    assert search_backend.suggest("党") == []


def test_older_version_never_overwrites_newer(search_backend: SearchBackend) -> None:
    search_backend.upsert([make_document(9, version=3, title="新版 标题")])
    search_backend.upsert([make_document(9, version=2, title="旧版 标题")])
    assert ids(search_backend, "新版") == [9]
    assert ids(search_backend, "旧版") == []
    result = search_backend.bulk([make_document(9, version=1, title="更旧 标题")], [])
    assert 9 not in result.failed  # a stale write is not a failure: the outbox must not retry it forever
    assert ids(search_backend, "更旧") == []
    search_backend.upsert([make_document(9, version=4, title="终版 标题")])
    assert ids(search_backend, "终版") == [9]
    assert search_backend.count() == 1


def test_one_call_with_many_documents_and_repeats(search_backend: SearchBackend) -> None:
    # The drainer hands over hundreds of documents at once; the newest version of each item wins.
    documents = [make_document(n, version=1, title=f"批量 文档{n}") for n in range(1, 1201)]
    documents += [
        make_document(7, version=3, title="第三版 标题"),
        make_document(7, version=2, title="第二版 标题"),
    ]
    search_backend.upsert(documents)
    assert search_backend.count() == 1200
    assert ids(search_backend, "第三版") == [7]
    assert ids(search_backend, "第二版") == []
    search_backend.delete([7, 8, 99999])
    assert search_backend.count() == 1198


def test_delete_removes_and_ignores_unknown_ids(corpus: SearchBackend) -> None:
    corpus.delete([1, 999])
    assert corpus.count() == len(CORPUS) - 1
    # The reposts still point at 1 and stay collapsed until the outbox reindexes them.
    assert sorted(ids(corpus, "党费收缴")) == [6, 23]
    assert ids(corpus, "附件") == []


def test_bulk_writes_and_deletes_in_one_call(corpus: SearchBackend) -> None:
    changed = make_document(8, version=2, title="社区公共WiFi开通仪式", text="和平社区举行开通仪式。")
    added = make_document(40, title="新增 批量 文档", published_at=CORPUS[0].published_at)
    result = corpus.bulk([changed, added], [9, 14])
    assert (result.written, result.failed) == (4, {})  # two written, two deleted
    assert corpus.count() == len(CORPUS) + 1 - 2
    assert ids(corpus, "仪式") == [8]
    assert sorted(ids(corpus, "wifi")) == [8, 11, 12]
    assert ids(corpus, "批量") == [40]
    assert ids(corpus, "规划") == []


def test_rebuild_replaces_everything(corpus: SearchBackend) -> None:
    assert corpus.rebuild([make_document(20, title="重建 索引")]) == 1
    assert corpus.count() == 1
    assert ids(corpus, "重建") == [20]
    assert ids(corpus, "党建") == []
    corpus.upsert([make_document(21, title="重建 之后")])  # writes go to the new index
    assert set(ids(corpus, "重建")) == {20, 21}
