"""Scrapy's robots.txt errors for a dead site are lowered to INFO; anything else it logs stays an error."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from twisted.internet.error import DNSLookupError

from crawlers.quietlogs import ROBOTS_LOGGER, RecordedFailureFilter, quiet_recorded_failures


def _log_error(exc: BaseException) -> None:
    try:
        raise exc
    except type(exc):
        logging.getLogger(ROBOTS_LOGGER).error(
            "Error downloading %s", "http://x.invalid/feed.xml", exc_info=True
        )


@pytest.fixture
def robots_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger(ROBOTS_LOGGER)
    saved_level, saved_filters = logger.level, list(logger.filters)
    quiet_recorded_failures()
    quiet_recorded_failures()  # twice: still one filter
    yield logger
    logger.setLevel(saved_level)
    logger.filters[:] = saved_filters


def test_a_dead_sites_robots_error_is_info_and_a_bug_stays_an_error(
    robots_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    assert sum(isinstance(f, RecordedFailureFilter) for f in robots_logger.filters) == 1
    robots_logger.setLevel(logging.WARNING)  # as the crawl processes run, unless debugging
    with caplog.at_level(logging.WARNING, logger=ROBOTS_LOGGER):
        _log_error(DNSLookupError("no results for hostname lookup: x.invalid"))
        _log_error(ValueError("robots parser bug"))
    assert [(r.levelname, r.exc_info[1].__class__.__name__) for r in caplog.records if r.exc_info] == [
        ("ERROR", "ValueError")
    ]
    caplog.clear()
    robots_logger.setLevel(logging.DEBUG)  # debugging: the dead site's line is there, at INFO
    _log_error(DNSLookupError("no results for hostname lookup: x.invalid"))
    assert [r.levelname for r in caplog.records] == ["INFO"]
