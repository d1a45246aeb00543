"""Planning and scheduling of the Dice kernels: sides, tasks, threads, output assembly."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from numbers import Integral, Real

import numba
import numpy as np
from tqdm import tqdm

from .._log import logger
from ._kernels import popcount_bounds, scan
from ._simd import LANES

TILE_BYTES = 256 * 1024  # right rows scanned together: a quarter of a 1 MiB L2 cache
MAX_CHUNK_ROWS = 1024  # left rows of one task of a full comparison
HEAP_ENTRIES = 1 << 22  # top-k heaps of one task (rows x k) stay below ~50 MB
OUT_CAPACITY = 4096  # initial pairs of a kernel call's output buffers (they grow by doubling)
GROUP_SLICE = 8192  # groups of eight rows copied at a time into the interleaved layout


@dataclass(frozen=True)
class Side:
    """One side of a comparison in position space.

    The kernel reads row ``index[position]`` of ``bits`` and reports record ``rows[position]``;
    ``pop[position]`` is that row's popcount. The position arrays carry ``LANES`` padding entries
    because the kernel reads eight positions at a time. A right side's ``bits`` may instead be
    3-d word-interleaved groups of eight positions, with ``index`` None (see
    :func:`sorted_sides`).
    """

    bits: np.ndarray
    index: np.ndarray | None
    rows: np.ndarray
    pop: np.ndarray


def pad(values: np.ndarray, dtype) -> np.ndarray:
    """``values`` followed by ``LANES`` zeros."""
    out = np.zeros(len(values) + LANES, dtype=dtype)
    out[: len(values)] = values
    return out


def rows_side(bits: np.ndarray, pop: np.ndarray) -> Side:
    """The rows as they are (position = row); for the left side only."""
    rows = pad(np.arange(len(pop)), np.int64)
    return Side(bits, rows, rows, pad(pop, np.int32))


def sorted_sides(bits: np.ndarray, pop: np.ndarray) -> tuple[Side, Side]:
    """Left and right views of ``bits`` in ascending popcount order (one position space).

    The right view is a copy in word-interleaved groups of eight rows (``(groups, nwords, 8)``,
    the fast layout of ``dice8``), built in slices so the copy never needs twice its size; the
    left view reads the original rows through the permutation. Both report the original rows.
    """
    perm = np.argsort(pop, kind="stable")
    groups = -(-len(perm) // LANES)
    nwords = bits.shape[1]
    grouped = np.zeros((groups, nwords, LANES), dtype=np.uint64)
    step = GROUP_SLICE
    for g in range(0, groups, step):
        rows = np.zeros((min(step, groups - g) * LANES, nwords), dtype=np.uint64)
        picked = perm[g * LANES : (g + step) * LANES]
        rows[: len(picked)] = bits[picked]
        grouped[g : g + step] = rows.reshape(-1, LANES, nwords).transpose(0, 2, 1)
    rows = pad(perm, np.int64)
    sorted_pop = pad(pop[perm], np.int32)
    return Side(bits, rows, rows, sorted_pop), Side(grouped, None, rows, sorted_pop)


def index_side(bits: np.ndarray, pop: np.ndarray, index: np.ndarray) -> Side:
    """Rows gathered through ``index`` (the rows stay where they are)."""
    padded = pad(index, np.int64)
    return Side(bits, padded, padded, pad(pop[index], np.int32))


def tile_rows(nwords: int) -> int:
    """Right positions per cache tile (a multiple of LANES)."""
    return max(8 * LANES, TILE_BYTES // (8 * nwords) // LANES * LANES)


def chunk_rows(n: int, workers: int, top_k: int) -> int:
    """Left rows per task: enough tasks to keep every worker busy, few enough to stay cheap."""
    rows = min(MAX_CHUNK_ROWS, max(LANES, -(-n // (workers * 8))))
    if top_k:
        rows = min(rows, max(1, HEAP_ENTRIES // top_k))
    return rows


def row_tasks(n_left: int, n_right: int, rows: int) -> list[np.ndarray]:
    """One single-task array per chunk of ``rows`` left positions, all against every right one."""
    return [np.array([[i, min(n_left, i + rows), 0, n_right]], dtype=np.int64)
            for i in range(0, n_left, rows)]


def resolve_workers(workers: int | None) -> int:
    """``None`` -> numba's thread count (all cores unless NUMBA_NUM_THREADS says otherwise)."""
    if workers is None:
        return numba.get_num_threads()
    if isinstance(workers, bool) or not isinstance(workers, Integral) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    return int(workers)


