"""Lexicon files: format, whitelists, versions, errors with file and line, reload without restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.settings import ModerationSettings
from moderation.lexicon import LexiconError, LexiconLoader, load_lexicon
from moderation.matcher import Matcher
from moderation.normalize import normalize


def write(folder: Path, name: str, *lines: str) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_lexicons_load_and_cover_the_starter_categories() -> None:
    lexicon = load_lexicon(ModerationSettings().lexicon_dir)
    categories = {entry.category for entry in lexicon.entries if not entry.whitelist}
    assert {"classified", "personal_data", "advertising", "vulgar"} <= categories
    terms = {entry.normalized for entry in lexicon.entries}
    assert {"秘密", "机密", "绝密", "内部资料", "内部文件", "不得外传"} <= terms


def test_whitelist_suppresses_hits_inside_it(tmp_path: Path) -> None:
    write(tmp_path, "words.txt", "# a comment", "口交\tvulgar\t3", "!路口交通")
    matcher = Matcher(load_lexicon(tmp_path))
    assert matcher.find(normalize("前方路口交通管制").text) == []
    found = matcher.find(normalize("口交").text)
    assert [(m.start, m.end, m.entry.term) for m in found] == [(0, 2, "口交")]


def test_bad_lines_name_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.txt", "# header", "秘密\tclassified\t3", "机密\tclassified")
    with pytest.raises(LexiconError) as caught:
        load_lexicon(tmp_path)
    assert caught.value.path == str(path) and caught.value.line == 3
    assert str(caught.value).startswith(f"{path}:3: expected term<TAB>category<TAB>severity")
    write(tmp_path, "bad.txt", "机密\tclassified\t9")
    with pytest.raises(LexiconError, match=r"bad\.txt:1: severity '9'"):
        load_lexicon(tmp_path)
    write(tmp_path, "bad.txt", "＠＠\tclassified\t2")
    with pytest.raises(LexiconError, match="empty after normalization"):
        load_lexicon(tmp_path)


def test_version_follows_content(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "秘密\tclassified\t3")
    first = load_lexicon(tmp_path).version
    assert load_lexicon(tmp_path).version == first
    write(tmp_path, "a.txt", "秘密\tclassified\t4")
    assert load_lexicon(tmp_path).version != first


def test_loader_reloads_an_edited_file_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "秘密\tclassified\t3")
    loader = LexiconLoader(tmp_path)
    before = loader.current()
    assert loader.current() is before  # unchanged files: no re-read
    write(tmp_path, "a.txt", "秘密\tclassified\t3", "刷单\tadvertising\t3")
    after = loader.current()
    assert after.version != before.version
    assert {entry.term for entry in after.entries} == {"秘密", "刷单"}
    write(tmp_path, "a.txt", "broken line without tabs")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse file systems
    assert loader.current() is after
    assert loader.last_error is not None and loader.last_error.line == 1
