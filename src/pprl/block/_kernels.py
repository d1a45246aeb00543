"""Numba kernels of the LSH blocker: band keys and the band join.

Vocabulary:

- A *membership* ``m`` puts row ``rows[m]`` of a side into the candidate space with a ``salt``
  (a 64-bit block id; 0 for plain LSH). Its band key is ``mix(salt ^ key(row))``, so memberships
  with different salts never collide: LSH inside many blocks at once (oversized signature blocks).
- The *universe* of a side is every bit position of its ``uint64`` words, ``64 * nwords``; bits beyond
  ``nbits`` are zero on both sides, so they change neither MinHash equality nor Hamming distance.
- A band *joins* the two sides: memberships are counting-sorted by the top bits of their key (about
  two per bucket), sorted by key inside each bucket, and every pair of equal keys is scored at once.
  Only pairs with Dice >= threshold survive; nothing per collision is stored.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from ..compare._simd import popcnt64

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
STATS = 5  # collisions, scored, survivors, largest group left, largest group right
HIST_BINS = 64
PROBES = 4  # MinHash ranks probed at once
POP_BITS = 24  # popcounts (< 2**24 bits per filter) packed under the row number
POP_MASK = (1 << POP_BITS) - 1


@njit(cache=True, nogil=True, inline="always")
def mix64(h):
    """splitmix64's finaliser: a bijection of uint64 that spreads every input bit."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _bit(bits, row, pos):
    return (bits[row, pos >> 6] >> np.uint64(pos & 63)) & np.uint64(1)


@njit(cache=True, nogil=True, inline="always")
def _first_set(bits, row, ranked):
    """Rank of the first set bit of ``row`` among the positions ``ranked`` (``len`` if none).

    Ranks are probed ``PROBES`` at a time without branching (the universe, 64 per word, is a
    multiple): at CLK densities a chunk holds a set bit most of the time, so the one branch per
    chunk is predictable, unlike a branch per probe (twice as fast as a plain scan).
    """
    universe = ranked.shape[0]
    for base in range(0, universe, PROBES):
        mask = np.uint64(0)
        for q in range(PROBES):
            mask |= _bit(bits, row, ranked[base + q]) << np.uint64(q)
        if mask != 0:
            return base + trailing_zeros(mask)
    return universe


@njit(cache=True, nogil=True)
def minhash_keys(bits, rows, salts, order, seed, out):
    """``out[m]``: key of the MinHashes of row ``rows[m]`` under the permutations of ``order``.

    ``order[j, k]`` is the bit position of rank ``k`` in permutation ``j``; the MinHash is the rank
    of the first set bit (the universe size for an empty row, which callers never join).
    """
    for m in range(rows.shape[0]):
        row = rows[m]
        h = seed
        for j in range(order.shape[0]):
            h = mix64(h + np.uint64(_first_set(bits, row, order[j]) + 1) * GOLDEN)
        out[m] = mix64(h ^ salts[m])


@njit(cache=True, nogil=True)
def hamming_keys(bits, rows, salts, positions, seed, out):
    """``out[m]``: key of the bits of row ``rows[m]`` at the sampled ``positions``."""
    r = positions.shape[0]
    for m in range(rows.shape[0]):
        row = rows[m]
        h = seed
        acc = np.uint64(0)
        for j in range(r):
            acc = (acc << np.uint64(1)) | _bit(bits, row, positions[j])
            if j % 64 == 63:
                h = mix64(h + acc * GOLDEN)
                acc = np.uint64(0)
        out[m] = mix64(mix64(h + acc * GOLDEN + np.uint64(r)) ^ salts[m])


@njit(cache=True, nogil=True)
def bucket_sort(keys, rows, pop, shift):
    """Memberships grouped by ``keys >> shift``, sorted by key in each bucket.

    Returns ``(offsets, keys, packed)``: bucket ``z`` is ``offsets[z]:offsets[z+1]`` (int32: fewer
    than 2**31 memberships per side), ``packed`` holds ``row << POP_BITS | popcount`` so that the
    join reads both sequentially, from one array.
    """
    buckets = (1 << (64 - shift)) if shift > 0 else 1
    offsets = np.zeros(buckets + 1, np.int32)
    for m in range(keys.shape[0]):
        offsets[(keys[m] >> np.uint64(shift)) + 1] += 1
    for z in range(buckets):
        offsets[z + 1] += offsets[z]
    fill = offsets[:-1].copy()
    s_keys = np.empty(keys.shape[0], np.uint64)
    packed = np.empty(keys.shape[0], np.int64)
    for m in range(keys.shape[0]):
        z = keys[m] >> np.uint64(shift)
        f = fill[z]
        s_keys[f] = keys[m]
        packed[f] = (rows[m] << POP_BITS) | pop[rows[m]]
        fill[z] = f + 1
    for z in range(buckets):  # insertion sort: buckets hold a few keys (or one repeated key)
        for x in range(offsets[z] + 1, offsets[z + 1]):
            k, q = s_keys[x], packed[x]
            y = x - 1
            while y >= offsets[z] and s_keys[y] > k:
                s_keys[y + 1], packed[y + 1] = s_keys[y], packed[y]
                y -= 1
            s_keys[y + 1], packed[y + 1] = k, q
    return offsets, s_keys, packed


