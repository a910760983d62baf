"""SSRF corpus (issue 8, hostile input): no request reaches a private address unless it is allow-listed.

The corpus: private ranges (10/8, 172.16/12, 192.168/16, 169.254.169.254, 100.64/10, 0.0.0.0), IPv6
loopback, IPv4-mapped IPv6, decimal, octal, hex and short IPv4 forms, names resolving to loopback, a
userinfo and a backslash parser trick, each as a source URL and behind a redirect from an allow-listed
host. Every network path the project has is driven at it: the crawl (Scrapy spiders, and the fast feed
path), with follow-ups (teaser full text, list-page articles, sitemap pages); ``sources discover`` and
``sources test``; the WebSub subscriber; our WebSub hub's callbacks (at subscription time, at
verification and at delivery); the health homepage probe.

"Reaches" is measured, not inferred: a recorder listens on 127.0.0.2 (a loopback alias the guard must
refuse, targeted in every spelling: 2130706434, 0x7f.0.0.2, 127.2...), on ::1, and on 127.0.0.1, where
only requests addressed to the allow-listed 127.0.0.1 may arrive (the Host header says how the client
spelled it: 0.0.0.0, localhost... land there if let through). Other spellings of 127.0.0.1 itself are
that allowed address (crawlers/safety.py), so they are not in the corpus. The private ranges nothing
here can listen on are checked by the recorded refusal.
In-process paths also get DNS names resolving to private addresses from a resolver override
(``socket.getaddrinfo`` answering a ``.ssrf.test`` zone); the crawl processes resolve names through the
system (``localhost``, and this machine's name when it is a loopback one).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from api.feeds.callbacks import callback_guard
from api.feeds.hubjob import run_hub
from crawlers.discover import discover
from crawlers.preview import preview_source
from crawlers.runner import crawl
from crawlers.websub import renew_due
from hub.db import Database
from hub.health.probe import ProbeConfig, ProbeTarget, run_probes
from hub.models import CrawlOutcome, HubIntent, Source, Unit, WebSubSubscription
from hub.settings import Settings
from hub.websub import note_hub
from hub.websubhub import DeliveryRequest, request_intent
from hub.websubhub_http import deliver
from samplenet.export import HTML_SELECTORS
from tests.fixtures.serve import serve_app

REDIRECT_CODES = (301, 302, 303, 307, 308)
FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
    b'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>recorder</title>'
    b"<link>http://127.0.0.1/</link><item><title>reached</title><link>http://127.0.0.1/1.html</link>"
    b"<content:encoded>this answer means the guard let a request through</content:encoded>"
    b"</item></channel></rss>"
)  # full text in the feed: no article page is fetched from it


# --- the recorder -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One connection a listener accepted: where, the request line and the Host header sent."""

    listener: str
    request_line: str
    host: str


