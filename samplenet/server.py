"""Serve a sample network with uvicorn: in a background thread (tests, demo), a child process (benchmarks)
or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import uvicorn

from samplenet.app import SampleApp
from samplenet.generate import publish_item
from samplenet.model import UNRESOLVABLE_HOST, SampleItem, SampleNetwork
from samplenet.resetserver import serving_resets
from samplenet.tls import TestCertificates, make_certificates

STARTUP_TIMEOUT_S = 10.0
# In-flight requests get this long after Ctrl-C; the stop event ends delayed ones sooner.
GRACEFUL_SHUTDOWN_S = 2


@dataclass
class RunningNetwork:
    """A network being served; ``base_url`` is like ``http://127.0.0.1:PORT``.

    A network with TLS sites is also served over TLS at ``tls_base_url`` (certificate signed by the CA in
    ``ca_file``); one with dead sites has ``dead_base_url``, a loopback port where nothing listens; one
    with unresolvable sites has ``unresolvable_base_url`` (a ``.invalid`` host name) and one with reset
    sites ``reset_base_url`` (samplenet/resetserver.py).
    """

    network: SampleNetwork
    base_url: str
    tls_base_url: str | None = None
    dead_base_url: str | None = None
    ca_file: str | None = None
    unresolvable_base_url: str | None = None
    reset_base_url: str | None = None

    @property
    def bases(self) -> dict[str, str]:
        """Base URL per site transport (http, https, dead), as samplenet.export takes them."""
        bases = {"http": self.base_url}
        if self.tls_base_url is not None:
            bases["https"] = self.tls_base_url
        if self.dead_base_url is not None:
            bases["dead"] = self.dead_base_url
        if self.unresolvable_base_url is not None:
            bases["unresolvable"] = self.unresolvable_base_url
        if self.reset_base_url is not None:
            bases["reset"] = self.reset_base_url
        return bases

    def publish(self, site_slug: str | None = None) -> SampleItem:
        """Add a new item now (to ``site_slug`` or the next healthy site in turn); thread-safe."""
        return publish_item(self.network, site_slug)

    def url(self, path: str) -> str:
        """Absolute URL of a server path such as ``/sites/city/rss.xml``."""
        return f"{self.base_url}{path}"


def _config(app: SampleApp, host: str, port: int, tls: TestCertificates | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        app.build(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
    )


@contextmanager
def _serving(app: SampleApp, config: uvicorn.Config) -> Iterator[int]:
    """Serve ``app`` in a background thread until the block exits; yields the bound port."""
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
        yield bound_port
    finally:
        app.request_stop()
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT_S + GRACEFUL_SHUTDOWN_S)
        sock.close()


@contextmanager
def running_network(
    network: SampleNetwork, host: str = "127.0.0.1", port: int = 0, now: datetime | None = None
) -> Iterator[RunningNetwork]:
    """Serve ``network`` in a background thread until the block exits (port 0 picks a free port).

    TLS sites get a second server with a certificate expiring ``network.tls_days_left`` days after
    ``now`` (default: the real clock, which is what TLS libraries check against); dead sites get a
    loopback port that is bound but never listens, so connecting is refused; unresolvable sites get a
    ``.invalid`` host name (RFC 6761: no resolver answers it); reset sites get the reset server.
    """
    with contextlib.ExitStack() as stack:
        app = SampleApp(network)
        bound_port = stack.enter_context(_serving(app, _config(app, host, port)))
        running = RunningNetwork(network=network, base_url=f"http://{host}:{bound_port}")
        transports = {site.transport for site in network.sites}
        if "https" in transports:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="samplenet-tls-")))
            certificates = make_certificates(directory, now or datetime.now(UTC), network.tls_days_left)
            tls_app = SampleApp(network)
            tls_port = stack.enter_context(_serving(tls_app, _config(tls_app, host, 0, certificates)))
            running.tls_base_url = f"https://{host}:{tls_port}"
            running.ca_file = str(certificates.ca_file)
        if "dead" in transports:
            dead = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            dead.bind((host, 0))  # held, never listening: nothing else takes the port, connections fail
            running.dead_base_url = f"http://{host}:{dead.getsockname()[1]}"
        if "unresolvable" in transports:
            running.unresolvable_base_url = f"http://{UNRESOLVABLE_HOST}:{bound_port}"
        if "reset" in transports:
            running.reset_base_url = stack.enter_context(serving_resets(network, host))
        yield running


def _serve_until_told(network: SampleNetwork, host: str, connection: Connection) -> None:
    with running_network(network, host) as running:
        connection.send(running.base_url)
        with contextlib.suppress(EOFError):
            connection.recv()  # any message, or the parent gone, ends the server


@contextmanager
def running_network_process(network: SampleNetwork, host: str = "127.0.0.1") -> Iterator[RunningNetwork]:
    """Serve ``network`` from a child process until the block exits (benchmarks).

    The server then has its own interpreter and GIL and does not slow the process that measures.
    The child is forked (the network holds a lock and cannot be pickled), so call this before the
    calling process starts threads; ``publish`` on the result does not reach the child's copy.
    """
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve_until_told, args=(network, host, theirs), daemon=True)
    child.start()
    try:
        if not ours.poll(STARTUP_TIMEOUT_S):
            raise RuntimeError("sample network server process did not start")
        yield RunningNetwork(network=network, base_url=ours.recv())
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        child.join(STARTUP_TIMEOUT_S + GRACEFUL_SHUTDOWN_S)
        if child.is_alive():
            child.kill()
            child.join()


def serve_forever(
    network: SampleNetwork, host: str = "127.0.0.1", port: int = 8700, publish_every_s: float | None = None
) -> None:
    """Serve ``network`` in the foreground until Ctrl-C, publishing an item every ``publish_every_s``."""
    app = SampleApp(network, publish_every_s=publish_every_s)
    # uvicorn shuts down cleanly on Ctrl-C, then re-raises the signal; that is a normal stop here.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(_config(app, host, port)).run()
