"""Numba kernels of the compare stage. The Python side (``_engine``) plans and schedules them.

Vocabulary shared by every kernel:

- A *position* indexes a side's position space: the kernel reads row ``index[position]`` of the
  side's bit matrix and reports record ``rows[position]`` (an original row number, also the
  tie-breaker of top-k). The right bit matrix is either 2-d rows read through ``right_index``, or
  3-d word-interleaved groups of eight positions (``right_index`` None; see ``_simd``).
- ``right_pop[position]`` is that row's popcount, padded with 8 trailing entries, and ascending within
  each task's right range, so the popcount bound turns into a contiguous range found by binary search.
- A *task* is ``(ls, le, rs, re)``: left positions ``ls..le-1`` against right positions ``rs..re-1``.
- ``mode`` 0 compares every pair; 1 only ``v > u`` (both sides are one position space: deduplication,
  each unordered pair once); 2 every ``v != u`` (deduplication with per-record top-k).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._simd import LANES, dice8, popcnt64


@njit(cache=True, nogil=True)
def popcount_bounds(nbits, threshold):
    """For each popcount p in 0..nbits, the popcounts q with 2·min(p,q)/(p+q) >= threshold: lo[p]..hi[p].

    Evaluated with the very float64 expression of the score, so the bound prunes exactly the pairs
    whose best possible score (all bits of the smaller filter shared) is below the threshold.
    ``lo > hi`` means no partner can qualify. Both filters empty scores 0.0 (anonlink's convention).
    """
    lo = np.empty(nbits + 1, np.int64)
    hi = np.empty(nbits + 1, np.int64)
    for p in range(nbits + 1):
        if threshold <= 0.0:
            lo[p] = 0
            hi[p] = nbits
            continue
        if p == 0:
            lo[p] = 1
            hi[p] = 0
            continue
        q = p
        while q < nbits and 2.0 * p / (p + q + 1) >= threshold:
            q += 1
        hi[p] = q
        q = p
        while q > 0 and 2.0 * (q - 1) / (p + q - 1) >= threshold:
            q -= 1
        lo[p] = q
    return lo, hi


@njit(cache=True, nogil=True, inline="always")
def _lower_bound(values, start, stop, target):
    """First position in ``start..stop`` with ``values[pos] >= target`` (values ascending)."""
    while start < stop:
        mid = (start + stop) >> 1
        if values[mid] < target:
            start = mid + 1
        else:
            stop = mid
    return start


@njit(cache=True, nogil=True, inline="always")
def _worse(s1, j1, s2, j2):
    """Is (score s1, right row j1) ranked after (s2, j2)? Higher score first, then smaller row."""
    return s1 < s2 or (s1 == s2 and j1 > j2)


@njit(cache=True, nogil=True)
def _heap_push(hs, hj, base, size, k, s, j):
    """Offer (s, j) to the heap at ``base`` (root = worst kept); returns the new size."""
    if size == k:
        if _worse(s, j, hs[base], hj[base]):
            return size
        pos = 0
        while True:  # replace the root, sift down
            child = 2 * pos + 1
            if child >= k:
                break
            if child + 1 < k and _worse(hs[base + child + 1], hj[base + child + 1],
                                        hs[base + child], hj[base + child]):
                child += 1
            if not _worse(hs[base + child], hj[base + child], s, j):
                break
            hs[base + pos] = hs[base + child]
            hj[base + pos] = hj[base + child]
            pos = child
        hs[base + pos] = s
        hj[base + pos] = j
        return size
    pos = size
    while pos > 0:  # append, sift up
        parent = (pos - 1) >> 1
        if not _worse(s, j, hs[base + parent], hj[base + parent]):
            break
        hs[base + pos] = hs[base + parent]
        hj[base + pos] = hj[base + parent]
        pos = parent
    hs[base + pos] = s
    hj[base + pos] = j
    return size + 1


@njit(cache=True, nogil=True)
def _grow(li, rj, sc, count):
    """Double the output buffers when full."""
    if count < li.shape[0]:
        return li, rj, sc
    size = max(16, 2 * li.shape[0])
    li2 = np.empty(size, np.int64)
    rj2 = np.empty(size, np.int64)
    sc2 = np.empty(size, np.float64)
    for x in range(count):  # a loop, not slice assignment: no shape-error strings to compile
        li2[x] = li[x]
        rj2[x] = rj[x]
        sc2[x] = sc[x]
    return li2, rj2, sc2


@njit(cache=True, nogil=True)
def _row_ranges(left_pop, right_pop, ls, le, rs, re, lo_tab, hi_tab, mode, rlo, rhi):
    """Right positions whose popcount can reach the threshold, per left position; returns the union."""
    first = re
    last = rs
    for u in range(ls, le):
        p = left_pop[u]
        a = rs
        b = rs
        if lo_tab[p] <= hi_tab[p]:
            a = _lower_bound(right_pop, rs, re, lo_tab[p])
            b = _lower_bound(right_pop, a, re, hi_tab[p] + 1)
            if mode == 1:
                a = max(a, u + 1)
        rlo[u - ls] = a
        rhi[u - ls] = max(a, b)
        if a < b:
            first = min(first, a)
            last = max(last, b)
    return first, last


@njit(cache=True, nogil=True)
def _scan_row(left, ia, i, p, u, a, b, right, right_index, right_rows, right_pop, threshold,
              mode, out, count, heap, k, base, size):
    """Left position ``u`` (row ``ia``, record ``i``, popcount ``p``) against right positions a..b-1.

    Hits go to the output buffers ``out`` (threshold mode) or to the row's heap (top-k mode, ``k >
    0``: the heap at ``base`` with ``size`` entries, whose worst score then raises the cut).
    Returns the buffers, their count and the heap size.
    """
    li, rj, sc, buf = out
    hs, hj = heap
    start = a - a % LANES if right.ndim == 3 else a  # groups start at multiples of 8
    for v in range(start, b, LANES):
        cut = max(threshold, hs[base]) if k > 0 and size == k else threshold
        mask = dice8(left, ia, right, right_index, v, b - 1, p, right_pop, cut, buf)
        if mask == 0:
            continue
        for r in range(LANES):
            pos = v + r
            if (mask >> r) & 1 == 0 or pos < a or pos >= b or (mode == 2 and pos == u):
                continue
            j = right_rows[pos]
            if mode != 0 and i == j:
                continue  # a record listed twice in one deduplication group
            if k > 0:
                size = _heap_push(hs, hj, base, size, k, buf[r], j)
                continue
            li, rj, sc = _grow(li, rj, sc, count)
            li[count] = i
            rj[count] = j
            sc[count] = buf[r]
            count += 1
    return (li, rj, sc, buf), count, size


@njit(cache=True, nogil=True)
def _flush_heaps(left_rows, ls, le, heap, k, sizes, out, count):
    """Append the kept (top-k) pairs of left positions ls..le-1 to the output buffers."""
    li, rj, sc, buf = out
    hs, hj = heap
    for u in range(ls, le):
        for h in range(sizes[u - ls]):
            li, rj, sc = _grow(li, rj, sc, count)
            li[count] = left_rows[u]
            rj[count] = hj[(u - ls) * k + h]
            sc[count] = hs[(u - ls) * k + h]
            count += 1
    return (li, rj, sc, buf), count


@njit(cache=True, nogil=True)
def scan(left, left_index, left_rows, left_pop, right, right_index, right_rows, right_pop, tasks,
         lo_tab, hi_tab, threshold, mode, top_k, tile, capacity):
    """Score the tasks ``tasks[t] = (ls, le, rs, re)``; keep pairs with score >= ``threshold``.

    With ``top_k > 0`` keep only each left position's ``top_k`` best (score, then smaller right row)
    within its task. Right positions are visited in cache-sized tiles of ``tile`` positions, every
    left row of the task per tile. Returns ``(left rows, right rows, scores)`` in no particular
    order, rows as reported by ``left_rows`` / ``right_rows``.
    """
    out = (np.empty(capacity, np.int64), np.empty(capacity, np.int64),
           np.empty(capacity, np.float64), np.empty(LANES, np.float64))
    count = np.int64(0)
    max_rows = 0
    for t in range(tasks.shape[0]):
        max_rows = max(max_rows, tasks[t, 1] - tasks[t, 0])
    rlo = np.empty(max_rows, np.int64)
    rhi = np.empty(max_rows, np.int64)
    k = max(top_k, 0)
    heap = (np.empty(max(max_rows * k, 1), np.float64), np.empty(max(max_rows * k, 1), np.int64))
    sizes = np.zeros(max_rows, np.int64)
    for t in range(tasks.shape[0]):
        ls, le, rs, re = tasks[t, 0], tasks[t, 1], tasks[t, 2], tasks[t, 3]
        first, last = _row_ranges(left_pop, right_pop, ls, le, rs, re, lo_tab, hi_tab, mode,
                                  rlo, rhi)
        for x in range(le - ls):
            sizes[x] = 0
        for t0 in range(first, last, tile):
            for u in range(ls, le):
                a = max(rlo[u - ls], t0)
                b = min(rhi[u - ls], t0 + tile)
                if a < b:
                    out, count, sizes[u - ls] = _scan_row(
                        left, left_index[u], left_rows[u], np.int64(left_pop[u]), u, a, b,
                        right, right_index, right_rows, right_pop, threshold, mode, out, count,
                        heap, k, (u - ls) * k, sizes[u - ls])
        if k > 0:
            out, count = _flush_heaps(left_rows, ls, le, heap, k, sizes, out, count)
    return out[0][:count].copy(), out[1][:count].copy(), out[2][:count].copy()


@njit(cache=True, nogil=True)
def pair_scores(left, left_pop, right, right_pop, li, rj, out, missing):
    """``out[x]`` = Dice of ``left[li[x]]`` and ``right[rj[x]]``.

    A pair whose filters are both empty scores 0.0; with ``missing`` set, any pair with an empty
    filter on either side scores NaN instead (a missing field value, not a disagreement).
    """
    nwords = left.shape[1]
    for x in range(li.shape[0]):
        i = li[x]
        j = rj[x]
        pi = left_pop[i]
        pj = right_pop[j]
        if missing and (pi == 0 or pj == 0):
            out[x] = np.nan
            continue
        c = 0
        for w in range(nwords):
            c += popcnt64(left[i, w] & right[j, w])
        den = pi + pj
        out[x] = 2 * c / den if den > 0 else 0.0
