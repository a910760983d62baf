"""A tiny mutable web of HTML pages on loopback, for crawl tests that edit and delete pages.

``pages`` maps a path to (content type, body); tests change it between crawls. Paths not in it
answer 404 (robots.txt included, which allows everything).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (test output stays readable) and answers with ``send_body``."""

    def send_body(self, body: bytes, headers: Mapping[str, str] | None = None, status: int = 200) -> None:
        """Answer ``status`` with ``body``, its length and ``headers``."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class MiniSite:
    """Pages served by a running mini site; edit ``pages`` to change what the next crawl sees."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.headers: dict[str, dict[str, str]] = {}  # extra response headers per path

    def html(self, path: str, body: str) -> str:
        """Serve ``body`` as UTF-8 HTML at ``path``; returns its absolute URL."""
        self.pages[path] = ("text/html; charset=utf-8", body.encode("utf-8"))
        return self.base_url + path


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port (a thread per request) for the block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def mini_site() -> Iterator[MiniSite]:
    """Serve a MiniSite on a free loopback port for the length of the block."""
    site = MiniSite("")

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            page = site.pages.get(path)
            if page is None:
                self.send_error(404)
                return
            content_type, body = page
            self.send_body(body, {"Content-Type": content_type, **site.headers.get(path, {})})

    with serving(Handler) as base_url:
        site.base_url = base_url
        yield site
