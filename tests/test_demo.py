"""The demo flow, driven in-process: sample network → import → crawl → approve trusted → index → portal."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select

from api.app import create_app
from cli.demo import DEMO_ACTOR, DEMO_PASSWORD, DEMO_USER, run_pipeline, sample_network_running
from hub.db import Database
from hub.models import Item, ItemState, ModerationEvent
from hub.settings import Settings


def test_demo_pipeline_serves_approved_items_from_many_sites(settings: Settings, tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=200)
    with sample_network_running(settings, port=0) as running:
        result = run_pipeline(settings, running, tmp_path, console)
        base_url = running.base_url
    assert result.crawl.sources_ok > 0
    assert result.approved > 0
    assert result.pending > 0  # untrusted sources wait in the queue

    database = Database(settings.store.url)
    with database.session() as session:
        pending_ids = set(session.scalars(select(Item.id).where(Item.state == ItemState.PENDING.value)))
        approved = session.scalars(select(Item).where(Item.state == ItemState.APPROVED.value)).all()
        assert {item.reviewed_by for item in approved} == {DEMO_ACTOR}
        events = session.scalars(select(ModerationEvent).where(ModerationEvent.action == "approve")).all()
        assert len(events) == len(approved)

    with TestClient(create_app(settings, database)) as client:
        found = client.get("/api/v1/search", params={"q": "党建", "limit": 100}).json()
        hits = found["items"]
        assert hits, found
        assert not pending_ids & {hit["id"] for hit in hits}
        # Each result links to its page on the sample network; at least three different sites answer.
        sites = {urlsplit(hit["url"]).path.split("/")[2] for hit in hits}
        assert all(hit["url"].startswith(base_url) for hit in hits)
        assert len(sites) >= 3, sites
        page = client.get("/search", params={"q": "党建"})
        assert page.status_code == 200
        assert hits[0]["title"] in page.text

        pending_id = min(pending_ids)
        assert client.get(f"/items/{pending_id}").status_code == 404
        queue = client.get("/api/v1/moderation/queue", auth=(DEMO_USER, DEMO_PASSWORD))
        assert queue.status_code == 200
        assert pending_id in {row["id"] for row in queue.json()["items"]}
    database.dispose()
