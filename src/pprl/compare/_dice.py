"""``dice``: every pair of two sets of encodings (or within one) with Dice >= a threshold."""

from __future__ import annotations

import time

import numpy as np

from ..candidates import Candidates
from ..encodings import Encodings
from ._engine import (
    canonical,
    check_threshold,
    check_top_k,
    chunk_rows,
    log_run,
    order_pairs,
    resolve_workers,
    row_tasks,
    rows_side,
    run,
    sorted_sides,
)
from ._fields import FieldsOption, field_matrix, field_names_for


def dice(a: Encodings, b: Encodings | None = None, *, threshold: float, top_k: int | None = None,
         workers: int | None = None, fields: FieldsOption = "auto",
         progress: bool = False) -> Candidates:
    """All pairs with Dice coefficient >= ``threshold``, as :class:`pprl.Candidates`.

    Dice of two filters is ``2·|a & b| / (|a| + |b|)`` in float64, exactly as anonlink computes it
    (two empty filters score 0.0), so the pairs and scores equal anonlink's
    ``find_candidate_pairs`` without ``k``. Pairs are sorted by score descending, then left, then
    right row.

    Args:
        a: the left encodings.
        b: the right encodings; ``None`` deduplicates within ``a``: each unordered pair once, as
            ``left < right``.
        threshold: the lowest score kept, in [0, 1].
        top_k: keep only each left record's ``top_k`` best pairs (higher score first, ties to the
            smaller right row), like anonlink's similarity functions with ``k``. When
            deduplicating, a pair is kept when it is among the ``top_k`` best of either record.
        workers: threads running the (GIL-free) kernels; ``None`` uses
            ``numba.get_num_threads()``, i.e. every core unless ``NUMBA_NUM_THREADS`` says
            otherwise. Numba's own thread pool is not used, so its settings are never changed.
        fields: per-field similarity vectors (``Candidates.field_scores``, ``field_names``):
            ``"auto"`` when both sides carry the same field filters, ``True`` to require them,
            ``False`` to skip them. A field's score is NaN where its filter is empty on either side
            (a missing value, which a scorer should treat apart from a disagreement).
        progress: show a progress bar on stderr.

    Raises:
        IncompatibleEncodingsError: different filter lengths or schemas.
        ValueError / TypeError: a parameter out of range (the message names it).

    Memory stays bounded: the right side is copied once, in popcount order and interleaved by
    eight rows (the size of its bits), left rows are scored in chunks of up to 1,024 against
    cache-sized tiles of it, and only pairs above the threshold are kept, in buffers that grow
    per task. The popcount order also prunes exactly: a pair whose smaller filter could not reach
    the threshold even if all its bits were shared is never scored.
    """
    t = check_threshold(threshold)
    k = check_top_k(top_k)
    n_workers = resolve_workers(workers)
    dedup = b is None
    b = a if dedup else b
    a.check_compatible(b)
    names = field_names_for(a, b, fields)
    start = time.perf_counter()
    if dedup:
        left, right, score = _dedup(a, t, k, n_workers, progress)
    else:
        left, right, score = _link(a, b, t, k, n_workers, progress)
    log_run("dice", len(a), len(b), len(score), time.perf_counter() - start, n_workers)
    return make_candidates(a, b, left, right, score, t, names, n_workers)


def _link(a: Encodings, b: Encodings, t: float, k: int, workers: int, progress: bool):
    if len(a) == 0 or len(b) == 0:
        return _nothing()
    k = min(k, len(b))
    right = sorted_sides(b.bits, b.popcounts)[1]
    tasks = row_tasks(len(a), len(b), chunk_rows(len(a), workers, k))
    li, rj, sc = run(rows_side(a.bits, a.popcounts), right, tasks, nbits=a.nbits, threshold=t,
                     mode=0, top_k=k, workers=workers, progress=progress)
    return order_pairs(li, rj, sc)


def _dedup(a: Encodings, t: float, k: int, workers: int, progress: bool):
    n = len(a)
    if n < 2:
        return _nothing()
    k = min(k, n - 1)
    left, right = sorted_sides(a.bits, a.popcounts)
    tasks = row_tasks(n, n, chunk_rows(n, workers, k))
    li, rj, sc = run(left, right, tasks, nbits=a.nbits, threshold=t, mode=2 if k else 1,
                     top_k=k, workers=workers, progress=progress)
    left, right = canonical(li, rj)
    # With top-k each pair may come from the heaps of both its records: keep it once.
    return order_pairs(left, right, sc, unique=bool(k))


def _nothing():
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)


def make_candidates(a: Encodings, b: Encodings, left: np.ndarray, right: np.ndarray,
                    score: np.ndarray, threshold: float, names: tuple[str, ...],
                    workers: int) -> Candidates:
    """Candidates from pairs already in canonical order, with ids and field scores."""
    matrix = field_matrix(a, b, names, left, right, workers) if names else None
    return Candidates(left, right, score, left_ids=a.ids, right_ids=b.ids, threshold=threshold,
                      field_scores=matrix, field_names=names, presorted=True)
