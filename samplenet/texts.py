"""Chinese notice vocabulary: unit names, titles, bodies and the date formats real sites print.

Every string here stays inside GB2312, so GBK and "gb2312"-labelled pages can carry any of it.
"""

from __future__ import annotations

import random
from datetime import datetime

from samplenet.model import DateStyle

CITY_NAMES = ("临江市", "云川市", "青岚市", "安澜市", "东湖市")
PLACE_WORDS = (
    "东城", "西湖", "南山", "北塘", "滨江", "江口", "石桥", "新港", "长宁", "凤鸣",
    "清河", "柳岸", "白沙", "金桥", "平安", "和平", "朝阳", "玉泉", "青石", "梅园",
    "龙湾", "竹林", "花溪", "紫荆", "双桥", "桃源", "望江", "广福", "明珠", "天宁",
)  # fmt: skip
# (name suffix, unit type, registry level) of grassroots units.
BRANCH_KINDS: tuple[tuple[str, str, str], ...] = (
    ("街道办事处", "government", "street"),
    ("社区居委会", "community", "community"),
    ("街道党工委", "party", "street"),
    ("第一小学", "school", "branch"),
    ("社区卫生服务中心", "hospital", "branch"),
    ("供水有限公司", "enterprise", "branch"),
    ("党群服务中心", "party", "branch"),
    ("社区", "community", "community"),
)
CATEGORIES = ("通知公告", "工作动态", "党建工作", "政务公开", "社区新闻")
ATTACHMENT_KINDS = (
    ("pdf", "实施方案"),
    ("docx", "报名表"),
    ("xlsx", "统计表"),
    ("wps", "工作安排"),
    ("zip", "材料汇编"),
)
_TOPICS = (
    "垃圾分类", "文明城市创建", "安全生产", "防汛防台", "消防安全", "疫苗接种", "老年人助餐",
    "网格化管理", "环境整治", "志愿服务", "普法宣传", "就业帮扶", "义务教育招生", "医保缴费",
)  # fmt: skip
_PARTY_TOPICS = (
    "党建工作述职评议", "基层党建", "党建引领基层治理", "主题党日", "党员冬训", "党建品牌创建",
)  # fmt: skip
_NOTICE_TITLES = (
    "关于开展{year}年度{topic}工作的通知",
    "关于做好{year}年{topic}相关工作的通知",
    "关于印发《{place}{topic}实施方案》的通知",
    "{place}关于{topic}工作情况的公示",
)
_NEWS_TITLES = (
    "{place}{topic}志愿服务活动圆满举行",
    "{place}召开{topic}专题会议",
    "{place}扎实推进{topic}工作",
    "{place}开展{topic}宣传进社区活动",
)
_PARTY_TITLES = (
    "关于开展{year}年度{topic}的通知",
    "{place}召开{topic}推进会",
    "{place}以{topic}促进社区服务提升",
)
_OPENINGS = (
    "为深入贯彻落实上级有关部署，进一步做好{topic}工作，切实提升群众满意度，现将有关事项通知如下。",
    "近日，{place}组织辖区干部群众开展{topic}活动，现场气氛热烈，参与群众纷纷点赞。",
    "{month}月{day}日上午，{place}召开{topic}工作会议，总结前一阶段工作，部署下一步任务。",
)
_MIDDLES = (
    "各单位要高度重视，明确责任分工，把{topic}工作与党建工作同部署、同落实、同检查。",
    "活动中，工作人员向居民发放宣传资料，并现场解答群众关心的问题，累计服务群众二百余人次。",
    "会议强调，要坚持以人民为中心，发挥基层党组织战斗堡垒作用，推动{topic}工作落到实处。",
    "下一步，{place}将依托Smart City平台和社区App，持续优化线上办事流程，让数据多跑路、群众少跑腿。",
    "辖区内公共场所已实现免费WiFi覆盖，居民可通过微信公众号查询{topic}相关信息。",
    "请各单位于规定时间内将有关材料报送至办公室，联系电话：0571-8888xxxx。",
)
_CLOSINGS = (
    "特此通知。",
    "大家纷纷表示，今后将积极参与此类活动，为建设美好家园贡献力量。",
    "此次活动进一步增强了群众的获得感、幸福感、安全感。",
)
_AUTHORS = ("王丽", "李强", "张晓明", "陈静", "刘洋", "赵敏", "办公室", "宣传科")


def district_name(index: int) -> str:
    """Name of district number ``index`` (0-based), unique for any count."""
    word = PLACE_WORDS[index % len(PLACE_WORDS)]
    lap = index // len(PLACE_WORDS)
    return f"{word}区" if lap == 0 else f"{word}{lap + 1}区"


def branch_place(index: int, offset: int) -> str:
    """A place word for grassroots unit number ``index``; unique per index, ``offset`` varies it by seed."""
    suffixes = ("路", "村", "湾", "里", "坊", "苑", "桥", "街")
    spot = index + offset
    word = f"{PLACE_WORDS[spot % len(PLACE_WORDS)]}{suffixes[(spot // len(PLACE_WORDS)) % len(suffixes)]}"
    return word if index < len(PLACE_WORDS) * len(suffixes) else f"{word}{index}"


def make_title(rng: random.Random, place: str, year: int, party: bool) -> str:
    """A notice or news title; ``party`` ones are about 党建."""
    if party:
        pattern = rng.choice(_PARTY_TITLES)
        topic = rng.choice(_PARTY_TOPICS)
    else:
        pattern = rng.choice(_NOTICE_TITLES + _NEWS_TITLES)
        topic = rng.choice(_TOPICS)
    return pattern.format(year=year, topic=topic, place=place)


def make_paragraphs(rng: random.Random, place: str, when: datetime) -> tuple[str, ...]:
    """Three to five body paragraphs."""
    topic = rng.choice(_TOPICS)
    values = {"topic": topic, "place": place, "month": when.month, "day": when.day}
    middles = rng.sample(_MIDDLES, rng.randint(1, 3))
    parts = [rng.choice(_OPENINGS), *middles, rng.choice(_CLOSINGS)]
    return tuple(part.format(**values) for part in parts)


def make_author(rng: random.Random) -> str:
    """An author line value."""
    return rng.choice(_AUTHORS)


def format_date(when: datetime, style: DateStyle) -> str:
    """The date line of an article page, in one of the formats Chinese sites use."""
    if style == "full_cn":
        return f"发布时间：{when:%Y年%m月%d日 %H:%M}"
    if style == "dash":
        return f"日期：{when:%Y-%m-%d}"
    if style == "slash":
        return f"{when.year}/{when.month}/{when.day}"
    return f"【发布日期】{when:%Y.%m.%d}"
