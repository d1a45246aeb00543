"""Helpers shared by the solvers: candidate checks and the links DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..candidates import Candidates


def check_candidates(candidates: object, name: str = "candidates") -> Candidates:
    """``candidates`` if it is a valid :class:`pprl.Candidates`, else a TypeError/ValueError."""
    if not isinstance(candidates, Candidates):
        raise TypeError(f"{name} must be pprl.Candidates, got {type(candidates).__name__}")
    if len(candidates):
        if candidates.left.min() < 0 or candidates.right.min() < 0:
            raise ValueError(f"{name}: row indexes must be non-negative")
        if not np.all(np.isfinite(candidates.score)):
            raise ValueError(f"{name}: scores must be finite numbers")
        for side, idx, ids in (("left", candidates.left, candidates.left_ids),
                               ("right", candidates.right, candidates.right_ids)):
            if ids is not None and idx.max() >= len(ids):
                raise ValueError(
                    f"{name}: {side} row index {int(idx.max())} is out of range for "
                    f"{len(ids)} {side} ids"
                )
    return candidates


def n_sides(candidates: Candidates) -> tuple[int, int]:
    """Sizes of the left and right index spaces (from the ids if known, else the largest index)."""
    def size(idx: np.ndarray, ids) -> int:
        top = int(idx.max()) + 1 if len(idx) else 0
        return max(top, 0 if ids is None else len(ids))

    return size(candidates.left, candidates.left_ids), size(candidates.right, candidates.right_ids)


def links_frame(candidates: Candidates, mask: np.ndarray) -> pd.DataFrame:
    """The chosen pairs as a DataFrame ``left_id, right_id, score`` in Candidates order."""
    lid, rid = candidates.ids()
    return pd.DataFrame({"left_id": lid[mask], "right_id": rid[mask],
                         "score": candidates.score[mask]}).reset_index(drop=True)
