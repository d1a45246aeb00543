"""Pure-NumPy twins of the kernels: dense, obviously correct, for tests and small inputs only."""

from __future__ import annotations

import numpy as np

from ._engine import canonical, order_pairs, top_k_mask


def dice_matrix(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """float64 (n x m) Dice of every row pair of two uint64 bit matrices (0.0 for two empty rows)."""
    common = np.bitwise_count(left[:, None, :] & right[None, :, :]).sum(axis=2, dtype=np.int64)
    pop_l = np.bitwise_count(left).sum(axis=1, dtype=np.int64)
    pop_r = np.bitwise_count(right).sum(axis=1, dtype=np.int64)
    den = pop_l[:, None] + pop_r[None, :]
    return np.where(den > 0, 2 * common / np.maximum(den, 1), 0.0)


def dice_pairs(left: np.ndarray, right: np.ndarray | None, threshold: float,
               top_k: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, right, score) with score >= threshold in canonical order; ``right=None`` dedups."""
    dedup = right is None
    scores = dice_matrix(left, left if dedup else right)
    keep = scores >= threshold
    if dedup:
        keep &= np.triu(np.ones_like(keep), k=1)
    li, rj = np.nonzero(keep)
    return restrict_top_k(*order_pairs(li, rj, scores[li, rj]), top_k, dedup)


def restrict_top_k(left: np.ndarray, right: np.ndarray, score: np.ndarray, top_k: int | None,
                   symmetric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep each left row's ``top_k`` best of sorted pairs (of either record when ``symmetric``)."""
    if not top_k:
        return left, right, score
    keep = top_k_mask(left, right, top_k, symmetric)
    return left[keep], right[keep], score[keep]


def block_pairs(left: np.ndarray, right: np.ndarray | None, blocks: list, threshold: float,
                top_k: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of :func:`dice_pairs` restricted to pairs that share a block.

    ``blocks`` holds ``(left_rows, right_rows)`` tuples, or row arrays when ``right`` is None.
    """
    dedup = right is None
    scores = dice_matrix(left, left if dedup else right)
    allowed = np.zeros(scores.shape, dtype=bool)
    for block in blocks:
        if dedup:
            rows = np.asarray(block, dtype=np.int64)
            allowed[np.ix_(rows, rows)] = True
        else:
            allowed[np.ix_(np.asarray(block[0], np.int64), np.asarray(block[1], np.int64))] = True
    keep = allowed & (scores >= threshold)
    if dedup:
        keep &= np.triu(np.ones_like(keep), k=1)
    li, rj = np.nonzero(keep)
    if dedup:
        li, rj = canonical(li, rj)
    return restrict_top_k(*order_pairs(li, rj, scores[li, rj]), top_k, dedup)
