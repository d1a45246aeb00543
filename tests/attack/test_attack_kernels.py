"""Pattern-mining kernels against their NumPy references, and the attacker's undoing of
balancing and Rule 90."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.attack import _kernels as K
from pprl.attack._data import expected_popcount, undo_balance, undo_rule90
from pprl.encode import _kernels as EK
from pprl.encode.hardening import keyed_permutation


def _planted(rng, n=400, l=96, k=9, share=0.3, density=0.25):  # noqa: E741
    """Random rows plus a pattern of ``k`` positions set in a ``share`` of them."""
    bits = (rng.random((n, l)) < density).astype(np.uint8)
    pos = rng.choice(l, size=k, replace=False)
    rows = rng.random(n) < share
    bits[np.ix_(rows, pos)] = 1
    return bits, np.sort(pos), np.flatnonzero(rows)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_supports_and_packing(n, l, seed):  # noqa: E741
    rng = np.random.default_rng(seed)
    bits = (rng.random((n, l)) < 0.4).astype(np.uint8)
    cols = K.pack_columns(bits)
    full = K.full_mask(n)
    assert np.array_equal(K.supports(cols, full), bits.sum(axis=0))
    assert np.array_equal(K.supports(cols, full), K.supports_ref(cols, full))
    rows = rng.random(n) < 0.5
    mask = K.pack_columns(rows[:, None].astype(np.uint8))[0]
    assert np.array_equal(K.supports(cols, mask), bits[rows].sum(axis=0))
    assert np.array_equal(K.mask_to_rows(mask, n), np.flatnonzero(rows))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_greedy_pattern_matches_reference_and_finds_a_planted_pattern(seed):
    rng = np.random.default_rng(seed)
    bits, pos, rows = _planted(rng)
    cols = K.pack_columns(bits)
    share = bits.mean(axis=0)
    eligible = np.ones(bits.shape[1], dtype=bool)
    low = int(0.8 * len(rows))
    for s in (int(pos[0]), int(rng.integers(bits.shape[1]))):
        got = K.greedy_pattern(cols, share, s, eligible, low)
        want = K.greedy_pattern_ref(cols, share, s, eligible, low)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    chosen, mask = K.greedy_pattern(cols, share, int(pos[0]), eligible, low)
    assert set(pos.tolist()) <= set(np.flatnonzero(chosen).tolist())
    assert set(rows.tolist()) <= set(K.mask_to_rows(mask, bits.shape[0]).tolist())


def test_noisy_greedy_finds_a_pattern_despite_flipped_bits():
    rng = np.random.default_rng(4)
    bits, pos, rows = _planted(rng, n=1500, l=128, k=12)
    bits ^= (rng.random(bits.shape) < 0.05).astype(np.uint8)
    cols = K.pack_columns(bits)
    eligible = np.ones(128, dtype=bool)
    sizes = np.arange(130)
    slack = np.minimum(np.ceil(0.05 * sizes + 2 * np.sqrt(sizes * 0.05 * 0.95)),
                       np.maximum(sizes - 1, 0)).astype(np.int64)
    chosen, mask = K.greedy_pattern_noisy(cols, bits.mean(axis=0), int(pos[0]), eligible,
                                          int(0.7 * len(rows)), slack, 12)
    assert set(np.flatnonzero(chosen).tolist()) == set(pos.tolist())
    found = set(K.mask_to_rows(mask, 1500).tolist())
    assert len(found & set(rows.tolist())) > 0.9 * len(rows)
    hard, _ = K.greedy_pattern(cols, bits.mean(axis=0), int(pos[0]), eligible,
                               int(0.7 * len(rows)))
    assert hard.sum() < 12  # exact co-occurrence breaks under noise


@settings(max_examples=30, deadline=None)
@given(st.integers(8, 160), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_undo_rule90_gives_a_preimage(l, n, seed):  # noqa: E741
    rng = np.random.default_rng(seed)
    x = rng.random((n, l)) < 0.15
    y = EK.words_to_positions(EK.rule90_rows(EK.positions_to_words(x), l), l).astype(np.uint8)
    pre = undo_rule90(y)
    again = EK.words_to_positions(EK.rule90_rows(EK.positions_to_words(pre.astype(bool)), l), l)
    assert np.array_equal(again, y.astype(bool))
    if l >= 64:  # sparse filters: the sparsest preimage is the filter itself
        assert (pre.astype(bool) == x).all(axis=1).mean() >= 0.9


def test_undo_balance_recovers_the_filters():
    rng = np.random.default_rng(1)
    x = rng.random((300, 100)) < 0.3
    perm = keyed_permutation(b"k" * 32, 200)
    bal = EK.words_to_positions(EK.balance_rows(EK.positions_to_words(x), 100, perm), 200)
    got = undo_balance(bal.astype(np.uint8))
    assert got.shape == (300, 100)
    cols = {x[:, j].tobytes() for j in range(100)}
    assert {got[:, j].astype(bool).tobytes() for j in range(100)} == cols
    assert undo_balance(x.astype(np.uint8)) is None


def test_expected_popcount():
    mean, sd = expected_popcount(1, 1, 64)
    assert (mean, sd) == (1.0, 0.0)
    rng = np.random.default_rng(0)
    sim = [len(set(rng.integers(0, 256, size=8 * 6).tolist())) for _ in range(4000)]
    mean, sd = expected_popcount(6, 8, 256)
    assert abs(np.mean(sim) - mean) < 0.2 and abs(np.std(sim) - sd) < 0.2
