"""The health report: ``xinlian health sweep|report|history`` from the command line, the same rows in
CSV, XLSX and JSON, filters by unit subtree and status, the ranking."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from cli.main import build_app
from hub.db import Database
from hub.health.report import items_per_week, ranking, rollup_counts, score_trend, source_report, unit_report
from hub.models import Source
from hub.settings import Settings
from hub.timeutil import to_zone
from tests.test_health_status import T0, crawled, run_sweep, world

__all__ = ["world"]  # the seeded units and sources, shared with test_health_status


def run(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["--config", str(config_file), *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output


def _cell(value: object) -> object:
    """A cell as both files can say it: Excel keeps no int/float difference (0.0 reads back as 0)."""
    text = "" if value is None else str(value)
    try:
        return float(text)
    except ValueError:
        return text


def _csv_rows(text: str) -> list[list[object]]:
    return [[_cell(value) for value in row] for row in csv.reader(io.StringIO(text))]


def _xlsx_rows(path: Path) -> list[list[object]]:
    sheet = load_workbook(path, read_only=True).active
    assert sheet is not None
    return [[_cell(value) for value in row] for row in sheet.iter_rows(values_only=True)]


def test_csv_xlsx_and_json_carry_the_same_rows(
    config_file: Path, database: Database, settings: Settings, world: dict[str, int], tmp_path: Path
) -> None:
    with database.session() as session:
        source = session.get(Source, world["branch-feed"])
        assert source is not None
        crawled(session, source, T0, "http_5xx")
        # Paused by the schedule (hub/schedule/plan.py): every format says when and why.
        source.paused_at, source.pause_reason = T0, "failing for 3 days (http_5xx)"
    code, output = run(config_file, "health", "sweep")
    assert code == 0, output
    assert "status changes recorded" in output
    for by in ("source", "unit"):
        code, text = run(config_file, "health", "report", "--by", by, "--format", "csv")
        assert code == 0, text
        rows = _csv_rows(text)
        xlsx = tmp_path / f"{by}.xlsx"
        code, output = run(config_file, "health", "report", "--by", by, "--format", "xlsx", "-o", str(xlsx))
        assert code == 0, output
        assert _xlsx_rows(xlsx) == rows  # header and every row, cell by cell
        code, text = run(config_file, "health", "report", "--by", by, "--format", "json")
        records = json.loads(text)
        assert [list(records[0])] == rows[:1]
        assert [[_cell(v) for v in record.values()] for record in records] == rows[1:]
    source_rows = {
        row[0]: row for row in _csv_rows(run(config_file, "health", "report", "--format", "csv")[1])[1:]
    }
    assert set(source_rows) == {"city", "east-b1", "east-school"}
    header = _csv_rows(run(config_file, "health", "report", "--format", "csv")[1])[0]
    broken = source_rows["east-b1"]
    assert broken[header.index("status")] == "broken"
    assert (
        broken[header.index("last_error")] == "http_5xx" and broken[header.index("consecutive_failures")] == 1
    )
    local = to_zone(T0, settings.timezone).strftime("%Y-%m-%d %H:%M")
    assert broken[header.index("paused_at")] == local
    assert broken[header.index("pause_reason")] == "failing for 3 days (http_5xx)"
    assert source_rows["east-school"][header.index("paused_at")] == ""  # not paused: an empty cell


def test_filters_table_and_history(config_file: Path, database: Database, world: dict[str, int]) -> None:
    with database.session() as session:
        source = session.get(Source, world["school-feed"])
        assert source is not None
        crawled(session, source, T0, "timeout")
    run(config_file, "health", "sweep")
    code, text = run(config_file, "health", "report", "--status", "unreachable", "--format", "json")
    assert code == 0 and [row["unit"] for row in json.loads(text)] == ["east-school"]
    code, text = run(config_file, "health", "report", "--unit", "east", "--by", "unit", "--format", "json")
    assert sorted(row["unit"] for row in json.loads(text)) == ["east", "east-b1", "east-school"]
    code, output = run(config_file, "health", "report", "--unit", "nowhere")
    assert code == 2 and "unknown unit" in output
    code, output = run(config_file, "health", "report", "--format", "xlsx")
    assert code == 2 and "--output" in output
    code, table = run(config_file, "health", "report", "--by", "unit")
    assert code == 0 and "east-school" in table and "unreachable" in table and "4 units" in table
    code, trail = run(config_file, "health", "history", "--source", str(world["school-feed"]))
    assert code == 0 and "unreachable" in trail and "timeout" in trail
    # Three sources on one host without a website: one homepage, nothing listens on port 9.
    code, output = run(config_file, "health", "probe")
    assert code == 0 and "probed 3 sources (1 homepages): 0 fine, 3 with a problem" in output, output
    assert "probed 0 sources" in run(config_file, "health", "probe")[1]  # not due again before a day


def test_ranking_and_trend(database: Database, settings: Settings, world: dict[str, int]) -> None:
    with database.session() as session:
        source = session.get(Source, world["branch-feed"])
        assert source is not None
        crawled(session, source, T0, "dns")  # one of two crawls failed: lower availability than the school
    run_sweep(database, settings, T0)
    run_sweep(database, settings, T0 + timedelta(days=30))
    with database.session() as session:
        branches = ranking(session, level="branch")
        assert [(row["rank"], row["unit"]) for row in branches] == [(1, "east-school"), (2, "east-b1")]
        assert branches[0]["score"] > branches[1]["score"]
        assert [row["unit"] for row in ranking(session, level="city")] == ["city"]
        months = score_trend(session, world["branch"])
        assert [month for month, _ in months] == ["2024-06", "2024-07"]
        units = unit_report(session, settings.timezone)
        by_unit = {row[0]: dict(zip(units.columns, row, strict=True)) for row in units.rows}
        assert by_unit["east-b1"]["rank_in_level"] == 2 and by_unit["east-b1"]["availability"] == 0.5
        assert by_unit["city"]["rank_in_level"] == 1 and by_unit["east"]["score"] is None
        sources = source_report(session, T0, settings.timezone, 14, statuses=["unreachable"])
        assert [row[0] for row in sources.rows] == ["east-b1"]


def test_items_per_week_and_tree_rollup(
    database: Database, settings: Settings, world: dict[str, int]
) -> None:
    with database.session() as session:
        source = session.get(Source, world["school-feed"])
        assert source is not None
        crawled(session, source, T0, "http_5xx")
    run_sweep(database, settings, T0)
    with database.session() as session:
        # Items 1, 3, 6, 9, 12, 20, 30, 45, 60 and 75 days before T0.
        weeks = items_per_week(session, T0, source_id=world["branch-feed"], weeks=4)
        assert [count for _, count in weeks] == [0, 1, 2, 3] and weeks[-1][0] == T0 - timedelta(weeks=1)
        unit_weeks = items_per_week(session, T0, unit_id=world["branch"], weeks=12)
        assert sum(count for _, count in unit_weeks) == 10
        assert rollup_counts(session, "district") == {"east": {"active": 1, "broken": 1}}
        assert rollup_counts(session, "city") == {"city": {"active": 1, "broken": 1, "unknown": 1}}
