"""Candidate selection from band buckets: what one-by-one linking would see, with the bounds."""

from __future__ import annotations

import numpy as np

from hub.repostbands import find_candidates


def _ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _pairs(
    keys: list[list[int]], ids: list[int], sources: list[int], cap: int, limit: int
) -> dict[int, list[int]]:
    """Candidates per batch item id, with stored buckets: key 1 holds items 1, 2; key 2 holds item 3."""
    chosen = find_candidates(
        np.array(keys, dtype=np.int64),
        np.array(ids, dtype=np.int64),
        np.array(sources, dtype=np.int64),
        _ints(1, 1, 2),
        _ints(1, 2, 3),
        _ints(10, 11, 12),
        cap,
        limit,
    )
    result: dict[int, list[int]] = {}
    for position, other in zip(chosen.positions.tolist(), chosen.item_ids.tolist(), strict=True):
        result.setdefault(ids[position], []).append(other)
    return result


def test_a_full_bucket_takes_no_more_members_but_still_answers() -> None:
    keys = [[1], [1], [1]]
    chosen = find_candidates(
        np.array(keys, dtype=np.int64),
        _ints(5, 6, 7),
        _ints(12, 13, 10),
        _ints(1, 1),
        _ints(1, 2),
        _ints(10, 11),
        3,
        10,
    )
    assert chosen.stored.ravel().tolist() == [True, False, False]  # room for one more after items 1 and 2
    assert _pairs(keys, [5, 6, 7], [12, 13, 10], cap=3, limit=10) == {5: [1, 2], 6: [1, 2, 5], 7: [2, 5]}


def test_candidates_share_most_keys_first_and_are_cut_at_the_limit() -> None:
    # Item 5 shares keys 1 and 2 with nothing stored twice; item 6 shares key 1 and key 9 with item 5.
    keys = [[1, 9], [1, 9]]
    assert _pairs(keys, [5, 6], [20, 21], cap=10, limit=1) == {5: [1], 6: [5]}
    assert _pairs(keys, [5, 6], [20, 21], cap=10, limit=5) == {5: [1, 2], 6: [5, 1, 2]}


def test_same_source_items_are_never_candidates() -> None:
    assert _pairs([[1, 2]], [5], [10], cap=10, limit=5) == {5: [2, 3]}  # item 1 is source 10's own
