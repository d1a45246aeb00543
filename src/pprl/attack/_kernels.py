"""Numba kernels of the pattern-mining attack, on bit columns packed over records: ``cols[p]`` is
a bitmap of the records (of one partition) that have bit position ``p`` set. Each kernel has a
pure-NumPy reference used by the tests."""

from __future__ import annotations

import numpy as np
from numba import njit

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


def pack_columns(bits: np.ndarray) -> np.ndarray:
    """0/1 rows ``(n, l)`` -> column bitmaps ``(l, ceil(n / 64))`` uint64 (bit ``r`` of column
    ``p`` is ``bits[r, p]``; padding zero)."""
    n, l = bits.shape  # noqa: E741
    words = (n + 63) // 64
    padded = np.zeros((l, words * 64), dtype=np.uint8)
    padded[:, :n] = bits.T
    return np.packbits(padded, axis=1, bitorder="little").view(np.uint64).reshape(l, words)


def full_mask(n: int) -> np.ndarray:
    mask = np.zeros((n + 63) // 64, np.uint64)
    mask[: n // 64] = np.uint64(0xFFFFFFFFFFFFFFFF)
    if n % 64:
        mask[n // 64] = np.uint64((1 << (n % 64)) - 1)
    return mask


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@njit(cache=True, nogil=True)
def supports(cols, mask):
    """Records of ``mask`` having each bit position set: ``popcount(cols[p] & mask)``."""
    npos, nw = cols.shape
    out = np.zeros(npos, np.int64)
    for p in range(npos):
        s = np.uint64(0)
        for w in range(nw):
            s += _popcount(cols[p, w] & mask[w])
        out[p] = np.int64(s)
    return out


def supports_ref(cols, mask):
    return np.bitwise_count(cols & mask[None, :]).sum(axis=1).astype(np.int64)


@njit(cache=True, nogil=True)
def greedy_pattern(cols, base, seed, eligible, low):
    """The longest set of positions containing ``seed`` whose records (those with every position
    of the set) stay at least ``low``: repeatedly add every position set in all records left, or
    else the one with the largest excess over independence (records left having it minus their
    number times its share ``base[p]`` in the partition). Returns (positions as a bool mask,
    the records' bitmap)."""
    npos, nw = cols.shape
    chosen = np.zeros(npos, np.bool_)
    chosen[seed] = True
    mask = cols[seed].copy()
    size = 0
    for w in range(nw):
        size += _popcount(mask[w])
    while True:
        best, best_x, best_s = -1, -1e300, 0
        added = False
        for p in range(npos):
            if chosen[p] or not eligible[p]:
                continue
            s = 0
            for w in range(nw):
                s += _popcount(cols[p, w] & mask[w])
            if s == size and s >= low:
                chosen[p] = True
                added = True
                continue
            x = float(s) - float(size) * base[p]
            if x > best_x:
                best, best_x, best_s = p, x, s
        if added:
            continue
        if best < 0 or best_s < low:
            break
        chosen[best] = True
        for w in range(nw):
            mask[w] &= cols[best, w]
        size = best_s
    return chosen, mask


def greedy_pattern_ref(cols, base, seed, eligible, low):
    npos = cols.shape[0]
    chosen = np.zeros(npos, dtype=bool)
    chosen[seed] = True
    mask = cols[seed].copy()
    while True:
        size = int(np.bitwise_count(mask).sum())
        s = supports_ref(cols, mask)
        free = ~chosen & eligible
        full = free & (s == size) & (s >= low)
        if full.any():
            chosen |= full
            continue
        cand = np.flatnonzero(free)
        if cand.size == 0:
            break
        excess = s[cand] - size * base[cand]
        best = cand[np.argmax(excess)]
        if s[best] < low:
            break
        chosen[best] = True
        mask &= cols[best]
    return chosen, mask


@njit(cache=True, nogil=True)
def greedy_pattern_noisy(cols, base, seed, eligible, low, slack, max_len):
    """:func:`greedy_pattern` for noisy filters (BLIP): a record counts as having the set when it
    has all but ``slack[L]`` of its ``L`` positions. Adds the position with the largest excess
    over independence among those records, one at a time, while at least ``low`` records remain
    and the set is shorter than ``max_len``. Returns (positions as a bool mask, records' bitmap)."""
    npos, nw = cols.shape
    n = nw * 64
    counts = np.zeros(n, np.int32)
    chosen = np.zeros(npos, np.bool_)
    chosen[seed] = True
    mask = cols[seed].copy()
    for w in range(nw):
        word = cols[seed, w]
        for b in range(64):
            if (word >> np.uint64(b)) & np.uint64(1):
                counts[w * 64 + b] += 1
    length = 1
    while length < max_len:
        size = 0
        for w in range(nw):
            size += _popcount(mask[w])
        best, best_x = -1, -1e300
        for p in range(npos):
            if chosen[p] or not eligible[p]:
                continue
            s = 0
            for w in range(nw):
                s += _popcount(cols[p, w] & mask[w])
            x = float(s) - float(size) * base[p]
            if x > best_x:
                best, best_x = p, x
        if best < 0 or best_x <= 0:
            break
        new_counts = counts.copy()
        for w in range(nw):
            word = cols[best, w]
            for b in range(64):
                if (word >> np.uint64(b)) & np.uint64(1):
                    new_counts[w * 64 + b] += 1
        need = length + 1 - slack[length + 1]
        new_mask = np.zeros(nw, np.uint64)
        members = 0
        for r in range(n):
            if new_counts[r] >= need:
                new_mask[r >> 6] |= np.uint64(1) << np.uint64(r & 63)
                members += 1
        if members < low:
            break
        chosen[best] = True
        counts = new_counts
        mask = new_mask
        length += 1
    return chosen, mask


def mask_to_rows(mask: np.ndarray, n: int) -> np.ndarray:
    """Record indexes (< n) set in a record bitmap."""
    bits = np.unpackbits(mask.view(np.uint8), bitorder="little")[:n]
    return np.flatnonzero(bits)
