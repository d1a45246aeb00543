"""pprl.plots: the figures carry the data they claim to show, and bad input is refused by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

import pprl
from pprl import disclosure, plots, solve


def _candidates() -> pprl.Candidates:
    return pprl.Candidates(left=np.array([0, 1, 2, 0]), right=np.array([0, 1, 2, 1]),
                           score=np.array([0.95, 0.9, 0.62, 0.55]),
                           left_ids=np.array(["a0", "a1", "a2"]),
                           right_ids=np.array(["b0", "b1", "b2"]))


def _vertical_lines(ax) -> list[float]:
    """x positions of the vertical lines (axvline) of an axes."""
    return [line.get_xdata()[0] for line in ax.get_lines()
            if len(set(line.get_xdata())) == 1 and len(line.get_xdata()) == 2]


def test_similarity_histogram_marks_threshold_and_splits_matches():
    truth = pd.DataFrame({"left_id": ["a0", "a1"], "right_id": ["b0", "b1"]})
    fig = plots.similarity_histogram(_candidates(), truth, threshold=0.7, bins=10, log=False)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert _vertical_lines(ax) == [0.7]
    heights = {c.patches[0].get_label(): sum(p.get_height() for p in c.patches)
               for c in ax.containers}
    assert heights == {"non-matches": 2, "matches": 2}
    assert "threshold 0.700" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_similarity_histogram_without_threshold_draws_no_line():
    fig = plots.similarity_histogram(_candidates())
    assert _vertical_lines(fig.axes[0]) == []


def test_similarity_histogram_rejects_nonfinite_threshold():
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        plots.similarity_histogram(_candidates(), threshold=float("nan"))


def test_precision_recall_draws_truth_and_estimate():
    links = pd.DataFrame({"left_id": ["a", "b", "c", "d"], "right_id": ["w", "x", "z", "y"],
                          "score": [0.95, 0.9, 0.8, 0.7]})
    truth = pd.DataFrame({"left_id": ["a", "b", "d"], "right_id": ["w", "x", "y"]})
    ev = solve.evaluate(links, truth)
    estimate = solve.ThresholdChoice(
        0.85, 0.9, 0.8, 0.85, "test", 3.0,
        diagnostics={"thresholds": np.array([0.7, 0.8, 0.9]), "precision": np.array([0.7, 0.8, 1.0]),
                     "recall": np.array([1.0, 0.7, 0.6]), "f1": np.array([0.8, 0.75, 0.7])})
    fig = plots.precision_recall(ev, estimate=estimate)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    truth_recall = lines["recall (truth)"]
    np.testing.assert_allclose(truth_recall.get_xdata(), [0.7, 0.8, 0.9, 0.95])
    np.testing.assert_allclose(truth_recall.get_ydata(), [1.0, 2 / 3, 2 / 3, 1 / 3])
    np.testing.assert_allclose(lines["f1 (estimated)"].get_ydata(), [0.8, 0.75, 0.7])
    assert lines["f1 (estimated)"].get_linestyle() == ":"
    assert _vertical_lines(ax) == [0.85]        # the estimate's threshold


def test_precision_recall_explicit_threshold_wins_and_curve_frame_accepted():
    curve = pd.DataFrame({"threshold": [0.9, 0.8], "precision": [1.0, 0.5],
                          "recall": [0.5, 1.0], "f1": [0.67, 0.67]})
    fig = plots.precision_recall(curve, threshold=0.8, xlim=(0.5, 1.0))
    assert _vertical_lines(fig.axes[0]) == [0.8]
    assert fig.axes[0].get_xlim() == (0.5, 1.0)


def test_precision_recall_bad_input():
    with pytest.raises(ValueError, match="needs a curve"):
        plots.precision_recall()
    no_curve = solve.evaluate(pd.DataFrame({"left_id": [1], "right_id": [2]}),
                              pd.DataFrame({"left_id": [1], "right_id": [2]}))
    with pytest.raises(pprl.DataError, match="no precision-recall curve"):
        plots.precision_recall(no_curve)
    with pytest.raises(pprl.DataError, match="no column 'f1'"):
        plots.precision_recall(pd.DataFrame({"threshold": [1], "precision": [1], "recall": [1]}))
    with pytest.raises(TypeError, match="ThresholdChoice"):
        plots.precision_recall(estimate=0.8)


def _dp_table() -> pd.DataFrame:
    df = pd.DataFrame({"program": ["A"] * 60 + ["B"] * 30 + ["C"] * 10})
    return disclosure.dp_counts(df, by=["program"], categories={"program": ["A", "B", "C"]},
                                epsilon=1.0, margins=True)


def test_dp_release_bars_and_error_bars_match_the_table():
    table = _dp_table()
    assert disclosure.TOTAL in set(table["program"])
    fig = plots.dp_release(table, "program", exact=np.arange(len(table), dtype=float))
    ax = fig.axes[0]
    rows = table[table["program"] != disclosure.TOTAL]
    bars = ax.containers[0]
    assert [b.get_height() for b in bars] == rows["count"].astype(float).tolist()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "C"]
    (segments,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    half_lengths = [abs(s[1][1] - s[0][1]) / 2 for s in segments.get_segments()]
    np.testing.assert_allclose(half_lengths, rows["moe"].to_numpy())
    dots = [line for line in ax.get_lines() if line.get_label() == "exact (not published)"]
    np.testing.assert_allclose(dots[0].get_ydata(), np.flatnonzero(table["program"]
                                                                   != disclosure.TOTAL))
    assert "epsilon 1" in ax.get_title()


def test_dp_release_means_use_their_interval():
    df = pd.DataFrame({"g": ["x"] * 50 + ["y"] * 50, "v": np.linspace(0, 100, 100)})
    table = disclosure.dp_means(df, by=["g"], value="v", bounds=(0, 100),
                                categories={"g": ["x", "y"]}, epsilon=2.0)
    fig = plots.dp_release(table, "g")
    ax = fig.axes[0]
    (segments,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    ends = [(s[0][1], s[1][1]) for s in segments.get_segments()]
    np.testing.assert_allclose(sorted(min(e) for e in ends), sorted(table["lower"]))
    np.testing.assert_allclose(sorted(max(e) for e in ends), sorted(table["upper"]))
    assert ax.get_title().startswith("mean of v with differential privacy")


def test_dp_release_bad_input():
    table = _dp_table()
    with pytest.raises(pprl.DataError, match="no column 'race'"):
        plots.dp_release(table, "race")
    with pytest.raises(pprl.DataError, match="no column 'moe'"):
        plots.dp_release(table.drop(columns="moe"), "program")
    with pytest.raises(pprl.DataError, match="none of the columns"):
        plots.dp_release(table.drop(columns="count"), "program")
    with pytest.raises(ValueError, match="one value per row of the table"):
        plots.dp_release(table, "program", exact=[1.0, 2.0])
    with pytest.raises(TypeError, match="pandas DataFrame"):
        plots.dp_release([1, 2], "program")


def test_plots_draw_into_given_axes():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plots.dp_release(_dp_table(), "program", ax=right) is fig
    assert plots.similarity_histogram(_candidates(), threshold=0.6, ax=left) is fig
    assert _vertical_lines(left) == [0.6]
