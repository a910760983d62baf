"""Split one run's sources among the crawl processes by host (docs/architecture.md step 4).

Politeness lives in Scrapy's per-host download slot (concurrency, delay, robots.txt Crawl-delay), and a
slot exists in one process only, so a host's sources go to one process. A host holding more than one
process's fair share of the run (a hosting platform that carries many branch sites) is spread over
several processes instead, and each of them gets that host's budget divided: 1/k of its concurrency and
k times its delay, so the host sees the same load as from one process.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(slots=True)
class Part:
    """The sources one process crawls in a run, and the hosts it shares with other processes."""

    source_ids: list[int] = field(default_factory=list)
    host_shares: dict[str, int] = field(default_factory=dict)  # host -> how many processes crawl it


def host_of(url: str) -> str:
    """The key of Scrapy's download slot for ``url``: its host name, lower case, without the port.

    Accounts given as ``platform:id`` have no host here: they all go to the bridge, so they share one key.
    """
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


# How many feed sources' worth of work one source of a kind is: an HTML list or a sitemap source fetches
# its list pages and then each new article page (~20 requests and extractions), where a feed makes one
# request; counting them as one source each left a run of 26 HTML sources (520 pages) on one core.
SOURCE_WEIGHTS = {"html": 4, "sitemap": 4}


def source_weight(kinds: Iterable[str]) -> int:
    """The run's size in feed-source equivalents, for ``processes_for``."""
    return sum(SOURCE_WEIGHTS.get(kind, 1) for kind in kinds)


def processes_for(total: int, processes: int, min_sources_per_process: int) -> int:
    """How many processes a run of ``total`` sources (feed-source equivalents) is worth (at least one)."""
    return max(1, min(processes, total // min_sources_per_process))


def partition(sources: Iterable[tuple[int, str]], parts: int) -> list[Part]:
    """Split ``(source_id, url)`` pairs into at most ``parts`` parts by host, balanced by source count.

    Hosts are placed largest first on the least loaded part. A host with more sources than a fair share
    (total / parts, rounded up) is cut into as many pieces as it fills shares, each on another part.
    Empty parts are dropped.
    """
    by_host: dict[str, list[int]] = defaultdict(list)
    for source_id, url in sources:
        by_host[host_of(url)].append(source_id)
    total = sum(len(ids) for ids in by_host.values())
    parts = max(1, parts)
    share = max(1, math.ceil(total / parts))
    result = [Part() for _ in range(parts)]
    for host, ids in sorted(by_host.items(), key=lambda pair: (-len(pair[1]), pair[0])):
        pieces = min(parts, math.ceil(len(ids) / share))
        targets = sorted(range(parts), key=lambda index: len(result[index].source_ids))[:pieces]
        size = math.ceil(len(ids) / pieces)
        for piece, index in enumerate(targets):
            chunk = ids[piece * size : (piece + 1) * size]
            if not chunk:
                continue
            result[index].source_ids.extend(chunk)
            if pieces > 1:
                result[index].host_shares[host] = pieces
    return [part for part in result if part.source_ids]
