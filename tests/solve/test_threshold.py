"""Automatic threshold: no truth used, checked against the truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import pprl
from pprl.solve import choose_threshold
from pprl.solve._threshold import _isotonic, _TailRates, is_dedup

from .conftest import SECRET, generated_candidates


@pytest.mark.parametrize("level, seed", [("low", 3), ("moderate", 4), ("high", 3)])
def test_auto_is_close_to_the_oracle(level, seed):
    cands, truth = generated_candidates(level, 1500, 0.5, seed)
    oracle = pprl.solve.evaluate(pprl.solve.greedy(cands), truth).best
    choice = choose_threshold(cands)
    links = pprl.solve.greedy(cands, threshold="auto")
    ev = pprl.solve.evaluate(links, truth)
    assert links["score"].min() >= choice.threshold
    assert ev.f1 >= oracle["f1"] - 0.01, (ev, oracle)
    # the estimates it reports are near the truth
    assert abs(choice.precision - ev.precision) < 0.03
    assert abs(choice.recall - ev.recall) < 0.05
    assert abs(choice.matches - len(truth)) < 0.06 * len(truth)
    assert choice.method == "one-to-one-tail"
    curve = choice.diagnostics
    assert len(curve["thresholds"]) == len(curve["f1"]) and np.all(np.diff(curve["thresholds"]) > 0)


def test_small_overlap():
    cands, truth = generated_candidates("moderate", 2000, 0.15, 5)
    oracle = pprl.solve.evaluate(pprl.solve.greedy(cands), truth).best
    ev = pprl.solve.evaluate(pprl.solve.greedy(cands, threshold="auto"), truth)
    assert ev.f1 >= oracle["f1"] - 0.02, (ev, oracle)


def test_deduplication():
    a, b, truth = pprl.datasets.extracts(1200, 1200, overlap=0.5, corruption="moderate", seed=8)
    df = pd.concat([a, b], ignore_index=True)
    enc = pprl.encode.clks(df, pprl.encode.default_schema(), SECRET, id_column="record_id")
    cands = pprl.compare.dice(enc, None, threshold=pprl.solve.AUTO_CANDIDATE_THRESHOLD,
                              top_k=pprl.solve.AUTO_TOP_K)
    assert is_dedup(cands)
    choice = choose_threshold(cands)
    assert choice.method == "dedup-split"
    groups = pprl.solve.deduplicate(cands, threshold="auto")
    assert sorted(groups["record_id"]) == sorted(df["record_id"])
    true = pd.concat([pd.DataFrame({"entity_id": np.arange(len(truth)), "record_id": truth[c]})
                      for c in ("left_id", "right_id")])
    singles = sorted(set(df["record_id"]) - set(true["record_id"]))
    true = pd.concat([true, pd.DataFrame({"entity_id": len(truth) + np.arange(len(singles)),
                                          "record_id": singles})])
    ev = pprl.solve.evaluate(groups, true)
    best = max(pprl.solve.evaluate(pprl.solve.deduplicate(cands, threshold=t), true).f1
               for t in np.arange(0.6, 0.95, 0.02))
    assert ev.f1 >= best - 0.02, (ev, best)


def test_all_true_links():
    # every left record has one clear partner and nothing else: keep everything
    n = 200
    c = pprl.Candidates(np.arange(n), np.arange(n), np.linspace(0.9, 1.0, n))
    choice = choose_threshold(c)
    assert choice.threshold == pytest.approx(0.9)
    assert choice.precision == pytest.approx(1.0) and choice.recall == pytest.approx(1.0)


def test_empty_candidates():
    choice = choose_threshold(pprl.Candidates.empty(threshold=0.5))
    assert choice.threshold == 0.5 and math.isnan(choice.f1)
    assert pprl.solve.greedy(pprl.Candidates.empty(), threshold="auto").empty


def test_tail_rate_known_answer():
    # one confident record with candidates 0.9 (rank 0) and 0.8 (rank 1), another with 0.85;
    # record 0's partner (0.99) is not a non-match candidate
    rec = np.array([0, 0, 1])
    score = np.array([0.8, 0.9, 0.85])
    ts = np.array([0.7, 0.82, 0.88, 0.95])
    rho = 0.5
    tails = _TailRates(np.r_[rec, 0], np.r_[score, 0.99], np.array([True, True, True, False]))
    got = tails.rate(np.array([True, True]), ts, rho)
    # P(usable candidate >= t): record 0 -> 1-(1-rho)^k with k candidates >= t; record 1 -> rho
    want = np.array([(0.75 + 0.5) / 2, (0.5 + 0.5) / 2, 0.5 / 2, 0.0])
    np.testing.assert_allclose(got, want)
    # only confident records count
    np.testing.assert_allclose(tails.rate(np.array([False, True]), ts, rho),
                               [0.5, 0.5, 0.0, 0.0])


def test_isotonic():
    np.testing.assert_allclose(_isotonic(np.array([0.1, 0.5, 0.3, 0.9]), np.ones(4)),
                               [0.1, 0.4, 0.4, 0.9])


def test_bad_input():
    c = pprl.Candidates([0], [0], [0.9])
    with pytest.raises(ValueError, match="matches must be a non-negative number, got -3"):
        choose_threshold(c, matches=-3)
    with pytest.raises(TypeError, match=r"candidates must be pprl\.Candidates, got list"):
        choose_threshold([0.9])


def test_no_true_matches_gives_few_links():
    # no record has a partner: the best non-matches must not pass for matches
    cands, truth = generated_candidates("moderate", 2000, 0.0, 9)
    assert len(truth) == 0
    choice = choose_threshold(cands)
    links = pprl.solve.greedy(cands, threshold="auto")
    assert len(links) < 0.05 * 2000, (len(links), choice)
    assert choice.diagnostics["guard"]
    assert choice.diagnostics["spacing_matches"] < 0.1 * 2000
