"""Benchmark: indexing analysis throughput on one core (``index.analysis.index_texts``).

``index_texts`` turns (title, text) pairs into what both search backends store: the title's and
body's tokens (CJK bigrams, words) and the document's distinct CJK characters. It runs in the outbox
drain, in batches, so documents are analysed here in batches of ``--batch`` (the drain's chunk size)
and the figure is documents per second of wall clock (and per CPU second, less sensitive to other
work on the machine). Generated documents, four kinds:

- ``chinese_750`` / ``chinese_2000``: notices of that many characters: simplified Chinese with
  full-width punctuation (which NFKC changes), digits and dates, a few Latin words and full-width
  letters; one notice in twenty has an ellipsis "……" (NFKC makes it longer: the slow normalization);
- ``titles``: a title and a one-line body (the per-call cost of short texts);
- ``english``: mostly English text of 1,500 characters with accented words and a few Chinese words.

Prints one ``analysis: <docs>/s <kind> (...)`` line per kind; the best of ``--rounds`` rounds.

    python -m bench.analysis --docs 2000 --batch 500 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections.abc import Callable

from index.analysis import index_texts

_HAN = [chr(cp) for cp in range(0x4E00, 0x4E00 + 3000)]
_PUNCT = "，，，。。、；：（）“”《》！？"
_LATIN = ["APP", "GDP", "PM2.5", "WiFi", "5G", "ＷｉＦｉ", "ＡＰＰ", "１２３４５", "No.3"]
_ENGLISH = ["the", "city", "district", "council", "notice", "public", "service", "office", "meeting"]
_ACCENTED = ["café", "Zürich", "São", "naïve", "Ærø", "İzmir", "straße"]
Docs = list[tuple[str, str]]


def _han(rng: random.Random, count: int) -> str:
    # Skewed draw: common characters repeat across a notice as they do in real text.
    return "".join(_HAN[int(len(_HAN) * rng.random() ** 2)] for _ in range(count))


def _chinese(rng: random.Random, length: int) -> str:
    parts: list[str] = []
    size = 0
    ellipsis = rng.random() < 0.05
    while size < length:
        roll = rng.random()
        if roll < 0.04:
            part = rng.choice(_LATIN)
        elif roll < 0.08:
            part = f"{rng.randint(2019, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
        elif roll < 0.09 and ellipsis:
            part = "……"
        elif roll < 0.10:
            part = "\n"
        else:
            part = _han(rng, rng.randint(4, 18)) + rng.choice(_PUNCT)
        parts.append(part)
        size += len(part)
    return "".join(parts)


def _title(rng: random.Random) -> str:
    return f"关于{_han(rng, rng.randint(4, 12))}的通知（{rng.randint(2019, 2025)}年第{rng.randint(1, 99)}号）"


def _english(rng: random.Random, length: int) -> str:
    words: list[str] = []
    size = 0
    while size < length:
        roll = rng.random()
        if roll < 0.03:
            word = rng.choice(_ACCENTED)
        elif roll < 0.05:
            word = _han(rng, 2)
        elif roll < 0.08:
            word = str(rng.randint(1, 9999)) + rng.choice([",", ".", ""])
        else:
            word = rng.choice(_ENGLISH).capitalize() if rng.random() < 0.1 else rng.choice(_ENGLISH)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def documents(kind: str, count: int, seed: int) -> Docs:
    """``count`` generated (title, text) pairs of one kind."""
    rng = random.Random(f"{kind}-{seed}")
    if kind == "titles":
        return [(_title(rng), _han(rng, rng.randint(10, 40)) + "。") for _ in range(count)]
    if kind == "english":
        return [(_english(rng, 60), _english(rng, 1500)) for _ in range(count)]
    length = int(kind.rsplit("_", 1)[1])
    return [(_title(rng), _chinese(rng, length)) for _ in range(count)]


def measure(analyse: Callable[[Docs], object], docs: Docs, batch: int, rounds: int) -> tuple[float, float]:
    """Best wall-clock and CPU seconds of ``rounds`` passes over ``docs`` in batches of ``batch``."""
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        start, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(docs), batch):
            analyse(docs[first : first + batch])
        best_wall = min(best_wall, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


KINDS = ("chinese_750", "chinese_2000", "titles", "english")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=2_000, help="documents of each kind")
    parser.add_argument("--batch", type=int, default=500, help="documents per index_texts call")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the documents (best kept)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds to run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("bench: analysis")
    print(f"machine: {platform.machine()} python {platform.python_version()}")
    print(f"load_average_before: {os.getloadavg()[0]:.2f}")
    index_texts(documents("titles", 32, args.seed))  # one-time tables are not part of the figures
    for kind in args.kinds.split(","):
        docs = documents(kind, args.docs, args.seed)
        chars = sum(len(title) + len(text) for title, text in docs)
        wall, cpu = measure(index_texts, docs, args.batch, args.rounds)
        print(
            f"analysis: {len(docs) / wall:.0f} docs/s {kind} ({len(docs) / cpu:.0f} docs/cpu-s, "
            f"{chars / wall / 1e6:.2f} M chars/s, {len(docs)} docs, batch {args.batch})"
        )
    print(f"load_average_after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
