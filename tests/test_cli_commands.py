"""The command line's command table: every command is listed, runs, and loads only what it needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli.main import COMMANDS, build_app, load_command
from hub.db import Database

# Run in a fresh interpreter: which modules a command imports is the point.
_PROBE = """
import json, sys
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


def test_a_command_loads_its_own_module_only(config_file: Path, database: Database) -> None:
    """``xinlian users list`` used to import every command's module first: the web app, Scrapy and the
    health prober, a second of start-up per command for nothing."""
    answer = _probe("--config", str(config_file), "users", "list")
    assert answer["exit"] == 0, answer["output"]
    assert answer["cli"] == ["cli.context", "cli.main", "cli.users_cmd"]
    assert answer["heavy"] == []


def test_an_unknown_command_is_refused_with_a_suggestion() -> None:
    result = CliRunner().invoke(build_app(), ["source", "list"])
    assert result.exit_code == 2
    assert "No such command 'source'" in result.output and "sources" in result.output
