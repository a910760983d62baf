"""Alerts (docs/health.md "Alerts"): tell people when a source fails, when it recovers, and weekly which
units went stale or broken.

``listener`` (the health listener: decides, and writes alert_outbox rows in the sweep's transaction),
``recipients`` (webhooks and e-mail contacts from the [alerts] settings), ``payload`` (what an alert
says), ``outbox`` (queue, claim, sent, failed with backoff, prune), ``webhook`` (signed JSON POST),
``mail`` (SMTP), ``messages`` (e-mail subject and text), ``deliver`` (send what is due), ``digest``
(the weekly digest), ``job`` (the worker's periodic job).
"""
