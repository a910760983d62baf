"""Errors in the TOML settings file, told by file and line (docs/architecture.md step 1).

tomllib reports syntax errors as "(at line N, column M)" and pydantic names the option of a bad value,
neither the file. ``ConfigError`` says ``<file>:<line>: <option>: <problem>`` for each, the line found
by reading the file's table headers and assignments (``option_line``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_KEY_PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""")


class ConfigError(ValueError):
    """A settings file that cannot be read or holds a bad option; every problem names file and line."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.path = path
        self.problems = list(problems)


def _keys(dotted: str) -> tuple[str, ...]:
    """The keys of a dotted TOML key: ``a."b.c".d`` -> a, b.c, d."""
    groups = (found.groups() for found in _KEY_PART.finditer(dotted))
    return tuple(next(part for part in parts if part is not None) for parts in groups)


def option_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line (1-based) where each table and option of a TOML text is first written."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_string: str | None = None  # the delimiter of a multi-line string being read
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header:
            table = _keys(header.group(1))
            lines.setdefault(table, number)
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment:
            lines.setdefault(table + _keys(assignment.group(1)), number)
            rest = line[assignment.end() :]
            for delimiter in ('"""', "'''"):
                if rest.count(delimiter) % 2 == 1:
                    in_string = delimiter
    return lines


def option_line(text: str, location: Sequence[Any]) -> int | None:
    """The line that sets the option at ``location`` (pydantic's error location), or the nearest
    enclosing table or inline table; None when the file says nothing of it."""
    keys = tuple(str(part) for part in location)
    lines = option_lines(text)
    for end in range(len(keys), 0, -1):
        if keys[:end] in lines:
            return lines[keys[:end]]
    return None


def _in_file(data: dict[str, Any], location: Sequence[Any]) -> bool:
    node: Any = data
    for part in location:
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return True


def config_error(path: Path, error: Exception) -> ConfigError:
    """``error`` (raised while reading settings from ``path``) told by file and line."""
    raw = path.read_bytes()
    if isinstance(error, UnicodeDecodeError):
        line = raw[: error.start].count(b"\n") + 1
        return ConfigError(path, [f"{path}:{line}: not UTF-8 ({error.reason})"])
    if isinstance(error, tomllib.TOMLDecodeError):
        message = str(error)
        found = _TOML_POSITION.search(message)
        line = int(found.group(1)) if found else raw.count(b"\n") + 1  # "at end of document"
        return ConfigError(path, [f"{path}:{line}: {_TOML_POSITION.sub('', message)}"])
    if not isinstance(error, ValidationError):
        return ConfigError(path, [f"{path}: {error}"])
    text = raw.decode("utf-8")
    data = tomllib.loads(text)
    problems = []
    for problem in error.errors():
        location = tuple(problem["loc"])
        option = ".".join(str(part) for part in location)
        message = problem["msg"]  # without the value: it may be a secret, and the line shows it
        where = option_line(text, location) if location and _in_file(data, location) else None
        if where is not None:
            problems.append(f"{path}:{where}: {option}: {message}")
        elif location:
            problems.append(f"{path}: {option}: {message} (set in the environment or a secret file)")
        else:
            problems.append(f"{path}: {message}")
    return ConfigError(path, problems)
