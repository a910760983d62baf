"""The indexed fields of many documents with numpy instead of a loop per token (step 7).

Same output as the regex path of ``index.analysis`` (its tests compare both on random text). Documents
go in chunks of a few thousand characters: each chunk is one UTF-32 array (texts joined by NUL, a
token boundary that normalization and lowercasing never cross), normalized, classified and turned
into tokens by a handful of whole-array operations; what numpy costs per call is paid per chunk, and
a chunk's arrays stay in the processor's cache.

Normalization (``normalize`` of index.analysis: NFKC of the text, then ``str.lower``, or character by
character when that changes the length). Replacing a character by its own NFKC form never changes the
NFKC form of a text (compatibility equivalence holds for any part of a text), so a text mapped through
a per-character table is its NFKC form whenever ``unicodedata.is_normalized`` says so; otherwise the
caller's reference normalization decides. Characters whose form is longer than one character are
spliced in by Python (an ellipsis "…" → "...").

Tokens: every position emits up to three code points — itself, the next one (it starts a bigram), a
space (a token ends) — chosen by one boolean mask of shape (n, 3), so the output string is one
``take`` of the mask's true positions and one decode, in text order. One rule of the regex path
needs care: a word run (letters and digits) swallows the CJK characters that follow it and stops at a
CJK-class character that is not a letter (the katakana middle dot in "a中・文"); the CJK run then
starts there, so the run is cut before that character ("a 中 ・文", where "中・文" gives "中・ ・文").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

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
TABLE_SIZE = CJK_RANGES[-1][1] + 1  # code points past it: never CJK, looked up one by one
CHUNK_CHARS = 16_384  # characters per numpy pass: small enough to stay in cache, large to amortize calls
SORT_GROUP = 1_024  # CJK characters sorted per call (several small sorts beat one large one)
# Kana, CJK extension A and unified ideographs: their one-character strings are made once per process
# (~2 MB) and shared by every document's character list, rather than allocated anew each time.
CHARS_FROM, CHARS_TO = 0x3000, 0xA000
_MULTI = 0xFFFFFFFF  # table entry: the character's form is not one character
_SPACE = 0x20
_SURROGATES = 0xD800  # code points below it are one UTF-16 unit each
_KEY_STRIDE = TABLE_SIZE  # sort key of a CJK character: document number * stride + code point
_CHUNK_DOCS = (2**32 - 1) // _KEY_STRIDE - 1  # documents per chunk so that keys fit in uint32
_CODEC = "utf-32-le"
_Codes = npt.NDArray[np.uint32]
_Units = npt.NDArray[np.uint16]
_Bools = npt.NDArray[np.bool_]
Normalizer = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Tables:
    """Per-code-point tables below ``TABLE_SIZE``, built once per process (~0.2 s, ~4 MB).

    ``kind``: 1 CJK letter, 2 other letter or digit (a word character), 3 CJK but not a letter, 0 none.
    ``nfkc``: the NFKC form when it is one character, else ``_MULTI``; ``folded``: the same for the
    NFKC form lowercased (``normalize``'s character-by-character rule)."""

    kind: npt.NDArray[np.int8]
    nfkc: _Codes
    folded: _Codes
    chars: npt.NDArray[np.object_]  # one str per code point of CHARS_FROM..CHARS_TO, shared by results


def _one_char_codes(forms: list[str]) -> _Codes:
    return np.array([ord(form) if len(form) == 1 else _MULTI for form in forms], dtype=np.uint32)


@cache
def tables() -> Tables:
    """The process's tables (built on first use, never on import)."""
    # NUL never takes part in normalization or casing, so the forms of all characters come from one
    # call each, split on NUL (NUL itself, code 0, is put back in front).
    chars = "\0".join(map(chr, range(1, TABLE_SIZE)))
    nfkc = unicodedata.normalize("NFKC", chars)
    nfkc_forms = ["\0", *nfkc.split("\0")]
    folded_forms = ["\0", *nfkc.lower().split("\0")]
    alnum = np.fromiter((chr(code).isalnum() for code in range(TABLE_SIZE)), dtype=bool, count=TABLE_SIZE)
    cjk = np.zeros(TABLE_SIZE, dtype=bool)
    for low, high in CJK_RANGES:
        cjk[low : high + 1] = True
    kind = np.select([cjk & alnum, cjk, alnum], [1, 3, 2], 0).astype(np.int8)
    chars_table = np.array([chr(code) for code in range(CHARS_FROM, CHARS_TO)], dtype=object)
    return Tables(kind, _one_char_codes(nfkc_forms), _one_char_codes(folded_forms), chars_table)


def _codes(text: str) -> _Codes:
    return np.frombuffer(text.encode(_CODEC, "surrogatepass"), dtype=np.uint32)


def _text(codes: _Codes | _Units) -> str:
    if codes.dtype == np.uint16:
        return codes.tobytes().decode("utf-16-le")
    if len(codes) and codes.max() < _SURROGATES:  # UTF-16 decodes several times faster than UTF-32
        return codes.astype(np.uint16).tobytes().decode("utf-16-le")
    return codes.tobytes().decode(_CODEC, "surrogatepass")


def _narrow(codes: _Codes) -> _Codes | _Units:
    """``codes`` as UTF-16 units when each code point is one unit (cheaper to copy and to decode)."""
    return codes.astype(np.uint16) if len(codes) and codes.max() < _SURROGATES else codes


def _lookup(table: _Codes, codes: _Codes) -> _Codes:
    """``table`` at every code point, ``_MULTI`` past its end."""
    mapped = table.take(codes, mode="clip")
    if len(codes) and codes.max() >= len(table):
        mapped[codes >= len(table)] = _MULTI
    return mapped


def _mapped(text: str, codes: _Codes, table: _Codes, form: Callable[[str], str]) -> str:
    """``text`` with every character replaced by ``form`` of it; ``table`` has the one-character forms."""
    mapped = _lookup(table, codes)
    multi = (mapped == _MULTI).nonzero()[0].tolist()
    if not multi:
        return _text(mapped)
    mapped[multi] = 0
    one = _text(mapped)
    pieces: list[str] = []
    previous = 0
    for position in multi:
        pieces += (one[previous:position], form(text[position]))
        previous = position + 1
    pieces.append(one[previous:])
    return "".join(pieces)


def _nfkc_char(char: str) -> str:
    return unicodedata.normalize("NFKC", char)


def _folded_char(char: str) -> str:
    return unicodedata.normalize("NFKC", char).lower()


def normalized_text(text: str, nfkc: Normalizer) -> str:
    """``normalize(text)[0]`` of index.analysis, faster; ``nfkc`` is the reference NFKC."""
    return _normalized(text, _codes(text), nfkc)


def _normalized(text: str, codes: _Codes, nfkc: Normalizer) -> str:
    mapped = _mapped(text, codes, tables().nfkc, _nfkc_char)
    form = mapped if unicodedata.is_normalized("NFKC", mapped) else nfkc(text)
    whole = form.lower()
    if len(whole) == len(text):
        return whole
    return _folded(text, codes)


def _folded(text: str, codes: _Codes) -> str:
    """``normalize``'s character-by-character rule: each character's NFKC form, lowercased alone."""
    return _mapped(text, codes, tables().folded, _folded_char)


def _normalized_chunk(texts: list[str], nfkc: Normalizer) -> tuple[str, list[int]]:
    """The normalized texts joined by NUL, and their lengths. Usually one pass for the chunk: the texts
    mapped through the table are normalized and lowercasing keeps the length (``lower`` never shortens
    a text, so the length of the whole tells that of each part). Texts that fail are done one by one."""
    codes = _codes("\0".join(texts))
    mapped = _lookup(tables().nfkc, codes)
    multi = (mapped == _MULTI).nonzero()[0]
    lengths = [len(text) for text in texts]
    mapped[multi] = 0  # (the texts holding these are normalized one by one)
    candidate = _text(mapped)
    lowered = candidate.lower()
    same_length = len(lowered) == len(candidate)
    if len(multi) == 0 and same_length and unicodedata.is_normalized("NFKC", candidate):
        return lowered, lengths
    ends = list(accumulate(length + 1 for length in lengths))  # each text's end + 1 (its separator)
    refused = set(np.searchsorted(ends, multi, side="right").tolist())  # texts with a longer form
    norms: list[str] = []
    for index, text in enumerate(texts):
        start, end = ends[index] - lengths[index] - 1, ends[index] - 1
        piece = candidate[start:end]
        if index in refused or not unicodedata.is_normalized("NFKC", piece):
            norms.append(_normalized(text, codes[start:end], nfkc))
            continue
        low = lowered[start:end] if same_length else piece.lower()
        norms.append(low if len(low) == len(piece) else _folded(text, codes[start:end]))
    return "\0".join(norms), [len(norm) for norm in norms]


def _kinds(codes: _Codes) -> npt.NDArray[np.int8]:
    kind = tables().kind.take(codes, mode="clip")
    if len(codes) and codes.max() >= TABLE_SIZE:  # never CJK, alphanumeric asked per distinct character
        beyond = codes >= TABLE_SIZE
        distinct, inverse = np.unique(codes[beyond], return_inverse=True)
        alnum = np.fromiter((chr(c).isalnum() for c in distinct.tolist()), dtype=bool, count=len(distinct))
        kind[beyond] = np.where(alnum, 2, 0).astype(np.int8)[inverse]
    return kind


def _cut_word_entered_runs(kind: npt.NDArray[np.int8], cjk: _Bools, word: _Bools, same: _Bools) -> None:
    """End the run before the first non-letter CJK character of a CJK run that a word run entered."""
    starts = cjk.copy()
    starts[1:] &= ~cjk[:-1]
    entered = starts.copy()
    entered[0] = False
    entered[1:] &= word[:-1]
    if not entered.any():
        return
    run_of = np.cumsum(starts) - 1  # number of the CJK run at each CJK position
    others = (kind == 3).nonzero()[0]
    runs = run_of[others]
    firsts = others[np.concatenate(([True], runs[1:] != runs[:-1]))]
    cuts = firsts[entered[starts.nonzero()[0]][run_of[firsts]]]
    same[cuts - 1] = False  # a cut is never at position 0: a word character precedes its run


def _tokens(codes: _Codes, kind: npt.NDArray[np.int8], separators: _Bools, count: int) -> list[str]:
    """The space-joined tokens of each of the ``count`` NUL-separated texts of ``codes``."""
    cjk = (kind & 1).astype(bool)  # kinds 1 and 3
    word = kind == 2
    same = np.zeros(len(codes), dtype=bool)  # position i and i + 1 belong to one run
    same[:-1] = (cjk[:-1] & cjk[1:]) | (word[:-1] & word[1:])
    if (kind == 3).any():
        _cut_word_entered_runs(kind, cjk, word, same)
    same_prev = np.zeros(len(codes), dtype=bool)
    same_prev[1:] = same[:-1]
    bigram = cjk & same
    lone = cjk & ~same & ~same_prev
    units = _narrow(codes)
    emitted = np.empty((len(codes), 3), dtype=units.dtype)  # the character, the next one, a space
    emitted[:, 0] = units
    emitted[:-1, 1] = units[1:]
    emitted[-1, 1] = 0
    emitted[:, 2] = _SPACE
    keep = np.empty((len(codes), 3), dtype=bool)
    keep[:, 0] = bigram | lone | word | separators  # a separator emits itself: NUL, never a token
    keep[:, 1] = bigram
    keep[:, 2] = bigram | lone | (word & ~same)
    parts = _text(emitted.ravel().take(keep.ravel().nonzero()[0])).split("\0")  # (faster than emitted[keep])
    assert len(parts) == count  # (tokens never contain NUL: it is not a letter)
    return [part[:-1] for part in parts]  # each ends with its last token's space


def _distinct_cjk(codes: _Codes, cjk: _Bools, doc_lengths: list[int]) -> list[list[str]]:
    """Distinct CJK characters of each document (a run of ``doc_lengths`` positions), in code point order."""
    positions = cjk.nonzero()[0]
    doc_ends = np.cumsum(doc_lengths)
    owner = doc_ends.searchsorted(positions, side="right").astype(np.uint32)
    keys = owner * np.uint32(_KEY_STRIDE) + codes.take(positions)
    start = grouped = 0
    for end in positions.searchsorted(doc_ends).tolist():  # where each document's keys end
        grouped += 1
        if end - start >= SORT_GROUP:  # keys are ordered by document: sort groups of whole documents
            _sort(keys[start:end], grouped == 1)
            start, grouped = end, 0
    _sort(keys[start:], grouped == 1)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    distinct = keys.take(first.nonzero()[0])
    owner = distinct // np.uint32(_KEY_STRIDE)
    chars = _char_strings(distinct - owner * np.uint32(_KEY_STRIDE))
    bounds = owner.searchsorted(np.arange(len(doc_lengths) + 1)).tolist()
    return [chars[bounds[doc] : bounds[doc + 1]] for doc in range(len(doc_lengths))]


def _sort(keys: _Codes, one_document: bool) -> None:
    """Sort in place; one document's keys, when within 65,536 of each other (BMP characters), by numpy's
    radix sort of 16-bit values, linear in time where the 32-bit sort slows down past a thousand keys."""
    if one_document and len(keys) >= SORT_GROUP:
        low = keys.min()
        if keys.max() - low <= 0xFFFF:
            keys[:] = np.sort((keys - low).astype(np.uint16), kind="stable")
            keys += low
            return
    keys.sort()


def _char_strings(codes: _Codes) -> list[str]:
    """One str per code point: from the shared table where it has them."""
    inside = (codes >= CHARS_FROM) & (codes < CHARS_TO)
    strings: list[str] = tables().chars[np.where(inside, codes - CHARS_FROM, 0)].tolist()
    for position in (~inside).nonzero()[0].tolist():
        strings[position] = chr(codes[position])
    return strings


def _chunks(documents: list[tuple[str, str]], chunk_chars: int) -> Iterator[list[tuple[str, str]]]:
    chunk: list[tuple[str, str]] = []
    size = 0
    for document in documents:
        chunk.append(document)
        size += len(document[0]) + len(document[1]) + 2
        if size >= chunk_chars or len(chunk) == _CHUNK_DOCS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def analyse_documents(
    documents: list[tuple[str, str]], nfkc: Normalizer, chunk_chars: int = CHUNK_CHARS
) -> list[tuple[str, str, list[str]]]:
    """Title tokens, body tokens and distinct CJK characters of (title, text) pairs, as
    index.analysis's regex path gives them; ``nfkc`` is its NFKC (used where the table cannot decide)."""
    results: list[tuple[str, str, list[str]]] = []
    for chunk in _chunks(documents, chunk_chars):
        texts = [part for document in chunk for part in document]
        norm, norm_lengths = _normalized_chunk(texts, nfkc)
        codes = _codes(norm)
        lengths = np.array(norm_lengths, dtype=np.int64)
        separators = np.zeros(len(codes), dtype=bool)
        separators[(np.cumsum(lengths + 1) - 1)[:-1]] = True
        kind = _kinds(codes)
        tokens = _tokens(codes, kind, separators, len(texts))
        doc_lengths = (lengths[0::2] + lengths[1::2] + 2).tolist()
        doc_lengths[-1] -= 1  # the last text has no separator after it
        chars = _distinct_cjk(codes, (kind & 1).astype(bool), doc_lengths)
        results += zip(tokens[0::2], tokens[1::2], chars, strict=True)
    return results
