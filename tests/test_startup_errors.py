"""A bad lexicon or reasons file stops start-up, naming the file and the line (issue 8).

Every process that stores or decides items configures screening when it starts (the web app, the CLI
commands that open the store, the crawl processes: moderation.screening.configure_screening); the
lexicon files and the reasons file are read there, so a typo is found at start-up rather than at the
first item or decision. (A bad settings file: tests/test_settings.py; a bad registry import:
tests/test_registry_errors.py.) An embedded index directory that cannot be made stops every command
that opens the index with one line naming it (cli/main.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.app import create_app
from cli.main import build_app
from hub.db import Database
from hub.settings import ModerationSettings, Settings
from index.factory import open_backend
from moderation.lexicon import LexiconError
from moderation.reasons import ReasonFileError
from tests.workers import xinlian_command

GOOD_REASONS = '[off_topic]\nlabel = "无关"\ntemplate = "与本单位无关。"\nactions = ["reject"]\n'
BAD_LEXICONS = [
    # (file name, content, line named, what the message says)
    ("words.txt", "# 词表\n秘密\tclassified\t3\n机密\tclassified\n", 3, "expected term<TAB>category"),
    ("words.txt", "秘密\tClassified\t3\n", 1, "category"),
    ("words.txt", "秘密\tclassified\t3\n\n刷单\tadvertising\t9\n", 3, "severity"),
    ("words.txt", "秘密\tclassified\t3\n\u200b\u200b\tvulgar\t2\n", 2, "empty after normalization"),
    ("words.tsv", "秘密\tclassified\t3\n刷单\tadvertising\t3\n\xff\n", 3, "not UTF-8"),
]  # fmt: skip
BAD_REASONS = [
    ('[off_topic]\nlabel = "无关"\ntemplate = "与本单位无关。\n', 3, "reasons.toml:3:"),
    (GOOD_REASONS + '\n[missing]\nlabel = "缺模板"\nactions = ["reject"]\n', 6, "[missing] needs a template"),
    (GOOD_REASONS + '\n[bad_action]\ntemplate = "x"\nactions = ["delete"]\n', 8, "[bad_action] actions must"),
    ('plain = "not a table"\n', 1, "[plain] must be a table"),
]  # fmt: skip


def _lexicon_dir(tmp_path: Path, name: str, content: str) -> Path:
    folder = tmp_path / "lexicons"
    folder.mkdir()
    path = folder / name
    data = content.encode("utf-8").replace("\xff".encode(), b"\xff")  # a raw byte that is not UTF-8
    path.write_bytes(data)
    return folder


def _with_moderation(settings: Settings, **changes: str) -> Settings:
    return settings.model_copy(update={"moderation": settings.moderation.model_copy(update=changes)})


def _start_app(settings: Settings) -> None:
    database = Database(settings.store.url)  # a fresh store object: screening is configured per process
    backend = open_backend(settings)
    try:
        create_app(settings, database, backend)
    finally:
        backend.close()
        database.dispose()


@pytest.mark.parametrize(("name", "content", "line", "says"), BAD_LEXICONS)
def test_a_bad_lexicon_file_stops_the_web_app(
    settings: Settings, tmp_path: Path, name: str, content: str, line: int, says: str
) -> None:
    """The web app does not start on a bad lexicon file; the error is ``<file>:<line>: ...``."""
    folder = _lexicon_dir(tmp_path, name, content)
    with pytest.raises(LexiconError) as caught:
        _start_app(_with_moderation(settings, lexicon_dir=str(folder)))
    assert str(caught.value).startswith(f"{folder / name}:{line}: ")
    assert says in str(caught.value)
    assert (caught.value.path, caught.value.line) == (str(folder / name), line)


@pytest.mark.parametrize(("content", "line", "says"), BAD_REASONS)
def test_a_bad_reasons_file_stops_the_web_app(
    settings: Settings, tmp_path: Path, content: str, line: int, says: str
) -> None:
    """The web app does not start on a bad reasons file; the error names the file, line and code."""
    reasons = tmp_path / "reasons.toml"
    reasons.write_text(content, encoding="utf-8")
    with pytest.raises(ReasonFileError) as caught:
        _start_app(_with_moderation(settings, reasons_file=str(reasons)))
    assert str(caught.value).startswith(f"{reasons}:{line}: ")
    assert says in str(caught.value)


def test_the_shipped_files_start_and_a_good_edit_is_taken(settings: Settings, tmp_path: Path) -> None:
    """The shipped lexicons and reasons start the app; so do a valid custom folder and file."""
    _start_app(settings)
    folder = _lexicon_dir(tmp_path, "words.txt", "秘密\tclassified\t3\n!秘密花园\n")
    reasons = tmp_path / "reasons.toml"
    reasons.write_text(GOOD_REASONS, encoding="utf-8")
    _start_app(_with_moderation(settings, lexicon_dir=str(folder), reasons_file=str(reasons)))


def _cli(database: Database, tmp_path: Path, **moderation: str) -> Result:
    """`xinlian sources list` with these moderation options, set in a settings file (an environment
    variable named ..._FILE would be read as a secret file)."""
    config = tmp_path / "xinlian.toml"
    config.write_text(
        "[moderation]\n" + "".join(f"{name} = {json.dumps(value)}\n" for name, value in moderation.items()),
        encoding="utf-8",
    )
    env = {"XINLIAN_DEMO": "true", "XINLIAN_STORE__URL": database.url}
    return CliRunner().invoke(build_app(), ["--config", str(config), "sources", "list"], env=env)


def test_a_cli_command_on_the_store_stops_on_a_bad_lexicon(database: Database, tmp_path: Path) -> None:
    """`xinlian sources list` opens the store and screening with it: a bad lexicon stops it before it
    does anything, with exit code 2 and the file and line on stderr, not a traceback."""
    folder = _lexicon_dir(tmp_path, "words.txt", "秘密\tclassified\n")
    result = _cli(database, tmp_path, lexicon_dir=str(folder))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert f"{folder / 'words.txt'}:1: " in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


@pytest.mark.parametrize(("content", "line", "says"), BAD_REASONS)
def test_a_cli_command_on_the_store_stops_on_a_bad_reasons_file(
    database: Database, tmp_path: Path, content: str, line: int, says: str
) -> None:
    """The same for the reasons file: exit code 2, '<file>:<line>: [code] problem' on stderr (the code in
    brackets printed as written)."""
    reasons = tmp_path / "reasons.toml"
    reasons.write_text(content, encoding="utf-8")
    result = _cli(database, tmp_path, reasons_file=str(reasons))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert f"{reasons}:{line}: " in result.stderr and says in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_default_moderation_files_are_the_shipped_ones() -> None:
    """The files checked at start-up by default are the ones in config/."""
    defaults = ModerationSettings()
    assert Path(defaults.lexicon_dir).is_dir() and Path(defaults.reasons_file).is_file()


@pytest.mark.parametrize("command", [["init"], ["serve", "--port", "9"], ["worker"], ["index", "status"]])
def test_an_index_directory_that_cannot_be_made_stops_start_up_in_one_line(
    command: list[str], tmp_path: Path
) -> None:
    """A disk error on the embedded index (its directory under a regular file: what a wrong path or a
    read-only mount gives; root ignores permission bits) stops the process with the path and the OS
    error on one line, exit code 4, no traceback."""
    in_the_way = tmp_path / "not-a-directory"
    in_the_way.write_text("a file where the index directory should be\n")
    store = tmp_path / "store.db"
    env = {
        **os.environ,
        "XINLIAN_DEMO": "true",
        "XINLIAN_STORE__URL": f"sqlite:///{store}",
        "XINLIAN_SEARCH__BACKEND": "embedded",
        "XINLIAN_SEARCH__EMBEDDED_PATH": str(in_the_way / "index"),
    }
    if command[0] != "init":  # the store is ready: only the index is wrong
        Database(f"sqlite:///{store}").migrate()
    done = subprocess.run(
        [*xinlian_command(), *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 4, (done.returncode, done.stderr[-2000:])
    assert "search index error" in done.stderr and str(in_the_way / "index") in done.stderr
    assert "Not a directory" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("store_file", "code", "says"),
    [
        # A regular file where the SQLite file's folder should be: a configuration error, exit 2.
        ("not-a-directory/store.db", 2, "the folder"),
        # A file that is not SQLite (a wrong path, a truncated copy): the store is unusable, exit 3.
        ("garbage.db", 3, "file is not a database"),
    ],
)
@pytest.mark.parametrize("command", [["init"], ["sources", "list"]])
def test_a_store_file_that_cannot_be_used_stops_in_one_line(
    command: list[str], store_file: str, code: int, says: str, tmp_path: Path
) -> None:
    (tmp_path / "not-a-directory").write_text("a file\n")
    (tmp_path / "garbage.db").write_text("not a database, not even close\n" * 100)
    env = {**os.environ, "XINLIAN_DEMO": "true", "XINLIAN_STORE__URL": f"sqlite:///{tmp_path / store_file}"}
    done = subprocess.run(
        [*xinlian_command(), *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    assert says in done.stderr and "store.url" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
