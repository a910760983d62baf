"""Benchmark: repost fingerprints and batch linking (hub/fingerprint.py, hub/reposts.py).

Figures, one ``name: value`` line each:
- ``sketch_us_per_item``: ``sketch()`` of one 1,000-character notice (best of several rounds), and
  ``sketch_batch_us_per_item``: ``sketches()`` of 500 such notices at once, per notice; the
  ``_cpu_`` twins count this process's CPU time instead of the wall clock.
- ``link_items_per_s`` (wall clock) and ``link_items_per_cpu_s`` (this process's CPU time, less
  sensitive to other work on the machine): ``link_reposts_by_id`` on batches of 500 new items
  (fingerprints written, candidates looked up, links decided and written; commit included) into
  a store already holding ``--store`` items. First varied notices with ~5 % reposts, then a
  template-heavy corpus (every notice one of a few templates around a short topical passage: the
  case that made the old lookup quadratic). ``repost_recall``: the share of planted reposts
  linked into the group of the notice they copy.

    python -m bench.reposts --store 10000 --batch 500 --batches 4
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from hub.db import Database
from hub.fingerprint import sketch, sketches
from hub.models import Item, Source, Unit
from hub.reposts import link_reposts_by_id

_HAN = [chr(cp) for cp in range(0x4E00, 0x4E00 + 3500)]
_PUNCT = "，。、；：，，。"
_BOILERPLATE = [
    "各区县人民政府，市政府各部门：",
    "现就有关事项通知如下。",
    "特此通知。",
    "请各单位高度重视，认真抓好落实。",
    "联系人及联系电话见附件。",
    "本通知自印发之日起施行。",
]
SOURCES = 40
Timer = Callable[[], float]
START = datetime(2024, 1, 1, tzinfo=UTC)


def _vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    return ["".join(rng.choices(_HAN, k=rng.randint(2, 4))) for _ in range(size)]


def _notice(rng: random.Random, words: list[str], length: int = 1000) -> str:
    """Words drawn with a skewed frequency (common words are shared across notices), boilerplate lines."""
    parts = [rng.choice(_BOILERPLATE), "\n"]
    size = 0
    while size < length:
        if rng.random() < 0.03:
            part = rng.choice(_BOILERPLATE) + "\n"
        else:
            part = words[int(len(words) * rng.random() ** 3)] + (
                rng.choice(_PUNCT) if rng.random() < 0.2 else ""
            )
        parts.append(part)
        size += len(part)
    return "".join(parts)


def _repost(rng: random.Random, text: str) -> str:
    """A branch's copy: a 转载 line, its own footer, a word changed here and there."""
    body = list(text)
    for _ in range(3):
        body[rng.randrange(len(body))] = rng.choice(_HAN)
    return f"转载自：某某市人民政府网站\n{''.join(body)}\n（来源：本站编辑）"


def _templates(rng: random.Random, words: list[str], count: int = 5) -> list[tuple[str, str]]:
    """Notices of a few fixed templates: a long common head and tail around a short topical passage."""
    return [(_notice(rng, words, 450), _notice(rng, words, 450)) for _ in range(count)]


class Corpus:
    """New notices, ~5 % of them reposts of an earlier notice from another source."""

    def __init__(self, seed: int, template_heavy: bool) -> None:
        self.rng = random.Random(seed)
        self.words = _vocabulary(self.rng)
        self.templates = _templates(self.rng, self.words) if template_heavy else []
        self.texts: list[str] = []
        self.sources: list[int] = []
        self.planted: list[tuple[int, int]] = []  # (index of a repost, index of what it copies)

    def next(self) -> tuple[str, int]:
        """A new text and the number of the source it comes from."""
        index = len(self.texts)
        source = self.rng.randrange(SOURCES)
        if self.texts and self.rng.random() < 0.05:
            copied = self.rng.randrange(len(self.texts))
            text = _repost(self.rng, self.texts[copied])
            self.planted.append((index, copied))
            while source == self.sources[copied]:  # a unit does not repost its own notice
                source = self.rng.randrange(SOURCES)
        elif self.templates:
            head, tail = self.rng.choice(self.templates)
            text = head + _notice(self.rng, self.words, 100) + tail
        else:
            text = _notice(self.rng, self.words)
        self.texts.append(text)
        self.sources.append(source)
        return text, source


