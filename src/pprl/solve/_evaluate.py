"""Linkage quality against ground truth: precision, recall, F1, the precision–recall curve, and a
similarity histogram of matches and non-matches."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..candidates import Candidates
from ..errors import DataError


@dataclass(frozen=True)
class Evaluation:
    """Pair-level quality: ``precision``, ``recall``, ``f1`` and the counts behind them.

    ``curve`` (when the links have scores) is the precision–recall curve over thresholds: one row
    per distinct score ``threshold`` with the ``links`` kept at score >= it, ``true_positives``,
    ``precision``, ``recall`` and ``f1``; ``best`` is its row with the highest F1.
    """

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    curve: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def best(self) -> pd.Series | None:
        if self.curve is None or self.curve.empty:
            return None
        return self.curve.loc[self.curve["f1"].idxmax()]

    def as_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "true_positives": self.true_positives, "false_positives": self.false_positives,
                "false_negatives": self.false_negatives}


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _pair_keys(frame: pd.DataFrame, what: str, left: str = "left_id",
               right: str = "right_id") -> pd.MultiIndex:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in (left, right) if c not in frame.columns]
    if missing:
        raise DataError(f"{what} has no column {missing[0]!r} (columns: {list(frame.columns)})")
    return pd.MultiIndex.from_arrays([frame[left].to_numpy(), frame[right].to_numpy()])


def _cluster_pairs(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """All pairs of records in a common entity, as ``left_id, right_id`` of (dataset, record)."""
    if "entity_id" not in frame.columns or "record_id" not in frame.columns:
        raise DataError(f"{what} needs columns 'entity_id' and 'record_id' "
                        f"(columns: {list(frame.columns)})")
    src = next((c for c in ("dataset", "agency") if c in frame.columns), None)
    node = (frame["record_id"].astype(str) if src is None
            else frame[src].astype(str) + "\x1f" + frame["record_id"].astype(str))
    df = pd.DataFrame({"e": frame["entity_id"].to_numpy(), "n": node.to_numpy()})
    df = df.sort_values(["e", "n"], kind="stable")
    m = df.merge(df, on="e")
    m = m[m["n_x"] < m["n_y"]]
    return pd.DataFrame({"left_id": m["n_x"].to_numpy(), "right_id": m["n_y"].to_numpy()})


def evaluate(links: pd.DataFrame, truth: pd.DataFrame) -> Evaluation:
    """Precision, recall and F1 of ``links`` against ``truth`` (and the PR curve over scores).

    Two-party links: ``links`` and ``truth`` have ``left_id, right_id`` (``links`` also ``score``
    for the curve). Clusters (from :func:`clusters`/:func:`deduplicate`): both have ``entity_id,
    record_id`` (and ``dataset`` or ``agency``); quality is then over all pairs of records in a
    common entity.
    """
    if "entity_id" in getattr(links, "columns", ()):
        pred, true = _cluster_pairs(links, "links"), _cluster_pairs(truth, "truth")
        return _evaluate_pairs(pred, true, None)
    scores = links["score"].to_numpy(dtype=float) if "score" in links.columns else None
    return _evaluate_pairs(links, truth, scores)


def _evaluate_pairs(links: pd.DataFrame, truth: pd.DataFrame,
                    scores: np.ndarray | None) -> Evaluation:
    pred = _pair_keys(links, "links")
    true = _pair_keys(truth, "truth").unique()
    hit = pred.isin(true)
    tp = int(hit.sum())
    fp, fn = len(pred) - tp, len(true) - tp
    p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    curve = None if scores is None else pr_curve(scores, hit, len(true))
    return Evaluation(p, r, f1, tp, fp, fn, curve)


def pr_curve(scores: np.ndarray, is_match: np.ndarray, n_true: int) -> pd.DataFrame:
    """Precision, recall and F1 of the links with score >= each distinct score.

    ``scores``/``is_match`` describe links (one-to-one: cutting greedy's links at ``t`` is greedy's
    answer at threshold ``t``); ``n_true`` the number of true pairs.
    """
    scores = np.asarray(scores, dtype=float)
    is_match = np.asarray(is_match, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    s, m = scores[order], is_match[order]
    tp = np.cumsum(m)
    n = np.arange(1, len(s) + 1)
    last = np.r_[s[1:] != s[:-1], True][: len(s)]  # the last link at each distinct score
    tp, n, s = tp[last], n[last], s[last]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / n
        recall = tp / n_true if n_true else np.full(len(tp), np.nan)
        f1 = 2 * tp / (n + n_true)
    return pd.DataFrame({"threshold": s, "links": n, "true_positives": tp,
                         "precision": precision, "recall": recall, "f1": f1})


def histogram(candidates: Candidates | pd.DataFrame, truth: pd.DataFrame | None = None, *,
              bins: int = 50, ax=None, log: bool = True):
    """Histogram of similarity scores; matches and non-matches apart when ``truth`` is given.

    ``candidates`` is a :class:`pprl.Candidates` or a links DataFrame (``left_id, right_id,
    score``). Returns the matplotlib Figure (matplotlib is imported only here).
    """
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(7, 4))
        ax = fig.subplots()
    else:
        fig = ax.figure
    if isinstance(candidates, Candidates):
        lid, rid = candidates.ids()
        frame = pd.DataFrame({"left_id": lid, "right_id": rid, "score": candidates.score})
    elif isinstance(candidates, pd.DataFrame) and "score" in candidates.columns:
        frame = candidates
    else:
        raise TypeError("histogram needs pprl.Candidates or a DataFrame with a 'score' column")
    score = frame["score"].to_numpy(dtype=float)
    edges = np.histogram_bin_edges(score, bins=bins) if len(score) else bins
    if truth is None:
        ax.hist(score, bins=edges, color="tab:blue", label="pairs")
    else:
        hit = _pair_keys(frame, "candidates").isin(_pair_keys(truth, "truth"))
        ax.hist(score[~hit], bins=edges, color="tab:red", alpha=0.6, label="non-matches")
        ax.hist(score[hit], bins=edges, color="tab:green", alpha=0.6, label="matches")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("similarity")
    ax.set_ylabel("pairs")
    ax.legend()
    return fig
