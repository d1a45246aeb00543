"""Charts for decision makers and researchers (matplotlib, the optional ``plot`` extra).

Every function returns a :class:`matplotlib.figure.Figure` (nothing is shown or saved: call
``fig.savefig("x.png")``, or let a notebook display it). matplotlib is imported on first use, so
``import pprl`` works without it.

- :func:`similarity_histogram`: scores of candidate pairs (matches and non-matches apart when the
  truth is known) with the chosen threshold.
- :func:`precision_recall`: precision, recall and F1 against the threshold, measured against a
  truth and/or estimated without one (:func:`pprl.solve.choose_threshold`).
- :func:`dp_release`: a differentially private table as bars with their margins of error.

The block-size distribution is :func:`pprl.block.plot`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .candidates import Candidates
from .errors import DataError

__all__ = ["dp_release", "precision_recall", "similarity_histogram"]

_CURVES = (("precision", "tab:blue"), ("recall", "tab:orange"), ("f1", "tab:green"))


def _figure(ax, size: tuple[float, float]):
    """``(figure, axes)``: a new figure, or the figure of the given axes."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def _mark_threshold(ax, threshold: float | None) -> None:
    if threshold is None:
        return
    value = float(threshold)
    if not np.isfinite(value):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    ax.axvline(value, color="black", linestyle="--", linewidth=1,
               label=f"threshold {value:.3f}")


def similarity_histogram(candidates: Candidates | pd.DataFrame, truth: pd.DataFrame | None = None,
                         *, threshold: float | None = None, bins: int = 50, log: bool = True,
                         ax=None):
    """Histogram of similarity scores with the chosen threshold as a dashed line.

    Args:
        candidates: :class:`pprl.Candidates`, or links (a DataFrame with ``left_id``, ``right_id``,
            ``score``).
        truth: the true pairs (``left_id``, ``right_id``); when given, matches and non-matches
            are drawn in two colours.
        threshold: where to draw the threshold line (None: no line).
        bins: number of bins.
        log: logarithmic count axis (non-matches usually outnumber matches by far).
        ax: draw into these axes instead of a new figure.

    Returns:
        The matplotlib Figure.
    """
    from .solve import histogram

    if ax is None:
        fig, ax = _figure(None, (7, 4))
    fig = histogram(candidates, truth, bins=bins, ax=ax, log=log)
    _mark_threshold(ax, threshold)
    ax.legend()
    ax.set_title("similarity of candidate pairs")
    return fig


def _truth_curve(curve) -> pd.DataFrame:
    """The PR curve of an :class:`pprl.solve.Evaluation` or a DataFrame like its ``curve``."""
    frame = getattr(curve, "curve", curve)
    if frame is None:
        raise DataError("the evaluation has no precision-recall curve: evaluate links that have a "
                        "'score' column")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("curve must be a pprl.solve.Evaluation or its curve DataFrame, got "
                        f"{type(curve).__name__}")
    missing = [c for c in ("threshold", "precision", "recall", "f1") if c not in frame.columns]
    if missing:
        raise DataError(f"the precision-recall curve has no column {missing[0]!r} "
                        f"(columns: {list(frame.columns)})")
    return frame


def _estimated_curve(choice) -> pd.DataFrame:
    """The estimated curves of a :class:`pprl.solve.ThresholdChoice`."""
    diag = getattr(choice, "diagnostics", None)
    if not isinstance(diag, dict) or "thresholds" not in diag:
        raise TypeError("estimate must be a pprl.solve.ThresholdChoice with estimated curves "
                        "(from pprl.solve.choose_threshold)")
    return pd.DataFrame({"threshold": diag["thresholds"], "precision": diag["precision"],
                         "recall": diag["recall"], "f1": diag["f1"]})


