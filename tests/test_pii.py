"""Personal data: ID card numbers with a valid check character, mobile numbers, Luhn-valid bank cards."""

from __future__ import annotations

from moderation.normalize import normalize
from moderation.pii import BANK_CARD, ID_CARD, MOBILE, find_pii, id_card_valid, luhn_valid

VALID_ID = "11010519491231002X"  # the standard's worked example
BAD_CHECK_ID = "110105194912310021"


def found(text: str) -> list[tuple[str, str, str]]:
    normalized = normalize(text)
    hits = []
    for hit in find_pii(normalized.folded):
        start, end = normalized.folded_span(hit.start, hit.end)
        hits.append((hit.category, text[start:end], hit.masked))
    return hits


def test_checksums() -> None:
    assert id_card_valid(VALID_ID) and id_card_valid(VALID_ID.lower())
    assert not id_card_valid(BAD_CHECK_ID)
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_id_number_with_valid_checksum_is_flagged_and_masked() -> None:
    assert found(f"党员张三，身份证号{VALID_ID}。") == [(ID_CARD, VALID_ID, "110105********002X")]


def test_id_number_with_bad_checksum_is_not_flagged() -> None:
    assert found(f"编号{BAD_CHECK_ID}。") == []


def test_full_width_id_number_maps_to_the_original() -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) for c in VALID_ID)  # full-width digits and Ｘ
    assert found(f"身份证：{wide}") == [(ID_CARD, wide, "110105********002X")]


def test_mobile_and_bank_card_numbers() -> None:
    text = "联系人电话 138-0013-8000，工资卡 4111 1111 1111 1111；订单号 4111111111111112。"
    assert found(text) == [
        (BANK_CARD, "4111 1111 1111 1111", "4111********1111"),
        (MOBILE, "138-0013-8000", "138****8000"),
    ]


def test_longer_digit_runs_are_not_mobile_numbers() -> None:
    assert found("文号 2024138001380001 号") == []
