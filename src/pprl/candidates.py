"""`Candidates`: scored record pairs, the currency between compare and solve."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


class Candidates:
    """Pairs ``(left[i], right[i])`` of row indexes with similarity ``score[i]``.

    Always sorted by score descending, then left, then right; each pair appears once. The ids of both
    sides are kept so that solvers report record ids. ``threshold`` is the lowest score the producer
    kept (pairs below it were never generated). For multi-party linkage ``left_dataset`` and
    ``right_dataset`` say which dataset each side belongs to; ``field_scores`` (pairs × fields,
    float32) holds per-field similarities when the encodings carried field filters.
    """

    __slots__ = ("field_names", "field_scores", "left", "left_dataset", "left_ids", "right",
                 "right_dataset", "right_ids", "score", "threshold")

    def __init__(
        self,
        left: np.ndarray,
        right: np.ndarray,
        score: np.ndarray,
        *,
        left_ids: np.ndarray | None = None,
        right_ids: np.ndarray | None = None,
        threshold: float = 0.0,
        left_dataset: np.ndarray | None = None,
        right_dataset: np.ndarray | None = None,
        field_scores: np.ndarray | None = None,
        field_names: Sequence[str] = (),
        presorted: bool = False,
    ):
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        score = np.asarray(score, dtype=np.float64)
        if not (left.shape == right.shape == score.shape) or left.ndim != 1:
            raise ValueError("left, right and score must be 1-d arrays of one length")
        order = None if presorted else np.lexsort((right, left, -score))

        def pick(a):
            return a if a is None or order is None else a[order]

        self.left, self.right, self.score = pick(left), pick(right), pick(score)
        self.left_dataset = pick(None if left_dataset is None else np.asarray(left_dataset))
        self.right_dataset = pick(None if right_dataset is None else np.asarray(right_dataset))
        self.field_scores = pick(None if field_scores is None else np.asarray(field_scores,
                                                                               np.float32))
        self.field_names = tuple(field_names)
        self.left_ids = left_ids
        self.right_ids = right_ids
        self.threshold = float(threshold)

    @classmethod
    def empty(cls, **kwargs) -> Candidates:
        z = np.empty(0, dtype=np.int64)
        return cls(z, z, np.empty(0), presorted=True, **kwargs)

    def __len__(self) -> int:
        return len(self.score)

    def __repr__(self) -> str:
        return f"Candidates(n={len(self)}, threshold={self.threshold})"

    def ids(self) -> tuple[np.ndarray, np.ndarray]:
        """Record ids of the left and right side of every pair (row indexes if ids are unknown)."""
        lid = self.left if self.left_ids is None else np.asarray(self.left_ids)[self.left]
        rid = self.right if self.right_ids is None else np.asarray(self.right_ids)[self.right]
        return lid, rid

    def select(self, mask_or_index: np.ndarray) -> Candidates:
        """A subset of pairs (boolean mask or positions in sorted order); order is kept."""
        idx = np.asarray(mask_or_index)

        def sub(a):
            return None if a is None else a[idx]

        return Candidates(
            self.left[idx], self.right[idx], self.score[idx],
            left_ids=self.left_ids, right_ids=self.right_ids, threshold=self.threshold,
            left_dataset=sub(self.left_dataset), right_dataset=sub(self.right_dataset),
            field_scores=sub(self.field_scores), field_names=self.field_names,
            presorted=idx.dtype == bool or bool(np.all(np.diff(idx) > 0)),
        )

    def to_frame(self) -> pd.DataFrame:
        """Columns ``left, right, score, left_id, right_id`` (+ datasets and field scores if any)."""
        lid, rid = self.ids()
        df = pd.DataFrame({"left": self.left, "right": self.right, "score": self.score,
                           "left_id": lid, "right_id": rid})
        if self.left_dataset is not None:
            df["left_dataset"] = self.left_dataset
            df["right_dataset"] = self.right_dataset
        if self.field_scores is not None:
            for j, name in enumerate(self.field_names):
                df[f"score_{name}"] = self.field_scores[:, j]
        return df
