"""Text fingerprints for repost detection: a MinHash sketch and its LSH band keys (step 5, hub/reposts.py).

A branch that reposts a city notice changes little: its own header and footer, a "转载自 …" line, a
word here and there. The body's normalized text (bylines and repost lines dropped, NFKC-folded, lower
case, letters and digits only) is cut into character 3-grams; each 3-gram's three code points (21 bits
each) pack into one 63-bit integer, which a 64-bit mixer (murmur3's finalizer, a bijection) turns into
its hash. No salted ``hash()``, no per-process seed: fingerprints stored by one process match those of
another.

The sketch is one-permutation hashing: the top 7 bits of a hash choose one of ``SLOTS`` slots, and each
slot keeps its smallest hash. Two sketches agree in a slot with probability equal to the Jaccard
similarity of the two 3-gram sets, so the share of equal slots estimates it (standard error
sqrt(J(1-J)/128), about 0.035 at J = 0.8). Empty slots (short texts) borrow from the next filled slot
to their right, "densification", so that short texts compare like long ones.

Band keys are the LSH index: ``BANDS`` bands of ``ROWS`` consecutive slots, each band hashed to one key.
Two bodies share a band with probability J**ROWS, so at least one key with 1-(1-J**3)**10: 99.92 % at
J = 0.8 (the repost threshold), 99.9998 % at J = 0.9 (a repost with a new header line and small
edits), 24 % at J = 0.3 (unrelated notices sharing boilerplate phrases). Ten keys, not more: each is
a row written per item, the biggest cost of linking.

Stored sketches keep the low 32 bits of each slot (b-bit MinHash): two different values agree by
chance with probability 2**-32, which changes no estimate, and a sketch is 512 bytes instead of 1 KiB.

Everything is numpy over uint64 (wrapping multiplication is the point): about 30 µs for a
1,000-character notice, against ~500 µs for the earlier pure-Python bottom-k sketch. See bench/reposts.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
Sketches = U64 | U32  # fresh (64-bit slots) or as stored (32-bit)

SLOTS = 128  # one-permutation hashing slots: the estimate's resolution
SLOT_BITS = 7  # log2(SLOTS): the top bits of a hash choose its slot
BANDS = 10
ROWS = 3  # slots per band: BANDS * ROWS <= SLOTS
# Shorter bodies say too little to tell a repost from a look-alike; they match by exact content hash.
MIN_FINGERPRINT_CHARS = 60
SKETCH_BYTES = SLOTS * 4  # as stored: 32 bits a slot
_MASK63 = np.uint64((1 << 63) - 1)  # band keys are stored as BIGINT, signed on both backends
_SEED = np.uint64(0x5EED1E575EED1E57)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = np.uint64((1 << 64) - 1)  # an empty slot, before densification
_SLOT_IDS = np.arange(SLOTS, dtype=np.uint64)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_BMP = 0x10000
# Code points folded by table lookup: the Basic Multilingual Plane. Higher ones (CJK extension
# ideographs, emoji) are kept as they are.
_CJK = (0x4E00, 0xA000)  # unified ideographs: NFKC-stable letters, the bulk of every notice
# Lines that differ between an original and its reposts and say nothing about the notice itself.
_BOILERPLATE_LINE = re.compile(
    r"转载|转自|来源[:：】]|作者[:：】]|编辑[:：】]|审核[:：】]|校对[:：】]|发布(?:时间|日期)|浏览次数|点击[数量:：]|字号|打印|关闭"
)


def _mix(values: U64) -> U64:
    """murmur3's 64-bit finalizer, in place: a bijection that spreads every input bit over the output."""
    shifted = values >> _S33
    values ^= shifted
    values *= _M1
    np.right_shift(values, _S33, out=shifted)
    values ^= shifted
    values *= _M2
    np.right_shift(values, _S33, out=shifted)
    values ^= shifted
    return values


def prepare() -> None:
    """Build the fold table now, in a process about to ingest (crawlers/process.py), rather than inside
    its first batch, where it would hold the GIL from the crawl's network thread (see hub/nfkc.prepare)."""
    _fold_table()


