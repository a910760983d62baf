"""The index template of the Elasticsearch backend, read from ``config/index/`` (docs/search.md).

``items.json`` is a composable index template for every version ``<prefix>-items-vN``: settings,
analyzers and the strict mapping. When the cluster has the IK plugin, the analyzers of
``items-ik.json`` replace the built-in ``cjk`` ones of ``title``/``text`` (search never depends on
them: matching uses the pre-analysed token fields, see index/esquery.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATE_FILE = Path(__file__).resolve().parent.parent / "config" / "index" / "items.json"
IK_FILE_NAME = "items-ik.json"  # beside the template file


@dataclass(frozen=True, slots=True)
class IndexTemplate:
    """An index template ready to install: its name and the body of ``PUT _index_template/<name>``."""

    name: str
    body: dict[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        """Index settings (analysis included)."""
        settings: dict[str, Any] = self.body["template"]["settings"]
        return settings

    @property
    def mappings(self) -> dict[str, Any]:
        """The strict mapping."""
        mappings: dict[str, Any] = self.body["template"]["mappings"]
        return mappings


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_template(prefix: str, ik: bool, template_file: Path = TEMPLATE_FILE) -> IndexTemplate:
    """The template for ``<prefix>-items-v*``, with IK analyzers when ``ik``."""
    body = _read(template_file)
    body["index_patterns"] = [f"{prefix}-items-v*"]
    if ik:
        overlay = _read(template_file.with_name(IK_FILE_NAME))
        body["template"]["settings"]["analysis"]["analyzer"].update(overlay["analyzer"])
    return IndexTemplate(name=f"{prefix}-items", body=body)
