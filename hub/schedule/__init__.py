"""The adaptive schedule of sources (docs/architecture.md step 3).

``hub/scheduler.py`` claims due sources; this package decides when each is due next, after every
crawl: ``interval.py`` (publication rate → interval, per-level bounds, backoff, what the source asked
for, jitter; pure functions), ``rate.py`` (entries per week, a moving average), ``failures.py``
(weighted failure classes), ``plan.py`` (one source's next check, pause and resume; pure),
``reschedule.py`` (a finished run's sources, in a few statements), ``crawlnow.py`` (staff's "crawl
now"), ``hooks.py`` (status changes: paused / resumed, handed to hooks the caller passes in) and
``headers.py`` (Cache-Control max-age and feed ``<ttl>`` as seconds, for the crawlers).
"""
