"""crawlers/memtrim.py: the crawl process hands its free C heap back to the system."""

from __future__ import annotations

import ctypes.util
import platform
from pathlib import Path

import pytest

from crawlers.memtrim import heap_trimmer


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_without_malloc_trim_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    release = heap_trimmer()
    release()  # no C library to ask: must neither raise nor touch anything


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_free_heap_below_a_live_chunk_is_released() -> None:
    # 64 KiB chunks stay under glibc's mmap threshold: they come from the heap. The last one is kept,
    # so the freed ones lie below it and glibc does not shrink the heap by itself on free.
    chunks = [bytearray(64 * 1024) for _ in range(800)]
    keep = chunks.pop()
    del chunks
    before = _rss_kib()
    heap_trimmer()()
    after = _rss_kib()
    assert keep  # alive until here
    assert before - after > 20 * 1024, (before, after)
