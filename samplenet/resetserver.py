"""A loopback server that dies mid-answer: the ``reset`` transport of the sample network.

For the source of a ``reset_mid_body`` site it sends the headers (with the full Content-Length) and half
of the feed, then resets the connection (TCP RST, SO_LINGER 0), as a crashing server or a middlebox does.
An ASGI app cannot reset its connection, hence this small asyncio server beside the main one.
robots.txt is answered (allow all); anything else is a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from samplenet.model import SampleNetwork, SampleSite
from samplenet.render_feeds import rss_feed

STARTUP_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 16 * 1024


def _answer(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class ResetServer:
    """Serves the ``reset_mid_body`` sites of ``network`` from ``base`` (set once the port is bound)."""

    def __init__(self, network: SampleNetwork) -> None:
        self.network = network
        self.base = ""

    def _site(self, path: str) -> SampleSite | None:
        for site in self.network.sites:
            if site.fault == "reset_mid_body" and site.source_path == path:
                return site
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request, then the connection ends (reset for a source, closed otherwise)."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        path = urlsplit(parts[1]).path if len(parts) == 3 else ""
        site = self._site(path)
        if path == "/robots.txt":
            writer.write(_answer("200 OK", b"User-agent: *\nAllow: /\n"))
        elif site is None:
            writer.write(_answer("404 Not Found", b"not found"))
        else:
            with self.network.lock:
                items = list(site.items)
            feed = rss_feed(site, items, self.base)
            whole = _answer("200 OK", feed, "application/rss+xml; charset=utf-8")
            writer.transport.set_write_buffer_limits(0)  # drain() returns once all of it left
            writer.write(whole[: len(whole) - len(feed) // 2])
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            sock = writer.get_extra_info("socket")
            if sock is not None:  # linger 0: close sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


@contextmanager
def serving_resets(network: SampleNetwork, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the reset server on a free loopback port until the block exits; yields its base URL."""
    server = ResetServer(network)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(64)
    server.base = f"http://{host}:{sock.getsockname()[1]}"
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: list[asyncio.Event] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        running = await asyncio.start_server(server.handle, sock=sock, limit=MAX_HEAD_BYTES)
        started.set()
        async with running:
            await stop[0].wait()

    thread = threading.Thread(
        target=loop.run_until_complete, args=(main(),), name="samplenet-reset", daemon=True
    )
    thread.start()
    try:
        if not started.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError("sample network reset server did not start")
        yield server.base
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(STARTUP_TIMEOUT_S)
        loop.close()
        sock.close()
