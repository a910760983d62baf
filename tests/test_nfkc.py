"""hub/nfkc.py: the same string as unicodedata's NFKC, whatever the text."""

from __future__ import annotations

import random
import unicodedata

from hub.ingest import content_hash
from hub.nfkc import nfkc

BMP = [chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF]
# Characters that compose with or reorder around their neighbours, and full-width forms NFKC changes.
TRICKY = [
    *"ｶﾞﾟ\u3099\u309a\u0301\u0308\u0327가\u1161\u11a8ｱ①⑩㈱ﬁÅ\u212b\u2126",
    *"\u3000。，：（）１２ＡＢ\U0001d400\U0002f800",
]


def test_every_bmp_character_in_context() -> None:
    for char in BMP:
        for text in ("a" + char + "\u0301", "가" + char + "\u1161" + "，" + char + char + "１"):
            assert nfkc(text) == unicodedata.normalize("NFKC", text), ascii(text)


def test_random_texts() -> None:
    rng = random.Random(3)
    common = [*TRICKY, *"关于做好社区服务工作的通知 abc\n\t"]
    for round_ in range(20_000):
        pool = common if round_ % 2 else BMP + TRICKY
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 16)))
        assert nfkc(text) == unicodedata.normalize("NFKC", text), ascii(text)


def test_content_hash_ignores_width_and_whitespace() -> None:
    assert content_hash("通知（１）", "第１条，\u3000内容 ") == content_hash("通知(1)", "第1条,内容")
    assert content_hash("通知", "ｶﾞ") == content_hash("通知", "ガ")  # composed across characters
    assert content_hash("通知", "第1条") != content_hash("通知", "第2条")


def test_no_canonical_decomposition_above_plane_2() -> None:
    # hub/nfkc.py scans for backward-combining characters below 0x30000 only.
    assert not any(
        unicodedata.decomposition(chr(code)) and not unicodedata.decomposition(chr(code)).startswith("<")
        for code in range(0x30000, 0x110000)
    )
