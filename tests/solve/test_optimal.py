"""Maximum-weight one-to-one matching (scipy LAPJVsp with dummy nodes)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import pprl
from pprl.solve._greedy import greedy_mask
from pprl.solve._optimal import components, optimal_mask

from .conftest import random_candidates


def best_total_dense(cands: pprl.Candidates, n_left: int, n_right: int) -> float:
    """Maximum total weight of a partial matching, by a dense assignment with zero-weight slack."""
    w = np.zeros((n_left, n_right))
    w[cands.left, cands.right] = cands.score
    pad = np.zeros((n_left + n_right, n_left + n_right))
    pad[:n_left, :n_right] = w
    rows, cols = linear_sum_assignment(pad, maximize=True)
    return float(pad[rows, cols].sum())


def brute_force_total(cands: pprl.Candidates) -> float:
    best = 0.0
    pairs = list(zip(cands.left.tolist(), cands.right.tolist(), cands.score.tolist(), strict=True))
    for r in range(len(pairs) + 1):
        for combo in itertools.combinations(pairs, r):
            if len({p[0] for p in combo}) == r and len({p[1] for p in combo}) == r:
                best = max(best, sum(p[2] for p in combo))
    return best


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_maximum_total_weight(n_left, n_right, n_pairs, seed):
    cands = random_candidates(np.random.default_rng(seed), n_left, n_right, n_pairs, levels=7)
    keep = optimal_mask(cands)
    left, right = cands.left[keep], cands.right[keep]
    assert len(set(left.tolist())) == len(left) and len(set(right.tolist())) == len(right)
    total = cands.score[keep].sum()
    assert total == pytest.approx(best_total_dense(cands, n_left, n_right), abs=1e-9)
    assert total >= cands.score[greedy_mask(cands)].sum() - 1e-9


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 9), st.integers(0, 2**32 - 1))
def test_brute_force(n_left, n_right, n_pairs, seed):
    cands = random_candidates(np.random.default_rng(seed), n_left, n_right, n_pairs, levels=5)
    assert cands.score[optimal_mask(cands)].sum() == pytest.approx(brute_force_total(cands))


def test_partial_matching_leaves_records_unmatched():
    # a star: one left record with three right candidates; two isolated pairs elsewhere
    c = pprl.Candidates([0, 0, 0, 1, 2], [0, 1, 2, 3, 4], [0.7, 0.9, 0.8, 0.6, 0.95])
    links = pprl.solve.optimal(c)
    assert sorted(zip(links["left_id"], links["right_id"], strict=True)) == [(0, 1), (1, 3), (2, 4)]


def test_components():
    c = pprl.Candidates([0, 0, 1, 5], [0, 1, 1, 7], [0.9, 0.8, 0.7, 0.6])
    comp, _, _ = components(c)
    by_pair = dict(zip(zip(c.left.tolist(), c.right.tolist(), strict=True), comp.tolist(),
                       strict=True))
    assert by_pair[(0, 0)] == by_pair[(0, 1)] == by_pair[(1, 1)] != by_pair[(5, 7)]


def test_negative_and_large_scores():
    # any real weights: the matching maximises the total, never takes a negative edge
    c = pprl.Candidates([0, 0, 1, 2], [0, 1, 1, 2], [25.0, 24.0, 3.0, -2.0])
    links = pprl.solve.optimal(c)
    assert sorted(links["score"]) == [3.0, 25.0]


def test_threshold_and_columns(rng):
    cands = random_candidates(rng, 30, 30, 300)
    links = pprl.solve.optimal(cands, threshold=0.6)
    assert list(links.columns) == ["left_id", "right_id", "score"]
    assert links["score"].min() >= 0.6
    assert links["score"].is_monotonic_decreasing
    assert links["left_id"].is_unique and links["right_id"].is_unique


def test_empty():
    assert pprl.solve.optimal(pprl.Candidates.empty()).empty
