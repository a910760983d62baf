"""Build a sample network deterministically from its parameters, and publish new items into it."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from samplenet import texts, xss
from samplenet.model import (
    FEED_SIZE,
    MIX_FAULTS,
    TEMPLATES,
    DateStyle,
    Fault,
    Liveliness,
    SampleAttachment,
    SampleItem,
    SampleNetwork,
    SampleSite,
    Template,
    Tier,
    Transport,
)

ZONE = ZoneInfo("Asia/Shanghai")
DATE_STYLES: tuple[DateStyle, ...] = ("full_cn", "dash", "slash", "bracket", "cn_numerals", "fullwidth")
# Each fault sits on the template where it hurts the way it does on real sites.
FAULT_TEMPLATES: dict[Fault, Template] = {
    "timeout": "html",
    "http_500": "atom",
    "redirect_loop": "html_feed",
    "malformed_xml": "rss",
}

# Days before ``today`` of a site's newest item, and between two items, by liveliness. The bands sit well
# inside the default [health] thresholds of a branch (stale after 30 days, dormant after 365), so the
# ground truth's statuses do not depend on the day the network is generated.
NEWEST_DAYS: dict[Liveliness, tuple[int, int]] = {
    "lively": (1, 3),
    "slowing": (3, 8),
    "stale": (120, 240),
    "dormant": (420, 600),
}
GAP_DAYS: dict[Liveliness, tuple[int, int]] = {
    "lively": (1, 6),
    "slowing": (2, 4),
    "stale": (5, 20),
    "dormant": (5, 20),
}
# A slowing site's second newest item is this old: its last 4 weeks hold one item, its 12 weeks many.
SLOWING_QUIET_DAYS = 35


@dataclass(frozen=True, slots=True)
class _Unit:
    slug: str
    name: str
    parent: str | None
    tier: Tier
    level: str
    unit_type: str
    region: str
    place: str


def generate_network(
    districts: int,
    branches: int,
    seed: int,
    today: date | None = None,
    items_per_site: int = 12,
    feed_sources: int | None = None,
    faults: bool = True,
    timeout_delay_s: float = 30.0,
    extras: bool = True,
    health_mix: bool = False,
    tls_days_left: float = 5.0,
    fault_mix: bool = False,
    hostile: bool = False,
) -> SampleNetwork:
    """A network of one city, ``districts`` districts and ``branches`` branches per district.

    ``feed_sources=N`` builds exactly N sites in total (city, up to ``districts`` districts, the rest
    branches spread over the districts), all RSS, lively and healthy, one feed in five GBK-encoded
    (labelled as such): the benchmark shape (500 x 20 items is about 25 MB of feeds).
    With ``faults``, four branch sites break (timeout after ``timeout_delay_s``, HTTP 500, redirect loop,
    malformed XML) once the network has at least 11 sites, so the healthy ones still show every template.
    With ``extras`` (and at least one district), the last district gets two more branches: a site
    that only has sitemaps (index → two sitemaps with lastmod) and a Weibo account the bridge
    answers with 429 + Retry-After.
    With ``health_mix`` (and at least one district), the first district gets four more branches for the
    health checks (docs/health.md): a slowing feed, a dormant list page, a feed on a port where nothing
    listens, and a lively feed served over TLS whose certificate expires ``tls_days_left`` days after
    the server starts.
    With ``fault_mix`` (and at least one district), the last district gets one more branch per fault of
    model.MIX_FAULTS (DNS failure, refused, slow drip, reset mid-body, 404, redirect to a private address,
    huge page, gzip bomb, truncated HTML, wrong charset, endless pagination, robots.txt disallow).
    With ``hostile`` (and at least one district), the city gets branches whose notices are the XSS corpus
    (samplenet/xss.py), each payload once through an RSS feed and once through HTML list and article pages.
    """
    rng = random.Random(f"samplenet:{seed}")
    today = today or date.today()
    city = texts.CITY_NAMES[seed % len(texts.CITY_NAMES)]
    units = _units(city, districts, branches, seed, feed_sources)
    branch_slugs = [u.slug for u in units if u.tier == "branch"]
    fault_of: dict[str, Fault] = {}
    # Faults only once the healthy sites left still show every template (11 sites: 2 districts x 4).
    if faults and feed_sources is None and len(units) - 4 >= len(TEMPLATES) and len(branch_slugs) >= 4:
        chosen = rng.sample(branch_slugs, 4)
        fault_of = dict(zip(chosen, ("timeout", "http_500", "redirect_loop", "malformed_xml"), strict=True))
    sites: list[SampleSite] = []
    healthy = 0
    healthy_branches = 0
    trusted_districts: set[str] = set()
    cycle: list[Template] = list(TEMPLATES)
    accounts = 0
    for index, unit in enumerate(units):
        fault = fault_of.get(unit.slug)
        liveliness: Liveliness = "lively"
        if fault is not None:
            template = FAULT_TEMPLATES[fault]
        elif feed_sources is not None:
            template = "rss"
        else:
            # Healthy sites walk through every template first, so small networks still show each one.
            if healthy and healthy % len(cycle) == 0:
                rng.shuffle(cycle)
            template = cycle[healthy % len(cycle)]
            healthy += 1
        trusted = fault is None and unit.tier in ("city", "district")
        if fault is None and unit.tier == "branch" and feed_sources is None:
            if healthy_branches % 3 == 2:
                liveliness = "stale"
            elif unit.parent not in trusted_districts:
                trusted = True  # one healthy, lively branch per district is trusted
                trusted_districts.add(unit.parent or "")
            healthy_branches += 1
        platform = account = None
        if template == "account":
            platform = ("weibo", "wechat")[accounts % 2]
            account = (
                str(rng.randrange(10**9, 10**10)) if platform == "weibo" else f"gh_{rng.getrandbits(48):012x}"
            )
            accounts += 1
        site = SampleSite(
            slug=unit.slug,
            name=unit.name,
            parent=unit.parent,
            tier=unit.tier,
            level=unit.level,
            unit_type=unit.unit_type,
            region=unit.region,
            template=template,
            fault=fault,
            trusted=trusted,
            liveliness=liveliness,
            category=_category(unit, rng),
            platform=platform,
            account=account,
            feed_encoding="gbk" if feed_sources is not None and index % 5 == 4 else "utf-8",
        )
        style = DATE_STYLES[index % len(DATE_STYLES)]
        _fill_items(site, unit.place, seed, today, items_per_site, style)
        sites.append(site)
    access_key = f"k{rng.getrandbits(64):016x}"
    if feed_sources is None:
        _repost_city_notice(sites)
    if extras and feed_sources is None and districts > 0:
        sites += _extra_sites(sites, seed, today, items_per_site)
    if health_mix and feed_sources is None and districts > 0:
        sites += _health_sites(sites, seed, today, max(items_per_site, 10))
    if fault_mix and feed_sources is None and districts > 0:
        sites += _fault_sites(sites, seed, today, items_per_site)
    if hostile and feed_sources is None and districts > 0:
        sites += _hostile_sites(sites[0], today)
    return SampleNetwork(
        seed=seed,
        today=today,
        city_name=city,
        access_key=access_key,
        timeout_delay_s=timeout_delay_s,
        sites=sites,
        tls_days_left=tls_days_left,
    )


REPOSTING_BRANCHES = 3  # issue 3: "a city notice reposted by three branches is stored four times"
REPOST_TEMPLATES = ("html", "rss", "atom", "html_feed", "gbk", "gbk_mislabeled")  # items with full text


def _repost_city_notice(sites: list[SampleSite]) -> None:
    """The city's newest notice reposted by the first three healthy, lively branches (districts make up
    the three in a network with fewer): each one's newest item becomes the notice with a "转载自" line,
    its own date (a little later) and its own page. Only those newest items change: every other item,
    and every site's count, stay as they were."""
    city = sites[0]
    if city.tier != "city" or not city.items:
        return
    original = city.items[0]
    reposters = [
        site
        for site in sorted(sites, key=lambda site: site.tier != "branch")  # branches first, in order
        if site.tier in ("branch", "district")
        and site.fault is None
        and site.liveliness == "lively"
        and site.template in REPOST_TEMPLATES
        and site.items
    ][:REPOSTING_BRANCHES]
    for n, site in enumerate(reposters, start=1):
        own = site.items[0]
        when = max(own.published_at, original.published_at + timedelta(hours=n))
        serial = own.item_id.rsplit("_", 1)[1]
        site.items[0] = replace(
            original,
            site_slug=site.slug,
            item_id=f"t{when:%Y%m%d}_{serial}",
            paragraphs=(f"转载自{city.name}。", *original.paragraphs),
            published_at=when,
            date_style=own.date_style,
            category=site.category,
            origin=city.name,
            attachments=(),
            images=(),
        )
        site.reposts[site.items[0].item_id] = (city.slug, original.item_id)


