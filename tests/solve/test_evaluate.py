"""Precision, recall, F1, the PR curve, cluster evaluation and the histogram."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import pprl
from pprl.solve import evaluate, histogram, pr_curve


def test_known_answer():
    links = pd.DataFrame({"left_id": ["a", "b", "c", "d"], "right_id": ["w", "x", "z", "y"],
                          "score": [0.95, 0.9, 0.8, 0.7]})
    truth = pd.DataFrame({"left_id": ["a", "b", "d", "e"], "right_id": ["w", "x", "y", "v"]})
    ev = evaluate(links, truth)
    assert (ev.true_positives, ev.false_positives, ev.false_negatives) == (3, 1, 1)
    assert ev.precision == pytest.approx(0.75) and ev.recall == pytest.approx(0.75)
    assert ev.f1 == pytest.approx(0.75)
    curve = ev.curve
    assert curve["threshold"].tolist() == [0.95, 0.9, 0.8, 0.7]
    assert curve["true_positives"].tolist() == [1, 2, 2, 3]
    np.testing.assert_allclose(curve["f1"], [2 / 5, 4 / 6, 4 / 7, 6 / 8])
    assert ev.best["threshold"] == 0.7


def test_ties_share_one_threshold():
    curve = pr_curve(np.array([0.9, 0.8, 0.8, 0.5]), np.array([True, False, True, True]), 4)
    assert curve["threshold"].tolist() == [0.9, 0.8, 0.5]
    assert curve["links"].tolist() == [1, 3, 4]
    assert curve["precision"].tolist() == pytest.approx([1.0, 2 / 3, 3 / 4])
    assert curve["recall"].tolist() == pytest.approx([0.25, 0.5, 0.75])


def test_no_links():
    ev = evaluate(pd.DataFrame({"left_id": [], "right_id": [], "score": []}),
                  pd.DataFrame({"left_id": [1], "right_id": [2]}))
    assert math.isnan(ev.precision) and ev.recall == 0.0 and ev.f1 == 0.0


def test_clusters():
    pred = pd.DataFrame({"entity_id": [0, 0, 0, 1, 2], "dataset": [0, 1, 2, 0, 1],
                         "record_id": ["a", "b", "c", "d", "e"]})
    true = pd.DataFrame({"entity_id": [5, 5, 6, 6, 7], "dataset": [0, 1, 2, 0, 1],
                         "record_id": ["a", "b", "c", "d", "e"]})
    ev = evaluate(pred, true)
    # predicted pairs ab, ac, bc; true pairs ab, cd
    assert (ev.true_positives, ev.false_positives, ev.false_negatives) == (1, 2, 1)
    assert ev.curve is None


def test_bad_input():
    links = pd.DataFrame({"left_id": [1], "right_id": [2], "score": [0.9]})
    with pytest.raises(pprl.DataError, match="truth has no column 'right_id'"):
        evaluate(links, pd.DataFrame({"left_id": [1], "other": [2]}))
    with pytest.raises(TypeError, match="truth must be a pandas DataFrame, got list"):
        evaluate(links, [(1, 2)])
    clusters = pd.DataFrame({"entity_id": [0], "record_id": [1]})
    with pytest.raises(pprl.DataError, match="truth needs columns 'entity_id' and 'record_id'"):
        evaluate(clusters, pd.DataFrame({"left_id": [1], "right_id": [2]}))


def test_histogram():
    from matplotlib.figure import Figure

    c = pprl.Candidates([0, 1, 2, 2], [0, 1, 0, 2], [0.95, 0.9, 0.6, 0.55],
                        left_ids=np.array(["a", "b", "c"]), right_ids=np.array(["x", "y", "z"]))
    truth = pd.DataFrame({"left_id": ["a", "b"], "right_id": ["x", "y"]})
    fig = histogram(c, truth, bins=10)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["non-matches", "matches"]
    # bar heights: two matches and two non-matches in total
    heights = [sum(p.get_height() for p in container) for container in ax.containers]
    assert heights == [2, 2]
    plain = histogram(pprl.solve.greedy(c), log=False)
    assert plain.axes[0].get_legend_handles_labels()[1] == ["pairs"]
    with pytest.raises(TypeError, match=r"histogram needs pprl\.Candidates or a DataFrame"):
        histogram([0.5, 0.6])
