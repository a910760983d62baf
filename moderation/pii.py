"""Personal data in published text: ID card, mobile and bank card numbers (docs/architecture.md step 6).

Notices that list members with their ID numbers are a real and common leak. The patterns run on the
folded text of moderation.normalize (full-width digits are ASCII, every separator is a space, X is
lower case), whose offsets are those of the original. Numbers are checked, not just shaped: an ID
number needs a valid ISO 7064 MOD 11-2 check character, a bank card a valid Luhn digit. Hits carry a
masked number only: the screening table must not become a second copy of the leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

ID_CARD, MOBILE, BANK_CARD = "pii_id_card", "pii_mobile", "pii_bank_card"
SEVERITY = {ID_CARD: 5, BANK_CARD: 4, MOBILE: 2}  # a unit's contact mobile is often published on purpose

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10x98765432"
# Each pattern starts with a character class and checks what precedes afterwards: the regex engine
# then skips to candidate digits in C instead of trying a look-behind at every position (4x faster).
# Region (6) + birth date 18xx-20xx (8) + sequence (3) + check (digit or x); no digit or letter around.
_ID = re.compile(
    r"[1-9](?<![0-9a-z][1-9])[0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9x](?![0-9a-z])"
)
# 1[3-9]x xxxx xxxx, optionally written in groups (138-0013-8000 folds to spaces).
_MOBILE = re.compile(r"1(?<![0-9]1)[3-9][0-9] ?[0-9]{4} ?[0-9]{4}(?![0-9])")
# 16-19 digits starting with a card network digit, optionally in groups of four.
_CARD = re.compile(r"[3-6](?<![0-9][3-6])[0-9]{3}(?: ?[0-9]{4}){2,3}(?: ?[0-9]{1,3})?(?![0-9])")
# Every number above is a run of at least 11 digits, spaces and x starting with a digit. One scan for
# such runs (2.5x faster than the three patterns) leaves the patterns a few short windows.
_CANDIDATE = re.compile(r"[0-9][0-9 x]{10,}")


@dataclass(frozen=True, slots=True)
class PiiHit:
    """A personal number found in a text: span, kind (a category) and the masked number."""

    start: int
    end: int
    category: str
    masked: str

    @property
    def severity(self) -> int:
        """How serious publishing this kind of number is."""
        return SEVERITY[self.category]


def id_card_valid(number: str) -> bool:
    """True if an 18-character mainland ID number has a correct check character (ISO 7064 MOD 11-2)."""
    if len(number) != 18 or not number[:17].isdecimal():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].lower()


def luhn_valid(digits: str) -> bool:
    """True if a digit string passes the Luhn check (bank card numbers)."""
    if not digits.isdecimal():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask(digits: str, keep_head: int, keep_tail: int) -> str:
    return digits[:keep_head] + "*" * (len(digits) - keep_head - keep_tail) + digits[-keep_tail:]


def find_pii(folded: str) -> Iterator[PiiHit]:
    """Valid ID card, mobile and bank card numbers in ``folded`` (see moderation.normalize.fold)."""
    cards: list[PiiHit] = []
    mobiles: list[PiiHit] = []
    for window in _CANDIDATE.finditer(folded):
        # The patterns look one character past a number ((?![0-9a-z])) and back before it.
        begin, end = window.start(), window.end() + 1
        taken: list[tuple[int, int]] = []
        for match in _ID.finditer(folded, begin, end):
            if id_card_valid(match.group()):
                taken.append(match.span())
                yield PiiHit(*match.span(), ID_CARD, _mask(match.group().upper(), 6, 4))
        for match in _CARD.finditer(folded, begin, end):
            digits = match.group().replace(" ", "")
            inside_id = any(start <= match.start() and match.end() <= stop for start, stop in taken)
            if 16 <= len(digits) <= 19 and not inside_id and luhn_valid(digits):
                cards.append(PiiHit(*match.span(), BANK_CARD, _mask(digits, 4, 4)))
        for match in _MOBILE.finditer(folded, begin, end):
            mobiles.append(PiiHit(*match.span(), MOBILE, _mask(match.group().replace(" ", ""), 3, 4)))
    yield from cards
    yield from mobiles
