"""The command line, driven in-process with typer's runner against a real store and the sample network."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import build_app
from hub.db import Database
from hub.models import Item, ItemState, ModerationEvent, Source, Unit
from hub.settings import Settings
from index.backend import SearchQuery
from index.factory import open_backend
from moderation.policy import policy_for_source
from samplenet.server import RunningNetwork


def run(config_file: Path, *args: str) -> tuple[int, str]:
    # Wide enough that rich tables do not wrap URLs.
    result = CliRunner().invoke(build_app(), ["--config", str(config_file), *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output


def test_bad_registry_is_reported_with_file_and_line_and_nothing_imported(
    config_file: Path, database: Database, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "units:\n"
        "  - slug: city\n"
        "    name: 市\n"
        "    level: city\n"
        "    sources:\n"
        "      - {name: ok, kind: feed, url: 'http://127.0.0.1:1/a.xml'}\n"
        "  - slug: d1\n"
        "    name: 区\n"
        "    level: planet\n"
        "    parent: city\n",
        encoding="utf-8",
    )
    code, output = run(config_file, "sources", "import", str(bad))
    assert code == 1
    assert "bad.yaml:9" in output.replace("\n", "")
    assert "nothing was imported" in output
    with database.session() as session:
        assert session.scalars(select(Source)).all() == []


def test_import_crawl_moderate_search_from_the_command_line(
    config_file: Path,
    settings: Settings,
    database: Database,
    sample_registry_file: Path,
    sample_server: RunningNetwork,
) -> None:
    code, output = run(config_file, "init")
    assert code == 0, output
    code, output = run(config_file, "sources", "import", str(sample_registry_file))
    assert code == 0, output
    assert re.search(r"imported units: \d+ new, 0 changed, 0 unchanged; sources: \d+ new", output), output
    with database.session() as session:
        rss = session.scalars(select(Source).where(Source.url.like("%rss.xml"))).first()
        assert rss is not None
        source_id = rss.id

    code, output = run(config_file, "sources", "list")
    assert code == 0 and rss.url in output
    # The account sources' bridge routes are listed without their access key.
    assert sample_server.network.access_key not in output and "key=***" in output

    code, output = run(config_file, "crawl", "--source", str(source_id))
    assert code == 0, output
    assert "1 ok, 0 failed" in output
    with database.session() as session:
        crawled = session.get(Source, source_id)
        assert crawled is not None
        # The command gives the source its adaptive schedule, as the worker does (rate estimated now).
        assert crawled.entries_rate_at is not None

    with database.session() as session:
        item = session.scalars(select(Item).where(Item.source_id == source_id).order_by(Item.id)).first()
        assert item is not None and item.state == ItemState.PENDING.value
        item_id, title = item.id, item.title

    code, output = run(config_file, "moderate", "list")
    assert code == 0 and str(item_id) in output

    code, output = run(config_file, "moderate", "approve", str(item_id), "--as", "张三")
    assert code == 0, output
    with database.session() as session:
        approved = session.get(Item, item_id)
        assert approved is not None and approved.state == ItemState.APPROVED.value
        assert approved.reviewed_by == "张三"
        assert session.scalars(select(ModerationEvent.actor).where(ModerationEvent.item_id == item_id)).all()

    backend = open_backend(settings)
    try:
        hits = backend.search(SearchQuery(text=title)).hits
        assert item_id in {hit.item_id for hit in hits}
    finally:
        backend.close()

    # Rejecting an already-approved item is not a valid transition: a clear error, exit 1.
    code, output = run(config_file, "moderate", "reject", str(item_id), "--reason", "重复")
    assert code == 1
    assert f"item {item_id}" in output

    code, output = run(config_file, "sources", "export", "--format", "csv")
    assert code == 0 and rss.url in output


def test_auto_approve_policy_is_set_per_unit_subtree_and_per_source(
    config_file: Path, database: Database, sample_registry_file: Path
) -> None:
    assert run(config_file, "init")[0] == 0
    assert run(config_file, "sources", "import", str(sample_registry_file))[0] == 0
    with database.session() as session:
        district = session.scalars(select(Unit).where(Unit.level == "district").order_by(Unit.id)).first()
        assert district is not None
        slug, path = district.slug, district.path
        inside = session.scalars(
            select(Source.id).join(Unit).where(Unit.path.startswith(path)).order_by(Source.id)
        ).all()
        outside = session.scalars(select(Source.id).join(Unit).where(~Unit.path.startswith(path))).all()
        assert inside and outside
        assert all(policy_for_source(session, i) is None for i in [*inside, *outside])  # off by default

    code, output = run(config_file, "sources", "auto-approve", "on", "--unit", slug)
    assert code == 0 and f"{len(inside)} of {len(inside)} source(s)" in output, output
    code, output = run(config_file, "sources", "auto-approve", "off", "--source", str(inside[0]))
    assert code == 0 and "0 of 1 source(s)" in output, output
    with database.session() as session:
        policies = {i: policy_for_source(session, i) for i in [*inside, *outside]}
    assert policies[inside[0]] is None  # the source's own "off" beats its unit
    assert all(policies[i] is not None and policies[i].name == f"unit/{slug}" for i in inside[1:])  # type: ignore[union-attr]
    assert all(policies[i] is None for i in outside)

    assert run(config_file, "sources", "auto-approve", "maybe", "--unit", slug)[0] != 0
    assert run(config_file, "sources", "auto-approve", "on")[0] != 0  # neither --unit nor --source
    code, output = run(config_file, "sources", "auto-approve", "on", "--unit", "no-such-unit")
    assert code == 1 and "no unit 'no-such-unit'" in output


def test_a_store_without_this_versions_schema_stops_commands_until_init(
    config_file: Path, tmp_path: Path
) -> None:
    """A command on a new or an older store says to run `xinlian init` (exit 2) instead of failing on a
    missing table with a traceback; init creates or upgrades the schema and the command then works."""
    from alembic import command

    from hub.db import alembic_config

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"COLUMNS": "300", "XINLIAN_STORE__URL": url}

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(build_app(), ["--config", str(config_file), *args], env=env)
        return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")

    for args in (["sources", "list"], ["index", "status"], ["health", "report"]):
        code, output = cli(*args)
        assert code == 2 and "no Xinlian schema yet: run `xinlian init`" in output, (args, output)
    assert cli("init")[0] == 0
    assert cli("sources", "list")[0] == 0
    command.downgrade(alembic_config(url), "-1")  # a store left behind by the previous version
    code, output = cli("sources", "list")
    assert code == 2 and "run `xinlian init` to upgrade it" in output, output
    assert cli("init")[0] == 0 and cli("sources", "list")[0] == 0