def _extra_sites(sites: list[SampleSite], seed: int, today: date, count: int) -> list[SampleSite]:
    """A sitemap-only branch and a rate-limited account branch under the last district."""
    # Their own random stream: every other site stays as it was before extras existed.
    rng = random.Random(f"samplenet:{seed}:extras")
    district = [s for s in sites if s.tier == "district"][-1]
    siblings = sum(1 for s in sites if s.parent == district.slug)
    width = max(2, len(str(siblings + 2)))
    place = district.name.removeprefix(sites[0].name.removesuffix("人民政府")).removesuffix("人民政府")
    extras: list[SampleSite] = []
    for n, (template, suffix, fault) in enumerate(
        (("sitemap", "便民服务中心", None), ("account", "融媒体中心", "rate_limited")), start=1
    ):
        site = SampleSite(
            slug=f"{district.slug}-b{siblings + n:0{width}d}",
            name=f"{place}{suffix}",
            parent=district.slug,
            tier="branch",
            level="branch",
            unit_type="other",
            region=f"{district.region}{siblings + n:03d}",
            template=template,  # type: ignore[arg-type]
            fault=fault,  # type: ignore[arg-type]
            trusted=False,
            liveliness="lively",
            category="通知公告",
            platform="weibo" if template == "account" else None,
            account=str(rng.randrange(10**9, 10**10)) if template == "account" else None,
        )
        _fill_items(site, site.name, seed, today, count, DATE_STYLES[n % len(DATE_STYLES)])
        extras.append(site)
    return extras


