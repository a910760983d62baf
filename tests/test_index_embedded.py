"""The embedded (tantivy) backend beyond the shared suite: versions, per-item failures, several
processes on one directory (visibility, the writer lock), rebuild under continuous searching, upkeep.

Other processes are real subprocesses (``_PEER``) driven line by line over stdin/stdout, so nothing
here waits on a clock: each step waits for the peer's answer.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from index.analysis import parse_query
from index.backend import SearchBackendError, SearchDocument, SearchQuery
from index.embedded import EmbeddedBackend
from index.embedded_snippet import page_snippet
from index.snippet import make_snippet
from tests.fixtures.search import make_document

ROOT = Path(__file__).resolve().parent.parent

# A peer process: one EmbeddedBackend on the same directory, or a bare tantivy writer holding the lock.
_PEER = r"""
import json, sys
from datetime import UTC, datetime
from pathlib import Path

import tantivy

from index.backend import SearchDocument, SearchQuery
from index.embedded import EmbeddedBackend

path = Path(sys.argv[1])
backend = EmbeddedBackend(path, lock_timeout_s=float(sys.argv[2]))
held = None


def document(item_id, version, title):
    return SearchDocument(
        item_id=item_id, version=version, title=title, text="", summary="", url=f"http://t/{item_id}",
        unit_id=1, unit_name="市委", unit_slug="city", unit_level="city", unit_type="government",
        unit_ancestors=[1], region_code=None, source_id=1, source_name="s", category=None,
        published_at=None, first_seen_at=datetime(2024, 1, 1, tzinfo=UTC), has_attachments=False,
        state="approved",
    )


print("ready", flush=True)
for line in sys.stdin:
    command = json.loads(line)
    op = command["op"]
    if op == "upsert":
        backend.upsert([document(*row) for row in command["docs"]])
        answer = "ok"
    elif op == "upsert_batches":
        for start in range(command["first"], command["first"] + command["count"], command["size"]):
            backend.upsert([document(n, 1, f"批次 文档{n}") for n in range(start, start + command["size"])])
        answer = "ok"
    elif op == "search":
        answer = [hit.item_id for hit in backend.search(SearchQuery(text=command["text"], limit=100)).hits]
    elif op == "hold":
        generation = (path / "CURRENT").read_text().strip()
        index = tantivy.Index.open(str(path / generation))
        held = index.writer(heap_size=15_000_000, num_threads=1)
        answer = "held"
    elif op == "release":
        del held
        held = None
        answer = "released"
    else:
        break
    print(json.dumps(answer), flush=True)
