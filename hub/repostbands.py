"""Repost candidates of a batch from LSH band buckets, in numpy (used by hub/reposts.py).

Given the band keys of a batch's items (in id order) and the stored members of those keys' buckets,
decide in one vectorized pass what linking the items one by one would decide:
- which of the batch's keys are stored: a bucket takes members until it holds ``cap`` of them,
  stored ones first, then the batch's in id order;
- each item's candidates: the stored members of its buckets and the batch items before it that were
  stored in them, from other sources, ranked by how many band keys they share with it (then oldest
  first) and cut at ``limit``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
_ID_BITS = 40  # item ids below 2**40 (a trillion) pack with a batch position into one int64


@dataclass(frozen=True, slots=True)
class Candidates:
    """Pairs (batch position, candidate item id) and which of the batch's band keys are stored."""

    positions: Ints
    item_ids: Ints
    stored: npt.NDArray[np.bool_]  # same shape as the batch's key matrix


def _expand(starts: Ints, lengths: Ints) -> tuple[Ints, Ints]:
    """For ranges [start, start + length): the index of each range, and every position in it."""
    owners = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owners, np.repeat(starts, lengths) + offsets


def _rank_in_groups(sorted_groups: Ints) -> Ints:
    """Position of each element within its run of equal values (the array is sorted by group)."""
    return np.arange(len(sorted_groups)) - np.searchsorted(sorted_groups, sorted_groups, side="left")


def find_candidates(
    keys: Ints,
    ids: Ints,
    sources: Ints,
    bucket_keys: Ints,
    bucket_ids: Ints,
    bucket_sources: Ints,
    cap: int,
    limit: int,
) -> Candidates:
    """Candidates of the batch (``keys``: one row of band keys per item, items in id order)."""
    count, bands = keys.shape
    flat = keys.ravel()
    owner = np.repeat(np.arange(count), bands)
    # Stored members, grouped by key.
    order = np.lexsort((bucket_ids, bucket_keys))
    stored_keys, stored_ids, stored_sources = bucket_keys[order], bucket_ids[order], bucket_sources[order]
    low = np.searchsorted(stored_keys, flat, side="left")
    high = np.searchsorted(stored_keys, flat, side="right")
    room = np.maximum(cap - (high - low), 0)
    # The batch's own entries, grouped by key, in id order within a key.
    by_key = np.argsort(flat, kind="stable")
    grouped = flat[by_key]
    rank = _rank_in_groups(grouped)
    group_start = np.arange(len(grouped)) - rank
    stored_sorted = rank < room[by_key]
    stored = np.empty(len(flat), dtype=bool)
    stored[by_key] = stored_sorted
    # Pairs with stored members: every member of every bucket of the item.
    entry, position = _expand(low, high - low)
    left = [owner[entry]]
    right_ids = [stored_ids[position]]
    right_sources = [stored_sources[position]]
    # Pairs with earlier batch items stored in the same bucket: the first min(rank, room) of the group.
    earlier = np.minimum(rank, room[by_key])
    entry, position = _expand(group_start, earlier)
    left.append(owner[by_key[entry]])
    right = owner[by_key[position]]
    right_ids.append(ids[right])
    right_sources.append(sources[right])
    probe = np.concatenate(left)
    other = np.concatenate(right_ids)
    other_sources = np.concatenate(right_sources)
    keep = other_sources != sources[probe]
    code = (probe[keep] << _ID_BITS) | other[keep]
    pairs, shared = np.unique(code, return_counts=True)
    probe, other = pairs >> _ID_BITS, pairs & ((1 << _ID_BITS) - 1)
    best = np.lexsort((other, -shared, probe))
    probe, other = probe[best], other[best]
    within = _rank_in_groups(probe) < limit
    return Candidates(probe[within], other[within], stored.reshape(count, bands))