@dataclass
class Recorder:
    """Listens on 127.0.0.2, ::1 and 127.0.0.1 (ports p, r, q), records every connection, answers a feed."""

    hits: list[Hit] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def p(self) -> int:
        return self.ports["127.0.0.2"]

    @property
    def q(self) -> int:
        return self.ports["127.0.0.1"]

    @property
    def r(self) -> int:
        return self.ports["::1"]

    @property
    def control(self) -> str:
        """An allow-listed origin of the recorder: requests to it must get through (the control)."""
        return f"http://127.0.0.1:{self.q}/control"

    def take(self) -> list[Hit]:
        """The hits so far (and forget them)."""
        with self.lock:
            taken, self.hits = self.hits, []
        return taken

    def check(self) -> list[str]:
        """Take the hits; assert none is one a guard should have prevented (anything on 127.0.0.2 or ::1,
        anything on 127.0.0.1 not addressed as 127.0.0.1); return the request lines of the controls."""
        hits = self.take()
        allowed_host = f"127.0.0.1:{self.q}"
        assert [hit for hit in hits if hit.listener != "127.0.0.1" or hit.host != allowed_host] == []
        return [hit.request_line for hit in hits if " /control/" in hit.request_line]

    def serve(self, listener: str, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(2.0)
            head = b""
            with contextlib.suppress(OSError):  # a client that connects and says nothing is a hit too
                while b"\r\n\r\n" not in head and len(head) < 16384:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    head += chunk
            lines = head.decode("latin-1").split("\r\n")
            host = next(
                (line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("host:")), ""
            )
            with self.lock:
                self.hits.append(Hit(listener, lines[0], host))
            answer = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                b"Content-Length: " + str(len(FEED)).encode() + b"\r\nConnection: close\r\n\r\n" + FEED
            )
            with contextlib.suppress(OSError):  # the client may have gone
                connection.sendall(answer)


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    """The recorder, checked to register a connection on each listener, then emptied."""
    found = Recorder()
    selector = selectors.DefaultSelector()
    sockets: list[socket.socket] = []
    for address in ("127.0.0.2", "::1", "127.0.0.1"):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.bind((address, 0))
        listening.listen(64)
        listening.setblocking(False)
        found.ports[address] = listening.getsockname()[1]
        selector.register(listening, selectors.EVENT_READ, address)
        sockets.append(listening)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.1):
                listening = key.fileobj
                assert isinstance(listening, socket.socket)
                try:
                    connection, _ = listening.accept()
                except OSError:
                    continue
                connection.setblocking(True)
                threading.Thread(target=found.serve, args=(key.data, connection), daemon=True).start()

    thread = threading.Thread(target=loop, name="ssrf-recorder", daemon=True)
    thread.start()
    try:
        for address, port in found.ports.items():
            with socket.create_connection((address, port), timeout=2) as probe:
                probe.sendall(b"GET /self-test HTTP/1.1\r\nHost: self-test\r\n\r\n")
                probe.recv(1)
        assert sorted(hit.listener for hit in found.take()) == sorted(found.ports)
        yield found
    finally:
        stop.set()
        thread.join(5)
        for listening in sockets:
            listening.close()


# --- the corpus -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """An origin (scheme://host:port) no request may reach, and what it tries."""

    origin: str
    why: str
    # A parser trick: the guard and the client must read the same host; when both read the allowed
    # 127.0.0.1 the request is legitimately made, so only the recorder's verdict counts.
    trick: bool = False


def literal_targets(rec: Recorder) -> list[Target]:
    """Addresses in the URL itself (any spelling), names every resolver maps to loopback, URL tricks."""
    p, q, r = rec.p, rec.q, rec.r
    targets = [
        Target(f"http://127.0.0.2:{p}", "loopback alias"),
        Target(f"http://[::1]:{r}", "IPv6 loopback"),
        Target(f"http://[::ffff:127.0.0.1]:{q}", "IPv4-mapped IPv6"),
        Target(f"http://[::ffff:7f00:1]:{q}", "IPv4-mapped IPv6, hex"),
        Target(f"http://[0:0:0:0:0:ffff:7f00:2]:{p}", "IPv4-mapped IPv6, long form"),
        Target(f"http://2130706434:{p}", "decimal 127.0.0.2"),
        Target(f"http://0177.0.0.2:{p}", "octal"),
        Target(f"http://0x7f.0.0.2:{p}", "hex part"),
        Target(f"http://0x7f000002:{p}", "hex number"),
        Target(f"http://127.2:{p}", "short form"),
        Target(f"http://127.0.2:{p}", "short form of 127.0.0.2"),
        Target(f"http://127.000.000.002:{p}", "zero-padded"),
        Target(f"http://0.0.0.0:{q}", "unspecified (reaches local listeners)"),
        Target(f"http://0:{q}", "0 (= 0.0.0.0)"),
        Target(f"http://10.0.0.1:{q}", "10/8"),
        Target(f"http://172.16.0.1:{q}", "172.16/12"),
        Target(f"http://172.31.255.254:{q}", "172.16/12, top"),
        Target(f"http://192.168.0.1:{q}", "192.168/16"),
        Target("http://169.254.169.254", "cloud metadata"),
        Target(f"http://100.64.0.1:{q}", "CGNAT 100.64/10"),
        Target("http://[fd00:ec2::254]", "metadata over IPv6"),
        Target(f"http://[fe80::1]:{q}", "IPv6 link-local"),
        Target(f"http://localhost:{q}", "name resolving to loopback"),
        Target(f"http://LOCALHOST:{q}", "name resolving to loopback, upper case"),
        Target(f"http://user@127.0.0.2:{p}", "userinfo before the host"),
        Target(f"http://127.0.0.2:{p}\\@127.0.0.1:{q}", "backslash before @", trick=True),
    ]
    hostname = socket.gethostname()
    try:
        answers = {info[4][0] for info in socket.getaddrinfo(hostname, q, proto=socket.IPPROTO_TCP)}
    except OSError:
        answers = set()
    if answers and answers <= {"127.0.0.1", "::1"}:
        targets.append(Target(f"http://{hostname}:{q}", "this machine's name (resolves to loopback)"))
    return targets


