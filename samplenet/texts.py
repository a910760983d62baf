"""Chinese notice vocabulary: unit names, titles, bodies and the date formats real sites print.

Every string here stays inside GB2312, so GBK and "gb2312"-labelled pages can carry any of it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
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
    "党史学习教育", "党员先锋岗创建", "红色物业建设", "党建联建共建",
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
# Bodies are an opening, three to nine paragraphs of one to three sentences drawn from a large pool
# (each with its own numbers, names and places), and a closing, so two notices rarely share more than
# a few sentences: only intended reposts look alike to a near-duplicate detector.
_OPENINGS = (
    "为深入贯彻落实上级有关部署，进一步做好{topic}工作，切实提升群众满意度，现将有关事项通知如下。",
    "近日，{place}组织辖区干部群众开展{topic}活动，现场气氛热烈，参与群众纷纷点赞。",
    "{month}月{day}日上午，{place}召开{topic}工作会议，总结前一阶段工作，部署下一步任务。",
    "根据上级工作安排，结合{place}实际，现就{topic}有关工作通知如下。",
    "{month}月{day}日下午，{place}在党群服务中心举行{topic}推进会，辖区{n1}家单位负责人参加会议。",
    "为进一步提高居民对{topic}的知晓率和参与率，{place}于{month}月{day}日起开展为期{n7}天的集中宣传。",
    "今年以来，{place}把{topic}作为重点工作，多措并举抓好落实，取得了阶段性成效。",
    "日前，{place}收到居民来信反映{topic}方面的问题，工作人员第一时间赶赴现场了解情况。",
    "经研究决定，{place}将于{month}月{day}日至{month2}月{day2}日组织开展{topic}专项检查。",
    "{year}年以来，{place}坚持问题导向，围绕{topic}补短板、强弱项，推动各项工作提质增效。",
)
_MIDDLES = (
    "各单位要高度重视，明确责任分工，把{topic}工作与党建工作同部署、同落实、同检查。",
    "活动中，工作人员向居民发放宣传资料{n3}余份，并现场解答群众关心的问题，累计服务群众{n4}人次。",
    "会议强调，要坚持以人民为中心，发挥基层党组织战斗堡垒作用，推动{topic}工作落到实处。",
    "下一步，{place}将依托Smart City平台和社区App，持续优化线上办事流程，让数据多跑路、群众少跑腿。",
    "辖区内公共场所已实现免费WiFi覆盖，居民可通过微信公众号查询{topic}相关信息。",
    "请各单位于{month2}月{day2}日前将有关材料报送至办公室，联系人：{person}，联系电话：0571-{phone}。",
    "此次检查共排查点位{n1}处，发现问题{n5}个，已当场整改{n6}个，其余问题限期整改到位。",
    "{person}介绍了前期工作情况，并就存在的困难和问题作了说明。",
    "与会人员围绕{topic}工作展开讨论，提出意见建议{n5}条。",
    "各网格员要加强日常巡查，做到早发现、早报告、早处置，确保不留死角。",
    "对工作不力、推诿扯皮造成不良影响的，将依规依纪严肃追责问责。",
    "社区还组织志愿者{n2}名，分成{n7}个小组，深入楼栋逐户走访，详细登记居民需求。",
    "{road}沿线的{n3}户商户签订了责任书，承诺自觉遵守相关规定。",
    "活动现场设置了咨询台、展板和互动游戏区，吸引了不少老人和孩子驻足参与。",
    "有居民表示：“以前总觉得{topic}离自己很远，现在才知道和每个家庭都息息相关。”",
    "据统计，今年{month}月以来，{place}已累计开展各类活动{n5}场次，覆盖居民{n4}余人。",
    "居民如有疑问，可在工作日上午9时至下午5时到{road}{n7}号党群服务中心咨询。",
    "在资金保障方面，{place}统筹安排专项经费{n8}万元，用于设施更新和人员培训。",
    "目前，已有{n3}名居民通过App在线预约服务，平均办理时间缩短至{n7}个工作日。",
    "工作人员还通过WiFi热点推送和社区电子屏滚动播放的方式，扩大宣传覆盖面。",
    "Smart City项目建设以来，{place}已接入各类感知设备{n3}台，实现数据实时汇聚。",
    "针对老年人使用智能手机不便的情况，工作人员手把手教学，帮助他们下载和使用App。",
    "会上，各单位负责人逐一汇报了本单位{topic}工作进展情况及下一步打算。",
    "为确保工作取得实效，{place}成立了由{person}任组长的工作领导小组。",
    "领导小组下设办公室，负责日常协调、督促检查和信息报送等工作。",
    "各社区要结合实际制定具体实施方案，细化工作措施，明确时间节点。",
    "要充分利用宣传栏、微信群等载体，广泛宣传{topic}的重要意义和有关政策。",
    "要加强对重点人群、重点区域的排查，建立工作台账，实行销号管理。",
    "{road}片区地势低洼，是今年排查整治的重点，已提前储备沙袋{n3}只、抽水泵{n7}台。",
    "卫生服务中心派出医护人员{n7}名，为到场居民免费测量血压、血糖，并提供健康咨询。",
    "学校利用班会课开展主题教育，{n4}余名学生参与，并向家长发出一封公开信。",
    "供水公司对辖区{n1}处管网进行了检修，预计{month2}月{day2}日完成全部施工。",
    "期间如遇停水，请居民提前做好储水准备，给您带来的不便敬请谅解。",
    "党员志愿者主动认领岗位，在疏导交通、维持秩序、清理垃圾等方面发挥了先锋模范作用。",
    "通过开展主题党日活动，进一步增强了党员的责任意识和服务意识。",
    "下一阶段，将围绕群众急难愁盼问题，推出更多便民利民举措。",
    "此前，{place}已就{topic}工作征求了辖区居民、驻区单位和人大代表的意见。",
    "本次活动由{place}主办，{org}协办，{org2}提供场地支持。",
    "经初步核查，居民反映的问题基本属实，相关部门已着手研究解决办法。",
    "{person}表示，将以此次活动为契机，持续巩固工作成果，建立长效机制。",
    "{month2}月{day2}日，区{org}督查组一行{n7}人到{place}实地查看了{road}等{n5}个点位。",
    "截至目前，{topic}相关投诉同比下降{n6}个百分点，群众满意率达到{n9}%。",
    "下沉干部{n2}名编入网格，与社区工作者一起包片联户，实现全覆盖。",
    "对排查发现的{n5}处安全隐患，已逐一登记造册，落实整改责任人和整改时限。",
    "现场还开展了应急演练，{n4}余名居民参与疏散，整个过程用时{n7}分钟。",
    "{org}的{n7}名工作人员现场办公，当天受理各类事项{n3}件。",
)
_CLOSINGS = (
    "特此通知。",
    "大家纷纷表示，今后将积极参与此类活动，为建设美好家园贡献力量。",
    "此次活动进一步增强了群众的获得感、幸福感、安全感。",
    "特此公示。公示期间如有异议，请以书面形式向{place}反映。",
    "请各单位认真贯彻执行。",
    "以上事项，请遵照执行。",
    "欢迎广大居民积极参与，共同营造良好的社区环境。",
    "{place}将持续关注后续进展，及时向社会公布有关情况。",
    "让我们携手共建和谐美好家园。",
    "咨询电话：0571-{phone}（工作日）。",
)
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建国文辉鹏飞宇斌浩凯俊帆晨阳"
_ROADS = ("人民路", "解放路", "建设路", "中山路", "和平街", "光明路", "新华路", "文化路", "胜利街", "朝阳路")
_ORGS = (
    "区司法局",
    "区卫健局",
    "区应急管理局",
    "区民政局",
    "区城管局",
    "区总工会",
    "团区委",
    "区妇联",
    "区消防救援大队",
)
# Ranges of the numbers {n1}..{n9} a body quotes (units, people, items, days, money, percentages).
_NUMBERS = ((5, 60), (10, 80), (100, 900), (200, 3000), (3, 30), (1, 20), (2, 9), (5, 95), (90, 99))
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


class _Draws:
    """Many small random numbers from one ``getrandbits`` call (``Random.randint`` is slow at 10,000s)."""

    def __init__(self, rng: random.Random, bits: int = 512) -> None:
        self.rng, self.size = rng, bits
        self.bits = rng.getrandbits(bits)

    def below(self, n: int) -> int:
        if self.bits < 1 << 16:
            self.bits = self.rng.getrandbits(self.size)
        value = (self.bits & 0xFFFF) % n  # 16 bits: the modulo bias is negligible for n < 100
        self.bits >>= 16
        return value

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1)

    def pick(self, options: Sequence[str]) -> str:
        return options[self.below(len(options))]


def make_paragraphs(rng: random.Random, place: str, when: datetime) -> tuple[str, ...]:
    """An opening, four to eleven paragraphs of one to three pooled sentences, and a closing."""
    draw = _Draws(rng)
    later = when.day + draw.between(3, 20)
    values = {
        "topic": draw.pick(_TOPICS),
        "place": place,
        "year": when.year,
        "month": when.month,
        "day": when.day,
        "month2": when.month % 12 + 1 if later > 28 else when.month,
        "day2": later - 28 if later > 28 else later,
        "person": draw.pick(_SURNAMES) + draw.pick(_GIVEN) + draw.pick(("", *_GIVEN)),
        "phone": f"{draw.between(1000, 9999)}{draw.between(1000, 9999)}",
        "road": draw.pick(_ROADS),
        "org": draw.pick(_ORGS),
        "org2": draw.pick(_ORGS),
        **{f"n{k}": draw.between(low, high) for k, (low, high) in enumerate(_NUMBERS, start=1)},
    }
    used: set[int] = set()
    paragraphs = [draw.pick(_OPENINGS)]
    for _ in range(draw.between(4, 11)):
        sentences = []
        for _ in range(draw.between(1, 3)):
            if len(used) == len(_MIDDLES):
                used.clear()
            index = draw.below(len(_MIDDLES))
            while index in used:  # each sentence once per notice
                index = (index + 1) % len(_MIDDLES)
            used.add(index)
            sentences.append(_MIDDLES[index])
        paragraphs.append("".join(sentences))
    paragraphs.append(draw.pick(_CLOSINGS))
    return tuple(part.format(**values) for part in paragraphs)


def make_author(rng: random.Random) -> str:
    """An author line value."""
    return rng.choice(_AUTHORS)


_CN_DIGITS = "〇一二三四五六七八九"
_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def _cn_number(value: int) -> str:
    """1..31 as written in dates: 五, 十, 十二, 二十, 二十六."""
    tens, ones = divmod(value, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def format_date(when: datetime, style: DateStyle) -> str:
    """The date line of an article page, in one of the formats Chinese sites use."""
    if style == "full_cn":
        return f"发布时间：{when:%Y年%m月%d日 %H:%M}"
    if style == "dash":
        return f"日期：{when:%Y-%m-%d}"
    if style == "slash":
        return f"{when.year}/{when.month}/{when.day}"
    if style == "cn_numerals":
        year = "".join(_CN_DIGITS[int(digit)] for digit in str(when.year))
        return f"发布日期：{year}年{_cn_number(when.month)}月{_cn_number(when.day)}日"
    if style == "fullwidth":
        return "发布时间：" + f"{when:%Y-%m-%d}".translate(_FULL_WIDTH)
    return f"【发布日期】{when:%Y.%m.%d}"
