"""pprl.compare.dice_blocks and Blocks: only pairs that share a block, each once."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl import DataError
from pprl.compare import Blocks, dice, dice_blocks
from pprl.compare._reference import block_pairs

from .conftest import as_tuple, random_encodings, ref_tuple

NBITS = [64, 192, 1000, 1024, 2048]


@st.composite
def blocked(draw, dedup: bool):
    nbits = draw(st.sampled_from(NBITS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 60))
    m = draw(st.integers(1, 60))
    a = random_encodings(rng, n, nbits, (0.0, 0.6))
    b = None if dedup else random_encodings(rng, m, nbits, (0.0, 0.6))
    count = draw(st.integers(0, 12))
    size = draw(st.integers(0, 25))
    if dedup:  # repeats inside a group and across groups are allowed
        blocks = [rng.integers(0, n, rng.integers(0, size + 1)) for _ in range(count)]
    else:
        blocks = [(rng.integers(0, n, rng.integers(0, size + 1)),
                   rng.integers(0, m, rng.integers(0, size + 1))) for _ in range(count)]
    return a, b, blocks


@settings(max_examples=60, deadline=None)
@given(case=blocked(dedup=False), t=st.sampled_from([0.0, 0.2, 0.4, 0.6, 1.0]),
       k=st.sampled_from([None, None, 1, 2]), workers=st.sampled_from([1, 2]))
def test_linkage_blocks_match_reference(case, t, k, workers):
    a, b, blocks = case
    got = dice_blocks(a, b, blocks, threshold=t, top_k=k, workers=workers)
    assert as_tuple(got) == ref_tuple(block_pairs(a.bits, b.bits, blocks, t, k))


@settings(max_examples=60, deadline=None)
@given(case=blocked(dedup=True), t=st.sampled_from([0.0, 0.2, 0.4, 0.6, 1.0]),
       k=st.sampled_from([None, None, 1, 2]), workers=st.sampled_from([1, 2]))
def test_dedup_groups_match_reference(case, t, k, workers):
    a, _, groups = case
    got = dice_blocks(a, None, groups, threshold=t, top_k=k, workers=workers)
    assert as_tuple(got) == ref_tuple(block_pairs(a.bits, None, groups, t, k))
    assert np.all(got.left < got.right)


def test_one_block_of_everything_equals_dice():
    rng = np.random.default_rng(0)
    a = random_encodings(rng, 1500, 1024, (0.1, 0.6))
    b = random_encodings(rng, 1300, 1024, (0.1, 0.6))
    every = Blocks.from_pairs([(np.arange(1500), np.arange(1300))])
    assert as_tuple(dice_blocks(a, b, every, threshold=0.5)) == as_tuple(dice(a, b, threshold=0.5))
    group = Blocks.from_groups([np.arange(1500)])
    assert as_tuple(dice_blocks(a, None, group, threshold=0.5)) == as_tuple(dice(a, threshold=0.5))


def test_from_keys_groups_by_shared_keys():
    blocks = Blocks.from_keys([0, 1, 2, 2, 3], ["x", "y", "x", "z", "q"],
                              [5, 6, 7], ["x", "z", "w"])
    assert len(blocks) == 2 and not blocks.dedup
    got = {(tuple(blocks.left_index[s:e]), tuple(blocks.right_index[r:q]))
           for s, e, r, q in zip(blocks.left_offsets[:-1], blocks.left_offsets[1:],
                                 blocks.right_offsets[:-1], blocks.right_offsets[1:], strict=True)}
    assert got == {((0, 2), (5,)), ((2,), (6,))}
    assert blocks.comparisons() == 3
    groups = Blocks.from_keys([0, 1, 2, 3, 4], [7, 8, 7, 9, 7])
    assert groups.dedup and len(groups) == 1
    assert sorted(groups.left_index.tolist()) == [0, 2, 4] and groups.comparisons() == 3
    assert "1 groups" in repr(groups)


def test_from_keys_matches_explicit_blocks():
    rng = np.random.default_rng(1)
    a = random_encodings(rng, 80, 256, (0.1, 0.6))
    b = random_encodings(rng, 70, 256, (0.1, 0.6))
    ka, kb = rng.integers(0, 6, 80), rng.integers(0, 6, 70)
    by_key = Blocks.from_keys(np.arange(80), ka, np.arange(70), kb)
    explicit = [(np.flatnonzero(ka == k), np.flatnonzero(kb == k)) for k in range(6)]
    assert as_tuple(dice_blocks(a, b, by_key, threshold=0.3)) == \
        ref_tuple(block_pairs(a.bits, b.bits, explicit, 0.3))


def test_csr_arrays_directly():
    rng = np.random.default_rng(2)
    a = random_encodings(rng, 30, 128, (0.2, 0.6))
    blocks = Blocks(np.array([0, 3, 3, 6]), np.array([0, 1, 2, 2, 5, 9]))
    expected = block_pairs(a.bits, None, [[0, 1, 2], [], [2, 5, 9]], 0.0)
    assert as_tuple(dice_blocks(a, None, blocks, threshold=0.0)) == ref_tuple(expected)
    assert len(expected[0]) == 6


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Blocks([0, 2], [0, 1, 2]), r"left_offsets must rise from 0 to 3"),
        (lambda: Blocks([0, 2, 1, 3], [0, 1, 2]), r"left_offsets must rise"),
        (lambda: Blocks([0, 1], [0.5]), r"left_index must be a 1-d integer array"),
        (lambda: Blocks([0, 1], [0], [0, 1]), r"give both right_offsets and right_index"),
        (lambda: Blocks([0, 1], [0], [0, 1, 1], [3]), r"left_offsets describes 1 blocks, "
                                                      r"right_offsets 2"),
        (lambda: Blocks.from_pairs([np.arange(3)]), r"block 0 is not a \(left_rows, right_rows\)"),
        (lambda: Blocks.from_keys([0, 1], ["a"]), r"left_rows and left_keys must have one length"),
    ],
)
def test_bad_blocks(make, message):
    with pytest.raises(DataError, match=message):
        make()


def test_bad_block_rows_and_kinds():
    rng = np.random.default_rng(3)
    a = random_encodings(rng, 10, 64)
    b = random_encodings(rng, 8, 64)
    with pytest.raises(DataError, match=r"blocks.right_index\[1\] = 8 is not a row index \(0..7\)"):
        dice_blocks(a, b, [([0, 1], [2, 8])], threshold=0.5)
    with pytest.raises(DataError, match=r"blocks.left_index\[0\] = -1"):
        dice_blocks(a, None, [[-1, 2]], threshold=0.5)
    with pytest.raises(DataError, match=r"blocks must be groups \(Blocks.from_groups\) when b is "
                                        r"None"):
        dice_blocks(a, None, Blocks.from_pairs([([0], [1])]), threshold=0.5)
    with pytest.raises(DataError, match=r"blocks must be linkage blocks"):
        dice_blocks(a, b, Blocks.from_groups([[0, 1]]), threshold=0.5)
