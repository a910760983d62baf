"""Process logging: plain text or JSON lines, with the id of the request being served.

``configure_logging`` is called once by the command that starts a process (never on import).
``REQUEST_ID`` holds the id of the HTTP request the current task serves (``api/requestlog.py`` sets
it); every record logged while serving it carries the id, in both formats. Values that look like
secrets (API tokens, bearer and basic credentials) are masked in every record as a last line of
defence: no code should log them in the first place. The configured secrets themselves (``secret_values``:
passwords, keys, tokens, passwords in URLs) are masked too, as written and URL-quoted, by
``SecretValuesFilter``: on our handlers (``configure_logging(..., secrets)``) and on handlers others
installed (``hide_secrets``). The crawl processes log through ours too: Scrapy, whose debug lines carry
request URLs with the bridge key, installs no handler there (crawlers/process.py).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, SecretStr

from hub.settings import CREDENTIAL_URL

# A context variable, not a global value: each request's task (and the threads it hands work to)
# sees its own id.
REQUEST_ID: ContextVar[str] = ContextVar("xinlian_request_id", default="")

_SECRET = re.compile(
    r"\b(xl_)[A-Za-z0-9_-]{16,}|\b((?:Bearer|Basic)\s+)[A-Za-z0-9+/=._~-]{8,}", re.IGNORECASE
)
# Fields an access-log record may carry (``logger.info(..., extra={...})``), copied into JSON lines.
EXTRA_FIELDS = ("method", "route", "status", "duration_ms", "client")
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words
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


def secret_values(settings: BaseModel) -> list[str]:
    """Every secret of ``settings``: SecretStr values and passwords written into URLs."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name, info in type(value).model_fields.items():
                inner = getattr(value, name)
                extra = info.json_schema_extra
                if isinstance(inner, str) and isinstance(extra, dict) and extra.get(CREDENTIAL_URL):
                    found.extend(_url_credentials(inner))
                walk(inner)
        elif isinstance(value, dict):
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list | tuple):
            for inner in value:
                walk(inner)
        elif isinstance(value, str) and "@" in value and "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:  # not a URL after all
                password = None
            if password:
                found.append(password)

    walk(settings)
    return [value for value in dict.fromkeys(found) if len(value) >= MIN_SECRET_CHARS]


def _url_credentials(url: str) -> list[str]:
    """The parts of a credential URL (a webhook's) that carry its token: path, query, and both."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return [value for value in (tail, parts.path, parts.query) if value.strip("/")]


class SecretValuesFilter(logging.Filter):
    """Masks the given secret values, as written and URL-quoted, in a record's message and traceback.

    Add it to handlers, not loggers: a logger's filters never see records of its child loggers."""

    def __init__(self, values: Iterable[str]) -> None:
        super().__init__()
        forms = {form for value in values if len(value) >= MIN_SECRET_CHARS for form in _spellings(value)}
        longest_first = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, longest_first))) if forms else None

    def mask(self, text: str) -> str:
        """``text`` with every secret form replaced by ``***``."""
        return self._pattern.sub("***", text) if self._pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text once set: the traceback is masked once, for every handler.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


def _spellings(value: str) -> tuple[str, ...]:
    """``value`` as written and as URLs and forms quote it."""
    quoted = quote(value, safe="")
    return (value, quoted, quote(value), quoted.replace("%20", "+"))


def hide_secrets(values: Iterable[str]) -> None:
    """Mask ``values`` in every record the root logger's handlers write (including handlers a library
    installed, such as Scrapy's)."""
    values = list(values)
    for handler in logging.getLogger().handlers:
        handler.addFilter(SecretValuesFilter(values))


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
            entry["exc"] = mask_secrets(record.exc_text or self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def make_handler(fmt: Literal["text", "json"], secrets: Iterable[str] = ()) -> logging.Handler:
    """A stderr handler in format ``fmt`` with the request-context filter, masking ``secrets``."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestContextFilter())
    handler.addFilter(SecretValuesFilter(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(level: str, fmt: Literal["text", "json"], secrets: Iterable[str] = ()) -> None:
    """Send every logger's records (uvicorn's included) to one stderr handler in ``fmt``, with
    ``secrets`` (``secret_values(settings)``) masked.

    Call it after anything that sets up logging its own way (``uvicorn.run(..., log_config=None)``
    keeps uvicorn from replacing it)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(fmt, secrets))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The app's own access log (api/requestlog.py) replaces uvicorn's, which prints raw paths and
    # query strings (a WebSub callback path is a secret).
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
