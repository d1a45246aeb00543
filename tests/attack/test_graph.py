"""The graph-matching attack on similarity graphs, and its building blocks."""

from __future__ import annotations

import numpy as np

from pprl.attack import graph_matching
from pprl.attack.graph import _calibrate, _decide, _dice_matrix


def test_field_filters_of_first_names(lab):
    s, enc = lab.encode(lab.first_only)
    r = graph_matching(enc, lab.names, field="first_name", schema=s, truth=lab.truth,
                       max_nodes=500)
    assert r.rate("correct_one_to_one") > 0.02
    assert r.details["encoded_nodes"] == 500
    s, enc = lab.encode(lab.first_only, "recommended")
    r = graph_matching(enc, lab.names, schema=s, truth=lab.truth, max_nodes=300)
    assert r.rate("correct_one_to_one") <= 0.01


def test_dice_matrix_and_calibration():
    rng = np.random.default_rng(0)
    m = (rng.random((30, 50)) < 0.3).astype(np.float32)
    d = _dice_matrix(m)
    i, j = 3, 7
    want = 2 * (m[i] * m[j]).sum() / (m[i].sum() + m[j].sum())
    assert abs(d[i, j] - want) < 1e-6 and d[i, i] == 0
    target = _dice_matrix((rng.random((30, 80)) < 0.1).astype(np.float32))
    cal = _calibrate(d, target)
    iu = np.triu_indices(30, 1)
    order = np.argsort(d[iu], kind="stable")
    assert (np.diff(cal[iu][order]) >= -1e-6).all()  # monotone
    assert abs(np.median(cal[iu]) - np.median(target[iu])) < 0.02


def test_decisions():
    cost = np.array([[0.0, 5.0, 5.0], [5.0, 0.0, 0.01], [5.0, 0.02, 0.015]])
    out = _decide(cost, margin=0.05, max_many=10)
    assert out[0] == [0]
    assert out[1] == [1] or len(out[1]) > 1
    assert len(out[2]) >= 1