# A DNS zone of names resolving to private addresses, answered in-process (resolver override).
FAKE_ZONE = {
    "alias.ssrf.test": "127.0.0.2",
    "six.ssrf.test": "::1",
    "mapped.ssrf.test": "::ffff:127.0.0.2",
    "meta.ssrf.test": "169.254.169.254",
    "ten.ssrf.test": "10.1.2.3",
    "cgnat.ssrf.test": "100.64.1.1",
}


def zone_targets(rec: Recorder) -> list[Target]:
    ports = {"alias": rec.p, "six": rec.r, "mapped": rec.p}
    return [
        Target(f"http://{name}:{ports.get(name.split('.')[0], rec.q)}", f"name resolving to {address}")
        for name, address in FAKE_ZONE.items()
    ]


@pytest.fixture
def fake_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """socket.getaddrinfo answers FAKE_ZONE names (guard and client alike), other names as before."""
    real = socket.getaddrinfo

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        address = FAKE_ZONE.get(str(name).lower().rstrip("."))
        if address is None:
            return real(host, port, family, type, proto, flags)
        number = int(port or 0)
        if ":" in address:
            return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --- an allow-listed host that leads into the corpus --------------------------------------------------


@dataclass
class Redirector:
    """A site on 127.0.0.1 (allow-listed): redirects into the corpus, and pages that link into it."""

    targets: list[Target]
    rec: Recorder
    base: str = ""

    def to(self, index: int, path: str) -> str:
        """A URL of this site that redirects to ``targets[index]`` + ``path``."""
        return f"{self.base}/to/{index}{path}"

    def into_corpus(self, path: str) -> list[str]:
        """A redirect to each target but the tricks (the Location header escapes them into plain URLs)."""
        return [self.to(n, path) for n, target in enumerate(self.targets) if not target.trick]

    def app(self) -> Starlette:
        async def redirect(request: Request) -> Response:
            index = int(request.path_params["index"])
            location = self.targets[index].origin + "/" + request.path_params["rest"]
            return RedirectResponse(location, status_code=REDIRECT_CODES[index % len(REDIRECT_CODES)])

        async def page(request: Request) -> Response:
            name = request.path_params["name"]
            origins = [target.origin for target in self.targets]
            if name == "teasers.xml":  # teaser-only entries: the crawler fetches each article for its text
                items = "".join(
                    f"<item><title>通知{n}</title><link>{escape(origin)}/article-{n}.html</link>"
                    f"<description>短</description></item>"
                    for n, origin in enumerate(origins)
                )
                body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
                return Response(body, media_type="application/rss+xml")
            if name == "list.html":
                rows = "".join(
                    f'<li><a href="{escape(origin)}/news/{n}.html">通知{n}</a>'
                    '<span class="date">2024-05-01</span></li>'
                    for n, origin in enumerate(origins)
                )
                return Response(
                    f'<html><body><ul class="news-list">{rows}</ul></body></html>', media_type="text/html"
                )
            if name == "sitemap.xml":
                urls = "".join(f"<url><loc>{escape(origin)}/page.html</loc></url>" for origin in origins)
                body = (
                    f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}'
                )
                return Response(body + "</urlset>", media_type="application/xml")
            if name == "home.html":  # what `sources discover` reads: advertised feeds, a news link
                links = "".join(
                    f'<link rel="alternate" type="application/rss+xml" href="{escape(origin)}/feed.xml">'
                    for origin in origins
                )
                news = f'<a href="{self.to(0, "/news/list.html")}">新闻动态</a>'
                return Response(
                    f"<html><head><title>首页</title>{links}</head><body>{news}</body></html>",
                    media_type="text/html",
                )
            if name == "robots.txt":
                return PlainTextResponse(
                    f"User-agent: *\nAllow: /\nSitemap: http://127.0.0.2:{self.rec.p}/sitemap.xml\n"
                )
            return PlainTextResponse("not found", status_code=404)

        return Starlette(
            routes=[
                Route("/to/{index:int}/{rest:path}", redirect, methods=["GET", "POST"]),
                Route("/{name:path}", page),
            ]
        )


