"""Process logging: plain text or JSON lines, with the id of the request being served.

``configure_logging`` is called once by the command that starts a process (never on import).
``REQUEST_ID`` holds the id of the HTTP request the current task serves (``api/requestlog.py`` sets
it); every record logged while serving it carries the id, in both formats. Values that look like
secrets (API tokens, bearer and basic credentials) are masked in every record as a last line of
defence: no code should log them in the first place.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

# A context variable, not a global value: each request's task (and the threads it hands work to)
# sees its own id.
REQUEST_ID: ContextVar[str] = ContextVar("xinlian_request_id", default="")

_SECRET = re.compile(
    r"\b(xl_)[A-Za-z0-9_-]{16,}|\b((?:Bearer|Basic)\s+)[A-Za-z0-9+/=._~-]{8,}", re.IGNORECASE
)
# Fields an access-log record may carry (``logger.info(..., extra={...})``), copied into JSON lines.
EXTRA_FIELDS = ("method", "route", "status", "duration_ms", "client")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def mask_secrets(text: str) -> str:
    """``text`` with token-like values replaced by ``***``."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", text)


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` to every record and masks secrets in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request id and access fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exc"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def make_handler(fmt: Literal["text", "json"]) -> logging.Handler:
    """A stderr handler in format ``fmt`` with the request-context filter."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(level: str, fmt: Literal["text", "json"]) -> None:
    """Send every logger's records (uvicorn's included) to one stderr handler in ``fmt``.

    Call it after anything that sets up logging its own way (``uvicorn.run(..., log_config=None)``
    keeps uvicorn from replacing it)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(fmt))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The app's own access log (api/requestlog.py) replaces uvicorn's, which prints raw paths and
    # query strings (a WebSub callback path is a secret).
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