def _setup(database: Database) -> list[tuple[int, int]]:
    with database.session() as session:
        city = Unit(slug="city", name="某某市", level="city", path="/")
        session.add(city)
        session.flush()
        city.path = f"/{city.id}/"
        sources = []
        for number in range(SOURCES):
            unit = Unit(slug=f"u{number}", name=f"单位{number}", level="branch", parent_id=city.id)
            session.add(unit)
            session.flush()
            unit.path = f"{city.path}{unit.id}/"
            source = Source(unit_id=unit.id, name=unit.name, kind="html", url=f"http://127.0.0.1:1/{number}/")
            session.add(source)
            session.flush()
            sources.append((source.id, unit.id))
        return sources


def _insert(database: Database, sources: list[tuple[int, int]], corpus: Corpus, count: int) -> list[int]:
    """Store ``count`` new items of ``corpus`` (plain rows: what ingest stores before linking)."""
    rows: list[dict[str, Any]] = []
    for _ in range(count):
        text, source = corpus.next()
        number = len(corpus.texts)
        when = START + timedelta(minutes=number)
        source_id, unit_id = sources[source]
        url = f"http://127.0.0.1:1/{source}/a/{number}.html"
        rows.append(
            {
                "source_id": source_id,
                "unit_id": unit_id,
                "url": url,
                "canonical_url": url,
                "title": f"通知{number}",
                "text": text,
                "content_hash": f"{number:064d}",
                "published_at": when,
                "first_seen_at": when,
                "updated_at": when,
                "state": "pending",
            }
        )
    with database.session() as session:
        session.execute(insert(Item), rows)
        return list(session.scalars(select(Item.id).order_by(Item.id.desc()).limit(count)))


def _timed_link(database: Database, ids: list[int]) -> tuple[float, float]:
    """Wall and CPU seconds of linking ``ids`` (commit included)."""
    started, cpu = time.perf_counter(), time.process_time()
    with database.session() as session:
        link_reposts_by_id(session, ids)
    return time.perf_counter() - started, time.process_time() - cpu


def _recall(database: Database, corpus: Corpus) -> float:
    with database.session() as session:
        links = {item_id: target for item_id, target in session.execute(select(Item.id, Item.repost_of_id))}
    ordered = sorted(links)
    root = [links[item_id] or item_id for item_id in ordered]
    hits = sum(1 for copy, copied in corpus.planted if root[copy] == root[copied])
    return hits / len(corpus.planted) if corpus.planted else 1.0


def _link_run(folder: Path, name: str, template_heavy: bool, args: argparse.Namespace) -> dict[str, float]:
    database = Database(f"sqlite:///{folder / name}.db")
    database.migrate()
    sources = _setup(database)
    corpus = Corpus(args.seed, template_heavy)
    for _ in range(args.store // args.batch):  # the store before the timed batches (linked, not timed)
        _timed_link(database, _insert(database, sources, corpus, args.batch))
    wall = cpu = 0.0
    for _ in range(args.batches):
        spent = _timed_link(database, _insert(database, sources, corpus, args.batch))
        wall, cpu = wall + spent[0], cpu + spent[1]
    recall = _recall(database, corpus)
    database.dispose()
    items = args.batch * args.batches
    return {"items_per_s": items / wall, "items_per_cpu_s": items / cpu, "recall": recall}


def _best_us(call: Callable[[], object], number: int, timer: Timer = time.perf_counter) -> float:
    return min(timeit.repeat(call, number=number, repeat=5, timer=timer)) / number * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=int, default=10_000, help="items stored before the timed batches")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=4, help="timed batches")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    words = _vocabulary(rng)
    texts = [_notice(rng, words)[:1000] for _ in range(500)]
    sketch(texts[0])  # builds the fold table once per process (~50 ms), not part of a notice's cost
    print(f"python: {platform.python_version()}")
    print(f"sketch_chars: {len(texts[0])}")
    print(f"sketch_us_per_item: {_best_us(lambda: sketch(texts[0]), 500):.1f}")
    print(f"sketch_cpu_us_per_item: {_best_us(lambda: sketch(texts[0]), 500, time.process_time):.1f}")
    print(f"sketch_batch_us_per_item: {_best_us(lambda: sketches(texts), 2) / len(texts):.1f}")
    batch_cpu = _best_us(lambda: sketches(texts), 2, time.process_time) / len(texts)
    print(f"sketch_batch_cpu_us_per_item: {batch_cpu:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, template_heavy in (("", False), ("_template", True)):
            figures = _link_run(Path(tmp), f"store{label}", template_heavy, args)
            print(f"link_items_per_s{label}: {figures['items_per_s']:.0f}")
            # CPU time of this process (SQLite runs in it): what the figure would be on an idle core.
            print(f"link_items_per_cpu_s{label}: {figures['items_per_cpu_s']:.0f}")
            print(f"repost_recall{label}: {figures['recall']:.3f}")


if __name__ == "__main__":
    main()