def check_threshold(threshold: float) -> float:
    """The threshold as a float in [0, 1]; TypeError / ValueError naming it otherwise."""
    if isinstance(threshold, bool) or not isinstance(threshold, Real):
        raise TypeError(f"threshold must be a number in [0, 1], got {threshold!r}")
    t = float(threshold)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return t


def check_top_k(top_k: int | None) -> int:
    """0 for None, else the positive integer."""
    if top_k is None:
        return 0
    if isinstance(top_k, bool) or not isinstance(top_k, Integral) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    return int(top_k)


def execute(calls: Sequence[Callable[[], tuple]], workers: int, progress: bool,
            desc: str = "compare") -> list[tuple]:
    """Run the calls on ``workers`` threads (the kernels release the GIL); results in any order."""
    bar = tqdm(total=len(calls), desc=desc, unit="task", file=sys.stderr, disable=not progress)
    results = []
    try:
        if workers == 1 or len(calls) <= 1:
            for call in calls:
                results.append(call())
                bar.update()
            return results
        with ThreadPoolExecutor(max_workers=min(workers, len(calls))) as pool:
            pending = {pool.submit(call) for call in calls}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        results.append(future.result())
                        bar.update()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return results
    finally:
        bar.close()


def run(left: Side, right: Side, task_groups: Sequence[np.ndarray], *, nbits: int,
        threshold: float, mode: int, top_k: int, workers: int,
        progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score every task group (one kernel call each); concatenated (left, right, score) rows."""
    lo_tab, hi_tab = popcount_bounds(nbits, threshold)
    tile = tile_rows(left.bits.shape[1])

    def call(tasks: np.ndarray) -> Callable[[], tuple]:
        return lambda: scan(left.bits, left.index, left.rows, left.pop, right.bits, right.index,
                            right.rows, right.pop, tasks, lo_tab, hi_tab, threshold, mode, top_k,
                            tile, OUT_CAPACITY)

    parts = execute([call(g) for g in task_groups], workers, progress)
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    return tuple(np.concatenate([p[x] for p in parts]) for x in range(3))


def order_pairs(left: np.ndarray, right: np.ndarray, score: np.ndarray,
                unique: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by score descending, then left, then right; with ``unique`` drop repeated pairs."""
    order = np.lexsort((right, left, -score))
    left, right, score = left[order], right[order], score[order]
    if unique and len(left) > 1:
        keep = np.ones(len(left), dtype=bool)
        keep[1:] = (left[1:] != left[:-1]) | (right[1:] != right[:-1])
        left, right, score = left[keep], right[keep], score[keep]
    return left, right, score


def canonical(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unordered pairs as (smaller, larger)."""
    return np.minimum(left, right), np.maximum(left, right)


def top_k_mask(left: np.ndarray, right: np.ndarray, k: int, symmetric: bool) -> np.ndarray:
    """Pairs among each left row's ``k`` best; input sorted by (score desc, left, right).

    "Best" ranks by score, ties by the smaller partner row. ``symmetric`` (deduplication, pairs
    given as left < right): a pair is kept when it is among the ``k`` best of either record.
    """
    n = len(left)
    position = np.arange(n)
    if symmetric:  # every pair once from each of its records
        key, position = np.r_[left, right], np.r_[position, position]
    else:
        key = left
    # Within one record the input order is its ranking: score desc, then partner asc (for
    # canonical pairs l < x < r, an equal-scored (l, x) precedes (x, r) and l < r).
    order = np.lexsort((position, key))
    sorted_key = key[order]
    starts = np.r_[0, np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1]
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - np.repeat(starts, np.diff(np.r_[starts, len(key)]))
    best = rank < k
    return best[:n] | best[n:] if symmetric else best


def log_run(kind: str, n_left: int, n_right: int, pairs: int, seconds: float,
            workers: int) -> None:
    logger.debug("compare.%s: %d x %d -> %d pairs in %.3f s on %d worker(s)", kind, n_left,
                 n_right, pairs, seconds, workers)
