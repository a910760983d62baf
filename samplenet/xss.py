"""The XSS corpus: notices of a hostile site, each carrying one way markup has been used to run script.

Every payload, if it ran, would set ``window.__xss`` (or ``parent.__xss`` from a frame) to its number or
call ``alert(number)``, so a browser test can trap it. Titles carry markup too (shown on every list, in
suggestions and widgets); bodies carry the payloads that a sanitizer must take apart. The numbers are
unique, so a trapped value names the payload that got through.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Payload:
    """One entry of the corpus: its number, what it tries, and the markup."""

    number: int
    label: str
    html: str


_BODIES: tuple[tuple[str, str], ...] = (
    ("script tag", "<script>window.__xss=1</script>"),
    ("script src data:", "<SCRIPT SRC=data:text/javascript,window.__xss=2></SCRIPT>"),
    ("img onerror", '<img src=x onerror="window.__xss=3">'),
    ("img onerror mixed case", '<img src="x" OnErRoR=alert(4)>'),
    ("svg onload", '<svg onload="window.__xss=5"></svg>'),
    ("svg with script", "<svg><script>window.__xss=6</script></svg>"),
    ("svg animate onbegin", '<svg><animate onbegin="window.__xss=7" attributeName=x dur=1s></svg>'),
    ("body onload", '<body onload="window.__xss=8"><p>正文</p></body>'),
    ("javascript: href", '<a href="javascript:window.__xss=9">点我九</a>'),
    ("javascript: mixed case", '<a href="JaVaScRiPt:alert(10)">点我十</a>'),
    (
        "javascript: decimal entities",
        '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(11)">点我十一</a>',
    ),
    ("javascript: hex entities", '<a href="&#x6A;avascript&#x3A;alert(12)">点我十二</a>'),
    ("javascript: with tab", '<a href="java&#x09;script:alert(13)">点我十三</a>'),
    ("javascript: with newline", '<a href="java&#x0A;script:window.__xss=14">点我十四</a>'),
    ("javascript: leading control", '<a href=" &#14; javascript:alert(15)">点我十五</a>'),
    ("javascript: &colon;", '<a href="javascript&colon;alert(16)">点我十六</a>'),
    (
        "data: text/html link",
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxNyk8L3NjcmlwdD4=">点我十七</a>',
    ),
    (
        "data: svg image",
        "<img src=\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='alert(18)'/>\">",
    ),
    ("vbscript: link", '<a href="vbscript:msgbox(19)">点我十九</a>'),
    ("vbscript: mixed case", '<a href="VbScRiPt:alert(20)">点我二十</a>'),
    ("iframe javascript:", '<iframe src="javascript:parent.__xss=21"></iframe>'),
    ("iframe srcdoc script", '<iframe srcdoc="<script>parent.__xss=22</script>"></iframe>'),
    ("iframe srcdoc entities", '<iframe srcdoc="&lt;img src=x onerror=parent.__xss=23&gt;"></iframe>'),
    ("object data", '<object data="javascript:alert(24)"></object>'),
    ("embed data:", '<embed src="data:text/html,<script>alert(25)</script>">'),
    ("css expression()", '<div style="width: expression(window.__xss=26)">样式二十六</div>'),
    ("css url(javascript:)", '<div style="background:url(javascript:window.__xss=27)">样式二十七</div>'),
    ("style element import", "<style>@import 'javascript:alert(28)';</style>"),
    ("math mglyph style mXSS", "<math><mtext><table><mglyph><style><img src=x onerror=alert(29)>"),
    ("math href", '<math href="javascript:alert(30)">点我三十</math>'),
    ("template script", "<template><script>window.__xss=31</script></template>"),
    ("template img", "<template><img src=x onerror=alert(32)></template>"),
    ("nested script split", "<scr<script>ipt>window.__xss=33</scr</script>ipt>"),
    ("double open bracket", "<<script>script>alert(34)<</script>/script>"),
    ("unclosed attribute", '<img src="x" alt="a onerror=alert(35) b=">'),
    ("quote breakout", '<img """><script>alert(36)</script>">'),
    ("unclosed tag at end", "<img src=x onerror=alert(37)//"),
    ("noscript title mXSS", '<noscript><p title="</noscript><img src=x onerror=alert(38)>"></noscript>'),
    ("form action", '<form action="javascript:alert(39)"><button>提交三十九</button></form>'),
    ("button formaction", '<button formaction="javascript:alert(40)">按钮四十</button>'),
    ("input autofocus onfocus", "<input autofocus onfocus=alert(41)>"),
    ("details ontoggle", "<details open ontoggle=alert(42)><summary>四十二</summary></details>"),
    ("meta refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(43)">'),
    ("base href", '<base href="javascript:alert(44)//">'),
    ("video source onerror", '<video><source onerror="alert(45)"></video>'),
    ("onclick link", '<a href="#" onclick="window.__xss=46">点我四十六</a>'),
    (
        "escaped markup as text",
        "<p>&lt;script&gt;window.__xss=47&lt;/script&gt;&lt;img src=x onerror=alert(47)&gt;</p>",
    ),
    ("comment breakout", '<!--<img src="--><img src=x onerror=alert(48)//">'),
    ("cdata breakout", "<![CDATA[><script>alert(49)</script>]]>"),
    ("svg xlink:href", '<svg><a xlink:href="javascript:alert(50)"><text x="20" y="20">五十</text></a></svg>'),
    ("img srcset onerror", '<img srcset="x 1x" onerror="alert(51)">'),
    ("custom element handler", "<xss onpointerover=alert(52) tabindex=1>五十二</xss>"),
    ("table background", '<table background="javascript:alert(53)"><tr><td>五十三</td></tr></table>'),
    (
        "a target with handler in href",
        '<a href="http://127.0.0.1/" target=_blank onmouseover=alert(54)>五十四</a>',
    ),
    ("link import", '<link rel=import href="data:text/html,<script>alert(55)</script>">'),
    ("marquee onstart", "<marquee onstart=alert(56)>五十六</marquee>"),
)

# Titles are text everywhere: markup in them must come out escaped, never as elements.
TITLES: tuple[str, ...] = (
    "<script>window.__xss=101</script>",
    "<img src=x onerror=alert(102)>",
    '"><svg onload=alert(103)>',
    "'\"><img src=x onerror=window.__xss=104>",
    "</title><script>alert(105)</script>",
    "</textarea><script>alert(106)</script>",
    "</script><script>alert(107)</script>",
    "{{7*7}}${alert(108)}",
    "<a href=javascript:alert(109)>链接</a>",
    "<iframe srcdoc='<script>parent.__xss=110</script>'>",
)

PAYLOADS: tuple[Payload, ...] = tuple(
    Payload(number, label, html) for number, (label, html) in enumerate(_BODIES, start=1)
)
MARKER = "安全演练"  # a word every hostile notice carries, so one search finds them all


def title(payload: Payload) -> str:
    """The notice title of ``payload``: markup from TITLES, the marker and the payload's number."""
    return f"{TITLES[(payload.number - 1) % len(TITLES)]}{MARKER}第{payload.number}号"


def body(payload: Payload) -> str:
    """The notice body: a line of text naming the payload, the payload, and a closing line."""
    return (
        f"<p>{MARKER}第{payload.number}号：检验页面对恶意标记的处理。</p>\n"
        f"{payload.html}\n<p>以上内容仅用于安全测试，请勿转载。</p>"
    )