@cache
def _fold_table() -> npt.NDArray[np.uint32]:
    """Per BMP code point: its NFKC lower-case form if that is a letter or digit, else 0 (dropped).

    Built once per process (~50 ms). Where NFKC expands a character into several (①, ㎡), the first
    letter or digit stands for it: a fingerprint only needs the same answer for the same text.
    """
    table = np.zeros(_BMP, dtype=np.uint32)
    table[_CJK[0] : _CJK[1]] = np.arange(_CJK[0], _CJK[1], dtype=np.uint32)
    for code in (*range(_CJK[0]), *range(_CJK[1], _BMP)):
        folded = unicodedata.normalize("NFKC", chr(code)).lower()
        first = next((char for char in folded if char.isalnum()), None)
        if first is not None:
            table[code] = ord(first)
    return table


def normalized_code_points(text: str) -> npt.NDArray[np.uint32]:
    """Code points of ``text`` without bylines, repost lines, whitespace or punctuation (NFKC, lower case)."""
    if _BOILERPLATE_LINE.search(text):
        text = "\n".join(line for line in text.splitlines() if not _BOILERPLATE_LINE.search(line))
    points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    if len(points) == 0:
        return points
    if points.max() < _BMP:
        folded = _fold_table()[points]
    else:
        folded = np.where(points < _BMP, _fold_table()[np.minimum(points, _BMP - 1)], points)
    return folded[folded != 0]


def normalized_text(text: str) -> str:
    """The text the fingerprint is taken of (for people and tests; the sketch works on code points)."""
    return normalized_code_points(text).astype("<u4").tobytes().decode("utf-32-le")


def _shingle_hashes(points: npt.NDArray[np.uint32]) -> U64:
    """One 64-bit hash per 3-gram of ``points`` (3-grams across two texts' seam included)."""
    wide = points.astype(np.uint64)
    packed = wide[:-2] << np.uint64(42)
    packed |= wide[1:-1] << np.uint64(21)
    packed |= wide[2:]
    packed ^= _SEED
    return _mix(packed)


def _densify(block: U64) -> None:
    """Give each empty slot the value of the next filled slot to its right (circular), re-mixed by distance.

    Both sketches of a pair borrow the same way wherever their filled slots agree, so agreement still
    estimates the Jaccard similarity (rotation densification, Shrivastava and Li 2014).
    """
    filled = block != _EMPTY
    columns = np.arange(SLOTS)
    nearest = np.where(filled, columns, 4 * SLOTS)
    doubled = np.concatenate([nearest, np.where(filled, columns + SLOTS, 4 * SLOTS)], axis=1)
    ahead = np.minimum.accumulate(doubled[:, ::-1], axis=1)[:, ::-1][:, :SLOTS]
    rows, empty = np.nonzero(~filled)
    source = ahead[rows, empty]
    distance = (source - empty).astype(np.uint64)
    block[rows, empty] = _mix(block[rows, source % SLOTS] + distance * _GOLDEN)


def sketches(texts: Sequence[str]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """The sketches of ``texts`` as an (n, SLOTS) matrix, and which rows are real (texts long enough).

    All texts are hashed in one pass: numpy's cost per call, not per element, dominates short arrays.
    """
    normalized = [normalized_code_points(text) for text in texts]
    valid = np.array([len(points) >= MIN_FINGERPRINT_CHARS for points in normalized], dtype=bool)
    matrix = np.full((len(texts), SLOTS), _EMPTY, dtype=np.uint64)
    kept = [points for points, ok in zip(normalized, valid, strict=True) if ok]
    if not kept:
        return matrix, valid
    lengths = np.array([len(points) for points in kept])
    hashes = _shingle_hashes(np.concatenate(kept))
    # Drop the two 3-grams that straddle each seam between consecutive texts.
    starts = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(len(kept)), lengths)[:-2]
    inside = np.ones(len(hashes), dtype=bool)
    seams = starts[1:]
    inside[seams - 1] = False
    inside[seams - 2] = False
    hashes, owner = hashes[inside], owner[inside]
    cells = owner * SLOTS + (hashes >> np.uint64(64 - SLOT_BITS)).astype(np.int64)
    rows = np.full(len(kept) * SLOTS, _EMPTY, dtype=np.uint64)
    np.minimum.at(rows, cells, hashes)
    block = rows.reshape(len(kept), SLOTS)
    sparse = (block == _EMPTY).any(axis=1)
    if sparse.any():
        patched = block[sparse]
        _densify(patched)
        block[sparse] = patched
    matrix[valid] = block
    return matrix, valid