@pytest.fixture
def redirector(recorder: Recorder) -> Iterator[Redirector]:
    site = Redirector(literal_targets(recorder), recorder)
    with serve_app(site.app()) as base:
        site.base = base
        yield site


def _unit(database: Database) -> int:
    with database.session() as session:
        unit = Unit(slug="ssrf", name="测试单位", level="branch", path="/")
        session.add(unit)
        session.flush()
        return unit.id


def _sources(database: Database, rows: list[tuple[str, str]]) -> dict[str, int]:
    """Sources (url, kind) of one unit; the id of each URL."""
    unit_id = _unit(database)
    with database.session() as session:
        sources = [
            Source(
                unit_id=unit_id,
                name=url[:200],
                kind=kind,
                url=url,
                selectors=dict(HTML_SELECTORS) if kind == "html" else None,
            )
            for url, kind in rows
        ]
        session.add_all(sources)
        session.flush()
        return {source.url: source.id for source in sources}


# --- the crawl: Scrapy spiders and the fast feed path ---------------------------------------------------


@pytest.mark.parametrize("fast_feeds", [True, False], ids=["fast-feeds", "scrapy-feeds"])
def test_crawl_reaches_no_private_address(
    fast_feeds: bool, settings: Settings, database: Database, recorder: Recorder, redirector: Redirector
) -> None:
    settings = settings.model_copy(
        update={"crawl": settings.crawl.model_copy(update={"fast_feeds": fast_feeds})}
    )
    targets = redirector.targets
    direct = [(t.origin + "/feed.xml", "feed") for t in targets] + [
        (t.origin + "/list.html", "html") for t in targets
    ]
    via = [(url, "feed") for url in redirector.into_corpus("/feed.xml")]
    via += [(url, "html") for url in redirector.into_corpus("/list.html")]
    follow_ups = [
        (redirector.base + "/teasers.xml", "feed"),
        (redirector.base + "/list.html", "html"),
        (redirector.base + "/sitemap.xml", "sitemap"),
    ]
    control = recorder.control + "/feed.xml"  # allow-listed: it must get through
    ids = _sources(database, [*direct, *via, *follow_ups, (control, "feed")])
    recorder.take()

    summary = crawl(settings, trigger="test")

    assert recorder.check() == ["GET /control/feed.xml HTTP/1.1"]
    with database.session() as session:
        outcomes = {
            row.source_id: row
            for row in session.scalars(select(CrawlOutcome).where(CrawlOutcome.run_id == summary.run_id))
        }
    assert outcomes[ids[control]].status == "ok"
    # Refused before the request (an address in the URL) or at connect time (a name): the recorder
    # above says nothing connected; the outcome says why.
    for url, _ in direct + via:
        outcome = outcomes[ids[url]]
        assert (outcome.status, outcome.error_kind) == ("failed", "blocked_private"), (url, outcome.message)
    assert all(len(outcomes[ids[url]].redirects) == 1 for url, _ in via)  # the allowed hop only
    # Follow-ups from an allowed page: the teasers stay teasers, no article or sitemap page is fetched.
    teasers = outcomes[ids[redirector.base + "/teasers.xml"]]
    assert (teasers.status, teasers.items_new) == ("ok", len(targets))
    for kind_url in (redirector.base + "/list.html", redirector.base + "/sitemap.xml"):
        assert outcomes[ids[kind_url]].items_new == 0