# The health mix: (template, name suffix, liveliness, transport) of the first district's extra branches.
HEALTH_SITES: tuple[tuple[Template, str, Liveliness, Transport], ...] = (
    ("rss", "老年大学", "slowing", "http"),
    ("html", "文化站", "dormant", "http"),
    ("rss", "司法所", "lively", "dead"),
    ("atom", "税务所", "lively", "https"),
)


def _health_sites(sites: list[SampleSite], seed: int, today: date, count: int) -> list[SampleSite]:
    """Slowing, dormant, unreachable and TLS-expiring branches under the first district."""
    district = next(s for s in sites if s.tier == "district")
    siblings = sum(1 for s in sites if s.parent == district.slug)
    width = max(2, len(str(siblings + len(HEALTH_SITES))))
    place = district.name.removeprefix(sites[0].name.removesuffix("人民政府")).removesuffix("人民政府")
    mix: list[SampleSite] = []
    for n, (template, suffix, liveliness, transport) in enumerate(HEALTH_SITES, start=1):
        site = SampleSite(
            slug=f"{district.slug}-b{siblings + n:0{width}d}",
            name=f"{place}{suffix}",
            parent=district.slug,
            tier="branch",
            level="branch",
            unit_type="government",
            region=f"{district.region}{siblings + n:03d}",
            template=template,
            fault=None,
            trusted=False,
            liveliness=liveliness,
            category="工作动态",
            transport=transport,
        )
        _fill_items(site, site.name, seed, today, count, DATE_STYLES[n % len(DATE_STYLES)])
        mix.append(site)
    return mix