def sketch(text: str) -> U64 | None:
    """The ``SLOTS`` one-permutation MinHash values of ``text``'s 3-grams, or None if it is too short.

    The same values as a row of ``sketches``, by a path with fewer numpy calls for one text.
    """
    points = normalized_code_points(text)
    if len(points) < MIN_FINGERPRINT_CHARS:
        return None
    hashes = np.sort(_shingle_hashes(points))
    # Sorted hashes: a slot's smallest is the first one at or above the slot's lower bound.
    starts = np.searchsorted(hashes, _slot_bounds())
    row = hashes[np.minimum(starts, len(hashes) - 1)]
    row[row >> np.uint64(64 - SLOT_BITS) != _SLOT_IDS] = _EMPTY
    if (row == _EMPTY).any():
        block = row.reshape(1, SLOTS)
        _densify(block)
        row = block[0]
    return row


def similarity(a: U64, b: U64) -> float:
    """Estimated Jaccard similarity of two sketches: the share of slots that agree."""
    return float(np.count_nonzero(a == b)) / SLOTS


def similarities(left: Sketches, right: Sketches) -> npt.NDArray[np.float64]:
    """Row-wise ``similarity`` of two (n, SLOTS) sketch matrices."""
    if len(left) == 0:
        return np.zeros(0)
    return np.count_nonzero(left == right, axis=1) / SLOTS


@cache
def _slot_bounds() -> U64:
    return np.arange(SLOTS, dtype=np.uint64) << np.uint64(64 - SLOT_BITS)


@cache
def _band_seeds() -> U64:
    return _mix(np.arange(1, BANDS + 1, dtype=np.uint64) * _GOLDEN)


def band_keys(sketches: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """The ``BANDS`` LSH keys of each row of an (n, SLOTS) sketch matrix, as non-negative int64."""
    rows = sketches[:, : BANDS * ROWS].reshape(len(sketches), BANDS, ROWS)
    keys = np.broadcast_to(_band_seeds(), (len(sketches), BANDS))
    for row in range(ROWS):
        keys = _mix(keys ^ rows[:, :, row])
    return (keys & _MASK63).astype(np.int64)


def pack(values: Sketches) -> bytes:
    """A sketch as stored: the low 32 bits of its ``SLOTS`` values, little-endian."""
    return values.astype("<u4").tobytes()  # astype to a narrower unsigned type keeps the low bits


def unpack(data: bytes) -> U64:
    """A stored sketch (``pack``'s bytes), comparable with ``stored_form`` of a fresh one."""
    return np.frombuffer(data, dtype="<u4").astype(np.uint64)


def unpack_many(blobs: Sequence[bytes]) -> U32:
    """Stored sketches as one (n, SLOTS) matrix of 32-bit values (as ``stored_form`` gives fresh ones)."""
    if not blobs:
        return np.zeros((0, SLOTS), dtype=np.uint32)
    return np.frombuffer(b"".join(blobs), dtype="<u4").astype(np.uint32).reshape(len(blobs), SLOTS)


def stored_form(values: npt.NDArray[np.uint64]) -> U32:
    """Fresh sketches as they compare with stored ones: the low 32 bits of each slot, as 32-bit values
    (half the memory traffic of uint64 where many pairs of rows are gathered and compared)."""
    return values.astype(np.uint32)  # astype to a narrower unsigned type keeps the low bits


def stack(sketches: Sequence[U64]) -> npt.NDArray[np.uint64]:
    """Sketches as one (n, SLOTS) matrix."""
    if not sketches:
        return np.zeros((0, SLOTS), dtype=np.uint64)
    return np.stack(sketches)