# --- operator commands: sources discover, sources test ---------------------------------------------------


def _all_targets(rec: Recorder) -> list[Target]:
    return literal_targets(rec) + zone_targets(rec)


@pytest.mark.usefixtures("fake_zone")
def test_discover_and_preview_reach_no_private_address(
    settings: Settings, database: Database, recorder: Recorder, redirector: Redirector
) -> None:
    recorder.take()
    targets = _all_targets(recorder)
    homepages = [target.origin + "/" for target in targets]
    homepages += redirector.into_corpus("/")
    for homepage in homepages:
        found = discover(settings, homepage)
        # Refused by the guard (or, for a spelling httpx cannot parse, by httpx): nothing proposed.
        assert found.proposals == [] and found.problems, (homepage, found.problems)
    # An allowed homepage advertising feeds, a sitemap and a news column in the corpus: none is read.
    found = discover(settings, redirector.base + "/home.html")
    assert [proposal.url for proposal in found.proposals] == [redirector.base + "/sitemap.xml"]  # its own
    assert sum("refused" in problem for problem in found.problems) >= len(redirector.targets) - 1

    unit_id = _unit(database)
    for n, target in enumerate(targets):
        for kind, url in (("feed", target.origin + "/feed.xml"), ("html", target.origin + "/list.html")):
            preview = preview_source(settings, Source(id=n, unit_id=unit_id, name="t", kind=kind, url=url))
            if not target.trick:
                assert preview.items == [] and "refused" in " ".join(preview.problems), (
                    url,
                    preview.problems,
                )
    for kind, path in (("html", "/list.html"), ("sitemap", "/sitemap.xml"), ("feed", "/teasers.xml")):
        source = Source(
            id=0, unit_id=unit_id, name="t", kind=kind, url=redirector.base + path, selectors=HTML_SELECTORS
        )
        preview_source(settings, source)
    assert recorder.check() == []

    # Allow-listed, the same commands do reach the recorder: the refusals above are the guard's doing.
    discover(settings, recorder.control + "/")
    preview_source(
        settings, Source(id=0, unit_id=unit_id, name="t", kind="feed", url=recorder.control + "/feed.xml")
    )
    assert {"GET /control/ HTTP/1.1", "GET /control/feed.xml HTTP/1.1"} <= set(recorder.check())


# --- WebSub: our subscriptions at other hubs, and our hub's callbacks -------------------------------------


@pytest.mark.usefixtures("fake_zone")
def test_websub_subscriber_reaches_no_private_hub(
    settings: Settings, database: Database, recorder: Recorder, redirector: Redirector
) -> None:
    targets = _all_targets(recorder)
    hubs = [target.origin + "/hub" for target in targets]
    hubs += redirector.into_corpus("/hub")
    hubs.append(recorder.control + "/hub")  # allow-listed: asked
    ids = _sources(database, [(f"http://feeds.example/{n}.xml", "feed") for n in range(len(hubs))])
    with database.session() as session:
        for hub_url, source_id in zip(hubs, ids.values(), strict=True):
            note_hub(session, source_id, hub_url, f"http://feeds.example/{source_id}.xml")
    recorder.take()
    # The control, and the backslash trick: urlsplit and httpx both read the allowed 127.0.0.1 there.
    assert renew_due(settings, database) == 1 + sum(target.trick for target in targets)
    assert recorder.check() == ["POST /control/hub HTTP/1.1"]
    with database.session() as session:
        errors = dict(
            session.execute(select(WebSubSubscription.hub_url, WebSubSubscription.last_error)).all()
        )
    tricks = {t.origin + "/hub" for t in targets if t.trick}
    for hub_url in hubs[:-1]:
        if hub_url in tricks:
            continue
        error = errors[hub_url] or ""
        # Refused, or a redirect answer (not followed; httpx rejects a Location it cannot parse).
        assert any(word in error for word in ("refused", "HTTP 30", "RemoteProtocolError")), (hub_url, error)


