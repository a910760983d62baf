"""Where the embedded index lives on disk: generations behind a CURRENT pointer, shared by processes.

``<root>/CURRENT`` names the live generation directory (``<root>/gen-<time>-<pid>``, one tantivy
index). A rebuild fills a new generation and replaces CURRENT with ``os.replace``, so every process
switches at its next request, never half-way. Readers check two file stamps per request (CURRENT and
the generation's ``meta.json``, ~3 µs each) and reload only when one moved: a commit made by the web
app, the worker or the CLI is seen by every process's next search.

tantivy allows one IndexWriter per index across processes (a lock file). Writers open one per batch
and release it after the commit and the merges it started; a busy lock is retried with backoff for a
bounded time, then SearchBackendError (the outbox keeps its rows and tries again later).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tantivy

from index.backend import SearchBackendError
from index.embedded_schema import build_schema, register_tokenizers

logger = logging.getLogger(__name__)

POINTER = "CURRENT"
_GENERATION = re.compile(r"gen-[0-9a-f]+-[0-9]+")
WRITER_HEAP = 48_000_000  # bytes for one write batch's indexing thread (tantivy's floor is 15 MB)
REBUILD_HEAP = 256_000_000  # a rebuild writes large segments: fewer merges
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.005, 0.25
Stamp = tuple[int, int, int]  # inode, mtime in ns, size: moves whenever a file is replaced


@dataclass(slots=True)
class Generation:
    """One opened generation: its directory, its tantivy index and the commit its reader shows."""

    name: str
    path: Path
    index: tantivy.Index
    meta_stamp: Stamp | None = None


def _stamp(path: Path) -> Stamp:
    info = os.stat(path)
    return info.st_ino, info.st_mtime_ns, info.st_size


def _open(path: Path) -> tantivy.Index:
    index = tantivy.Index.open(str(path))
    register_tokenizers(index)
    index.config_reader("manual")  # reloads are ours, after a stamp check (no watcher thread)
    return index


def _is_lock_busy(exc: Exception) -> bool:
    return "LockBusy" in str(exc)


class IndexStore:
    """The generations under ``root``, the live one opened and kept fresh, and the write lock."""

    def __init__(self, root: Path, lock_timeout_s: float) -> None:
        self.root = root
        self.lock_timeout_s = lock_timeout_s
        self._state_lock = threading.Lock()  # guards the fields below (web requests run in threads)
        self._write_lock = threading.Lock()  # one writer per process; processes queue on tantivy's lock
        self._live: Generation | None = None
        self._pointer_stamp: Stamp | None = None
        self._closed = False  # after close() every call fails: a closed backend must not quietly reopen

    # -- layout -------------------------------------------------------------------------------------

    def _check_root(self) -> None:
        if self.root.is_file():
            raise SearchBackendError(
                f"{self.root} is a file (the SQLite FTS5 index of earlier versions?): set "
                "search.embedded_path to a directory and run `xinlian index reindex`"
            )

    def pointer_name(self) -> str | None:
        """The generation CURRENT names, or None before the first one exists."""
        try:
            name = (self.root / POINTER).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        if not _GENERATION.fullmatch(name):
            raise SearchBackendError(f"{self.root / POINTER} does not name a generation: {name[:60]!r}")
        return name

    def generations(self) -> list[str]:
        """Names of every generation directory under the root (live, old or abandoned)."""
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in os.scandir(self.root) if _GENERATION.fullmatch(entry.name))

    def create_generation(self) -> Generation:
        """A new, empty generation directory (not live until ``switch``)."""
        self._check_root()
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{time.time_ns():x}-{os.getpid()}"
        path = self.root / name
        path.mkdir()
        index = tantivy.Index(build_schema(), path=str(path), reuse=False)
        register_tokenizers(index)
        index.config_reader("manual")
        return Generation(name, path, index)

    def ensure(self) -> None:
        """Create the root and a first, empty generation unless CURRENT exists. Safe to race: the first
        process to link CURRENT wins, the others drop their candidate."""
        self._check_root()
        if self.pointer_name() is not None:
            return
        candidate = self.create_generation()
        temp = self.root / f"{POINTER}.{candidate.name}.tmp"
        temp.write_text(candidate.name, encoding="ascii")
        try:
            os.link(temp, self.root / POINTER)  # fails if it exists: an atomic "create if missing"
        except FileExistsError:
            self.remove([candidate.name])
        finally:
            temp.unlink()

    def switch(self, name: str) -> None:
        """Make generation ``name`` live for every process (atomic replace of CURRENT)."""
        temp = self.root / f"{POINTER}.{name}.tmp"
        with open(temp, "w", encoding="ascii") as out:
            out.write(name)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, self.root / POINTER)
        directory = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def remove(self, names: list[str]) -> None:
        """Delete generation directories. Other processes' open searchers keep their (unlinked) files
        on POSIX; a directory that cannot be removed now is left for the next rebuild."""

        def report(function: object, path: str, excinfo: object) -> None:
            logger.warning("embedded index: could not remove %s: %s", path, excinfo)

        for name in names:
            shutil.rmtree(self.root / name, onerror=report)  # onexc is 3.12+

    def size_bytes(self, generation: Generation) -> int:
        """Bytes on disk of one generation."""
        return sum(entry.stat().st_size for entry in os.scandir(generation.path) if entry.is_file())

    # -- reading ------------------------------------------------------------------------------------

    def live(self) -> Generation:
        """The live generation, reloaded if another process (or this one) committed or switched."""
        with self._state_lock:
            self._check_open()
            for _attempt in range(3):
                try:
                    return self._fresh()
                except (FileNotFoundError, ValueError) as exc:
                    # The generation we knew was removed by a rebuild that switched meanwhile: retry.
                    logger.debug("embedded index: reopening after %s", exc)
                    self._live, self._pointer_stamp = None, None
            raise SearchBackendError(f"embedded index {self.root}: cannot open the live generation")

    def _fresh(self) -> Generation:
        if self._live is None:
            self._check_root()
        try:
            pointer = _stamp(self.root / POINTER)
        except FileNotFoundError:
            self._check_root()
            self.ensure()
            pointer = _stamp(self.root / POINTER)
        if self._live is None or pointer != self._pointer_stamp:
            name = self.pointer_name()
            if name is None:
                raise FileNotFoundError(self.root / POINTER)
            self._live = Generation(name, self.root / name, _open(self.root / name))
            self._pointer_stamp = pointer
        live = self._live
        meta = _stamp(live.path / "meta.json")
        if meta != live.meta_stamp:
            live.index.reload()  # stamp taken first: a commit landing meanwhile reloads next time
            live.meta_stamp = meta
        return live

    def _check_open(self) -> None:
        if self._closed:
            raise SearchBackendError(f"embedded index {self.root}: closed")

    def close(self) -> None:
        """Forget the opened generation (searchers still held by callers keep working); later calls fail."""
        with self._state_lock:
            self._live, self._pointer_stamp = None, None
            self._closed = True

    # -- writing ------------------------------------------------------------------------------------

    @contextmanager
    def writing(self, timeout_s: float | None = None) -> Iterator[tuple[Generation, tantivy.IndexWriter]]:
        """The live generation and its IndexWriter, its reader showing the latest commit. The caller
        commits; leaving waits for the merges that commit started (without them segments pile up),
        then releases the lock. An exception rolls back what was not committed."""
        timeout = self.lock_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        if not self._write_lock.acquire(timeout=timeout):
            raise SearchBackendError(f"embedded index {self.root}: busy writing for {timeout:.0f} s")
        try:
            generation, writer = self._writer(deadline)
            try:
                yield generation, writer
            except BaseException:
                writer.rollback()
                raise
            finally:
                # Consumes the writer, which releases tantivy's lock now, not when the garbage collector
                # frees the object (a traceback kept by the caller would keep it alive).
                writer.wait_merging_threads()
        finally:
            self._write_lock.release()

    def _writer(self, deadline: float) -> tuple[Generation, tantivy.IndexWriter]:
        delay = BACKOFF_FIRST_S
        while True:
            generation = self.live()
            try:
                writer = generation.index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as exc:
                if not _is_lock_busy(exc) and self.pointer_name() == generation.name:
                    raise SearchBackendError(f"embedded index {generation.path}: {exc}") from exc
                if time.monotonic() + delay > deadline:
                    raise SearchBackendError(
                        f"embedded index {self.root}: another process holds the writer lock"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            if self.pointer_name() != generation.name:  # a rebuild switched while we waited
                writer.wait_merging_threads()  # releases the lock
                continue
            return self.live(), writer
