"""``python -m bench --write`` (bench/runner.py): the generated section of bench/RESULTS.md is replaced,
the hand-written history around it is left byte for byte, and benchmarks not run keep their block."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.runner import END, START, Result, parse_figures, render, write_results

ROOT = Path(__file__).resolve().parents[1]
STALE = Result(
    name="search",
    command="python -m bench.search --docs 100000",
    date="2026-01-01 00:00 UTC",
    returncode=0,
    seconds=1.0,
    load_before="1.00 1.00 1.00",
    load_after="1.00 1.00 1.00",
    figures={"n100000.search_ms.all": "p50 1.00 p95 9.00 p99 12.00 (10 queries)", "note": "a -- b"},
)
HEADER = {"cpu": "cpu", "cores": "2", "ram": "1 GiB", "os": "os", "python": "3", "date": "d", "commit": "c"}
HEADER["mode"] = "full"


def _split(text: str) -> tuple[str, str, str]:
    start, end = text.index(START), text.index(END) + len(END)
    return text[:start], text[start:end], text[end:]


def test_quick_only_write_replaces_the_section_and_nothing_else(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    shutil.copy(ROOT / "bench" / "RESULTS.md", results)
    original = results.read_text(encoding="utf-8")
    before, _, after = _split(original)
    # A section from an earlier run: an old feedparse block and a search block this run does not touch.
    old_feedparse = Result("feedparse", "old", "old date", 0, 1.0, "9 9 9", "9 9 9", figures={"feeds": "1"})
    stale = render({"feedparse": old_feedparse, "search": STALE}, HEADER)
    results.write_text(before + stale + after, encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "feedparse", "--write", f"--results={results}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    new_before, section, new_after = _split(results.read_text(encoding="utf-8"))
    assert (new_before, new_after) == (before, after)  # the history is untouched
    assert section != stale
    assert "### feedparse" in section and "old date" not in section
    assert "| fast_items | 200 |" in section  # --quick: 40 feeds x 5 items, parsed by the fast path
    assert "| feeds | 40 |" in section
    assert f"{os.cpu_count()} cores" in section and "commit " in section
    assert "quick (smoke-test sizes)" in section and "load " in section
    # The benchmark not run keeps its block and its figures, and still counts against its floor.
    assert "### search" in section and "p95 9.00" in section
    assert "| 5 | embedded search p95 ≤ 10 ms @100k | search | p95 9 | met |" in section
    # Floors of benchmarks never run are listed as such.
    assert "| 3 | re-poll ≥ 1,000 sources/s | repoll | — | not run | |" in section


def test_write_adds_the_section_before_the_history_when_missing(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    history = "# Benchmark results\n\nIntro.\n\n## bench/x.py\n\n| a | b |\n"
    results.write_text(history, encoding="utf-8")

    write_results(results, {"search": STALE}, HEADER)
    text = results.read_text(encoding="utf-8")

    before, section, after = _split(text)
    assert before == "# Benchmark results\n\nIntro.\n\n"
    assert after == "\n\n## bench/x.py\n\n| a | b |\n"
    assert "a -- b" in section  # a value with "--" survives the data comment
    write_results(results, {}, HEADER)  # a second write reads the block back and keeps it
    assert results.read_text(encoding="utf-8") == text


def test_figures_are_the_name_value_lines_with_repeats_kept() -> None:
    output = "bench: analysis\nanalysis: 10 docs/s a\nanalysis: 20 docs/s b\n  indented: no\nnot a figure\n"
    assert parse_figures(output) == {
        "bench": "analysis",
        "analysis": "10 docs/s a",
        "analysis [2]": "20 docs/s b",
    }
