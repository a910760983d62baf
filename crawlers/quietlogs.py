"""Scrapy's log lines about failures the crawl records anyway, lowered from ERROR to INFO.

A dead branch site is an outcome (docs/architecture.md step 9: kind, message, counters, health), not an
error of the hub. Scrapy logs it as an ERROR, with a traceback when robots.txt could not be fetched, so
a crawl of a federation with a hundred dead sites filled the console with tracebacks around the
progress bar. The give-up line of the retry middleware has a setting (RETRY_GIVE_UP_LOG_LEVEL, in
crawlers/scrapy_settings.py); the robots.txt middleware has none: ``RecordedFailureFilter`` lowers its
line when the exception is a network failure the crawl classifies (crawlers/errors.py). Anything else
it logs (a parser bug, say) stays an ERROR.
"""

from __future__ import annotations

import logging

from crawlers.errors import classify_exception

ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"
# Kinds that are a site's failure, recorded on its outcome; "error" (unclassified) is not among them.
RECORDED_KINDS = frozenset({"timeout", "dns", "refused", "tls", "connection", "too_large", "blocked_private"})


class RecordedFailureFilter(logging.Filter):
    """On the robots.txt middleware's logger: a download failure of a recorded kind becomes INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if record.levelno < logging.ERROR or failure is None:
            return True
        if classify_exception(failure).kind not in RECORDED_KINDS:
            return True  # not a site's failure: stays an error
        record.levelno, record.levelname = logging.INFO, "INFO"
        # Handlers have no level of their own here (hub/logsetup.py): the logger's level decides, as it
        # would have for a record logged at INFO in the first place.
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)


def quiet_recorded_failures() -> None:
    """Install the filter (once per process; installing again changes nothing)."""
    robots = logging.getLogger(ROBOTS_LOGGER)
    if not any(isinstance(existing, RecordedFailureFilter) for existing in robots.filters):
        robots.addFilter(RecordedFailureFilter())
