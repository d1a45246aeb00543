"""``dice_blocks``: compare only pairs that share a block, many blocks per kernel call."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ..candidates import Candidates
from ..encodings import Encodings
from ..errors import DataError
from ._dice import make_candidates
from ._engine import (
    MAX_CHUNK_ROWS,
    Side,
    canonical,
    check_threshold,
    check_top_k,
    index_side,
    log_run,
    order_pairs,
    resolve_workers,
    run,
    top_k_mask,
)
from ._fields import FieldsOption, check_rows, field_names_for

CALLS_PER_WORKER = 8


def _offsets(values, name: str, size: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) == 0 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{name} must be a non-empty 1-d integer array")
    arr = arr.astype(np.int64, copy=False)
    if arr[0] != 0 or arr[-1] != size or np.any(np.diff(arr) < 0):
        raise DataError(f"{name} must rise from 0 to {size} (the length of its index array)")
    return arr


def _index(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{name} must be a 1-d integer array of row indexes")
    return arr.astype(np.int64, copy=False)


@dataclass(frozen=True)
class Blocks:
    """Blocks of rows to compare, in compressed sparse (CSR) form.

    Linkage: block ``k`` compares the left rows ``left_index[left_offsets[k]:left_offsets[k+1]]``
    with the right rows ``right_index[right_offsets[k]:right_offsets[k+1]]``.
    Deduplication (``right_offsets`` and ``right_index`` None): block ``k`` is the group
    ``left_index[left_offsets[k]:left_offsets[k+1]]`` and every pair within it is compared.

    Build it from membership lists with :meth:`from_keys` (records that share a key share a block),
    from explicit blocks with :meth:`from_pairs` / :meth:`from_groups`, or directly from the arrays
    (the fastest way for millions of blocks). A record may sit in any number of blocks.
    """

    left_offsets: np.ndarray
    left_index: np.ndarray
    right_offsets: np.ndarray | None = None
    right_index: np.ndarray | None = None

    def __post_init__(self):
        left_index = _index(self.left_index, "left_index")
        object.__setattr__(self, "left_index", left_index)
        object.__setattr__(self, "left_offsets",
                           _offsets(self.left_offsets, "left_offsets", len(left_index)))
        if (self.right_offsets is None) != (self.right_index is None):
            raise DataError("give both right_offsets and right_index, or neither (deduplication)")
        if self.right_index is None:
            return
        right_index = _index(self.right_index, "right_index")
        object.__setattr__(self, "right_index", right_index)
        right_offsets = _offsets(self.right_offsets, "right_offsets", len(right_index))
        object.__setattr__(self, "right_offsets", right_offsets)
        if len(right_offsets) != len(self.left_offsets):
            raise DataError(f"left_offsets describes {len(self.left_offsets) - 1} blocks, "
                            f"right_offsets {len(right_offsets) - 1}")

    @property
    def dedup(self) -> bool:
        """True for groups within one dataset (no right side)."""
        return self.right_index is None

    def __len__(self) -> int:
        return len(self.left_offsets) - 1

    def __repr__(self) -> str:
        kind = "groups" if self.dedup else "blocks"
        return f"Blocks({len(self)} {kind}, {self.comparisons()} comparisons)"

    def comparisons(self) -> int:
        """Pair comparisons the blocks ask for (repeats across blocks counted each time)."""
        left = np.diff(self.left_offsets)
        if self.dedup:
            return int((left * (left - 1) // 2).sum())
        return int((left * np.diff(self.right_offsets)).sum())

    @classmethod
    def from_pairs(cls, blocks: Iterable[tuple[Sequence[int], Sequence[int]]]) -> Blocks:
        """Linkage blocks from ``(left_rows, right_rows)`` tuples."""
        lefts, rights = [], []
        for k, block in enumerate(blocks):
            try:
                left, right = block
            except (TypeError, ValueError):
                raise DataError(f"block {k} is not a (left_rows, right_rows) pair") from None
            lefts.append(_index(left, f"block {k} left rows"))
            rights.append(_index(right, f"block {k} right rows"))
        lo, li = _csr(lefts)
        ro, ri = _csr(rights)
        return cls(lo, li, ro, ri)

    @classmethod
    def from_groups(cls, groups: Iterable[Sequence[int]]) -> Blocks:
        """Deduplication groups from row arrays."""
        offsets, index = _csr([_index(g, f"group {k}") for k, g in enumerate(groups)])
        return cls(offsets, index)

    @classmethod
    def from_keys(cls, left_rows: Sequence[int], left_keys: Sequence,
                  right_rows: Sequence[int] | None = None,
                  right_keys: Sequence | None = None) -> Blocks:
        """Blocks from memberships: row ``left_rows[x]`` is in the block named ``left_keys[x]``.

        Keys are any sortable values (ints, strings, ...). Linkage keeps the keys found on both
        sides; deduplication (no right side) keeps the keys shared by at least two entries.
        """
        lr, lk = _memberships(left_rows, left_keys, "left")
        if (right_rows is None) != (right_keys is None):
            raise DataError("give both right_rows and right_keys, or neither (deduplication)")
        if right_rows is None:
            names, counts = np.unique(lk, return_counts=True)
            shared = names[counts > 1]
            offsets, index = _group(lr, lk, shared)
            return cls(offsets, index)
        rr, rk = _memberships(right_rows, right_keys, "right")
        shared = np.intersect1d(lk, rk)
        lo, li = _group(lr, lk, shared)
        ro, ri = _group(rr, rk, shared)
        return cls(lo, li, ro, ri)


def _csr(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in parts])
    index = np.concatenate(parts) if parts else np.empty(0, np.int64)
    return offsets, index.astype(np.int64, copy=False)


def _memberships(rows, keys, side: str) -> tuple[np.ndarray, np.ndarray]:
    rows = _index(rows, f"{side}_rows")
    keys = np.asarray(keys)
    if keys.shape != rows.shape:
        raise DataError(f"{side}_rows and {side}_keys must have one length, got {len(rows)} and "
                        f"{keys.shape[0] if keys.ndim else 0}")
    return rows, keys


def _group(rows: np.ndarray, keys: np.ndarray, names: np.ndarray):
    """CSR of ``rows`` grouped by key, for the (sorted, unique) ``names`` only."""
    code = np.searchsorted(names, keys) if len(names) else np.zeros(len(keys), np.int64)
    code = np.minimum(code, max(len(names) - 1, 0))
    member = (names[code] == keys) if len(names) else np.zeros(len(keys), dtype=bool)
    code, rows = code[member], rows[member]
    order = np.argsort(code, kind="stable")
    offsets = np.searchsorted(code[order], np.arange(len(names) + 1)).astype(np.int64)
    return offsets, rows[order]


def dice_blocks(a: Encodings, b: Encodings | None, blocks: Blocks | Iterable, *, threshold: float,
                top_k: int | None = None, workers: int | None = None,
                fields: FieldsOption = "auto", progress: bool = False) -> Candidates:
    """Like :func:`dice`, but only for pairs that share at least one block.

    ``blocks`` is a :class:`Blocks`, or an iterable of ``(left_rows, right_rows)`` tuples (linkage)
    or of row arrays (deduplication, ``b=None``). All blocks are compared in a few kernel calls
    (consecutive blocks batched by cost, blocks of more than 1,024 left rows split), each pair is
    reported once however many blocks it shares, and scores equal those of :func:`dice`. Within
    each block the right rows are ordered by popcount, so the exact popcount bound of :func:`dice`
    prunes per block too. ``top_k`` applies to the pairs found (each left record's ``top_k`` best;
    for deduplication, either record's). ``workers``, ``fields`` and ``progress`` are as in
    :func:`dice`.

    Example (LSH-style: each record in several buckets, given as (row, key) memberships)::

        blocks = Blocks.from_keys(rows_a, keys_a, rows_b, keys_b)
        cands = dice_blocks(a, b, blocks, threshold=0.8)

    Rows are gathered through the block index, so blocks of up to a few thousand rows run at
    nearly the speed of :func:`dice`; one block holding everything is better served by
    :func:`dice` itself (contiguous, interleaved copy of the right side).
    """
    t = check_threshold(threshold)
    k = check_top_k(top_k)
    n_workers = resolve_workers(workers)
    dedup = b is None
    b = a if dedup else b
    a.check_compatible(b)
    names = field_names_for(a, b, fields)
    if not isinstance(blocks, Blocks):
        blocks = Blocks.from_groups(blocks) if dedup else Blocks.from_pairs(blocks)
    if blocks.dedup != dedup:
        want = "groups (Blocks.from_groups)" if dedup else "linkage blocks (Blocks.from_pairs)"
        raise DataError(f"blocks must be {want} when b is {'None' if dedup else 'given'}")
    check_rows(blocks.left_index, len(a), "blocks.left_index")
    if not dedup:
        check_rows(blocks.right_index, len(b), "blocks.right_index")
    start = time.perf_counter()
    left, right, tasks = _plan(a, b, blocks)
    calls = _batches(tasks, n_workers)
    li, rj, sc = run(left, right, calls, nbits=a.nbits, threshold=t, mode=1 if dedup else 0,
                     top_k=0, workers=n_workers, progress=progress)
    if dedup:
        li, rj = canonical(li, rj)
    li, rj, sc = order_pairs(li, rj, sc, unique=True)
    if k:
        keep = top_k_mask(li, rj, k, symmetric=dedup)
        li, rj, sc = li[keep], rj[keep], sc[keep]
    log_run("dice_blocks", len(a), len(b), len(sc), time.perf_counter() - start, n_workers)
    return make_candidates(a, b, li, rj, sc, t, names, n_workers)


def _by_popcount(index: np.ndarray, offsets: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """``index`` reordered by popcount within each block (a near-sorted key: timsort is fast)."""
    block = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    key = block * (int(pop.max(initial=0)) + 1) + pop[index]
    return index[np.argsort(key, kind="stable")]


def _plan(a: Encodings, b: Encodings, blocks: Blocks) -> tuple[Side, Side, np.ndarray]:
    """Sides in block order and the tasks (ls, le, rs, re), big blocks split by left rows."""
    if blocks.dedup:
        rows = _by_popcount(blocks.left_index, blocks.left_offsets, a.popcounts)
        left = right = index_side(a.bits, a.popcounts, rows)
        lo = ro = blocks.left_offsets
    else:
        rows = _by_popcount(blocks.right_index, blocks.right_offsets, b.popcounts)
        right = index_side(b.bits, b.popcounts, rows)
        left = index_side(a.bits, a.popcounts, blocks.left_index)
        lo, ro = blocks.left_offsets, blocks.right_offsets
    nl, nr = np.diff(lo), np.diff(ro)
    live = np.flatnonzero((nl > 0) & (nr > (1 if blocks.dedup else 0)))
    pieces = -(-nl[live] // MAX_CHUNK_ROWS)
    block = np.repeat(live, pieces)
    part = np.arange(len(block)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    ls = lo[block] + part * MAX_CHUNK_ROWS
    le = np.minimum(ls + MAX_CHUNK_ROWS, lo[block + 1])
    tasks = np.stack([ls, le, ro[block], ro[block + 1]], axis=1).astype(np.int64)
    return left, right, tasks


def _batches(tasks: np.ndarray, workers: int) -> list[np.ndarray]:
    """Consecutive tasks grouped into kernel calls of about equal cost."""
    if len(tasks) == 0:
        return []
    cost = np.cumsum((tasks[:, 1] - tasks[:, 0]) * (tasks[:, 3] - tasks[:, 2]) + 16)
    calls = min(len(tasks), workers * CALLS_PER_WORKER)
    cuts = np.searchsorted(cost, cost[-1] * np.arange(1, calls) / calls, side="right")
    bounds = np.unique(np.r_[0, cuts, len(tasks)])
    return [tasks[s:e] for s, e in pairwise(bounds)]
