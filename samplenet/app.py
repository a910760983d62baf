"""The Starlette app serving a sample network: sites under /sites/<slug>/, the account bridge, controls."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from samplenet import render_bridge, render_feeds, render_html, render_sitemap
from samplenet.assets import ATTACHMENT_TYPES, TINY_PNG, attachment_bytes
from samplenet.deletion import delete_item, restore_item
from samplenet.generate import publish_item
from samplenet.model import (
    DRIP_STEPS,
    GONE_STATUSES,
    GZIP_BOMB_BYTES,
    HUGE_PAGE_BYTES,
    PRIVATE_REDIRECT_HOST,
    RATE_LIMIT_RETRY_AFTER_S,
    GoneStatus,
    SampleItem,
    SampleNetwork,
    SampleSite,
)
from samplenet.rendercache import RenderCache
from samplenet.responses import conditional
from samplenet.websub_hub import SampleHub

RSS_TYPE = "application/rss+xml; charset=utf-8"
DRIP_CHUNK_BYTES = 64
ATOM_TYPE = "application/atom+xml; charset=utf-8"


def _site_key(site: SampleSite) -> tuple[str, str, str | None, str, str]:
    """What besides its items a site's feed is rendered from (tests change faults and templates)."""
    return (site.slug, site.template, site.fault, site.encoding, site.feed_encoding)


