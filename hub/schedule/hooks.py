"""Status changes of the schedule: a source paused after failing for days, or resumed (step 3).

Whoever changes a source's pause state (``reschedule.py`` after a crawl, ``crawlnow.py``) calls every
hook it was given, in the same transaction, so a hook may write rows (hub/health's events) that
commit or roll back with the change. Hooks are passed in, never registered globally; ``status_hooks``
builds the list each process uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from hub.settings import Settings

logger = logging.getLogger("xinlian.schedule")


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One source paused or resumed, when and why."""

    source_id: int
    state: Literal["paused", "resumed"]
    at: datetime
    reason: str


StatusHook = Callable[[Session, StatusChange], None]


def log_status_change(session: Session, change: StatusChange) -> None:
    """Log the change (a pause as a warning: someone should look at the source)."""
    level = logging.WARNING if change.state == "paused" else logging.INFO
    logger.log(level, "source %d %s: %s", change.source_id, change.state, change.reason)


def status_hooks(settings: Settings) -> list[StatusHook]:
    """The hooks of a process: logging, and (hub/health) recording the change as an event."""
    return [log_status_change]


def notify(session: Session, hooks: Sequence[StatusHook], changes: Sequence[StatusChange]) -> None:
    """Hand every change to every hook, in order."""
    for change in changes:
        for hook in hooks:
            hook(session, change)
