"""The weekly digest: each district's contacts get the stale and broken units under it, once per week's
slot, whenever the alerts job runs (clock injected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.alerts.digest import latest_slot
from hub.alerts.job import alerts_tick
from hub.db import Database
from hub.health.sweep import sweep
from hub.settings import Settings
from tests import test_alerts
from tests.moderation_seed import add_unit
from tests.test_alerts import Receiver, Smtp, alert_settings
from tests.test_health_status import T0, add_items, add_source, crawled

receiver = test_alerts.receiver
smtp = test_alerts.smtp


def test_the_weekly_slot_is_the_configured_day_and_hour_in_the_zone() -> None:
    zone = "Asia/Shanghai"  # Monday 2024-06-03 09:00 there is 01:00 UTC
    monday_9 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)
    assert latest_slot(monday_9, zone, 0, 9) == monday_9
    assert latest_slot(monday_9 - timedelta(minutes=1), zone, 0, 9) == monday_9 - timedelta(days=7)
    assert latest_slot(monday_9 + timedelta(days=6, hours=22), zone, 0, 9) == monday_9
    assert latest_slot(monday_9, zone, 4, 18) == datetime(2024, 5, 31, 10, 0, tzinfo=UTC)  # Friday 18:00


def test_each_district_contact_gets_its_stale_and_broken_units_once_a_week(
    database: Database, settings: Settings, receiver: Receiver, smtp: Smtp
) -> None:
    settings = alert_settings(
        settings,
        receiver,
        smtp,
        email_to=["ops@example.cn"],
        contacts={"east": ["east@example.cn", "east2@example.cn"], "west": ["west@example.cn"]},
    )
    with database.session() as session:
        city = add_unit(session, "city", "city")
        east = add_unit(session, "east", "district", city)
        west = add_unit(session, "west", "district", city)
        lively = add_source(session, add_unit(session, "east-lively", "branch", east), "lively")
        add_items(session, lively, [1, 5, 9], T0)
        stale = add_source(session, add_unit(session, "east-stale", "branch", east), "stale")
        add_items(session, stale, [40, 50], T0)
        broken = add_source(session, add_unit(session, "east-broken", "branch", east), "broken")
        add_items(session, broken, [2, 4], T0)
        west_ok = add_source(session, add_unit(session, "west-ok", "branch", west), "west-ok")
        add_items(session, west_ok, [1], T0)
        east_site = add_source(session, east, "east-site")
        add_items(session, east_site, [1], T0)
        for source in (lively, stale, west_ok, east_site):
            crawled(session, source, T0)
        crawled(session, broken, T0, "http_5xx")
    with database.session() as session:
        sweep(session, settings.health, settings.timezone, T0, [])

    first = alerts_tick(settings, database, T0)  # Monday 12:00 in Shanghai: this week's digest is due
    assert first.sent == 2  # east's two contacts; west has nothing stale or broken; ops get no digest
    assert smtp.box.to("west@example.cn") == [] and smtp.box.to("ops@example.cn") == []
    (message,) = smtp.box.to("east@example.cn")
    assert message["Subject"] == "[Xinlian] Weekly health digest: east单位, units needing attention: 2"
    body = message.get_content()
    assert "east-stale单位 (east-stale): stale" in body and "east-broken单位 (east-broken): broken" in body
    assert "east-lively" not in body
    assert "/staff/health?view=units&unit=east&status=stale" in body
    assert receiver.posts == []  # the digest is e-mail only

    assert alerts_tick(settings, database, T0 + timedelta(hours=1)).sent == 0
    assert alerts_tick(settings, database, T0 + timedelta(days=6, hours=12)).sent == 0  # Sunday night
    assert alerts_tick(settings, database, T0 + timedelta(days=7)).sent == 2  # next Monday after 9:00
    assert len(smtp.box.to("east2@example.cn")) == 2


def test_the_digest_lists_the_paused_sources_of_the_district(
    database: Database, settings: Settings, receiver: Receiver, smtp: Smtp
) -> None:
    settings = alert_settings(
        settings, receiver, smtp, contacts={"east": ["east@example.cn"], "west": ["west@example.cn"]}
    )
    with database.session() as session:
        city = add_unit(session, "city", "city")
        east = add_unit(session, "east", "district", city)
        west = add_unit(session, "west", "district", city)
        # A lively unit (no status to list) whose second source the schedule paused: still a digest.
        branch = add_unit(session, "east-b1", "branch", east)
        lively = add_source(session, branch, "lively")
        add_items(session, lively, [1, 5, 9], T0)
        paused = add_source(session, branch, "gone-dark")
        add_items(session, paused, [1, 5, 9], T0)
        west_ok = add_source(session, add_unit(session, "west-ok", "branch", west), "west-ok")
        add_items(session, west_ok, [1], T0)
        for source in (lively, paused, west_ok):
            crawled(session, source, T0)
        paused.paused_at, paused.pause_reason = T0 - timedelta(days=1), "failing for 3 days: dns"
        paused_id = paused.id
    with database.session() as session:
        sweep(session, settings.health, settings.timezone, T0, [])

    assert alerts_tick(settings, database, T0).sent == 1  # east only: west has nothing to list
    (message,) = smtp.box.to("east@example.cn")
    assert message["Subject"] == (
        "[Xinlian] Weekly health digest: east单位, units needing attention: 0, paused sources: 1"
    )
    body = message.get_content()
    # Paused a day before T0 (04:00 UTC): 12:00 in Shanghai.
    assert f"- gone-dark (#{paused_id}, east-b1单位): since 2024-06-02 12:00" in body
    assert "failing for 3 days: dns" in body and "lively" not in body
    assert smtp.box.to("west@example.cn") == []
