"""The command line's command table: every command is listed, runs, and loads only what it needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from cli.commandhelp import command_help
from cli.main import COMMANDS, build_app, load_command
from hub.db import Database

# Run in a fresh interpreter: which modules a command imports is the point.
_PROBE = """
import json, sys
from typer.core import TyperGroup
from typer.testing import CliRunner
from cli.main import build_app
result = CliRunner().invoke(build_app(), sys.argv[1:], env={"COLUMNS": "200"})
heavy = ("fastapi", "scrapy", "twisted", "aiohttp", "api", "crawlers", "samplenet")
print(json.dumps({
    "exit": result.exit_code,
    "output": result.output,
    "cli": sorted(m for m in sys.modules if m.startswith("cli.")),
    "heavy": sorted(m for m in heavy if m in sys.modules),
}))
"""


def _probe(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120, check=True
    )
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_help_lists_every_command_with_its_own_help() -> None:
    result = CliRunner().invoke(build_app(), ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in COMMANDS:
        command = load_command(name)
        summary = (command.help or "").strip().splitlines()[0]
        assert f" {name} " in result.output and summary[:40] in result.output, name


def test_help_read_from_the_source_is_the_commands_own() -> None:
    """The root help lists what cli/commandhelp.py reads from each module's source: it must be the text
    the loaded command carries (a docstring or a Typer group's help=), never a stale copy."""
    for name, (module, attribute) in COMMANDS.items():
        assert command_help(module, attribute) == load_command(name).help, name
    assert command_help("cli.users_cmd", "no_such_command") is None
    assert command_help("no_such_module_anywhere", "app") is None


def test_root_help_imports_no_command_module() -> None:
    """``xinlian --help`` used to import every command's module (1.2 s quiet, 2.3 s on a busy machine)."""
    for args in (["--help"], []):  # no arguments shows the help too
        answer = _probe(*args)
        assert answer["cli"] == ["cli.commandhelp", "cli.context", "cli.main"], args
        assert answer["heavy"] == [], args
        for name in COMMANDS:
            assert f" {name} " in str(answer["output"]), (args, name)


def test_a_command_listed_by_help_still_runs_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    """The help's one-line stand-ins are never kept in place of the commands."""
    group = typer.main.get_group(build_app())
    context = typer.Context(group, info_name="xinlian")
    group.get_help(context)  # typer's rich help prints itself
    assert "Manage staff accounts." in capsys.readouterr().out
    users = group.get_command(context, "users")
    assert isinstance(users, TyperGroup) and "list" in users.commands


def test_a_command_loads_its_own_module_only(config_file: Path, database: Database) -> None:
    """``xinlian users list`` used to import every command's module first: the web app, Scrapy and the
    health prober, a second of start-up per command for nothing."""
    answer = _probe("--config", str(config_file), "users", "list")
    assert answer["exit"] == 0, answer["output"]
    assert answer["cli"] == ["cli.commandhelp", "cli.context", "cli.main", "cli.users_cmd"]
    assert answer["heavy"] == []


def test_an_unknown_command_is_refused_with_a_suggestion() -> None:
    result = CliRunner().invoke(build_app(), ["source", "list"])
    assert result.exit_code == 2
    assert "No such command 'source'" in result.output and "sources" in result.output
