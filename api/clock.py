"""The app's clock: ``app.state.clock`` (``hub.timeutil.utcnow`` unless a test sets another), so session
timeouts and the login throttle can be tested without waiting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

Clock = Callable[[], datetime]


def get_clock(request: Request) -> Clock:
    """The clock of this app."""
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