@pytest.mark.usefixtures("fake_zone")
def test_our_hub_calls_no_private_callback(
    settings: Settings, database: Database, app: FastAPI, recorder: Recorder, redirector: Redirector
) -> None:
    # The redirector's host may be called back; the corpus may not (nor where the redirector sends us).
    settings = settings.model_copy(
        update={"websubhub": settings.websubhub.model_copy(update={"allowed_callback_hosts": ["127.0.0.1"]})}
    )
    app.state.settings = settings
    targets = _all_targets(recorder)
    callbacks = [target.origin + "/callback" for target in targets]
    redirected = redirector.into_corpus("/callback")
    topic = settings.web.base_url.rstrip("/") + "/feed.rss"
    tricks = {t.origin + "/callback" for t in targets if t.trick}
    recorder.take()

    # At subscription time: refused with a reason, nothing recorded.
    with TestClient(app) as client:
        for callback in callbacks:
            answer = client.post(
                "/websub/hub", data={"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}
            )
            if callback not in tricks:
                assert answer.status_code == 400 and "refused" in answer.json()["detail"], callback

    # At verification time (an intent recorded before the check, or a name that changed its answer).
    now = datetime.now(UTC)
    with database.session() as session:
        session.execute(delete(HubIntent))
        for callback in [*callbacks, *redirected, recorder.control + "/callback"]:
            request_intent(session, "subscribe", topic, callback, "s3cret", 3600, now)
    stats = run_hub(settings, database, app.state.backend, now=now)
    assert stats.verified == 0
    [verification] = recorder.check()  # the allow-listed control only
    assert verification.startswith("GET /control/callback?hub.mode=subscribe&hub.topic=")

    # At delivery time.
    guard = callback_guard(settings.websubhub)
    with httpx.Client(timeout=3.0, follow_redirects=False) as client:
        for n, callback in enumerate(callbacks + redirected):
            sent = deliver(
                client,
                guard,
                DeliveryRequest(n, n, topic, callback, "s3cret", 1, 0),
                FEED,
                "application/rss+xml",
                f'<{topic}>; rel="self"',
            )
            assert not sent.ok or callback in tricks, (callback, sent)
    assert recorder.check() == []


# --- the health homepage probe ----------------------------------------------------------------------


@pytest.mark.usefixtures("fake_zone")
def test_homepage_probe_reaches_no_private_address(
    settings: Settings, recorder: Recorder, redirector: Redirector
) -> None:
    targets = _all_targets(recorder)
    pages = [target.origin + "/" for target in targets]
    pages += redirector.into_corpus("/")
    pages += [target.origin.replace("http://", "https://", 1) + "/" for target in targets if not target.trick]
    recorder.take()
    config = ProbeConfig.from_settings(settings)
    results = run_probes([ProbeTarget(url, url) for url in [*pages, recorder.control + "/"]], config)
    assert recorder.check() == ["GET /control/ HTTP/1.1"]
    assert results.pop().reachable
    tricks = {t.origin + "/" for t in targets if t.trick}
    for url, result in zip(pages, results, strict=True):
        if url not in tricks:
            assert result.error_kind == "blocked_private", (url, result.error_kind, result.message)
            assert result.status_code in (None, *REDIRECT_CODES) and result.tls_expires_at is None, url
