"""Serve a sample network with uvicorn: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from samplenet.app import SampleApp
from samplenet.generate import publish_item
from samplenet.model import SampleItem, SampleNetwork

STARTUP_TIMEOUT_S = 10.0
# In-flight requests get this long after Ctrl-C; the stop event ends delayed ones sooner.
GRACEFUL_SHUTDOWN_S = 2


@dataclass
class RunningNetwork:
    """A network being served; ``base_url`` is like ``http://127.0.0.1:PORT``."""

    network: SampleNetwork
    base_url: str

    def publish(self, site_slug: str | None = None) -> SampleItem:
        """Add a new item now (to ``site_slug`` or the next healthy site in turn); thread-safe."""
        return publish_item(self.network, site_slug)

    def url(self, path: str) -> str:
        """Absolute URL of a server path such as ``/sites/city/rss.xml``."""
        return f"{self.base_url}{path}"


def _config(app: SampleApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app.build(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


@contextmanager
def running_network(
    network: SampleNetwork, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningNetwork]:
    """Serve ``network`` in a background thread until the block exits (port 0 picks a free port)."""
    app = SampleApp(network)
    config = _config(app, host, port)
    server = uvicorn.Server(config)
    sock = config.bind_socket()
    # asyncio only sets TCP_NODELAY on sockets it opens itself; accepted sockets inherit it from here.
    # Without it every response (headers, then body) waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.listen(config.backlog)  # accept connections from now on, even before the loop runs
    bound_port = sock.getsockname()[1]
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name=f"samplenet:{bound_port}", daemon=True
    )
    thread.start()
    try:
        if not app.ready.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError("sample network server did not start")
        yield RunningNetwork(network=network, base_url=f"http://{host}:{bound_port}")
    finally:
        app.request_stop()
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_S + GRACEFUL_SHUTDOWN_S)
        sock.close()


def serve_forever(
    network: SampleNetwork, host: str = "127.0.0.1", port: int = 8700, publish_every_s: float | None = None
) -> None:
    """Serve ``network`` in the foreground until Ctrl-C, publishing an item every ``publish_every_s``."""
    app = SampleApp(network, publish_every_s=publish_every_s)
    # uvicorn shuts down cleanly on Ctrl-C, then re-raises the signal; that is a normal stop here.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(_config(app, host, port)).run()