class SampleApp:
    """Request handlers over one network; a stop event cuts slow (`timeout`) responses short at shutdown."""

    def __init__(self, network: SampleNetwork, publish_every_s: float | None = None) -> None:
        self.network = network
        self.publish_every_s = publish_every_s
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._bombs: dict[tuple[str, str], bytes] = {}
        self._feeds = RenderCache()

    def build(self) -> Starlette:
        """The ASGI app."""
        routes = [
            Route("/", self.index),
            Route("/robots.txt", self.robots),
            Route("/sites/{slug}", self.site_root),
            Route("/sites/{slug}/{path:path}", self.site_page),
            Route("/bridge/{platform:str}/{kind:str}/{account:str}", self.bridge),
            Route("/_control/publish", self.publish, methods=["POST"]),
            Route("/_control/delete", self.delete, methods=["POST"]),
            Route("/_control/restore", self.restore, methods=["POST"]),
            *SampleHub(self.network).routes(),  # WebSub hub and the feeds that advertise it
        ]
        return Starlette(routes=routes, lifespan=self._lifespan)

    def request_stop(self) -> None:
        """Wake every delayed response so the server can shut down at once; callable from any thread."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        publisher = asyncio.create_task(self._publish_loop()) if self.publish_every_s else None
        self.ready.set()
        try:
            yield
        finally:
            self._stopping.set()
            if publisher is not None:
                publisher.cancel()

    async def _publish_loop(self) -> None:
        assert self.publish_every_s is not None
        while not await self._wait_stopping(self.publish_every_s):
            publish_item(self.network)

    async def _wait_stopping(self, seconds: float) -> bool:
        """Wait ``seconds``; True if the server began stopping meanwhile."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    def _items(self, site: SampleSite) -> list[SampleItem]:
        with self.network.lock:
            return list(site.items)

    async def index(self, request: Request) -> Response:
        """The server root: links to every site."""
        body = render_html.network_index(self.network, _base(request))
        return Response(body, headers={"Content-Type": "text/html; charset=utf-8"})

    async def robots(self, request: Request) -> Response:
        """Allow all, as most unit sites do; one Sitemap: line per site."""
        return PlainTextResponse(render_sitemap.robots(self.network, _base(request)))

    async def site_root(self, request: Request) -> Response:
        """/sites/<slug> without the slash."""
        return RedirectResponse(f"{request.url.path}/", status_code=301)

    async def site_page(self, request: Request) -> Response:
        """Every page of a site: the source (faults apply there), home, lists, articles, files."""
        try:
            site = self.network.site(request.path_params["slug"])
        except KeyError:
            return PlainTextResponse("not found", status_code=404)
        path: str = request.path_params["path"]
        base = _base(request)
        source = site.source_path.removeprefix(site.root_path)
        if site.fault is not None and path in (source, f"moved/{source}"):
            faulty = await self._fault(request, site, path, source, base)
            if faulty is not None:
                return faulty
        return self._page(request, site, path, base)

    async def _fault(
        self, request: Request, site: SampleSite, path: str, source: str, base: str
    ) -> Response | None:
        """The broken answer of a faulty site's source, or None to serve it normally (after a delay)."""
        if site.fault == "timeout":
            if await self._wait_stopping(self.network.timeout_delay_s):
                return PlainTextResponse("server stopping", status_code=503)
            return None
        if site.fault == "http_500":
            return PlainTextResponse("500 Internal Server Error", status_code=500)
        if site.fault == "redirect_loop":
            target = f"moved/{source}" if path == source else source
            return RedirectResponse(f"{base}{site.root_path}{target}", status_code=302)
        if site.fault == "malformed_xml":
            body = render_feeds.malformed_feed(site, self._items(site), base)
            return Response(body, headers={"Content-Type": RSS_TYPE})
        return self._mix_fault(request, site, path, base)

    def _mix_fault(self, request: Request, site: SampleSite, path: str, base: str) -> Response | None:
        """The faults of the fault mix (model.MIX_FAULTS) that this server plays; None serves normally.

        DNS failure, refused and reset are the transport's doing (server.py); robots.txt closes the
        robots_disallow site; endless pagination is in ``_page``.
        """
        items = self._items(site)
        if site.fault == "http_404":
            return PlainTextResponse("not found", status_code=404)
        if site.fault == "slow_drip":
            feed = render_feeds.rss_feed(site, items, base)
            return StreamingResponse(self._drip(feed), headers={"Content-Type": RSS_TYPE})
        if site.fault == "redirect_private" and request.url.hostname != PRIVATE_REDIRECT_HOST:
            # The same server under a name that resolves to loopback: a crawler that followed it
            # would get the feed, so only its guard stands between it and a "successful" crawl.
            port = f":{request.url.port}" if request.url.port else ""
            target = f"{request.url.scheme}://{PRIVATE_REDIRECT_HOST}{port}{request.url.path}"
            return RedirectResponse(target, status_code=302)
        if site.fault == "huge_page":
            chunks = render_feeds.huge_feed_chunks(site, items, base, HUGE_PAGE_BYTES)
            return StreamingResponse(iter(chunks), headers={"Content-Type": RSS_TYPE})
        if site.fault == "gzip_bomb":
            headers = {"Content-Type": RSS_TYPE, "Content-Encoding": "gzip"}
            return Response(self._gzip_bomb(site, items, base), headers=headers)
        if site.fault == "wrong_charset":
            return Response(
                render_feeds.mislabeled_feed(site, items, base), headers={"Content-Type": RSS_TYPE}
            )
        if site.fault == "truncated_html":
            return Response(
                render_html.truncated_list_page(site, items), headers={"Content-Type": _html_type(site)}
            )
        return None

    async def _drip(self, body: bytes) -> AsyncIterator[bytes]:
        """``body`` a few bytes at a time, each after timeout_delay_s / DRIP_STEPS, until the server stops."""
        pause = self.network.timeout_delay_s / DRIP_STEPS
        for start in range(0, len(body), DRIP_CHUNK_BYTES):
            yield body[start : start + DRIP_CHUNK_BYTES]
            if await self._wait_stopping(pause):
                return

    def _gzip_bomb(self, site: SampleSite, items: list[SampleItem], base: str) -> bytes:
        # Compressing 64 MiB takes a moment: once per site and base for the server's lifetime.
        key = (site.slug, base)
        if key not in self._bombs:
            self._bombs[key] = render_feeds.gzip_bomb(site, items, base, GZIP_BOMB_BYTES)
        return self._bombs[key]

    def _page(self, request: Request, site: SampleSite, path: str, base: str) -> Response:
        items = self._items(site)
        modified = render_feeds.newest(items)
        html_type = _html_type(site)
        if path in ("", "index.html"):
            return conditional(request, render_html.home_page(self.network, site, base), html_type, modified)
        if path == "rss.xml" and site.template in ("rss", "html_feed"):
            rss = self._feeds.get(
                ("rss", _site_key(site), base), items, lambda: render_feeds.rss_feed(site, items, base)
            )
            return conditional(request, rss.body, _rss_type(site), modified, rss.etag)
        if path == "atom.xml" and site.template == "atom":
            atom = self._feeds.get(
                ("atom", _site_key(site), base), items, lambda: render_feeds.atom_feed(site, items, base)
            )
            return conditional(request, atom.body, ATOM_TYPE, modified, atom.etag)
        if site.template not in ("account", "sitemap") and (path == "list.html" or _list_number(path) > 1):
            endless = site.fault == "infinite_pagination"
            body = render_html.list_page(
                site, items, 1 if path == "list.html" else _list_number(path), endless
            )
            if body is not None:
                return conditional(request, body, html_type, modified)
        if path.startswith("articles/images/") and path.endswith(".png"):
            return Response(TINY_PNG, media_type="image/png")
        if path.startswith("articles/files/"):
            ext = path.rsplit(".", 1)[-1]
            if ext in ATTACHMENT_TYPES:
                return Response(attachment_bytes(path), media_type=ATTACHMENT_TYPES[ext])
        if path.startswith("articles/") and path.endswith(".html"):
            item_id = path.removeprefix("articles/").removesuffix(".html")
            deletion = site.deleted.get(item_id)
            if deletion is not None:  # deleted at the source, whether its lists show it yet or not
                return PlainTextResponse("页面不存在或已删除", status_code=deletion.status)
            for item in items:
                if item.item_id == item_id:
                    return conditional(
                        request, render_html.article_page(site, item), html_type, item.published_at
                    )
        sitemap = self._sitemap(site, path, base, items)
        if sitemap is not None:
            return conditional(request, sitemap, "application/xml", modified)
        return PlainTextResponse("not found", status_code=404)

    def _sitemap(self, site: SampleSite, path: str, base: str, items: list[SampleItem]) -> bytes | None:
        if path == "sitemap.xml" and site.template != "sitemap":
            return render_sitemap.urlset(base, site, items)
        if site.template != "sitemap":
            return None
        if path == "sitemap_index.xml":
            return render_sitemap.index(base, site, items)
        for number in range(1, render_sitemap.INDEX_PARTS + 1):
            if path == f"sitemap-{number}.xml":
                return render_sitemap.urlset(base, site, render_sitemap.part(items, number))
        return None

    async def bridge(self, request: Request) -> Response:
        """RSSHub-compatible routes /bridge/weibo/user/<uid> and /bridge/wechat/mp/<id>; need ?key=."""
        platform, kind, account = (request.path_params[k] for k in ("platform", "kind", "account"))
        if (platform, kind) not in (("weibo", "user"), ("wechat", "mp")):
            return PlainTextResponse("no such route", status_code=404)
        if request.query_params.get("key") != self.network.access_key:
            return PlainTextResponse("access key missing or wrong", status_code=403)
        site = self.network.by_account(platform, account)
        if site is None:
            return PlainTextResponse("no such account", status_code=404)
        if site.fault == "rate_limited":  # this route only; the bridge's other routes answer
            headers = {"Retry-After": str(RATE_LIMIT_RETRY_AFTER_S)}
            return PlainTextResponse("rate limit exceeded", status_code=429, headers=headers)
        items = self._items(site)
        base = _base(request)
        feed = self._feeds.get(
            ("bridge", _site_key(site), base), items, lambda: render_bridge.bridge_feed(site, items, base)
        )
        return conditional(request, feed.body, RSS_TYPE, render_feeds.newest(items), feed.etag)

    async def publish(self, request: Request) -> Response:
        """Add an item now (to ?site=<slug> or the next site in turn) and return it as JSON."""
        slug = request.query_params.get("site") or None
        if slug is not None and slug not in {s.slug for s in self.network.sites}:
            return JSONResponse({"error": f"unknown site {slug}"}, status_code=404)
        item = publish_item(self.network, slug)
        return JSONResponse(self._item_json(request, item))

    async def delete(self, request: Request) -> Response:
        """Delete an item at its source (?site=<slug>, ?item=<item_id> or the site's newest); its page
        answers ?status=404|410 (the site's usual one by default); ?listed=1 keeps it on the site's
        lists (samplenet/deletion.py)."""
        params = request.query_params
        statuses: dict[str, GoneStatus] = {str(code): code for code in GONE_STATUSES}
        status = params.get("status")
        if status is not None and status not in statuses:
            return JSONResponse({"error": f"status must be one of {sorted(statuses)}"}, status_code=400)
        slug = params.get("site", "")
        if slug not in {s.slug for s in self.network.sites}:
            return JSONResponse({"error": f"unknown site {slug}"}, status_code=404)
        try:
            deletion = delete_item(
                self.network,
                slug,
                params.get("item") or None,
                statuses[status] if status is not None else None,
                params.get("listed") in ("1", "true"),
            )
        except KeyError as exc:
            return JSONResponse({"error": str(exc.args[0])}, status_code=404)
        data = self._item_json(request, deletion.item)
        data.update(status=deletion.status, listed=deletion.listed)
        return JSONResponse(data)

    async def restore(self, request: Request) -> Response:
        """Bring back an item deleted at its source (?site=<slug>&item=<item_id>)."""
        params = request.query_params
        try:
            item = restore_item(self.network, params.get("site", ""), params.get("item", ""))
        except KeyError as exc:
            return JSONResponse({"error": str(exc.args[0])}, status_code=404)
        return JSONResponse(self._item_json(request, item))

    def _item_json(self, request: Request, item: SampleItem) -> dict[str, object]:
        """An item as the control endpoints answer it, with its page's absolute URL."""
        site = self.network.site(item.site_slug)
        data = asdict(item)
        data["published_at"] = item.published_at.isoformat()
        data["modified_at"] = item.modified_at.isoformat() if item.modified_at else None
        data["url"] = f"{render_html.site_url(_base(request), site)}{item.article_path}"
        return data


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _rss_type(site: SampleSite) -> str:
    return (
        RSS_TYPE
        if site.feed_encoding == "utf-8"
        else f"application/rss+xml; charset={site.feed_encoding.upper()}"
    )


def _html_type(site: SampleSite) -> str:
    if site.template == "gbk":
        return "text/html; charset=GBK"
    if site.template == "gbk_mislabeled":
        # Half of them claim utf-8, the other half say nothing: both happen on real sites.
        return "text/html; charset=utf-8" if int(site.region[-1]) % 2 == 0 else "text/html"
    return "text/html; charset=utf-8"


def _list_number(path: str) -> int:
    """n for "list_<n>.html", else 0."""
    if path.startswith("list_") and path.endswith(".html"):
        number = path.removeprefix("list_").removesuffix(".html")
        if number.isdigit():
            return int(number)
    return 0