def _fault_sites(sites: list[SampleSite], seed: int, today: date, count: int) -> list[SampleSite]:
    """One lively branch per fault of MIX_FAULTS under the last district."""
    district = [s for s in sites if s.tier == "district"][-1]
    siblings = sum(1 for s in sites if s.parent == district.slug)
    width = max(2, len(str(siblings + len(MIX_FAULTS))))
    place = district.name.removeprefix(sites[0].name.removesuffix("人民政府")).removesuffix("人民政府")
    mix: list[SampleSite] = []
    for n, (fault, template, transport) in enumerate(MIX_FAULTS, start=1):
        site = SampleSite(
            slug=f"{district.slug}-b{siblings + n:0{width}d}",
            name=f"{place}第{n}网格服务站",
            parent=district.slug,
            tier="branch",
            level="branch",
            unit_type="community",
            region=f"{district.region}{siblings + n:03d}",
            template=template,
            fault=fault,
            trusted=False,
            liveliness="lively",
            category="通知公告",
            # The mislabeled feed is GBK bytes that say UTF-8 (app.py serves it with that label).
            feed_encoding="gbk" if fault == "wrong_charset" else "utf-8",
            transport=transport,
        )
        _fill_items(site, site.name, seed, today, count, DATE_STYLES[n % len(DATE_STYLES)])
        mix.append(site)
    return mix


def _hostile_sites(city: SampleSite, today: date) -> list[SampleSite]:
    """Branches of the city serving the XSS corpus: feeds and list pages of FEED_SIZE notices each."""
    chunks = [xss.PAYLOADS[n : n + FEED_SIZE] for n in range(0, len(xss.PAYLOADS), FEED_SIZE)]
    hostile: list[SampleSite] = []
    for template in ("rss", "html"):
        for k, chunk in enumerate(chunks, start=1):
            kind = "feed" if template == "rss" else "html"
            site = SampleSite(
                slug=f"xss-{kind}-{k}",
                name=f"安全演练站{'订阅' if kind == 'feed' else '网页'}{k}",
                parent=city.slug,
                tier="branch",
                level="branch",
                unit_type="other",
                region=f"{city.region[:4]}99{len(hostile) + 1:03d}",
                template=template,
                fault=None,
                trusted=False,
                liveliness="lively",
                category="通知公告",
            )
            start = datetime.combine(today, time(9, 0), tzinfo=ZONE)
            site.items = [
                SampleItem(
                    site_slug=site.slug,
                    item_id=f"x{payload.number:03d}",
                    title=xss.title(payload),
                    paragraphs=(),
                    # Newest first, one hour apart: the feed and list order is the payload order.
                    published_at=start - timedelta(hours=payload.number),
                    date_style="full_cn",
                    category=site.category,
                    author="安全演练",
                    origin=site.name,
                    raw_body=xss.body(payload),
                )
                for payload in chunk
            ]
            site.serial = len(chunk)
            hostile.append(site)
    return hostile


def touch_item(network: SampleNetwork, site_slug: str, item_id: str, when: datetime) -> SampleItem:
    """Edit an item of a site at ``when`` (a new paragraph, a later lastmod); thread-safe."""
    with network.lock:
        site = network.site(site_slug)
        for n, item in enumerate(site.items):
            if item.item_id == item_id:
                edited = replace(
                    item,
                    paragraphs=(*item.paragraphs, "（本文已于近日更新。）"),
                    modified_at=when.astimezone(ZONE),
                )
                site.items[n] = edited
                return edited
    raise KeyError(f"no item {item_id} on site {site_slug}")


def publish_item(
    network: SampleNetwork, site_slug: str | None = None, now: datetime | None = None
) -> SampleItem:
    """Add a new item to a site (by default the next healthy site in turn) and return it; thread-safe."""
    with network.lock:
        if site_slug is None:
            healthy = [s for s in network.sites if s.fault is None]
            site = healthy[network.published % len(healthy)]
        else:
            site = network.site(site_slug)
        when = (now or datetime.now(ZONE)).astimezone(ZONE).replace(second=0, microsecond=0)
        style = site.items[0].date_style if site.items else "full_cn"
        place = site.name
        rng = random.Random(f"samplenet:{network.seed}:{site.slug}:{site.serial + 1}")
        taken = {item.title for item in site.items}
        item = _make_item(site, place, rng, site.serial + 1, when, style, taken)
        site.serial += 1
        site.items.insert(0, item)
        network.published += 1
        return item


