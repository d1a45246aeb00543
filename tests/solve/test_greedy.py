"""Greedy one-to-one matching: anonlink's greedy solver, bipartite case."""

from __future__ import annotations

import anonlink
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl
from pprl.solve._greedy import greedy_mask, greedy_reference

from .conftest import random_candidates, to_anonlink


def anonlink_pairs(cands: pprl.Candidates) -> set[tuple[int, int]]:
    groups = anonlink.solving.greedy_solve(to_anonlink(cands))
    return set(anonlink.solving.pairs_from_groups(groups))


def test_known_answer():
    # (0,0) 0.9 first; (0,1) and (1,0) blocked; (1,1) 0.5 taken; ties broken by left then right
    c = pprl.Candidates([0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 2, 3], [0.9, 0.8, 0.8, 0.5, 0.7, 0.7],
                        left_ids=np.array(["a", "b", "c"]), right_ids=np.array(["w", "x", "y", "z"]))
    links = pprl.solve.greedy(c)
    assert list(links.columns) == ["left_id", "right_id", "score"]
    assert links.to_dict("records") == [
        {"left_id": "a", "right_id": "w", "score": 0.9},
        {"left_id": "c", "right_id": "y", "score": 0.7},
        {"left_id": "b", "right_id": "x", "score": 0.5},
    ]


def test_greedy_is_not_optimal_on_purpose():
    # greedy takes 0.9 and loses the two 0.8s: total 0.9 + 0.1 instead of 1.6
    c = pprl.Candidates([0, 0, 1, 1], [0, 1, 0, 1], [0.9, 0.8, 0.8, 0.1])
    assert sorted(pprl.solve.greedy(c)["score"]) == [0.1, 0.9]
    assert sorted(pprl.solve.optimal(c)["score"]) == [0.8, 0.8]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 25), st.integers(1, 25), st.integers(0, 200), st.integers(2, 30),
       st.integers(0, 2**32 - 1))
def test_equals_anonlink_greedy_solve(n_left, n_right, n_pairs, levels, seed):
    cands = random_candidates(np.random.default_rng(seed), n_left, n_right, n_pairs, levels)
    mask = greedy_mask(cands)
    ours = set(zip(cands.left[mask].tolist(), cands.right[mask].tolist(), strict=True))
    assert ours == anonlink_pairs(cands)
    np.testing.assert_array_equal(mask, greedy_reference(cands.left, cands.right))


def test_equals_anonlink_on_real_encodings(rng):
    from tests.conftest import random_encodings

    a = random_encodings(rng, 300, 256, density=0.3)
    b = random_encodings(rng, 250, 256, density=0.3)
    cands = pprl.compare.dice(a, b, threshold=0.33)
    assert len(cands) > 1000
    mask = greedy_mask(cands)
    ours = set(zip(cands.left[mask].tolist(), cands.right[mask].tolist(), strict=True))
    assert ours == anonlink_pairs(cands)


def test_one_to_one_and_sorted(rng):
    cands = random_candidates(rng, 40, 30, 500)
    links = pprl.solve.greedy(cands)
    assert links["left_id"].is_unique and links["right_id"].is_unique
    assert links["score"].is_monotonic_decreasing


def test_threshold_number_is_a_prefix(rng):
    cands = random_candidates(rng, 40, 30, 500)
    full = pprl.solve.greedy(cands)
    cut = pprl.solve.greedy(cands, threshold=0.5)
    pd.testing.assert_frame_equal(cut, full[full["score"] >= 0.5].reset_index(drop=True))


def test_ids_default_to_rows():
    c = pprl.Candidates([2, 0], [1, 1], [0.9, 0.8])
    links = pprl.solve.greedy(c)
    assert links[["left_id", "right_id"]].values.tolist() == [[2, 1]]


def test_empty():
    links = pprl.solve.greedy(pprl.Candidates.empty())
    assert links.empty and list(links.columns) == ["left_id", "right_id", "score"]


@pytest.mark.parametrize("bad, error, message", [
    ("high", ValueError, "threshold must be a number, None or 'auto'"),
    (float("nan"), ValueError, "threshold must be finite"),
    ([0.5], TypeError, "threshold must be a number"),
])
def test_bad_threshold(bad, error, message):
    c = pprl.Candidates([0], [0], [0.9])
    with pytest.raises(error, match=message):
        pprl.solve.greedy(c, threshold=bad)


def test_bad_candidates():
    with pytest.raises(TypeError, match=r"candidates must be pprl\.Candidates, got DataFrame"):
        pprl.solve.greedy(pd.DataFrame({"left": [0], "right": [0], "score": [1.0]}))
    c = pprl.Candidates([0, 5], [0, 1], [0.9, 0.8], left_ids=np.array(["a", "b"]),
                        right_ids=np.array(["x", "y"]))
    with pytest.raises(ValueError, match="left row index 5 is out of range for 2 left ids"):
        pprl.solve.greedy(c)
    with pytest.raises(ValueError, match="scores must be finite"):
        pprl.solve.greedy(pprl.Candidates([0], [0], [np.nan]))
