"""Benchmark: screening throughput on one core with a generated 50,000-term lexicon.

Everything ``moderation.screen.screen`` does per item is timed: normalization (fold, deletions),
Aho-Corasick matching with whitelists, personal-data patterns, link and quality checks, mapping hit
spans back to the original. The texts are generated notices: simplified Chinese with punctuation,
digits and Latin words, a share of traditional characters and full-width letters, and planted hits
(some hidden with inserted symbols). Prints one ``name: value`` line per figure.

    python -m bench.screen --terms 50000 --chars 5000000
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from pathlib import Path

from moderation.lexicon import load_lexicon
from moderation.matcher import Matcher
from moderation.normalize import tables
from moderation.screen import ScreenOptions, screen

# The 2,500 most frequent characters would need a data file; a contiguous block of common ones
# gives the automaton the same shape (thousands of distinct first characters).
_HAN = [chr(cp) for cp in range(0x4E00, 0x4E00 + 3000)]
_TRADITIONAL = "們國會議發開與關於這說時從對將過還點體員標準環境經濟區縣鄉鎮黨組織"
_PUNCT = "，。、；：！？“”（）《》"
_LATIN = ["APP", "GDP", "PM2.5", "WiFi", "5G", "2024年", "12月", "3号"]


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
    start = time.perf_counter()
    for item in items:
        result = screen(item, "关于开展专项检查工作的通知", links, matcher=matcher, options=options)
        hits += len(result.hits)
    elapsed = time.perf_counter() - start
    figures["terms"] = len(matcher)
    figures["items"] = len(items)
    figures["chars"] = total
    figures["hits"] = hits
    figures["screen_s"] = round(elapsed, 3)
    figures["chars_per_s"] = round(total / elapsed)
    figures["items_per_s"] = round(len(items) / elapsed, 1)
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--terms", type=int, default=50_000, help="terms in the generated lexicon")
    parser.add_argument("--chars", type=int, default=5_000_000, help="characters screened in total")
    parser.add_argument("--item-chars", type=int, default=3_000, help="characters per notice")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    figures = run(args.terms, args.chars, args.item_chars, args.seed)
    print("bench: screen")
    print(f"machine: {platform.machine()} python {platform.python_version()}")
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