"""


class Peer:
    """Another process working on the same index directory."""

    def __init__(self, path: Path, lock_timeout_s: float = 30.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _PEER, str(path), str(lock_timeout_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the peer process died"
        return line.strip()

    def send(self, **command: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def answer(self) -> object:
        return json.loads(self._line())

    def ask(self, **command: object) -> object:
        self.send(**command)
        return self.answer()

    def close(self) -> None:
        self.send(op="quit")
        self.process.wait(timeout=60)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "search-index"


@pytest.fixture
def backend(path: Path) -> Iterator[EmbeddedBackend]:
    opened = EmbeddedBackend(path, lock_timeout_s=0.3)
    opened.ensure_ready()
    yield opened
    opened.close()


@pytest.fixture
def peer(path: Path, backend: EmbeddedBackend) -> Iterator[Peer]:
    started = Peer(path)
    yield started
    started.close()


def found(backend: EmbeddedBackend, text: str) -> list[int]:
    return [hit.item_id for hit in backend.search(SearchQuery(text=text, limit=100)).hits]


def generations(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.iterdir() if entry.name.startswith("gen-"))


# -- versions and failures ----------------------------------------------------------------------------


def test_same_version_is_rewritten_older_is_not(backend: EmbeddedBackend) -> None:
    backend.upsert([make_document(1, version=2, title="原稿 标题")])
    backend.upsert([make_document(1, version=2, title="重发 标题")])  # a re-drained row
    assert found(backend, "重发") == [1] and found(backend, "原稿") == []
    result = backend.bulk([make_document(1, version=1, title="旧稿 标题")], [])
    assert (result.written, result.failed) == (0, {})
    assert found(backend, "旧稿") == [] and found(backend, "重发") == [1]
    assert backend.count() == 1


def test_bulk_reports_the_item_it_cannot_index_and_writes_the_rest(backend: EmbeddedBackend) -> None:
    backend.upsert([make_document(3, title="待删 文档")])
    broken = make_document(2, title="坏的 文档", text="含有孤立代理\ud800字符")  # not encodable as UTF-8
    result = backend.bulk([make_document(1, title="好的 文档"), broken], [3])
    assert list(result.failed) == [2] and result.written == 2
    assert found(backend, "好的") == [1]
    assert found(backend, "坏的") == [] and found(backend, "待删") == []


def test_upsert_refuses_the_whole_batch_when_one_item_cannot_be_indexed(backend: EmbeddedBackend) -> None:
    broken = make_document(2, title="坏的 文档", text="\ud800")
    with pytest.raises(SearchBackendError, match="item 2"):
        backend.upsert([make_document(1, title="好的 文档"), broken])
    assert backend.count() == 0


def test_an_item_id_beyond_the_sort_key_fails_alone(backend: EmbeddedBackend) -> None:
    result = backend.bulk([make_document(1 << 31, title="超大 编号"), make_document(5, title="正常")], [])
    assert list(result.failed) == [1 << 31] and found(backend, "正常") == [5]


@pytest.mark.parametrize(
    "text",
    [
        "社区",
        "党",
        "app",
        "wifi 社区",
        "smart",
        '"志愿服务活动"',
        "消防 OR 防汛",
        "apple",
        "省略",
        "①",
        "水 桥",
    ],
)
def test_page_snippets_are_make_snippet(text: str) -> None:
    # Texts long enough to be sliced, with matches early, late, nowhere, inside longer English words,
    # after characters NFKC lengthens (……, ①), in full-width letters, and runs of spaces and newlines
    # at the edges of the slice.
    pieces = [
        "各社区要结合实际制定具体实施方案，细化工作措施，明确时间节点。",
        "Apple app APP applications ＡＰＰ，",
        "……省略号……",
        "Smart City智慧城市平台，",
        "ⅣⅤ①②，",
        "消防安全检查共排查点位12处。",
        "居民可在工作日上午9时至下午5时到人民路7号党群服务中心咨询。",
        "活动中，志愿服务活动吸引了不少老人和孩子驻足参与。",
        "要加强对重点人群、重点区域的排查，建立工作台账，实行销号管理。\n",
        "\n\n  下一步，社区将依托平台持续优化流程。 ",
        "问责。  ",
        "下一步白沙苑第一小学将依托智慧城市平台和数字化治理体系及新的社区服务App持续优化流程。",
    ]
    rng = random.Random(text)
    query = parse_query(text)
    bodies = ["".join(rng.choices(pieces, k=rng.randint(1, 25))) for _ in range(200)]
    # The first match 30 characters after "。 ": a slice would start at the space.
    bodies.append(pieces[5] * 10 + "问责。 " + pieces[-1] + pieces[5] * 10)
    for body in bodies:
        assert page_snippet(body, query) == make_snippet(body, query), body


def test_suggest_completes_a_word_with_every_matching_term(backend: EmbeddedBackend) -> None:
    # tantivy's phrase-prefix query stops at 50 completions; suggestions must not.
    chars = [chr(0x4E00 + n) for n in range(80)]
    backend.upsert([make_document(n + 1, title=f"wifi 党{char}通知") for n, char in enumerate(chars)])
    assert len(backend.suggest("党", limit=100)) == 80
    assert len(backend.suggest("wifi 党", limit=100)) == 80
    assert len(backend.suggest("wifi 党" + chars[3], limit=100)) == 1
    assert backend.suggest("wifi 团", limit=100) == []


def test_facets_break_ties_across_the_top_20_by_value(backend: EmbeddedBackend) -> None:
    # 25 units with one document each, unit 30 with two: the other 19 places go to the smallest ids.
    units = [30, 30, *range(29, 4, -1)]
    for n, unit in enumerate(units):  # one segment each, the larger ids first
        backend.upsert([make_document(n, title="单位 通知", unit_id=unit, unit_name=f"单位{unit}")])
    [*facet] = backend.search(SearchQuery(text="单位", facets=True)).facets["unit"]
    assert [(bucket.value, bucket.count) for bucket in facet] == [("30", 2)] + [
        (str(unit), 1) for unit in range(5, 24)
    ]
    assert facet[1].label == "单位5"


def test_a_unit_renamed_is_labelled_by_its_newest_document(backend: EmbeddedBackend) -> None:
    old = make_document(
        1, title="通知 一", unit_id=5, unit_name="旧名", published_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    backend.upsert([old])
    assert backend.search(SearchQuery(facets=True)).facets["unit"][0].label == "旧名"
    new = make_document(
        2, title="通知 二", unit_id=5, unit_name="新名", published_at=datetime(2024, 2, 1, tzinfo=UTC)
    )
    backend.upsert([new])
    assert backend.search(SearchQuery(facets=True)).facets["unit"][0].label == "新名"


# -- several processes --------------------------------------------------------------------------------


def test_each_process_sees_the_others_commits_on_its_next_search(
    backend: EmbeddedBackend, peer: Peer
) -> None:
    assert found(backend, "甲方") == []  # this process has a searcher open already
    assert peer.ask(op="upsert", docs=[[1, 1, "甲方 来稿"]]) == "ok"
    assert found(backend, "甲方") == [1]
    backend.upsert([make_document(2, title="乙方 来稿")])
    assert peer.ask(op="search", text="乙方") == [2]
    backend.delete([1])
    assert peer.ask(op="search", text="甲方") == []


def test_a_held_writer_lock_makes_a_write_wait_then_fail(backend: EmbeddedBackend, peer: Peer) -> None:
    assert peer.ask(op="hold") == "held"
    with pytest.raises(SearchBackendError, match="writer lock"):
        backend.upsert([make_document(1, title="等待 写入")])
    assert peer.ask(op="release") == "released"
    backend.upsert([make_document(1, title="等待 写入")])
    assert found(backend, "等待") == [1]


def test_a_write_waiting_for_the_lock_goes_through_once_it_is_released(path: Path, peer: Peer) -> None:
    patient = EmbeddedBackend(path, lock_timeout_s=60)
    assert peer.ask(op="hold") == "held"
    errors: list[BaseException] = []

    def write() -> None:
        try:
            patient.upsert([make_document(1, title="耐心 写入")])
        except SearchBackendError as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    assert peer.ask(op="release") == "released"
    writer.join()
    assert errors == [] and found(patient, "耐心") == [1]
    patient.close()


def test_two_processes_writing_batches_at_once_lose_nothing(path: Path, backend: EmbeddedBackend) -> None:
    peers = [Peer(path), Peer(path)]
    for number, peer in enumerate(peers):
        peer.send(op="upsert_batches", first=1 + number * 1000, count=200, size=10)
    assert [peer.answer() for peer in peers] == ["ok", "ok"]
    for peer in peers:
        peer.close()
    assert backend.count() == 400
    assert len(found(backend, "批次")) == 100  # the page; the total says the rest
    assert backend.search(SearchQuery(text="批次")).total == 400


# -- rebuild ------------------------------------------------------------------------------------------


def _docs(title: str, ids: range) -> list[SearchDocument]:
    return [make_document(n, title=f"{title} {n}") for n in ids]


def test_rebuild_swaps_while_another_thread_searches(backend: EmbeddedBackend, path: Path) -> None:
    backend.upsert(_docs("旧版 内容", range(1, 201)))
    failures: list[BaseException] = []
    seen: list[tuple[int, int]] = []  # (old hits, new hits) of each round of searches
    searched = threading.Semaphore(0)
    stop = threading.Event()

    def search_continuously() -> None:
        while not stop.is_set():
            try:
                old = backend.search(SearchQuery(text="旧版", limit=1)).total
                new = backend.search(SearchQuery(text="新版", limit=1)).total
            except SearchBackendError as exc:
                failures.append(exc)
                searched.release()
                return
            seen.append((old, new))
            searched.release()

    searcher = threading.Thread(target=search_continuously)
    searcher.start()
    searched.acquire()
    assert backend.rebuild(_docs("新版 内容", range(1, 301))) == 300
    swapped = len(seen)
    while len(seen) < swapped + 3 and not failures:  # a few rounds that started after the swap
        searched.acquire()
    stop.set()
    searcher.join()
    assert failures == []
    assert seen[0] == (200, 0) and seen[-1] == (0, 300)
    # Each search sees the old generation or the new one, never an empty or half-built index.
    assert set(seen) <= {(200, 0), (200, 300), (0, 300)}
    assert len(generations(path)) == 1  # the old generation is gone


def test_another_process_follows_the_rebuild(backend: EmbeddedBackend, peer: Peer, path: Path) -> None:
    backend.upsert(_docs("旧版 内容", range(1, 11)))
    assert len(peer.ask(op="search", text="旧版")) == 10  # type: ignore[arg-type]
    backend.rebuild(_docs("新版 内容", range(1, 6)))
    assert peer.ask(op="search", text="旧版") == []
    assert peer.ask(op="search", text="新版") == [5, 4, 3, 2, 1]
    assert peer.ask(op="upsert", docs=[[9, 1, "新版 追加"]]) == "ok"  # the peer writes to the new one
    assert 9 in found(backend, "新版")


def test_a_write_during_a_rebuild_lands_in_the_new_generation(path: Path) -> None:
    backend = EmbeddedBackend(path, lock_timeout_s=60)
    backend.upsert(_docs("旧版 内容", range(1, 11)))
    rebuild_started, go_on = threading.Event(), threading.Event()

    def documents() -> Iterator[SearchDocument]:
        rebuild_started.set()  # the rebuild holds the writer lock from here on
        go_on.wait()
        yield from _docs("新版 内容", range(1, 6))

    rebuilding = threading.Thread(target=backend.rebuild, args=(documents(),))
    rebuilding.start()
    rebuild_started.wait()
    writing = threading.Thread(target=backend.upsert, args=([make_document(50, title="期间 写入")],))
    writing.start()
    go_on.set()
    rebuilding.join()
    writing.join()
    assert found(backend, "期间") == [50]
    assert len(found(backend, "新版")) == 5 and found(backend, "旧版") == []
    backend.close()


def test_a_failed_rebuild_keeps_the_live_generation(backend: EmbeddedBackend, path: Path) -> None:
    backend.upsert(_docs("旧版 内容", range(1, 11)))
    before = generations(path)

    def documents() -> Iterator[SearchDocument]:
        yield from _docs("新版 内容", range(1, 6))
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError) as raised:
        backend.rebuild(documents())
    assert generations(path) == before
    assert len(found(backend, "旧版")) == 10
    # The writer lock is free although the traceback (kept in ``raised``) still holds the writers.
    assert raised.traceback
    other = EmbeddedBackend(path, lock_timeout_s=0.3)
    other.upsert([make_document(11, title="旧版 之后")])
    assert len(found(backend, "旧版")) == 11
    other.close()


# -- upkeep -------------------------------------------------------------------------------------------


def test_stats_and_health(backend: EmbeddedBackend, path: Path) -> None:
    backend.upsert([make_document(1, title="公开"), make_document(2, title="待审", state="pending")])
    stats = backend.stats()
    assert (stats.backend, stats.documents, stats.by_state) == ("embedded", 2, {"approved": 1, "pending": 1})
    assert stats.size_bytes is not None and stats.size_bytes > 0
    assert Path(stats.location).parent == path
    assert backend.health().ok
    backend.clear()
    assert backend.count() == 0 and backend.stats().by_state == {}


def test_an_old_fts5_file_is_reported_not_opened(tmp_path: Path) -> None:
    old = tmp_path / "search.db"
    old.write_bytes(b"SQLite format 3\x00")
    backend = EmbeddedBackend(old)
    health = backend.health()
    assert not health.ok and "reindex" in health.detail
    with pytest.raises(SearchBackendError, match="reindex"):
        backend.ensure_ready()
