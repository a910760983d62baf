"""Screening lexicons: files in ``config/lexicons/``, versioned and reloaded when they change.

docs/architecture.md step 6. One entry per line, tab-separated::

    # comment lines start with '#'
    秘密<TAB>classified<TAB>4        term, category, severity (1 = note … 5 = block)
    !路口交通                         whitelist: hits lying inside this text are suppressed

Files ``*.txt`` and ``*.tsv`` are read in name order. The lexicon version is a hash of the file
names and contents, so the same lists give the same version on every machine; it is stored with
every hit. A bad line raises LexiconError naming the file and line.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from moderation.normalize import normalize_terms

logger = logging.getLogger(__name__)
SEVERITY_MIN, SEVERITY_MAX = 1, 5
PATTERNS = ("*.txt", "*.tsv")
WHITELIST_PREFIX = "!"
_CATEGORY = re.compile(r"[a-z][a-z0-9_]{0,39}")


class LexiconError(ValueError):
    """A lexicon file has a bad entry; names the file and the line."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = str(path)
        self.line = line


@dataclass(frozen=True, slots=True)
class Entry:
    """One lexicon line: a term to flag, or a whitelist text that suppresses hits inside it."""

    term: str  # as written in the file
    normalized: str  # as matched (moderation.normalize)
    category: str
    severity: int
    whitelist: bool
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Every entry of a lexicon folder, with the version of that set of files."""

    entries: tuple[Entry, ...]
    version: str
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Line:
    """A parsed line before its term is normalized (terms of a file are normalized in one call)."""

    number: int
    term: str
    category: str
    severity: int
    whitelist: bool


def _parse_line(path: Path, number: int, raw: str) -> _Line | None:
    line = raw.rstrip("\r\n")
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    if line.startswith(WHITELIST_PREFIX):
        # Anything after a tab on a whitelist line is ignored, so a list may keep its columns.
        term = line[len(WHITELIST_PREFIX) :].split("\t", 1)[0].strip()
        return _Line(number, term, "whitelist", 0, True)
    fields = line.split("\t")
    if len(fields) != 3:
        raise LexiconError(
            path, number, f"expected term<TAB>category<TAB>severity, got {len(fields)} field(s)"
        )
    term, category, severity_text = (field.strip() for field in fields)
    if not _CATEGORY.fullmatch(category):
        raise LexiconError(path, number, f"category {category!r} must be lower-case letters, digits or _")
    if not severity_text.isdecimal() or not SEVERITY_MIN <= int(severity_text) <= SEVERITY_MAX:
        raise LexiconError(
            path, number, f"severity {severity_text!r} must be a whole number {SEVERITY_MIN}..{SEVERITY_MAX}"
        )
    return _Line(number, term, category, int(severity_text), False)


def parse_file(path: Path) -> list[Entry]:
    """Entries of one lexicon file; raises LexiconError on the first bad line."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        where = data[: error.start].count(b"\n") + 1  # the line holding the first bad byte
        raise LexiconError(path, where, f"not UTF-8 ({error.reason})") from error
    lines: list[_Line] = []
    bad: LexiconError | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        try:
            line = _parse_line(path, number, raw)
        except LexiconError as error:
            bad = error  # raised below, unless an earlier line's term turns out empty
            break
        if line is not None:
            lines.append(line)
    entries: list[Entry] = []
    for line, normalized in zip(lines, normalize_terms([line.term for line in lines]), strict=True):
        if not normalized:
            what = (
                "whitelist entry without text"
                if line.whitelist
                else f"term {line.term!r} is empty after normalization"
            )
            raise LexiconError(path, line.number, what)
        entries.append(
            Entry(line.term, normalized, line.category, line.severity, line.whitelist, path.name, line.number)
        )
    if bad is not None:
        raise bad
    return entries


def lexicon_files(directory: Path) -> list[Path]:
    """The lexicon files of ``directory`` in the order they are read."""
    if not directory.is_dir():
        raise FileNotFoundError(f"lexicon folder not found: {directory}")
    found = {path for pattern in PATTERNS for path in directory.glob(pattern) if path.is_file()}
    return sorted(found, key=lambda path: path.name)


def load_lexicon(directory: Path | str) -> Lexicon:
    """Read every lexicon file of ``directory`` into one versioned Lexicon."""
    digest = hashlib.sha256()
    entries: list[Entry] = []
    files = lexicon_files(Path(directory))
    for path in files:
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
        entries.extend(parse_file(path))
    return Lexicon(tuple(entries), digest.hexdigest()[:12], tuple(path.name for path in files))


class LexiconLoader:
    """Hands out the current lexicon of a folder, re-reading it when a file changes (no restart)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._lexicon: Lexicon | None = None
        self.last_error: LexiconError | None = None

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        # Names, sizes and modification times: a few stat calls per screened item, no reads.
        return tuple(
            (path.name, stat.st_mtime_ns, stat.st_size)
            for path in lexicon_files(self.directory)
            for stat in (path.stat(),)
        )

    def current(self) -> Lexicon:
        """The lexicon as the files are now.

        A bad edit raises LexiconError when nothing was loaded yet; afterwards the last good lexicon
        stays in use (screening must not stop for a typo), the error is logged and kept in
        ``last_error`` until the file is fixed.
        """
        with self._lock:
            signature = self._stat()
            if self._lexicon is None or signature != self._signature:
                try:
                    self._lexicon = load_lexicon(self.directory)
                    self.last_error = None
                except LexiconError as error:
                    if self._lexicon is None:
                        raise
                    logger.error("lexicon not reloaded, keeping version %s: %s", self._lexicon.version, error)
                    self.last_error = error
                self._signature = signature
            return self._lexicon
