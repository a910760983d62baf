"""The worker's health job: probe the homepages that are due, then recompute every status and score.

Run every ``health.tick_s``; a homepage is probed once per ``health.probe_interval_s`` (daily by
default), so a restarted worker does not probe everything again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.db import Database
from hub.health.events import HealthListener
from hub.health.probe import ProbeConfig, ProbeResult, run_probes
from hub.health.probestore import claim_probes, prune_probes, store_probe_results
from hub.health.sweep import SweepSummary, sweep
from hub.settings import Settings
from hub.timeutil import utcnow

log = logging.getLogger("xinlian.health")


@dataclass(slots=True)
class ProbeSummary:
    """How many sources and distinct homepages one probe run covered, and what it found."""

    sources: int = 0
    homepages: int = 0
    results: dict[int, ProbeResult] = field(default_factory=dict)  # by source id


def probe_due(
    settings: Settings,
    database: Database,
    now: datetime | None = None,
    source_ids: Sequence[int] | None = None,
) -> ProbeSummary:
    """Probe the due homepages (or those of ``source_ids``, due or not) and store the results."""
    now = now or utcnow()
    health = settings.health
    lease_s = health.probe_timeout_s * 4 + 300  # longer than any probe run of the job; short after a crash
    with database.session() as session:
        targets = claim_probes(session, now, lease_s, source_ids=source_ids)
    summary = ProbeSummary(sources=len(targets))
    if not targets:
        return summary
    # Sources sharing a homepage share a request (the robots.txt check uses the first one's URL).
    unique = list({target.url: target for target in targets.values()}.values())
    summary.homepages = len(unique)
    found = dict(
        zip((t.url for t in unique), run_probes(unique, ProbeConfig.from_settings(settings)), strict=True)
    )
    summary.results = {source_id: found[target.url] for source_id, target in targets.items()}
    with database.session() as session:
        store_probe_results(session, list(summary.results.items()), now, health.probe_interval_s)
        prune_probes(session, now, health.probe_keep_days)
    return summary


def health_tick(
    settings: Settings,
    database: Database,
    now: datetime | None = None,
    listeners: Sequence[HealthListener] = (),
) -> tuple[ProbeSummary, SweepSummary]:
    """Probe what is due, then sweep (statuses, scores, events to ``listeners``)."""
    now = now or utcnow()
    probed = probe_due(settings, database, now)
    with database.session() as session:
        swept = sweep(session, settings.health, settings.timezone, now, listeners)
    log.info(
        "health: probed %d sources (%d homepages); %s; %d status changes",
        probed.sources,
        probed.homepages,
        dict(swept.sources),
        len(swept.changes),
    )
    return probed, swept


def health_job(
    settings: Settings, database: Database, listeners: Sequence[HealthListener] = ()
) -> Callable[[], None]:
    """The worker's periodic job (cli/worker_cmd.py): one ``health_tick`` at the real clock."""

    def job() -> None:
        health_tick(settings, database, listeners=listeners)

    return job
