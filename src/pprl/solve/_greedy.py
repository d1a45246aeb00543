"""Greedy one-to-one matching of two parties (anonlink's greedy solver, bipartite case)."""

from __future__ import annotations

import numba
import numpy as np

from ..candidates import Candidates
from ._common import links_frame, n_sides


@numba.njit(cache=True, nogil=True)
def _greedy_kernel(left: np.ndarray, right: np.ndarray, n_left: int, n_right: int) -> np.ndarray:
    used_left = np.zeros(n_left, dtype=np.bool_)
    used_right = np.zeros(n_right, dtype=np.bool_)
    keep = np.zeros(left.shape[0], dtype=np.bool_)
    for k in range(left.shape[0]):
        i = left[k]
        j = right[k]
        if not used_left[i] and not used_right[j]:
            used_left[i] = True
            used_right[j] = True
            keep[k] = True
    return keep


def greedy_reference(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pure-Python reference of :func:`greedy_mask` (for tests)."""
    seen_left: set[int] = set()
    seen_right: set[int] = set()
    keep = np.zeros(len(left), dtype=bool)
    for k, (i, j) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
        if i not in seen_left and j not in seen_right:
            seen_left.add(i)
            seen_right.add(j)
            keep[k] = True
    return keep


def greedy_mask(candidates: Candidates) -> np.ndarray:
    """Boolean mask over ``candidates``: the pairs greedy keeps, taking them in Candidates order."""
    if len(candidates) == 0:
        return np.zeros(0, dtype=bool)
    n_left, n_right = n_sides(candidates)
    return _greedy_kernel(candidates.left, candidates.right, n_left, n_right)


def greedy(candidates: Candidates, threshold: float | str | None = None):
    """One-to-one links chosen greedily: the best remaining pair first, in Candidates order.

    ``threshold``: None keeps every candidate; a number keeps links with score >= it; ``"auto"``
    chooses it from the score distribution (:func:`pprl.solve.choose_threshold`). Returns a DataFrame
    ``left_id, right_id, score`` sorted like the candidates. Equals anonlink's ``greedy_solve`` for
    two parties.
    """
    from ._threshold import apply_threshold

    cands, _ = apply_threshold(candidates, threshold)
    return links_frame(cands, greedy_mask(cands))