@njit(cache=True, nogil=True, inline="always")
def _run_end(keys, start, stop):
    """End of the run of keys equal to ``keys[start]``."""
    end = start + 1
    while end < stop and keys[end] == keys[start]:
        end += 1
    return end


@njit(cache=True, nogil=True)
def _grow(li, rj, count):
    if count < li.shape[0]:
        return li, rj
    li2 = np.empty(2 * li.shape[0], np.int64)
    rj2 = np.empty(2 * li.shape[0], np.int64)
    li2[:count] = li[:count]
    rj2[:count] = rj[:count]
    return li2, rj2


@njit(cache=True, nogil=True, inline="always")
def _dice(a_bits, i, pa, b_bits, j, pb):
    """Dice of rows ``a_bits[i]`` and ``b_bits[j]`` exactly as pprl.compare computes it."""
    c = 0
    for w in range(a_bits.shape[1]):
        c += popcnt64(a_bits[i, w] & b_bits[j, w])
    den = pa + pb
    return 2 * c / den if den > 0 else 0.0


@njit(cache=True, nogil=True)
def _score_group(a_packed, xs, xe, a_bits, b_packed, ys, ye, b_bits, threshold, dedup, known, li,
                 rj, count, stats):
    """Score every pair of one group of equal keys; append the pairs >= threshold.

    ``known[i]`` is a partner already found for left row ``i`` (or -1): that pair is skipped, so a
    pair found in many bands is scored and stored about once.
    """
    for x in range(xs, xe):
        i = a_packed[x] >> POP_BITS
        pa = a_packed[x] & POP_MASK
        for y in range(x + 1 if dedup else ys, ye):
            j = b_packed[y] >> POP_BITS
            if dedup and i == j:
                continue
            stats[0] += 1
            lo, hi = (j, i) if dedup and j < i else (i, j)
            if known[lo] == hi:
                continue
            pb = b_packed[y] & POP_MASK
            if pa + pb > 0 and 2.0 * min(pa, pb) / (pa + pb) < threshold:
                continue  # even sharing every bit of the sparser row cannot reach the threshold
            stats[1] += 1
            if _dice(a_bits, i, pa, b_bits, j, pb) >= threshold:
                li, rj = _grow(li, rj, count)
                li[count], rj[count] = lo, hi
                known[lo] = hi
                count += 1
    return li, rj, count


@njit(cache=True, nogil=True)
def band_join(a_keys, a_rows, a_bits, a_pop, b_keys, b_rows, b_bits, b_pop, threshold, dedup,
              shift, known, hist):
    """Pairs of memberships with equal keys whose Dice >= ``threshold``.

    ``dedup``: one side (the ``b_*`` arguments are ignored), each unordered pair once as
    ``(smaller row, larger row)``. ``hist[k]`` counts groups of equal keys with ``2**k`` to
    ``2**(k+1) - 1`` pairs. Returns ``(left rows, right rows, stats)`` where stats holds collisions
    (pairs with equal keys), pairs scored (not known yet and within the popcount bound), survivors
    and the sizes of the group with the most pairs. ``known`` (one entry per left row, -1 for
    none) remembers a partner found per row across bands; threads may share it: a lost update only
    means a pair is scored and stored twice.
    """
    stats = np.zeros(STATS, np.int64)
    li = np.empty(1024, np.int64)
    rj = np.empty(1024, np.int64)
    count = 0
    a_off, a_sorted, a_packed = bucket_sort(a_keys, a_rows, a_pop, shift)
    if dedup:
        b_off, b_sorted, b_packed, b_bits = a_off, a_sorted, a_packed, a_bits
    else:
        b_off, b_sorted, b_packed = bucket_sort(b_keys, b_rows, b_pop, shift)
    best = 0
    for z in range(a_off.shape[0] - 1):
        x, xe = a_off[z], a_off[z + 1]
        y, ye = b_off[z], b_off[z + 1]
        while x < xe and y < ye:
            if a_sorted[x] < b_sorted[y]:
                x += 1
                continue
            if b_sorted[y] < a_sorted[x]:
                y += 1
                continue
            x2 = _run_end(a_sorted, x, xe)
            y2 = _run_end(b_sorted, y, ye)
            na, nb = x2 - x, y2 - y
            pairs = na * (na - 1) // 2 if dedup else na * nb
            if pairs > 0:
                hist[min(HIST_BINS - 1, np.int64(np.log2(pairs)))] += 1
                if pairs > best:
                    best = pairs
                    stats[3], stats[4] = na, (na if dedup else nb)
                li, rj, count = _score_group(a_packed, x, x2, a_bits, b_packed, y, y2, b_bits,
                                             threshold, dedup, known, li, rj, count, stats)
            x, y = x2, y2
    stats[2] = count
    return li[:count].copy(), rj[:count].copy(), stats
