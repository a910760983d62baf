"""Benchmark: screening throughput on one core with a generated 50,000-term lexicon.

Everything ``moderation.screen.screen`` does per item is timed: normalization (fold, deletions),
Aho-Corasick matching with whitelists, personal-data patterns, link and quality checks, mapping hit
spans back to the original. The texts are generated notices: simplified Chinese with punctuation,
digits and Latin words, a share of traditional characters and full-width letters, and planted hits
(some hidden with inserted symbols). Prints one ``name: value`` line per figure.

Then the stored path: items in a SQLite store screened in batches of 500 (``screen_new_items``: one
SELECT, one duplicate lookup, bulk inserts of hits and risk scores) against one by one
(``screen_item`` per ORM item, the batch ingest's former way), and what a process pays for its
lexicon: the first load of the 50,000 terms, then the per-batch check that the files are unchanged.
The load average is printed too: the figures are per core, others' work slows them.

    python -m bench.screen --terms 50000 --chars 5000000 --batch-items 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from hub.db import Database
from hub.ingestbatch import ingest_batch
from hub.models import Item, ScreeningHit, Source, Unit
from hub.rawitem import RawItem
from hub.settings import ModerationSettings
from moderation.lexicon import LexiconLoader, load_lexicon
from moderation.matcher import Matcher
from moderation.normalize import tables
from moderation.screen import Screener, ScreenOptions, screen
from moderation.screening import screen_item, screen_new_items, use_screener

# The 2,500 most frequent characters would need a data file; a contiguous block of common ones
# gives the automaton the same shape (thousands of distinct first characters).
_HAN = [chr(cp) for cp in range(0x4E00, 0x4E00 + 3000)]
_TRADITIONAL = "們國會議發開與關於這說時從對將過還點體員標準環境經濟區縣鄉鎮黨組織"
_PUNCT = "，。、；：！？“”（）《》"
_LATIN = ["APP", "GDP", "PM2.5", "WiFi", "5G", "2024年", "12月", "3号"]
BATCH = 500  # items per ingest batch, as the crawl writer sends them


def _lexicon(folder: Path, terms: int, rng: random.Random) -> list[str]:
    words = {"".join(rng.choices(_HAN, k=rng.randint(2, 5))) for _ in range(terms * 2)}
    chosen = sorted(words)[:terms]
    rng.shuffle(chosen)
    lines = [f"{word}\tgenerated\t{rng.randint(1, 5)}" for word in chosen]
    # A whitelist entry per hundred terms: each contains a term, as real whitelists do.
    lines += [f"!{rng.choice(_HAN)}{word}{rng.choice(_HAN)}" for word in chosen[: terms // 100]]
    (folder / "generated.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return chosen


def _notice(rng: random.Random, terms: list[str], length: int) -> str:
    parts: list[str] = []
    size = 0
    while size < length:
        roll = rng.random()
        if roll < 0.01:
            term = rng.choice(terms)
            part = "@".join(term) if rng.random() < 0.5 else term  # some hits hidden with symbols
        elif roll < 0.05:
            part = rng.choice(_LATIN)
        elif roll < 0.08:
            part = "".join(rng.choices(_TRADITIONAL, k=3))
        else:
            part = "".join(rng.choices(_HAN, k=rng.randint(4, 18))) + rng.choice(_PUNCT)
        parts.append(part)
        size += len(part)
    return "".join(parts)


def run(terms: int, chars: int, item_chars: int, seed: int) -> dict[str, float | int | str]:
    """Generate a lexicon and notices, screen them all, and return the figures."""
    rng = random.Random(seed)
    figures: dict[str, float | int | str] = {}
    with tempfile.TemporaryDirectory(prefix="xinlian-screen-") as tmp:
        words = _lexicon(Path(tmp), terms, rng)
        start = time.perf_counter()
        tables()
        figures["normalize_tables_s"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        lexicon = load_lexicon(tmp)
        matcher = Matcher(lexicon)
        figures["lexicon_load_and_build_s"] = round(time.perf_counter() - start, 3)
    items = [_notice(rng, words, item_chars) for _ in range(max(1, chars // item_chars))]
    total = sum(len(item) for item in items)
    options = ScreenOptions(shorteners=("t.cn",))
    links = ["http://www.example.gov.cn/a.html", "http://t.cn/abc"]
    hits = 0
    start, cpu = time.perf_counter(), time.process_time()
    for item in items:
        result = screen(item, "关于开展专项检查工作的通知", links, matcher=matcher, options=options)
        hits += len(result.hits)
    elapsed, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    figures["terms"] = len(matcher)
    figures["items"] = len(items)
    figures["chars"] = total
    figures["hits"] = hits
    figures["screen_s"] = round(elapsed, 3)
    figures["chars_per_s"] = round(total / elapsed)
    figures["chars_per_cpu_s"] = round(total / cpu_s)
    figures["items_per_s"] = round(len(items) / elapsed, 1)
    return figures


def _store_items(database: Database, notices: list[str]) -> list[int]:
    """One unit, one source and ``notices`` as pending items (ingested in batches, then unscreened)."""
    with database.session() as session:
        unit = Unit(slug="bench", name="某区", level="district", path="/", website="http://bench.example.cn/")
        session.add(unit)
        session.flush()
        unit.path = f"/{unit.id}/"
        source = Source(unit_id=unit.id, name="通知", kind="feed", url="http://bench.example.cn/feed.xml")
        session.add(source)
        session.flush()
        source_id = source.id
    ids: list[int] = []
    for first in range(0, len(notices), BATCH):
        raws = [
            RawItem(
                source_id=source_id,
                url=f"http://bench.example.cn/{first + n}.html",
                title=f"关于开展专项检查工作的通知（{first + n}）",
                html=f'<p>{notice}</p><p><a href="http://t.cn/{n}">详情</a></p>',
            )
            for n, notice in enumerate(notices[first : first + BATCH])
        ]
        with database.session() as session:
            ids += [outcome.item_id for outcome in ingest_batch(session, raws) if outcome]
    return ids


def _forget(database: Database) -> None:
    with database.session() as session:
        session.execute(delete(ScreeningHit))
        session.execute(update(Item).values(risk_score=0.0))


def run_stored(lexicon_dir: Path, notices: list[str], workdir: Path) -> dict[str, float | int | str]:
    """Screen stored items in batches of 500 and one by one; the lexicon's cost per process and batch."""
    figures: dict[str, float | int | str] = {}
    screener = Screener(LexiconLoader(lexicon_dir), ScreenOptions.from_settings(ModerationSettings()))
    start = time.perf_counter()
    screener.matcher()
    figures["process_first_lexicon_load_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    for _ in range(20):
        screener.matcher()
    figures["per_batch_lexicon_check_ms"] = round((time.perf_counter() - start) / 20 * 1000, 3)
    database = Database(f"sqlite:///{workdir / 'screen.db'}")
    database.migrate()
    use_screener(database.sessions, screener)
    ids = _store_items(database, notices)
    _forget(database)
    start = time.perf_counter()
    hits = 0
    for first in range(0, len(ids), BATCH):
        with database.session() as session:
            hits += sum(screen_new_items(session, ids[first : first + BATCH]).values())
    batched = time.perf_counter() - start
    _forget(database)
    start = time.perf_counter()
    for first in range(0, len(ids), BATCH):
        with database.session() as session:
            query = select(Item).where(Item.id.in_(ids[first : first + BATCH])).order_by(Item.id)
            for item in session.scalars(query.options(selectinload(Item.source), selectinload(Item.unit))):
                screen_item(session, item, 1)
    single = time.perf_counter() - start
    database.dispose()
    figures["stored_items"] = len(ids)
    figures["stored_hits"] = hits
    figures["batch_size"] = BATCH
    figures["batch_items_per_s"] = round(len(ids) / batched, 1)
    figures["one_by_one_items_per_s"] = round(len(ids) / single, 1)
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--terms", type=int, default=50_000, help="terms in the generated lexicon")
    parser.add_argument("--chars", type=int, default=5_000_000, help="characters screened in total")
    parser.add_argument("--item-chars", type=int, default=3_000, help="characters per notice")
    parser.add_argument("--batch-items", type=int, default=2_000, help="stored items screened (0: skip)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("bench: screen")
    print(f"machine: {platform.machine()} python {platform.python_version()}")
    print(f"load_average_before: {os.getloadavg()[0]:.2f}")
    figures = run(args.terms, args.chars, args.item_chars, args.seed)
    if args.batch_items:
        rng = random.Random(args.seed + 1)
        with tempfile.TemporaryDirectory(prefix="xinlian-screen-") as tmp:
            words = _lexicon(Path(tmp), args.terms, rng)
            notices = [_notice(rng, words, args.item_chars) for _ in range(args.batch_items)]
            figures |= run_stored(Path(tmp), notices, Path(tmp))
    figures["load_average_after"] = f"{os.getloadavg()[0]:.2f}"
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
