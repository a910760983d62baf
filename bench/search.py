"""Benchmark: the embedded (tantivy) search backend — index build, size on disk, query latency.

For each ``--docs`` size a fresh index is built with ``EmbeddedBackend.rebuild`` from generated
notices: titles and bodies from the sample network's vocabulary (samplenet/texts.py: 1–3 KB of
Chinese with digits, dates, names and a few English words) plus a long tail of rarer words, over a
unit tree (city → 12 districts → 120 streets → 1,440 grassroots units, with region codes), 2 sources
per unit, 5 categories, sort dates over two years, every moderation state, 8 % reposts collapsed into
their original and 20 % with attachments. ``--corpus zipf`` builds a second, labelled variant with the
same units and metadata but Zipf-distributed words (``ZipfCorpus``: the sample corpus repeats a few
hundred template sentences, so 社区 is in 91 % of its notices and 党群服务中心 in 44 %); both keep the
same query set.

Figures, one ``n<docs>.<name>: <value>`` line each:
- ``build_docs_per_s``: documents per second of ``rebuild`` (generating the notices excluded);
  ``analysis_docs_per_s``: ``index.analysis.index_texts`` alone on the same notices, same chunks;
  ``tantivy_docs_per_s``: what the rest of the build (conversion, indexing, commit, merges) would
  sustain alone, i.e. docs / (build time - analysis time);
- ``index_bytes`` and ``bytes_per_doc``: the live generation on disk;
- ``upsert_500_ms``: a drained outbox batch of 500 changed documents (version lookup, writer lock,
  commit, merges), median and max of a few;
- ``search_ms.<kind>`` (wall clock) and ``search_cpu_ms.<kind>`` (the process's CPU time during the
  search: the searching thread and the backend's facet helper; what the load of others does not
  inflate, though a busy machine still slows it somewhat): p50/p95/p99 over the mixed query set, per
  kind and all: keywords, two-character words, one character, English words, phrases, exclusions,
  OR, filters (unit subtree, region, category, dates), facets, date order, browsing, a cursor page,
  the recency boost. Every query runs once unmeasured first (page cache), then ``--rounds`` times.

    python -m bench.search --docs 100000 --rounds 20
    python -m bench.search --docs 100000 --corpus sample zipf
    nice python -m bench.search --docs 1000000 --rounds 10
    python -m bench.search --docs 1000000 --reuse /tmp/bench/search-indexes

``--reuse DIR`` searches the index of each corpus and size already in DIR (``index-<variant>-<docs>``,
as a ``--workdir`` run lays them out) instead of building it, and builds and keeps it there when it
is missing: a 1M build takes minutes of both cores. On a reused index the build figures are not
reported; with ``--reuse`` the upserts are never run (they replace documents: a kept index stays as
built, so every run searches the same documents).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

from index.analysis import index_texts
from index.backend import SearchDocument, SearchQuery
from index.embedded import REBUILD_CHUNK, EmbeddedBackend
from samplenet.texts import BRANCH_KINDS, CATEGORIES, branch_place, district_name, make_paragraphs, make_title

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_S = 730 * 86_400  # two years of notices
_HAN = [chr(cp) for cp in range(0x4E00, 0x4E00 + 3000)]
_STATES = ("approved",) * 90 + ("pending",) * 6 + ("rejected",) * 2 + ("withdrawn",) * 2


@dataclass(frozen=True, slots=True)
class BenchUnit:
    """A unit of the generated tree."""

    unit_id: int
    name: str
    slug: str
    level: str
    unit_type: str
    region: str | None
    ancestors: tuple[int, ...]
    regions: tuple[str, ...]


def unit_tree() -> list[BenchUnit]:
    """City 1, 12 districts, 10 streets each, 12 grassroots units under each street."""
    city = BenchUnit(1, "临江市", "city", "city", "government", "3301", (1,), ("3301",))
    units = [city]
    next_id = 2
    for d in range(12):
        region = f"3301{d + 1:02d}"
        district = BenchUnit(
            next_id,
            district_name(d),
            f"d{d}",
            "district",
            "government",
            region,
            (1, next_id),
            ("3301", region),
        )
        units.append(district)
        next_id += 1
        for s in range(10):
            street_region = f"{region}{s + 1:03d}"
            place = branch_place(d * 10 + s, 7)
            street = BenchUnit(
                next_id,
                f"{place}街道办事处",
                f"d{d}s{s}",
                "street",
                "government",
                street_region,
                (*district.ancestors, next_id),
                (*district.regions, street_region),
            )
            units.append(street)
            next_id += 1
            for b in range(12):
                suffix, unit_type, level = BRANCH_KINDS[1 + b % (len(BRANCH_KINDS) - 1)]
                own = None if b % 5 == 4 else f"{street_region}{b + 1:03d}"  # some have no code
                units.append(
                    BenchUnit(
                        next_id,
                        f"{branch_place(next_id, 3)}{suffix}",
                        f"d{d}s{s}b{b}",
                        "branch" if level == "street" else level,
                        unit_type,
                        own,
                        (*street.ancestors, next_id),
                        (*street.regions, own) if own else street.regions,
                    )
                )
                next_id += 1
    return units


def _long_tail(rng: random.Random, size: int = 30_000) -> list[str]:
    """Rarer words (2-4 characters), picked log-uniformly: a few common, most rare, as in real text."""
    return ["".join(rng.choices(_HAN, k=rng.randint(2, 4))) for _ in range(size)]


@dataclass(slots=True)
class Corpus:
    """Generates ``count`` notices, timing itself so the build figure can leave generation out."""

    count: int
    seed: int
    units: list[BenchUnit] = field(default_factory=unit_tree)
    generation_s: float = 0.0
    generation_cpu_s: float = 0.0

    def documents(self) -> Iterator[SearchDocument]:
        """The notices, in item id order."""
        rng = random.Random(self.seed)
        tail = self._vocabulary(rng)
        weights = list(
            accumulate(40 if u.level == "city" else 6 if u.level == "district" else 1 for u in self.units)
        )
        originals: list[tuple[int, str, str]] = []  # recent approved originals, for reposts
        for item_id in range(1, self.count + 1):
            started, started_cpu = time.perf_counter(), time.thread_time()
            doc = self._document(rng, item_id, tail, weights, originals)
            self.generation_s += time.perf_counter() - started
            self.generation_cpu_s += time.thread_time() - started_cpu
            yield doc

    def _vocabulary(self, rng: random.Random) -> list[str]:
        return _long_tail(rng)

    def _texts(self, rng: random.Random, unit: BenchUnit, when: datetime, tail: list[str]) -> tuple[str, str]:
        """Title and body of an original notice."""
        title = make_title(rng, unit.name, when.year, rng.random() < 0.3)
        rare = "".join(
            "".join(tail[int(len(tail) ** rng.random()) - 1] for _ in range(rng.randint(6, 12))) + "。"
            for _ in range(rng.randint(1, 2))
        )
        return title, "\n".join(make_paragraphs(rng, unit.name, when)) + rare

    def _document(
        self,
        rng: random.Random,
        item_id: int,
        tail: list[str],
        weights: list[int],
        originals: list[tuple[int, str, str]],
    ) -> SearchDocument:
        unit = rng.choices(self.units, cum_weights=weights)[0]
        when = START + timedelta(seconds=rng.randrange(SPAN_S))
        state = rng.choice(_STATES)
        collapse_into = None
        if originals and rng.random() < 0.08:
            collapse_into, original_title, original_body = rng.choice(originals)
            title, body = "转载：" + original_title, "转载自市委。" + original_body
        else:
            title, body = self._texts(rng, unit, when, tail)
            if state == "approved":
                originals.append((item_id, title, body))
                if len(originals) > 200:
                    originals.pop(0)
        published = when if rng.random() < 0.9 else None
        first_seen = when + timedelta(hours=rng.randint(0, 48))
        sort_date = published or first_seen
        return SearchDocument(
            item_id=item_id,
            version=1,
            title=title,
            text=body,
            summary=body[:120],
            url=f"http://127.0.0.1:8700/{unit.slug}/{item_id}.html",
            unit_id=unit.unit_id,
            unit_name=unit.name,
            unit_slug=unit.slug,
            unit_level=unit.level,
            unit_type=unit.unit_type,
            unit_ancestors=list(unit.ancestors),
            region_code=unit.region,
            region_path=list(unit.regions),
            source_id=unit.unit_id * 2 + rng.randint(0, 1),
            source_name=f"{unit.name}网站",
            category=rng.choice(CATEGORIES) if rng.random() < 0.9 else None,
            published_at=published,
            first_seen_at=first_seen,
            has_attachments=rng.random() < 0.2,
            state=state,
            collapse_into=collapse_into,
            month=sort_date.astimezone(SHANGHAI).strftime("%Y-%m"),
        )


# The "zipf" corpus: the same units, dates, states, reposts and metadata, but titles and bodies made of
# words drawn by Zipf's law (exponent 1) from 50,000 words, as words are used in real text; the words
# of the query set hold fixed ranks, so that a word like 社区 is in about a third of the notices and a
# phrase like 党群服务中心 in about one in a hundred (the "sample" corpus repeats a few hundred template
# sentences: 社区 is in 91 % of its notices, 党群服务中心 in 44 %).
ZIPF_WORDS = 50_000
ZIPF_RANKS = {  # rank (1: the most frequent word) -> word; ~250 words a body: P(in a body) ≈ 1 - e^(-22/rank)
    40: "工作",
    50: "社区",
    60: "居民",
    70: "安全",
    80: "检查",
    150: "党建",
    200: "党员",
    250: "志愿者",
    300: "志愿服务",
    400: "消防",
    500: "安全生产",
    600: "垃圾",
    700: "环境整治",
    800: "app",
    900: "引领",
    1000: "垃圾分类",
    1200: "防汛",
    1300: "供水",
    1500: "医保",
    1600: "wifi",
    1800: "招生",
    2000: "党群服务中心",
    2200: "smart city",
    2300: "疫苗",
    2500: "志愿服务活动",
    2700: "桥梁",
    5000: "smart",
}


@dataclass(slots=True)
class ZipfWords:
    """Words by rank and their cumulative Zipf weights."""

    words: list[str]
    cumulative: list[float]

    def draw(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=count)


def zipf_words(rng: random.Random) -> ZipfWords:
    """50,000 words of 2-4 characters (common characters more often, as in Chinese text), the query
    set's at their ranks."""
    chars = list(accumulate(1.0 / (rank + 10) for rank in range(len(_HAN))))
    words = ["".join(rng.choices(_HAN, cum_weights=chars, k=rng.randint(2, 4))) for _ in range(ZIPF_WORDS)]
    for rank, word in ZIPF_RANKS.items():
        words[rank - 1] = word
    return ZipfWords(words, list(accumulate(1.0 / rank for rank in range(1, ZIPF_WORDS + 1))))


