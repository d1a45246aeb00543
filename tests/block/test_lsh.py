"""LSH: kernels against the NumPy reference, collision probabilities, parameter choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.block import LshParams, Members, _kernels, _reference, lsh_pairs, plan_lsh
from pprl.block.lsh import band_keys, bands_for
from pprl.compare._reference import dice_matrix

from .conftest import from_bool, noisy_copies


@pytest.mark.parametrize("family,hashes", [("minhash", 3), ("hamming", 12), ("hamming", 64)])
def test_band_keys_equal_reference(rng, family, hashes):
    bits = from_bool(rng.random((40, 192)) < 0.2).bits
    bits[3] = 0  # an empty row hashes like the definition says (universe as its MinHash)
    rows = np.array([0, 3, 5, 5, 39], dtype=np.int64)
    salts = np.array([0, 0, 0, 7, 2**63], dtype=np.uint64)
    params = LshParams(family, hashes, 4, seed=11)
    for band in range(params.bands):
        got = band_keys(params, band, bits, rows, salts)
        assert got.tolist() == _reference.band_keys(params, band, bits, rows, salts).tolist()
    assert got[2] != got[3]  # the salt separates memberships of one row


def test_minhash_is_first_set_rank(rng):
    bits = from_bool(rng.random((5, 128)) < 0.1).bits
    order = np.stack([rng.permutation(128) for _ in range(6)])
    ranks = _reference.minhashes(bits, order)
    dense = _reference.bit_matrix(bits)
    for i in range(5):
        for j in range(6):
            rank_of = np.argsort(order[j])
            assert ranks[i, j] == rank_of[np.flatnonzero(dense[i])].min()


def test_minhash_agreement_probability_is_jaccard(rng):
    """Over many random permutations one MinHash agrees with probability J (to 3 sigma)."""
    a = np.zeros((1, 128), dtype=bool)
    b = np.zeros((1, 128), dtype=bool)
    a[0, :30] = True
    b[0, 10:40] = True  # |a & b| = 20, |a | b| = 40: J = 0.5, Dice = 2/3
    bits = np.concatenate([from_bool(a).bits, from_bool(b).bits])
    order = np.stack([rng.permutation(128) for _ in range(4000)])
    ranks = _reference.minhashes(bits, order)
    agree = np.mean(ranks[0] == ranks[1])
    assert abs(agree - 0.5) < 3 * np.sqrt(0.25 / 4000)
    params = LshParams("minhash", 1, 1)
    assert params.hash_probability(2 / 3, 60, 128) == pytest.approx(0.5)


def test_hamming_probability_formula():
    p = LshParams("hamming", 4, 10)
    # Dice 0.8 between popcounts 100 and 100: Hamming distance 40 of 1024 positions.
    assert p.hash_probability(0.8, 200, 1024) == pytest.approx(1 - 40 / 1024)
    assert p.find_probability(0.8, 200, 1024) == pytest.approx(1 - (1 - (1 - 40 / 1024) ** 4) ** 10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dedup=st.booleans(), keyspace=st.integers(1, 6),
       threshold=st.sampled_from([0.0, 0.3, 0.6]))
def test_band_join_finds_every_colliding_pair(seed, dedup, keyspace, threshold):
    """Every pair with equal keys and Dice >= threshold is returned once; nothing else is."""
    rng = np.random.default_rng(seed)
    na, nb = int(rng.integers(1, 25)), int(rng.integers(1, 25))
    a_bits = from_bool(rng.random((na, 128)) < rng.uniform(0, 0.5)).bits
    b_bits = a_bits if dedup else from_bool(rng.random((nb, 128)) < rng.uniform(0, 0.5)).bits
    nb = len(b_bits)
    ka = rng.integers(0, keyspace, na).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    kb = ka if dedup else rng.integers(0, keyspace, nb).astype(np.uint64) * np.uint64(
        0x9E3779B97F4A7C15)
    pa = np.bitwise_count(a_bits).sum(axis=1, dtype=np.int32)
    pb = np.bitwise_count(b_bits).sum(axis=1, dtype=np.int32)
    hist = np.zeros(_kernels.HIST_BINS, np.int64)
    known = np.full(na, -1, np.int64)
    li, rj, stats = _kernels.band_join(ka, np.arange(na), a_bits, pa, kb, np.arange(nb), b_bits,
                                       pb, threshold, dedup, 62, known, hist)
    scores = dice_matrix(a_bits, b_bits)
    want = {(i, j) for i in range(na) for j in range(nb)
            if ka[i] == kb[j] and scores[i, j] >= threshold and (not dedup or i < j)}
    got = list(zip(li.tolist(), rj.tolist(), strict=True))
    assert len(got) == len(set(got))
    assert set(got) == want
    collisions = sum(1 for i in range(na) for j in range(nb)
                     if ka[i] == kb[j] and (not dedup or i < j))
    assert stats[0] == collisions
    shared = set(ka.tolist()) & set(kb.tolist())
    groups = [k for k in shared if (dedup and (ka == k).sum() >= 2) or not dedup]
    assert hist.sum() == len(groups)
    # A second pass may only repeat pairs (the memory of found pairs holds one per left row).
    li2, rj2, _ = _kernels.band_join(ka, np.arange(na), a_bits, pa, kb, np.arange(nb), b_bits,
                                     pb, threshold, dedup, 62, known, hist.copy())
    assert set(zip(li2.tolist(), rj2.tolist(), strict=True)) <= want


def test_band_join_remembers_found_pairs(rng):
    """A pair found once is skipped in later bands: with one partner per row, nothing repeats."""
    a, b = noisy_copies(rng, 30, flip=0.05)
    keys = np.arange(30, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    known = np.full(30, -1, np.int64)
    args = (keys, np.arange(30), a.bits, a.popcounts, keys, np.arange(30), b.bits, b.popcounts,
            0.5, False, 60, known)
    li, rj, stats = _kernels.band_join(*args, np.zeros(64, np.int64))
    assert li.tolist() == rj.tolist() and sorted(li.tolist()) == list(range(30))
    assert known.tolist() == list(range(30))
    li, _, stats = _kernels.band_join(*args, np.zeros(64, np.int64))
    assert len(li) == 0 and stats[0] == 30 and stats[1] == 0


@pytest.mark.parametrize("family", ["minhash", "hamming"])
@pytest.mark.parametrize("dedup", [False, True])
def test_lsh_pairs_equal_reference(rng, family, dedup):
    a, b = noisy_copies(rng, 60, nbits=128, flip=0.1)
    params = LshParams(family, 4 if family == "minhash" else 16, 5, seed=3)
    run = lsh_pairs(a, None if dedup else b, params, 0.5, workers=2)
    got = set(zip(run.left.tolist(), run.right.tolist(), strict=True))
    want = _reference.colliding_pairs(params, a.bits, None if dedup else b.bits, 0.5)
    assert got == want
    assert len(got) == len(run.left)
    assert list(zip(run.left, run.right, strict=True)) == sorted(got)


def test_lsh_is_deterministic_and_seeded(rng):
    a, b = noisy_copies(rng, 300, flip=0.12)
    p = LshParams("minhash", 6, 8, seed=1)
    one = lsh_pairs(a, b, p, 0.7, workers=1)
    two = lsh_pairs(a, b, p, 0.7, workers=2)
    assert one.left.tolist() == two.left.tolist() and one.right.tolist() == two.right.tolist()
    assert one.collisions == two.collisions
    keys = [band_keys(LshParams("minhash", 6, 8, seed=s), 0, a.bits, np.arange(5),
                      np.zeros(5, np.uint64)) for s in (1, 2)]
    assert keys[0].tolist() != keys[1].tolist()


def test_lsh_members_restrict_and_salt(rng):
    """Memberships with different salts never meet; a restricted run stays inside its rows."""
    a, b = noisy_copies(rng, 50, flip=0.02)
    p = LshParams("minhash", 2, 6, seed=5)
    left = Members(np.arange(10), np.zeros(10, np.uint64))
    right = Members(np.arange(10), np.ones(10, np.uint64))
    assert len(lsh_pairs(a, b, p, 0.5, left=left, right=right).left) == 0
    right = Members(np.arange(10), np.zeros(10, np.uint64))
    run = lsh_pairs(a, b, p, 0.5, left=left, right=right)
    assert set(run.left.tolist()) <= set(range(10)) and set(run.right.tolist()) <= set(range(10))
    assert {(i, i) for i in range(10)} <= set(zip(run.left.tolist(), run.right.tolist(),
                                                  strict=True))


def test_recall_at_threshold_is_met(rng):
    """Pairs planted at Dice ~ threshold are found at about the guaranteed rate (or better)."""
    a, b = noisy_copies(rng, 400, nbits=512, density=0.3, flip=0.1)
    scores = np.array([dice_matrix(a.bits[i:i + 1], b.bits[i:i + 1])[0, 0] for i in range(400)])
    t = float(np.quantile(scores, 0.1))  # 90 % of the planted pairs at or above the threshold
    plan = plan_lsh(a, b, threshold=t, recall=0.95)
    assert plan.guaranteed_recall >= 0.95
    run = lsh_pairs(a, b, plan.params, t)
    above = np.flatnonzero(scores >= t)
    found = set(zip(run.left.tolist(), run.right.tolist(), strict=True))
    rate = np.mean([(i, i) in found for i in above])
    assert rate >= 0.95 - 3 * np.sqrt(0.05 * 0.95 / len(above))


def test_plan_prefers_fewer_bands_at_higher_thresholds(rng):
    a, b = noisy_copies(rng, 500, nbits=512)
    low = plan_lsh(a, b, threshold=0.7, family="minhash")
    high = plan_lsh(a, b, threshold=0.9, family="minhash")
    assert high.est_collisions < low.est_collisions
    assert low.guaranteed_recall >= 0.99 and high.guaranteed_recall >= 0.99
    ham = plan_lsh(a, b, threshold=0.8, family="hamming")
    assert ham.params.family == "hamming" and ham.reference_popcount > 0
    assert "popcounts <=" in ham.describe()


def test_bands_for():
    assert bands_for(0.5, 0.75) == 2
    assert bands_for(1.0, 0.99) == 1
    assert (1 - (1 - 0.1) ** bands_for(0.1, 0.99)) >= 0.99 > 1 - (1 - 0.1) ** (bands_for(0.1, 0.99) - 1)


@pytest.mark.parametrize("kwargs,match", [
    ({"family": "simhash", "hashes": 2, "bands": 2}, "family"),
    ({"family": "minhash", "hashes": 0, "bands": 2}, "hashes"),
    ({"family": "minhash", "hashes": 2, "bands": 10**6}, "bands"),
    ({"family": "hamming", "hashes": 2, "bands": 2, "seed": -1}, "seed"),
])
def test_params_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LshParams(**kwargs)


def test_plan_validation(rng):
    a, b = noisy_copies(rng, 20)
    with pytest.raises(ValueError, match="recall"):
        plan_lsh(a, b, threshold=0.8, recall=1.0)
    with pytest.raises(ValueError, match="family"):
        plan_lsh(a, b, threshold=0.8, family="bits")
