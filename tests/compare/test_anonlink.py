"""pprl.compare.dice returns exactly anonlink's candidate pairs and scores, on real CLKs."""

from __future__ import annotations

import anonlink
import numpy as np
import pytest

import pprl
from pprl.compare import dice

from .conftest import as_tuple

DICE = anonlink.similarities.dice_coefficient_accelerated


def sort_anonlink(scores, left, right) -> tuple[list, list, list]:
    s, l_, r = np.asarray(scores), np.asarray(left, np.int64), np.asarray(right, np.int64)
    o = np.lexsort((r, l_, -s))
    return l_[o].tolist(), r[o].tolist(), s[o].tolist()


def anonlink_link(a: pprl.Encodings, b: pprl.Encodings, threshold: float):
    scores, _, (left, right) = anonlink.candidate_generation.find_candidate_pairs(
        [a.to_bitarrays(), b.to_bitarrays()], DICE, threshold)
    return sort_anonlink(scores, left, right)


def anonlink_dedup(a: pprl.Encodings, threshold: float):
    """anonlink needs two copies of the data set; keep each unordered pair once (left < right)."""
    clks = a.to_bitarrays()
    scores, _, (left, right) = anonlink.candidate_generation.find_candidate_pairs(
        [clks, clks], DICE, threshold)
    s, l_, r = np.asarray(scores), np.asarray(left, np.int64), np.asarray(right, np.int64)
    keep = l_ < r
    return sort_anonlink(s[keep], l_[keep], r[keep])


@pytest.fixture(scope="module")
def halves(fake_clks):
    """Two overlapping halves of fake_1000 (its clusters span both)."""
    return fake_clks.take(np.arange(0, 600)), fake_clks.take(np.arange(400, 1000))


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0])
def test_linkage_equals_anonlink(halves, threshold):
    a, b = halves
    if threshold == 0.0:  # every pair qualifies: keep anonlink's Python-level merge small
        a, b = a.take(np.arange(250)), b.take(np.arange(250))
    got = dice(a, b, threshold=threshold)
    expected = anonlink_link(a, b, threshold)
    assert as_tuple(got) == expected
    assert len(got) > 0  # the thresholds are chosen where real pairs exist
    assert got.threshold == threshold
    assert got.left_ids is a.ids and got.right_ids is b.ids


@pytest.mark.parametrize("threshold", [0.0, 0.6, 0.8, 0.9])
def test_dedup_equals_anonlink(fake_clks, threshold):
    a = fake_clks.take(np.arange(500))
    got = dice(a, threshold=threshold, workers=2)
    assert as_tuple(got) == anonlink_dedup(a, threshold)
    assert np.all(got.left < got.right)


@pytest.mark.parametrize(("k", "threshold"), [(1, 0.0), (1, 0.7), (3, 0.0), (5, 0.8), (700, 0.5)])
def test_top_k_equals_anonlink_similarity(halves, k, threshold):
    a, b = halves
    scores, (left, right) = DICE([a.to_bitarrays(), b.to_bitarrays()], threshold, k)
    assert as_tuple(dice(a, b, threshold=threshold, top_k=k)) == sort_anonlink(scores, left, right)


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_all_zero_filters_match_anonlink(fake_clks, threshold):
    """Empty filters score 0.0 against anything, as in anonlink (even two empty ones)."""
    zero = np.zeros((3, fake_clks.bits.shape[1]), dtype=np.uint64)
    a = pprl.Encodings(np.concatenate([fake_clks.bits[:40], zero]))
    b = pprl.Encodings(np.concatenate([zero, fake_clks.bits[30:70]]))
    got = dice(a, b, threshold=threshold)
    assert as_tuple(got) == anonlink_link(a, b, threshold)
    both_empty = (got.left >= 40) & (got.right < 3)
    assert both_empty.sum() == (9 if threshold == 0.0 else 0)
    assert np.all(got.score[both_empty] == 0.0)
