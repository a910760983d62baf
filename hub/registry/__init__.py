"""The registry: units (a tree) and their sources, imported from and exported to YAML / CSV / OPML.

docs/architecture.md step 2. A file is parsed and checked whole; if anything is wrong a
RegistryError lists every problem with file and line, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from hub.registry.checks import check_entries
from hub.registry.csvfmt import dump_csv, load_csv
from hub.registry.errors import Problem, RegistryError
from hub.registry.opmlfmt import dump_opml, load_opml
from hub.registry.rows import UnitEntry
from hub.registry.store import ImportSummary, read_entries, update_paths, write_entries
from hub.registry.yamlfmt import dump_yaml, load_yaml

__all__ = [
    "FORMATS",
    "ImportSummary",
    "Problem",
    "RegistryError",
    "export_registry",
    "format_of",
    "import_registry",
    "update_paths",
]

FORMATS = ("yaml", "csv", "opml")
_EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".opml": "opml", ".xml": "opml"}


def format_of(path: Path, fmt: str | None = None) -> str:
    """The registry format named by ``fmt`` or by the file extension."""
    chosen = (fmt or _EXTENSIONS.get(path.suffix.lower(), "")).lower()
    if chosen == "yml":
        chosen = "yaml"
    if chosen not in FORMATS:
        raise ValueError(f"unknown registry format for {path.name!r}: use one of {', '.join(FORMATS)}")
    return chosen


def parse_registry(path: Path, fmt: str | None = None) -> tuple[list[UnitEntry], list[Problem]]:
    """The units and sources of a registry file, with the problems found in the file itself."""
    chosen = format_of(path, fmt)
    if chosen == "opml":
        return load_opml(path.read_bytes(), path.name)
    text = path.read_text(encoding="utf-8-sig")
    return load_yaml(text, path.name) if chosen == "yaml" else load_csv(text, path.name)


def import_registry(session: Session, path: Path, fmt: str | None = None) -> ImportSummary:
    """Check ``path`` whole, then create or update its units and sources in ``session``.

    Raises RegistryError with every problem (nothing written). The caller commits.
    """
    entries, problems = parse_registry(Path(path), fmt)
    problems += check_entries(session, entries)
    if problems:
        raise RegistryError(problems)
    return write_entries(session, entries)


def export_registry(session: Session, fmt: str) -> str:
    """Every unit and source as a registry file in ``fmt`` (yaml, csv or opml)."""
    entries = read_entries(session)
    chosen = format_of(Path("registry"), fmt)
    if chosen == "yaml":
        return dump_yaml(entries)
    if chosen == "csv":
        return dump_csv(entries)
    return dump_opml(entries)
