"""``python -m bench``: run every benchmark with its default size."""

from __future__ import annotations

from bench import (
    analysis,
    feedparse,
    health,
    htmlcrawl,
    http,
    ingest,
    repoll,
    reposts,
    schedule,
    screen,
    search,
)

feedparse.main([])
ingest.main([])
repoll.main([])
htmlcrawl.main([])
screen.main([])
reposts.main([])
analysis.main([])
search.main([])
health.main([])
schedule.main([])
http.main([])
