"""Maximum-weight one-to-one matching on the sparse candidate graph.

scipy's ``min_weight_full_bipartite_matching`` (LAPJVsp) needs a *full* matching, so every connected
component with more than one edge is padded with dummy nodes: each left node ``i`` gets a private dummy
right node ``d_i`` and each right node ``j`` a private dummy left node ``e_j``; for every real edge
``(i, j)`` there is also an edge ``(e_j, d_i)``. A full matching always exists (everyone takes its
dummy), and full matchings correspond one to one to partial matchings of the real graph: a real edge
``(i, j)`` frees ``d_i`` and ``e_j``, which pair up. With costs ``C - w`` for a real edge (``C`` =
largest weight + 1, so every cost is positive: scipy drops explicit zeros), 1 for a dummy–dummy edge
and ``(C + 1) / 2`` for a node–own-dummy edge, every full matching costs
``(C + 1) / 2 · (|L| + |R|) - sum of matched weights``, so the minimum is the maximum-weight partial
matching.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from ..candidates import Candidates
from ._common import links_frame


def components(candidates: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Connected components of the candidate graph.

    Returns ``(component of each pair, left nodes' local index, right nodes' local index)`` where
    nodes are renumbered compactly (only nodes that occur in a pair).
    """
    ul, li = np.unique(candidates.left, return_inverse=True)
    ur, ri = np.unique(candidates.right, return_inverse=True)
    nl, nr = len(ul), len(ur)
    graph = sp.coo_matrix((np.ones(len(li)), (li, nl + ri)), shape=(nl + nr, nl + nr))
    _, labels = connected_components(graph, directed=False)
    return labels[li], li, ri


def _solve_padded(li: np.ndarray, ri: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mask of the pairs (local node indexes) chosen by the max-weight matching."""
    ul, a = np.unique(li, return_inverse=True)
    ur, b = np.unique(ri, return_inverse=True)
    nl, nr, m = len(ul), len(ur), len(w)
    # rows: real left 0..nl-1, dummy left e_j nl..nl+nr-1; cols: real right 0..nr-1, dummy d_i nr..
    rows = np.concatenate([a, nl + b, np.arange(nl), nl + np.arange(nr)])
    cols = np.concatenate([b, nr + a, nr + np.arange(nl), np.arange(nr)])
    top = float(w.max()) + 1.0
    cost = np.concatenate([top - w, np.ones(m), np.full(nl + nr, (top + 1.0) / 2.0)])
    size = nl + nr
    graph = sp.csr_matrix((cost, (rows, cols)), shape=(size, size))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    match = np.full(size, -1, dtype=np.int64)
    match[row_ind] = col_ind
    return match[a] == b


def optimal_mask(candidates: Candidates) -> np.ndarray:
    """Boolean mask over ``candidates``: a maximum-weight one-to-one matching."""
    n = len(candidates)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    comp, li, ri = components(candidates)
    sizes = np.bincount(comp)
    single = sizes[comp] == 1
    keep[single] = candidates.score[single] >= 0  # a component with one edge: take it if it pays
    rest = np.flatnonzero(~single)
    if len(rest) == 0:
        return keep
    # Components are independent, so one padded problem holds them all (one scipy call).
    keep[rest] = _solve_padded(li[rest], ri[rest], candidates.score[rest])
    return keep


def optimal(candidates: Candidates, threshold: float | str | None = None):
    """One-to-one links with the largest total score (maximum-weight bipartite matching).

    ``threshold`` as in :func:`pprl.solve.greedy`. Returns a DataFrame ``left_id, right_id, score``
    in Candidates order. Greedy reaches at least half of this total; on clean data they agree.
    """
    from ._threshold import apply_threshold

    cands, _ = apply_threshold(candidates, threshold)
    return links_frame(cands, optimal_mask(cands))
