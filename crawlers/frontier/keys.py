"""The Redis keys of one frontier run: every key starts with ``<prefix>:<run id>:``, so runs never mix and
the runner deletes a run's keys with one pattern."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RunKeys:
    """Key names of run ``run_id`` under ``prefix`` (``crawl.frontier_key_prefix``)."""

    prefix: str
    run_id: int

    @property
    def base(self) -> str:
        return f"{self.prefix}:{self.run_id}"

    @property
    def pattern(self) -> str:
        """Matches every key of the run (SCAN MATCH)."""
        return f"{self.base}:*"

    @property
    def run(self) -> str:
        """Hash: ``open`` sources without an outcome, ``processes`` sharing the run (the runner's own plus
        ``remote`` slots for other machines, of which ``joined`` are taken and ``left`` done writing),
        ``progress`` (requests and items finished anywhere, a stall detector)."""
        return f"{self.base}:run"

    @property
    def queue(self) -> str:
        """The shared request queue (scrapy-redis FifoQueue)."""
        return f"{self.base}:requests"

    @property
    def dupefilter(self) -> str:
        """scrapy-redis's fingerprint set (our requests are deduplicated per source, see ``seen``)."""
        return f"{self.base}:dupefilter"

    @property
    def in_flight(self) -> str:
        """Hash: source id -> requests and items of the source not finished yet, in every process."""
        return f"{self.base}:in_flight"

    def parts(self, source_id: int) -> str:
        """Hash: process id -> that process's part of the source's state (pickled)."""
        return f"{self.base}:parts:{source_id}"

    def seen(self, source_id: int) -> str:
        """Set: URLs claimed for the source in this run (the ledger's per-source dedupe)."""
        return f"{self.base}:seen:{source_id}"


def open_runs_key(prefix: str) -> str:
    """Set of the ids of runs open under ``prefix``: where joiners on other machines find them."""
    return f"{prefix}:open"
