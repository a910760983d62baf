"""Hand the C heap's free pages back to the system (glibc ``malloc_trim``) in a crawl process.

A crawl job frees most of what it allocates (feed bodies, parsed trees, ingest batches), but glibc
keeps freed chunks of its heaps mapped: measured at 10,000 sources (bench/memory.py), a crawl
process held about 50 MB of free heap after a job, counted in its RSS and PSS. Trimming while a job
runs and after it keeps the process near what it really uses. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)


def heap_trimmer() -> Callable[[], None]:
    """A function that releases the heap's free pages; a no-op where glibc's malloc_trim is absent."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = libc.malloc_trim if libc is not None else None
    except (OSError, AttributeError):  # musl, macOS: no malloc_trim, and no such retention to undo
        trim = None
    if trim is None:
        logger.debug("malloc_trim unavailable: the crawl process's free heap is not trimmed")
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def release() -> None:
        trim(0)

    return release
