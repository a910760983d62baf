"""Search behaviour, the same on every backend (embedded FTS5, Elasticsearch on osmem, a real cluster)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from index.backend import SearchBackend, SearchQuery
from tests.fixtures.search import make_document


def _at(month: int, day: int = 1) -> datetime:
    return datetime(2024, month, day, tzinfo=UTC)


CORPUS = [
    make_document(
        1,
        title="加强党建工作部署会召开",
        text="会议强调要加强基层党建，推进WiFi全覆盖。",
        unit_id=5,
        unit_ancestors=[1, 2, 5],
        unit_level="branch",
        category="notice",
        published_at=_at(3),
    ),
    make_document(
        2,
        title="Community WiFi upgrade",
        text="The district upgraded public wifi hotspots for residents. 社区活动",
        unit_id=2,
        unit_ancestors=[1, 2],
        unit_level="district",
        category="news",
        published_at=_at(5),
    ),
    make_document(
        3,
        title="城市建设规划公示",
        text="规划公示期间征求意见 <script>alert(1)</script> & 反馈",
        unit_id=3,
        unit_ancestors=[1, 3],
        unit_level="district",
        category="notice",
        published_at=_at(1, 15),
    ),
    make_document(
        4,
        title="党员志愿服务活动",
        text="志愿者走进社区，开展党员服务。",
        unit_id=7,
        unit_ancestors=[1, 3, 7],
        unit_level="branch",
        published_at=None,
        first_seen_at=_at(6),
    ),
]


@pytest.fixture
def corpus(search_backend: SearchBackend) -> SearchBackend:
    search_backend.upsert(CORPUS)
    return search_backend


def ids(backend: SearchBackend, text: str = "", **filters: object) -> list[int]:
    result = backend.search(SearchQuery(text=text, **filters))  # type: ignore[arg-type]
    assert result.total == len(result.hits)
    return [hit.item_id for hit in result.hits]


def test_chinese_two_character_word_is_found(corpus: SearchBackend) -> None:
    assert ids(corpus, "党建") == [1]
    assert set(ids(corpus, "社区")) == {2, 4}


def test_one_character_query_finds_the_character_anywhere(corpus: SearchBackend) -> None:
    assert set(ids(corpus, "党")) == {1, 4}


def test_english_is_case_and_width_insensitive(corpus: SearchBackend) -> None:
    for query in ("wifi", "WIFI", "ＷｉＦｉ"):
        assert set(ids(corpus, query)) == {1, 2}, query


def test_title_match_ranks_above_body_match(corpus: SearchBackend) -> None:
    assert ids(corpus, "wifi")[0] == 2  # in the title of 2, only in the body of 1


def test_phrase_needs_words_in_order(corpus: SearchBackend) -> None:
    assert ids(corpus, '"public wifi"') == [2]
    assert ids(corpus, '"wifi public"') == []
    assert ids(corpus, '"规划公示"') == [3]


def test_exclusion(corpus: SearchBackend) -> None:
    assert ids(corpus, "wifi -党建") == [2]
    assert set(ids(corpus, "-社区")) == {1, 3}


def test_or(corpus: SearchBackend) -> None:
    assert set(ids(corpus, "党建 OR 规划")) == {1, 3}
    assert ids(corpus, "党建 规划") == []


def test_unit_subtree_filter(corpus: SearchBackend) -> None:
    assert set(ids(corpus, unit_subtree=3)) == {3, 4}
    assert set(ids(corpus, "wifi", unit_subtree=2)) == {1, 2}
    assert ids(corpus, unit_subtree=5) == [1]
    assert set(ids(corpus, unit_subtree=1)) == {1, 2, 3, 4}


def test_level_and_category_filters(corpus: SearchBackend) -> None:
    assert set(ids(corpus, unit_level="branch")) == {1, 4}
    assert set(ids(corpus, category="notice")) == {1, 3}
    assert ids(corpus, "wifi", category="notice") == [1]


def test_date_sort_and_range(corpus: SearchBackend) -> None:
    # Newest first; an item without a publication date sorts by when it was first seen.
    assert ids(corpus) == [4, 2, 1, 3]
    assert ids(corpus, "wifi", sort="date") == [2, 1]
    assert ids(corpus, date_from=_at(2), date_to=_at(5, 2)) == [2, 1]


def test_paging_keeps_the_total(corpus: SearchBackend) -> None:
    result = corpus.search(SearchQuery(limit=2, offset=1))
    assert result.total == 4
    assert [hit.item_id for hit in result.hits] == [2, 1]


def test_snippet_marks_matches_and_escapes_the_rest(corpus: SearchBackend) -> None:
    [hit] = corpus.search(SearchQuery(text="规划")).hits
    assert "<mark>规划</mark>" in hit.snippet
    assert "&lt;script&gt;" in hit.snippet and "&amp;" in hit.snippet
    assert "<script>" not in hit.snippet
    assert hit.title == "城市建设规划公示" and hit.url.endswith("/item/3") and hit.unit_id == 3


def test_older_version_never_overwrites_newer(search_backend: SearchBackend) -> None:
    search_backend.upsert([make_document(9, version=3, title="新版 标题")])
    search_backend.upsert([make_document(9, version=2, title="旧版 标题")])
    assert ids(search_backend, "新版") == [9]
    assert ids(search_backend, "旧版") == []
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
    assert ids(corpus, "党建") == []
    assert corpus.count() == 3


def test_rebuild_replaces_everything(corpus: SearchBackend) -> None:
    assert corpus.rebuild([make_document(20, title="重建 索引")]) == 1
    assert corpus.count() == 1
    assert ids(corpus, "重建") == [20]
    assert ids(corpus, "党建") == []
    corpus.upsert([make_document(21, title="重建 之后")])  # writes go to the new index
    assert set(ids(corpus, "重建")) == {20, 21}
