"""What a blocking run did and how good it was: :class:`BlockingReport`, :func:`evaluate`, :func:`plot`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..candidates import Candidates
from ..encodings import Encodings
from ..errors import DataError
from .lsh import LshPlan, total_pairs
from .signatures import PassStats

HIST_BINS = 64


@dataclass
class BlockingReport:
    """The method used, why, and its numbers.

    ``comparisons`` counts the pair scorings the method asked for (a pair in several blocks or
    bands counted each time; for all-pairs, every pair), so ``reduction_ratio`` is ``1 -
    comparisons / total_pairs``, a lower bound of the textbook reduction ratio over distinct pairs.
    ``size_histogram[k]`` is the number of blocks (signature blocks, or groups of equal LSH band
    keys) asking for ``2**k`` to ``2**(k+1) - 1`` pairs; ``largest_blocks`` lists the costliest as
    ``(source, left size, right size)`` - sizes only, the keys stay opaque.

    For LSH, ``guaranteed_recall`` is the probability that a pair with Dice exactly at the
    threshold is found, and ``estimated_pair_completeness`` a Horvitz-Thompson estimate of the
    share of all pairs >= threshold that were found (each found pair weighted by 1 / its chance
    of being found). ``pair_completeness`` is filled by :func:`evaluate` against a known truth.
    """

    method: str
    reason: str
    threshold: float
    n_left: int
    n_right: int | None
    comparisons: int = 0
    candidates: int = 0
    seconds: float = 0.0
    passes: tuple[PassStats, ...] = ()
    lsh: LshPlan | None = None
    guaranteed_recall: float | None = None
    estimated_pair_completeness: float | None = None
    size_histogram: np.ndarray | None = field(default=None, repr=False)
    largest_blocks: list[tuple[str, int, int]] = field(default_factory=list)
    oversized: int = 0
    oversized_rule: str | None = None
    pair_completeness: float | None = None

    @property
    def total_pairs(self) -> int:
        """Pairs of an all-pairs comparison."""
        return total_pairs(self.n_left, self.n_right)

    @property
    def reduction_ratio(self) -> float:
        """``1 - comparisons / total_pairs`` (0.0 for all-pairs)."""
        total = self.total_pairs
        return 0.0 if total == 0 else max(0.0, 1.0 - self.comparisons / total)

    def __str__(self) -> str:
        sizes = f"{self.n_left:,} x {self.n_right:,}" if self.n_right is not None else (
            f"{self.n_left:,} (dedup)")
        parts = [f"blocking={self.method} ({self.reason})", sizes,
                 f"{self.comparisons:,} comparisons (reduction ratio {self.reduction_ratio:.6f})",
                 f"{self.candidates:,} pairs >= {self.threshold:g}"]
        if self.lsh is not None and self.method.endswith("lsh"):
            parts.append(f"{self.lsh.params.bands} bands x {self.lsh.params.hashes} "
                         f"{self.lsh.params.family}")
        if self.guaranteed_recall is not None:
            parts.append(f"recall at threshold >= {self.guaranteed_recall:.3f}")
        if self.estimated_pair_completeness is not None:
            parts.append(f"est. pair completeness {self.estimated_pair_completeness:.4f}")
        if self.oversized:
            parts.append(f"{self.oversized} oversized blocks {self.oversized_rule}")
        if self.pair_completeness is not None:
            parts.append(f"pair completeness {self.pair_completeness:.4f}")
        parts.append(f"{self.seconds:.1f} s")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        """Plain numbers and strings (JSON-ready)."""
        out = {
            "method": self.method, "reason": self.reason, "threshold": self.threshold,
            "n_left": self.n_left, "n_right": self.n_right, "total_pairs": self.total_pairs,
            "comparisons": self.comparisons, "reduction_ratio": self.reduction_ratio,
            "candidates": self.candidates, "seconds": self.seconds,
            "guaranteed_recall": self.guaranteed_recall,
            "estimated_pair_completeness": self.estimated_pair_completeness,
            "pair_completeness": self.pair_completeness, "oversized": self.oversized,
            "oversized_rule": self.oversized_rule,
            "largest_blocks": [list(x) for x in self.largest_blocks],
            "passes": [p.to_dict() for p in self.passes],
        }
        if self.lsh is not None:
            p = self.lsh.params
            out["lsh"] = {"family": p.family, "hashes": p.hashes, "bands": p.bands, "seed": p.seed,
                          "reference_popcount": self.lsh.reference_popcount,
                          "est_collisions": self.lsh.est_collisions}
        if self.size_histogram is not None:
            nz = np.flatnonzero(self.size_histogram)
            out["size_histogram"] = {int(2**k): int(self.size_histogram[k]) for k in nz}
        return out


def pairs_histogram(pairs: np.ndarray) -> np.ndarray:
    """Blocks per power-of-two bin of their pair counts (blocks without pairs left out)."""
    pairs = np.asarray(pairs, dtype=np.int64)
    pairs = pairs[pairs > 0]
    bins = np.floor(np.log2(pairs)).astype(np.int64) if len(pairs) else np.empty(0, np.int64)
    return np.bincount(bins, minlength=HIST_BINS)[:HIST_BINS].astype(np.int64)


@dataclass(frozen=True)
class Evaluation:
    """Blocking quality against a known truth.

    ``pair_completeness``: share of the true pairs with exact Dice >= threshold that are among the
    candidates (pairs below the threshold can never be returned, blocking or not); computed over
    all true pairs when the encodings were not given (``true_pairs_above`` is then None).
    """

    true_pairs: int
    true_pairs_above: int | None
    found: int
    pair_completeness: float
    pairs_quality: float
    reduction_ratio: float | None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _truth_rows(truth, left_ids: np.ndarray, right_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(truth, pd.DataFrame):
        missing = [c for c in ("left_id", "right_id") if c not in truth.columns]
        if missing:
            raise DataError(f"truth has no column {missing[0]!r} (expected left_id, right_id)")
        lid, rid = truth["left_id"].to_numpy(), truth["right_id"].to_numpy()
    else:
        try:
            lid, rid = (np.asarray(x) for x in truth)
        except (TypeError, ValueError):
            raise DataError("truth must be a DataFrame (left_id, right_id) or two id arrays") from None
    rows = []
    for ids, wanted, col in ((left_ids, lid, "left_id"), (right_ids, rid, "right_id")):
        pos = pd.Index(ids).get_indexer(wanted)
        if (pos < 0).any():
            k = int(np.flatnonzero(pos < 0)[0])
            bad = wanted[k].item() if isinstance(wanted[k], np.generic) else wanted[k]
            raise DataError(f"truth column {col!r}, row {k}: id {bad!r} is not in the encodings")
        rows.append(pos.astype(np.int64))
    return rows[0], rows[1]


def evaluate(candidates: Candidates, truth, *, a: Encodings | None = None,
             b: Encodings | None = None, report: BlockingReport | None = None,
             dedup: bool = False) -> Evaluation:
    """Pair completeness and pairs quality of ``candidates`` against ``truth``.

    ``truth``: a DataFrame with ``left_id`` and ``right_id`` (as :func:`pprl.datasets.extracts`
    returns) or a pair of id arrays. With the encodings ``a`` and ``b`` (``b=None`` with
    ``dedup=True`` for deduplication), the true pairs are scored exactly and only those with Dice
    >= the candidates' threshold count. The report, when given, gets ``pair_completeness``.
    """
    from ..compare import score_pairs

    left_ids = candidates.left_ids if candidates.left_ids is not None else (
        a.ids if a is not None else None)
    right_ids = candidates.right_ids if candidates.right_ids is not None else (
        (a if dedup else b).ids if (a is not None and (dedup or b is not None)) else None)
    if left_ids is None or right_ids is None:
        raise DataError("candidates carry no ids; pass the encodings a and b")
    li, rj = _truth_rows(truth, np.asarray(left_ids), np.asarray(right_ids))
    if dedup:
        li, rj = np.minimum(li, rj), np.maximum(li, rj)
    width = len(right_ids)
    codes = np.unique(li * width + rj)
    n_true, above = len(codes), None
    if a is not None and (dedup or b is not None):
        scores = score_pairs(a, None if dedup else b, codes // width, codes % width)
        codes = codes[scores >= candidates.threshold]
        above = len(codes)
    found = int(np.isin(codes, candidates.left * width + candidates.right).sum())
    pc = found / len(codes) if len(codes) else 1.0
    pq = found / len(candidates) if len(candidates) else 0.0
    if report is not None:
        report.pair_completeness = pc
    return Evaluation(true_pairs=n_true, true_pairs_above=above, found=found, pair_completeness=pc,
                      pairs_quality=pq,
                      reduction_ratio=None if report is None else report.reduction_ratio)


def plot(report: BlockingReport):
    """A matplotlib Figure: block-size distribution and the largest blocks (imported lazily)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_hist, ax_top = fig.subplots(1, 2)
    hist = report.size_histogram
    if hist is not None and hist.any():
        ks = np.arange(int(np.flatnonzero(hist).max()) + 1)
        ax_hist.bar(ks, hist[ks], color="tab:blue")
        ax_hist.set_yscale("log")
        ax_hist.set_xticks(ks, [f"2^{k}" for k in ks], rotation=90, fontsize=7)
    else:
        ax_hist.text(0.5, 0.5, "no blocks (all pairs compared)", ha="center", va="center",
                     transform=ax_hist.transAxes)
    ax_hist.set_xlabel("pairs per block")
    ax_hist.set_ylabel("blocks")
    ax_hist.set_title("block size distribution")
    top = report.largest_blocks[:10]
    if top:
        labels = [f"{src} ({left}x{right})" for src, left, right in top]
        pairs = [left * (left - 1) // 2 if report.n_right is None else left * right
                 for _, left, right in top]
        ax_top.barh(range(len(top)), pairs, color="tab:orange")
        ax_top.set_yticks(range(len(top)), labels, fontsize=7)
        ax_top.invert_yaxis()
        ax_top.set_xscale("log")
    ax_top.set_xlabel("pairs")
    ax_top.set_title("largest blocks")
    pc = (f", pair completeness {report.pair_completeness:.4f}"
          if report.pair_completeness is not None else "")
    fig.suptitle(f"blocking={report.method}: reduction ratio {report.reduction_ratio:.6f}{pc}")
    return fig
