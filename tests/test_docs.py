"""Docs and deployment files stay in step with the code (the idea of Datasette's test_docs)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel

from hub.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _option_exists(dotted: list[str]) -> bool:
    model: type[BaseModel] = Settings
    for i, part in enumerate(dotted):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(dotted) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_compose_environment_names_are_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    names: set[str] = set()
    for service in compose["services"].values():
        names |= {name for name in service.get("environment", {}) if name.startswith("XINLIAN_")}
    assert names, "docker-compose.yml configures no XINLIAN_* option"
    unknown = []
    for name in sorted(names):
        option = name.removeprefix("XINLIAN_").removesuffix("_FILE").lower().split("__")
        if name != "XINLIAN_CONFIG" and not _option_exists(option):
            unknown.append(name)
    assert unknown == []


def test_architecture_doc_names_only_files_that_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:hub|crawlers|index|moderation|api|cli|samplenet|config)/[\w./*-]*)`", text))
    assert paths, "docs/architecture.md names no module"
    missing = []
    for path in sorted(paths):
        candidate = ROOT / path.rstrip("/")
        if not candidate.exists():
            missing.append(path)
    assert missing == []


def test_architecture_doc_covers_every_pipeline_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    steps = re.findall(r"^## (\d+)\. ", text, flags=re.MULTILINE)
    assert [int(step) for step in steps] == list(range(1, len(steps) + 1))
    for package in ("hub/", "crawlers/", "moderation/", "index/", "api/"):
        assert package in text
