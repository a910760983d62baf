"""The demo flow, driven in-process: sample network → import → crawl → approve trusted → index → portal,
with the worker jobs the demo runs beside the portal (WebSub hub, outbox drain)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select

from api.app import create_app
from cli.demo import (
    DEMO_ACTOR,
    DEMO_PASSWORD,
    DEMO_TIMEOUT_S,
    DEMO_USER,
    demo_settings,
    run_pipeline,
    sample_network_running,
)
from cli.demo_cmd import demo_banner, demo_jobs, demo_serve_settings
from hub.db import Database
from hub.models import Item, ItemState, ModerationEvent, Source, SourceHealth, Unit
from hub.settings import Settings
from index.factory import open_backend
from moderation.service import approve
from tests.test_staff_auth import form_token
from tests.test_websub_hub import Subscriber


def printed_login(settings: Settings) -> tuple[str, str]:
    """The staff name and password the demo prints before serving."""
    [line] = [line for line in demo_banner(settings) if line.startswith("staff login:")]
    found = re.match(r"staff login:\s+(\S+) / (\S+)", line)
    assert found, line
    return found.group(1), found.group(2)


def test_demo_pipeline_serves_approved_items_from_many_sites(settings: Settings, tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=200)
    with sample_network_running(settings, port=0) as running:
        result = run_pipeline(settings, running, tmp_path, console)
        base_url = running.base_url
    assert result.crawl.sources_ok > 0
    assert result.approved > 0
    assert result.pending > 0  # untrusted sources wait in the queue
    # Every source is classified; the sample network's dead and failing sites are flagged as such.
    assert sum(result.health.values()) == result.crawl.sources_total
    assert result.health.get("active", 0) > 0
    assert result.health.get("broken", 0) + result.health.get("unreachable", 0) > 0, result.health

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
        assert hits[0]["title"] in re.sub("</?mark>", "", page.text)  # matches are marked in titles

        pending_id = min(pending_ids)
        assert client.get(f"/items/{pending_id}").status_code == 404
        queue = client.get("/api/v1/moderation/queue", auth=(DEMO_USER, DEMO_PASSWORD))
        assert queue.status_code == 200
        assert pending_id in {row["id"] for row in queue.json()["items"]}
    database.dispose()
    check_served_demo(settings)  # the same data, as `xinlian demo` serves it (one pipeline run for both)


def check_served_demo(settings: Settings) -> None:
    """On the demo's data, as `xinlian demo` serves it: the pages a visitor opens, the printed staff
    login, and the hub and drain jobs it runs beside the portal (driven here one round at a time)."""
    served = demo_serve_settings(settings)
    database = Database(served.store.url)
    backend = open_backend(served)
    jobs = demo_jobs(served, database, backend)
    assert [name for name, _job, _every in jobs] == ["drain", "websubhub", "health"]

    def run_jobs() -> None:
        for _name, job, _every in jobs:
            job()

    with database.session() as session:
        [unit_slug, unit_name] = session.execute(
            select(Unit.slug, Unit.name)
            .join(Item, Item.unit_id == Unit.id)
            .where(Item.state == ItemState.APPROVED.value)
            .order_by(Unit.id)
            .limit(1)
        ).one()
        approved_id = session.scalars(
            select(Item.id).where(Item.state == ItemState.APPROVED.value).order_by(Item.id).limit(1)
        ).one()
        failing_name = session.scalars(
            select(Source.name)
            .join(SourceHealth, SourceHealth.source_id == Source.id)
            .where(SourceHealth.status.in_(["broken", "unreachable"]))
            .order_by(Source.id)
            .limit(1)
        ).one()
        pending_id, pending_title = session.execute(
            select(Item.id, Item.title)
            .where(Item.state == ItemState.PENDING.value)
            .order_by(Item.id)
            .limit(1)
        ).one()
    subscriber = Subscriber()
    subscriber.thread.start()
    try:
        with TestClient(create_app(served, database, backend)) as client:
            assert client.get("/").status_code == 200
            directory = client.get("/units")
            assert directory.status_code == 200 and f"/units/{unit_slug}" in directory.text
            unit_page = client.get(f"/units/{unit_slug}")
            assert unit_page.status_code == 200 and unit_name in unit_page.text
            feed = client.get("/feed.atom")
            assert feed.status_code == 200 and "<feed" in feed.text and feed.headers.get("etag")
            again = client.get("/feed.atom", headers={"If-None-Match": feed.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
            widget = client.get("/widgets/latest", params={"unit": unit_slug})
            assert widget.status_code == 200 and "<a " in widget.text
            sitemap = client.get("/sitemap.xml")
            assert sitemap.status_code == 200 and f"/items/{approved_id}</loc>" in sitemap.text

            username, password = printed_login(served)
            form = client.get("/staff/login")
            signed_in = client.post(
                "/staff/login",
                data={"username": username, "password": password, "csrf_token": form_token(form.text)},
                follow_redirects=False,
            )
            assert signed_in.status_code == 303
            assert client.get("/staff/queue").status_code == 200
            health_page = client.get("/staff/health", params={"status": ["broken", "unreachable"]})
            assert health_page.status_code == 200
            assert failing_name in health_page.text

            # A subscription is answered 202 and verified by the demo's hub job; an approval then
            # reaches search (drain) and the subscriber (delivery).
            topic = served.web.base_url.rstrip("/") + "/feed.atom"
            callback = subscriber.url("/cb/demo")
            subscribe = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}
            assert client.post("/websub/hub", data=subscribe).status_code == 202
            run_jobs()
            [check] = subscriber.gets("/cb/demo")
            assert check.query["hub.mode"] == "subscribe"
            with database.session() as session:
                approve(session, pending_id, DEMO_ACTOR)
            run_jobs()
            hits = client.get("/api/v1/search", params={"q": pending_title, "limit": 50}).json()["items"]
            assert pending_id in {hit["id"] for hit in hits}
            [delivery] = subscriber.posts("/cb/demo")
            assert pending_title in delivery.body.decode("utf-8")
    finally:
        subscriber.server.shutdown()
        subscriber.server.server_close()
        backend.close()
        database.dispose()


def test_demo_settings_give_up_on_a_stalled_site_quickly(settings: Settings, tmp_path: Path) -> None:
    """The demo's crawl and probes wait at most DEMO_TIMEOUT_S for the sample network's stalling site
    (the configured 10-15 s, retried, made the demo's crawl take 22 s); a shorter configured one stays."""
    slow = settings.model_copy(
        update={
            "crawl": settings.crawl.model_copy(update={"download_timeout_s": 15.0}),
            "health": settings.health.model_copy(update={"probe_timeout_s": 10.0}),
        }
    )
    demo = demo_settings(slow, tmp_path)
    assert demo.crawl.download_timeout_s == demo.health.probe_timeout_s == DEMO_TIMEOUT_S < 10.0
    assert demo.demo and str(tmp_path) in demo.store.url
    quick = demo_settings(settings, tmp_path)  # the tests' 3 s
    assert quick.crawl.download_timeout_s == min(settings.crawl.download_timeout_s, DEMO_TIMEOUT_S)
