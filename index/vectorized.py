"""The indexing tokens of a long normalized text with numpy instead of a loop per token (step 7).

Same tokens as ``index.analysis`` (its tests compare both on tricky text): the text's code points
are classified once per distinct character — CJK (bigrams) or alphanumeric (words) — and the output
string is gathered from the text in one indexing operation. One rule of the regex path is left to it:
where a word run swallows CJK characters and meets a CJK-class character that is not alphanumeric
(the katakana middle dot in "a中・文"), the regex path splits the run; a text with such a character
returns None here and takes the regex path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

# The CJK class of index.analysis as code point ranges (inclusive).
CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
_SPACE = 0x20
_Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Analysed:
    """The space-joined tokens of a text and its distinct CJK characters in code point order."""

    tokens: str
    cjk_chars: str


@cache
def _kind_table() -> npt.NDArray[np.int8]:
    """Kind of every code point below the end of the CJK ranges: 1 CJK, 2 alphanumeric, 3 CJK but not
    alphanumeric (the regex path splits word runs there), 0 neither. Built once per process (~0.1 s)."""
    size = CJK_RANGES[-1][1] + 1
    alnum = np.fromiter((chr(code).isalnum() for code in range(size)), dtype=bool, count=size)
    cjk = np.zeros(size, dtype=bool)
    for low, high in CJK_RANGES:
        cjk[low : high + 1] = True
    return np.select([cjk & alnum, cjk, alnum], [1, 3, 2], 0).astype(np.int8)


def _kinds(codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.int8]:
    table = _kind_table()
    kind = table[np.minimum(codes, len(table) - 1)]
    beyond = codes >= len(table)
    if np.any(beyond):  # past the CJK ranges: never CJK, alphanumeric asked per distinct character
        distinct, inverse = np.unique(codes[beyond], return_inverse=True)
        alnum = np.fromiter((chr(c).isalnum() for c in distinct.tolist()), dtype=bool, count=len(distinct))
        kind[beyond] = np.where(alnum, 2, 0).astype(np.int8)[inverse]
    return kind


def analyse_many(norms: list[str], groups: list[int] | None = None) -> list[Analysed | None]:
    """Tokens and CJK characters of each normalized text (None: the regex path must decide for it).

    ``groups`` (one number per text, from 0) pools the CJK characters: each text then carries those of
    its whole group (a document's title and body).

    The texts are analysed together, joined by NUL (neither CJK nor alphanumeric: a token boundary),
    so numpy's per-call cost is paid once per batch rather than once per text.
    """
    if not norms:
        return []
    codes = np.frombuffer("\0".join(norms).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if len(codes) == 0:  # one empty text
        return [Analysed("", "") for _ in norms]
    lengths = np.fromiter((len(norm) for norm in norms), dtype=np.int64, count=len(norms))
    text_starts = np.cumsum(lengths + 1) - lengths - 1  # each text is followed by its NUL
    text_of = np.repeat(np.arange(len(norms)), lengths + 1)[: len(codes)]
    kind = _kinds(codes)
    refused = set(np.unique(text_of[kind == 3]).tolist())
    kind[kind == 3] = 1  # (those texts are answered by the regex path)
    padded = np.concatenate(([0], kind, [0])).astype(np.int8)
    same_next = padded[1:-1] == padded[2:]  # position i and i + 1 belong to one run
    same_prev = padded[1:-1] == padded[:-2]
    cjk, word = kind == 1, kind == 2
    bigram = cjk & same_next  # a bigram starts here: the character and the next, then a space
    lone = cjk & ~same_next & ~same_prev  # a run of one CJK character: a unigram, then a space
    word_end = word & ~same_next
    counts = np.select([bigram, lone, word], [3, 2, 1 + word_end.astype(np.int64)], 0)
    ends = np.cumsum(counts)
    total = int(ends[-1])
    source = np.repeat(np.arange(len(codes)), counts) + np.arange(total) - np.repeat(ends - counts, counts)
    # The last slot of a bigram, a unigram or a word's last character is the token's space.
    source[(ends - 1)[bigram | lone | word_end]] = len(codes)
    gathered = np.append(codes, np.uint32(_SPACE))[source].tobytes().decode("utf-32-le", "surrogatepass")
    slot_starts = np.concatenate(([0], ends))[text_starts].tolist()
    slot_ends = np.concatenate(([0], ends))[text_starts + lengths].tolist()
    # Distinct CJK characters per text: sorted (text, code) pairs, repeats dropped.
    group_of = np.arange(len(norms)) if groups is None else np.asarray(groups, dtype=np.int64)
    owner = group_of[text_of[cjk]].astype(np.uint64)
    pairs = np.sort((owner << np.uint64(32)) | codes[cjk].astype(np.uint64))
    pairs = pairs[np.concatenate((pairs[:1] >= 0, pairs[1:] != pairs[:-1]))]
    chars = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    owners = np.arange(int(group_of.max()) + 2, dtype=np.uint64)
    bounds = np.searchsorted(pairs >> np.uint64(32), owners).tolist()
    group_list = group_of.tolist()
    return [
        None
        if index in refused
        else Analysed(
            gathered[slot_starts[index] : slot_ends[index]][:-1],
            chars[bounds[group_list[index]] : bounds[group_list[index] + 1]],
        )
        for index in range(len(norms))
    ]