def _units(city: str, districts: int, branches: int, seed: int, feed_sources: int | None) -> list[_Unit]:
    """The unit tree in order: city, then each district followed by its branches."""
    region = f"{31 + seed % 9}0100"
    if feed_sources is not None:
        # At least one district to hang branches on; never more sites than asked for.
        districts = min(max(districts, 1), max(feed_sources - 1, 0))
        branch_counts = [0] * districts
        for n in range(max(feed_sources - 1 - districts, 0)):
            branch_counts[n % max(districts, 1)] += 1
    else:
        branch_counts = [branches] * districts
    width = max(2, len(str(max(branch_counts, default=0))))
    offset = random.Random(f"samplenet:places:{seed}").randrange(240)
    units = [_Unit("city", f"{city}人民政府", None, "city", "city", "government", region, city)]
    for d in range(districts):
        dname = texts.district_name(d)
        dslug = f"d{d + 1:02d}"
        dregion = f"{region[:4]}{d + 1:02d}"
        units.append(
            _Unit(
                dslug, f"{city}{dname}人民政府", "city", "district", "district", "government", dregion, dname
            )
        )
        for b in range(branch_counts[d]):
            suffix, unit_type, level = texts.BRANCH_KINDS[(d * 3 + b + seed) % len(texts.BRANCH_KINDS)]
            place = texts.branch_place(len(units) - d - 1, offset)
            units.append(
                _Unit(
                    f"{dslug}-b{b + 1:0{width}d}",
                    f"{dname}{place}{suffix}",
                    dslug,
                    "branch",
                    level,
                    unit_type,
                    f"{dregion}{b + 1:03d}",
                    f"{dname}{place}",
                )
            )
    return units


def _category(unit: _Unit, rng: random.Random) -> str:
    if unit.tier == "city":
        return "通知公告"
    if unit.tier == "district":
        return "工作动态"
    return rng.choice(texts.CATEGORIES)


def _fill_items(site: SampleSite, place: str, seed: int, today: date, count: int, style: DateStyle) -> None:
    """Give a site ``count`` items, newest first: days ago for lively sites, months ago for stale ones,
    over a year ago for dormant ones; a slowing site has one item days ago, the rest a month and more ago."""
    rng = random.Random(f"samplenet:{seed}:{site.slug}")
    newest = today - timedelta(days=rng.randint(*NEWEST_DAYS[site.liveliness]))
    gap = GAP_DAYS[site.liveliness]
    day = newest
    dates: list[datetime] = []
    for n in range(count):
        moment = time(rng.randint(8, 18), rng.randrange(60))
        dates.append(datetime.combine(day, moment, tzinfo=ZONE))
        if site.liveliness == "slowing" and n == 0:
            day = today - timedelta(days=SLOWING_QUIET_DAYS)  # one recent item, then a quiet month
        else:
            day -= timedelta(days=rng.randint(*gap))
    # Serial 1 is the oldest item, so publishing continues the numbering.
    taken: set[str] = set()
    site.items = [_make_item(site, place, rng, count - n, when, style, taken) for n, when in enumerate(dates)]
    site.serial = count


def _make_item(
    site: SampleSite,
    place: str,
    rng: random.Random,
    serial: int,
    when: datetime,
    style: DateStyle,
    taken: set[str],
) -> SampleItem:
    """A new item; its title differs from those in ``taken`` (the site's titles), which it joins."""
    title = texts.make_title(rng, place, when.year, party=serial % 3 == 1)
    for _ in range(20):  # a site seldom repeats a title; tests and people tell items apart by it
        if title not in taken:
            break
        title = texts.make_title(rng, place, when.year, party=serial % 3 == 1)
    taken.add(title)

    item_id = f"t{when:%Y%m%d}_{serial}"
    attachments: list[SampleAttachment] = []
    if rng.random() < 0.4:
        for k, (ext, label) in enumerate(rng.sample(texts.ATTACHMENT_KINDS, rng.randint(1, 2)), start=1):
            attachments.append(
                SampleAttachment(f"附件{k}：{label}.{ext}", f"articles/files/{item_id}_{k}.{ext}")
            )
    images = (f"articles/images/{item_id}_1.png",) if rng.random() < 0.5 else ()
    return SampleItem(
        site_slug=site.slug,
        item_id=item_id,
        title=title,
        paragraphs=texts.make_paragraphs(rng, place, when),
        published_at=when,
        date_style=style,
        category=site.category,
        author=texts.make_author(rng),
        origin=site.name if rng.random() < 0.7 else "融媒体中心",
        attachments=tuple(attachments),
        images=images,
    )