def precision_recall(curve=None, *, estimate=None, threshold: float | None = None,
                     xlim: tuple[float, float] | None = None, ax=None):
    """Precision, recall and F1 against the threshold.

    Args:
        curve: quality against the truth: a :class:`pprl.solve.Evaluation` (its ``curve``) or a
            DataFrame with ``threshold``, ``precision``, ``recall``, ``f1`` (solid lines).
        estimate: a :class:`pprl.solve.ThresholdChoice`: the same quantities as estimated without
            any truth (dashed lines); its threshold is marked unless ``threshold`` is given.
        threshold: where to draw the threshold line.
        xlim: the threshold range shown (default: the range of the curves).
        ax: draw into these axes instead of a new figure.

    Returns:
        The matplotlib Figure.
    """
    if curve is None and estimate is None:
        raise ValueError("precision_recall needs a curve (from the truth), an estimate, or both")
    fig, ax = _figure(ax, (7, 4))
    if curve is not None:
        frame = _truth_curve(curve).sort_values("threshold")
        for name, color in _CURVES:
            ax.plot(frame["threshold"], frame[name], color=color, label=f"{name} (truth)")
    if estimate is not None:
        est = _estimated_curve(estimate).sort_values("threshold")
        for name, color in _CURVES:
            ax.plot(est["threshold"], est[name], color=color, linestyle=":", linewidth=2,
                    label=f"{name} (estimated)")
        if threshold is None:
            threshold = estimate.threshold
    _mark_threshold(ax, threshold)
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("threshold (links kept have score >= threshold)")
    ax.set_ylabel("share")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2 if (curve is not None and estimate is not None) else 1)
    ax.set_title("linkage quality by threshold")
    return fig


_MEASURES = ("mean", "sum", "count")


def dp_release(table: pd.DataFrame, x: str, *, value: str | None = None,
               exact: Sequence[float] | pd.Series | None = None, title: str | None = None,
               ax=None):
    """A differentially private table as bars with error bars (the 95 % margins of error).

    Args:
        table: one dimension of a :func:`pprl.disclosure.dp_counts`, :func:`~pprl.disclosure.dp_sums`
            or :func:`~pprl.disclosure.dp_means` release (or the same table read back from a
            release file): a column ``x``, the value column and ``moe``. Rows whose ``x`` is the
            margin label ``"Total"`` are left out. Means use their ``lower``/``upper`` interval
            when present.
        x: the category column.
        value: the released column (default: ``mean``, ``sum`` or ``count``, whichever exists).
        exact: the true values in the table's row order (for teaching: never published), drawn
            as black dots.
        title: the chart title (default from the value and ``epsilon``/``rho`` spent).
        ax: draw into these axes instead of a new figure.

    Returns:
        The matplotlib Figure.
    """
    from .disclosure import TOTAL

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    if value is None:
        value = next((m for m in _MEASURES if m in table.columns), None)
        if value is None:
            raise DataError(f"table has none of the columns {list(_MEASURES)}; name the released "
                            f"column with value= (columns: {list(table.columns)})")
    for col in (x, value, "moe"):
        if col not in table.columns:
            raise DataError(f"table has no column {col!r} (columns: {list(table.columns)})")
    keep = (table[x].astype(str) != TOTAL).to_numpy()
    rows = table.loc[keep]
    heights = pd.to_numeric(rows[value], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if {"lower", "upper"} <= set(rows.columns) and value == "mean":
        err = np.vstack([heights - rows["lower"].to_numpy(float),
                         rows["upper"].to_numpy(float) - heights])
    else:
        err = rows["moe"].to_numpy(dtype=float)
    fig, ax = _figure(ax, (max(5.0, 0.9 * len(rows) + 2), 4))
    pos = np.arange(len(rows))
    ax.bar(pos, heights, color="tab:blue", alpha=0.8, label=f"released {value}")
    ax.errorbar(pos, heights, yerr=err, fmt="none", ecolor="black", capsize=4,
                label="95 % margin of error")
    if exact is not None:
        truth = np.asarray(exact, dtype=float)
        if truth.shape != (len(table),):
            raise ValueError(f"exact must hold one value per row of the table ({len(table)}), "
                             f"got shape {truth.shape}")
        ax.plot(pos, truth[keep], "o", color="black", markersize=4, label="exact (not published)")
    ax.set_xticks(pos, rows[x].astype(str).tolist(), rotation=30, ha="right")
    ax.set_xlabel(x)
    ax.set_ylabel(value)
    ax.legend(fontsize=8)
    ax.set_title(title or _release_title(table, value))
    return fig


def _release_title(table: pd.DataFrame, value: str) -> str:
    """``"mean of earnings with differential privacy (epsilon 0.5)"`` from the release's columns
    and metadata (``table.attrs["pprl"]``, which the dp_* functions set)."""
    of = table.attrs.get("pprl", {}).get("value") if isinstance(table.attrs.get("pprl"), dict) \
        else None
    what = f"{value} of {of}" if of and value in ("mean", "sum") else value
    for measure in ("epsilon", "rho"):
        if measure in table.columns and len(table):
            spent = float(table[measure].iloc[0])
            return f"{what} with differential privacy ({measure} {spent:g})"
    return f"{what} with differential privacy"