def _zipf_sentence(rng: random.Random, vocabulary: ZipfWords) -> str:
    clauses = []
    for _ in range(rng.randint(2, 4)):
        words = vocabulary.draw(rng, rng.randint(4, 9))
        clauses.append("".join(f" {word} " if word.isascii() else word for word in words).strip())
    return "，".join(clauses) + "。"


@dataclass(slots=True)
class ZipfCorpus(Corpus):
    """Notices of Zipf-distributed words (see ZIPF_RANKS); everything else as in ``Corpus``."""

    def _vocabulary(self, rng: random.Random) -> ZipfWords:  # type: ignore[override]
        return zipf_words(rng)

    def _texts(  # type: ignore[override]
        self, rng: random.Random, unit: BenchUnit, when: datetime, tail: ZipfWords
    ) -> tuple[str, str]:
        title = unit.name + "".join(tail.draw(rng, rng.randint(4, 8)))
        paragraphs = [
            "".join(_zipf_sentence(rng, tail) for _ in range(rng.randint(1, 3)))
            for _ in range(rng.randint(3, 10))
        ]
        return title, "\n".join(paragraphs)


def query_set(units: list[BenchUnit]) -> dict[str, list[SearchQuery]]:
    """The mixed query set, by kind (words from the sample network's vocabulary)."""
    district, street = units[1], units[2]
    year = (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 9, 1, tzinfo=UTC))
    words = ("社区", "党建", "消防", "防汛", "医保", "招生", "垃圾", "检查")
    return {
        "keywords": [
            SearchQuery(text=t) for t in ("社区 志愿服务", "安全生产 检查", "党建 引领", "环境整治 居民")
        ],
        "two_char": [SearchQuery(text=t) for t in words],
        "one_char": [SearchQuery(text=t) for t in ("党", "水", "疫", "桥")],
        "english": [SearchQuery(text=t) for t in ("wifi", "app", "smart")],
        "phrase": [
            SearchQuery(text=t) for t in ('"垃圾分类"', '"志愿服务活动"', '"smart city"', '"党群服务中心"')
        ],
        "exclusion": [SearchQuery(text=t) for t in ("社区 -志愿", "安全 -消防", "党建 -党员")],
        "or": [SearchQuery(text=t) for t in ("防汛 OR 消防", "医保 OR 招生", "垃圾分类 OR 环境整治")],
        "filters": [
            SearchQuery(text="社区", unit_subtree=district.unit_id, category=CATEGORIES[1]),
            SearchQuery(text="党建", region=district.region, date_from=year[0], date_to=year[1]),
            SearchQuery(text="检查", unit_level="branch", has_attachments=True),
            SearchQuery(text="消防", unit_subtree=street.unit_id, source_id=street.unit_id * 2),
        ],
        "facets": [
            SearchQuery(text="党建", facets=True),
            SearchQuery(text="社区 志愿服务", facets=True),
            SearchQuery(facets=True, unit_subtree=district.unit_id),
        ],
        "date_sort": [SearchQuery(text=t, sort="date") for t in ("社区", "防汛", "wifi")],
        "browse": [
            SearchQuery(),
            SearchQuery(unit_subtree=district.unit_id),
            SearchQuery(region=street.region, date_from=year[0]),
            SearchQuery(states=None, category=CATEGORIES[0]),
        ],
        "cursor_page": [SearchQuery(text="社区", sort="date"), SearchQuery(unit_subtree=district.unit_id)],
        "recency": [SearchQuery(text=t, recency_boost=True) for t in ("社区 志愿服务", "防汛", "党建")],
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure_searches(
    backend: EmbeddedBackend, queries: dict[str, list[SearchQuery]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Milliseconds of every search by kind, wall clock and the process's CPU time (tantivy searches in
    the calling thread, facets on the backend's helper thread; CPU time is what others' work on the
    machine does not inflate); cursor pages continue from page 10 of their query."""
    prepared: dict[str, list[SearchQuery]] = {}
    for kind, listed in queries.items():
        if kind != "cursor_page":
            prepared[kind] = listed
            continue
        pages = []
        for query in listed:
            page = query
            for _ in range(10):  # walk to a deep page, unmeasured
                cursor = backend.search(page).next_cursor
                if cursor is None:
                    break
                page = replace(query, cursor=cursor)
            pages.append(page)
        prepared[kind] = pages
    for listed in prepared.values():
        for query in listed:
            backend.search(query)  # warm up
    wall: dict[str, list[float]] = {kind: [] for kind in prepared}
    cpu: dict[str, list[float]] = {kind: [] for kind in prepared}
    for _ in range(rounds):
        for kind, listed in prepared.items():
            for query in listed:
                started, started_cpu = time.perf_counter(), time.process_time()
                backend.search(query)
                cpu[kind].append((time.process_time() - started_cpu) * 1000)
                wall[kind].append((time.perf_counter() - started) * 1000)
    return wall, cpu


CORPORA: dict[str, type[Corpus]] = {"sample": Corpus, "zipf": ZipfCorpus}


def analysis_rate(count: int, seed: int, variant: type[Corpus] = Corpus) -> float:
    """index_texts alone, in the rebuild's chunks, on the first ``count`` notices."""
    docs = [(doc.title, doc.text) for doc in variant(count, seed).documents()]
    started = time.perf_counter()
    for first in range(0, len(docs), REBUILD_CHUNK):
        index_texts(docs[first : first + REBUILD_CHUNK])
    return len(docs) / (time.perf_counter() - started)


def upsert_batches(
    backend: EmbeddedBackend, corpus_size: int, seed: int, batches: int, variant: type[Corpus] = Corpus
) -> list[float]:
    """Milliseconds of outbox-sized upserts of changed documents already in the index."""
    rng = random.Random(seed + 1)
    source = variant(min(corpus_size, 500 * batches), seed + 2)
    docs = list(source.documents())
    timings = []
    for number in range(batches):
        batch = [
            replace(doc, item_id=rng.randint(1, corpus_size), version=2)
            for doc in docs[number * 500 : (number + 1) * 500]
        ]
        started = time.perf_counter()
        backend.upsert(batch)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def reusable(path: Path, count: int) -> bool:
    """Whether ``path`` holds an embedded index of exactly ``count`` documents."""
    if not (path / "CURRENT").is_file():
        return False
    backend = EmbeddedBackend(path)
    try:
        return backend.count() == count
    finally:
        backend.close()


def run(
    count: int,
    rounds: int,
    seed: int,
    workdir: Path,
    report: Callable[[str, str], None],
    variant: type[Corpus] = Corpus,
    reuse: bool = False,
) -> None:
    """Build an index of ``count`` notices of corpus ``variant`` in ``workdir`` and report its figures
    (with ``reuse``, search the one already there instead, if it holds ``count`` documents)."""
    path = workdir / f"index-{variant.__name__}-{count}"
    reused = reuse and reusable(path, count)
    backend = EmbeddedBackend(path, lock_timeout_s=600)
    backend.ensure_ready()
    corpus = variant(count, seed)
    if reused:
        report("reused_index", str(path))
    else:
        build(backend, corpus, seed, report)
    stats = backend.stats()
    size = stats.size_bytes or 0
    report("index_bytes", f"{size} ({size / 2**20:.0f} MiB)")
    report("bytes_per_doc", f"{size / max(stats.documents, 1):.0f}")
    report("load_average_before_search", f"{os.getloadavg()[0]:.2f}")
    wall, cpu = measure_searches(backend, query_set(corpus.units), rounds)
    for kind, values in wall.items():
        report(f"search_ms.{kind}", _summary(values))
    report("search_ms.all", _summary([value for values in wall.values() for value in values]))
    report("search_cpu_ms.all", _summary([value for values in cpu.values() for value in values]))
    for kind, values in cpu.items():
        report(f"search_cpu_ms.{kind}", _summary(values))
    report("load_average_after_search", f"{os.getloadavg()[0]:.2f}")
    if not reuse:  # upserts replace documents: a kept index stays as built
        upserts = upsert_batches(backend, count, seed, 5, variant)
        report("upsert_500_ms", f"p50 {statistics.median(upserts):.0f} max {max(upserts):.0f}")
    backend.close()


def build(backend: EmbeddedBackend, corpus: Corpus, seed: int, report: Callable[[str, str], None]) -> None:
    """Rebuild ``backend`` from ``corpus`` and report the build figures."""
    count, variant = corpus.count, type(corpus)
    started, started_cpu = time.perf_counter(), time.process_time()
    built = backend.rebuild(corpus.documents())
    build_s = time.perf_counter() - started - corpus.generation_s
    build_cpu_s = time.process_time() - started_cpu - corpus.generation_cpu_s
    report("build_docs_per_s", f"{built / build_s:.0f} ({built} docs in {build_s:.1f} s)")
    report("build_cpu_s", f"{build_cpu_s:.1f} (all threads: Python + tantivy's indexing and merges)")
    report("generation_s_excluded", f"{corpus.generation_s:.1f}")
    analysed = analysis_rate(min(count, 20_000), seed, variant)
    report("analysis_docs_per_s", f"{analysed:.0f}")
    rest_s = build_s - built / analysed
    report("tantivy_docs_per_s", f"{built / rest_s:.0f}" if rest_s > 0 else "n/a")
    report("load_average_after_build", f"{os.getloadavg()[0]:.2f}")


def _summary(values: list[float]) -> str:
    return (
        f"p50 {_percentile(values, 0.5):.2f} p95 {_percentile(values, 0.95):.2f} "
        f"p99 {_percentile(values, 0.99):.2f} ({len(values)} queries)"
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, nargs="+", default=[20_000], help="index sizes to measure")
    parser.add_argument("--rounds", type=int, default=10, help="times each query is measured")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="where indexes are built (default: temp)")
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        metavar="DIR",
        help="search the indexes already in DIR (index-<variant>-<docs>, from a --workdir run) instead "
        "of building them; a missing one is built there and kept",
    )
    parser.add_argument(
        "--corpus",
        nargs="+",
        choices=sorted(CORPORA),
        default=["sample"],
        help="sample: the sample network's sentences (figures n<docs>.*); zipf: Zipf-distributed words "
        "(figures zipf.n<docs>.*)",
    )
    args = parser.parse_args(argv)
    print("bench: search")
    print(f"machine: {platform.machine()} python {platform.python_version()} cpus {os.cpu_count()}")
    print(f"load_average_before: {os.getloadavg()[0]:.2f}")
    with ExitStack() as stack:
        if args.reuse is not None:
            args.reuse.mkdir(parents=True, exist_ok=True)
            where = args.reuse
        else:
            temporary = tempfile.TemporaryDirectory(prefix="xinlian-search-", dir=args.workdir)
            where = Path(stack.enter_context(temporary))
        for corpus in args.corpus:
            prefix = "" if corpus == "sample" else f"{corpus}."
            for count in args.docs:

                def report(name: str, value: str, label: str = f"{prefix}n{count}") -> None:
                    print(f"{label}.{name}: {value}", flush=True)

                run(count, args.rounds, args.seed, where, report, CORPORA[corpus], args.reuse is not None)


if __name__ == "__main__":
    main()
