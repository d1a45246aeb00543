"""pprl.compare.dice against its pure-NumPy twin: properties over sizes, densities and lengths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl
from pprl.compare import _blocks, _engine, dice
from pprl.compare._reference import dice_matrix, dice_pairs

from .conftest import as_tuple, from_bool, random_encodings, ref_tuple

NBITS = [64, 100, 128, 448, 512, 1000, 1024, 2048, 4096]


@st.composite
def encodings_pair(draw, max_rows: int = 40):
    """Two random sets of one length, seeded with empty, full and shared filters."""
    nbits = draw(st.sampled_from(NBITS))
    n = draw(st.integers(0, max_rows))
    m = draw(st.integers(0, max_rows))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.02, 0.2, 0.5, 0.9]))
    a = rng.random((n, nbits)) < rng.uniform(0, density, size=(n, 1))
    b = rng.random((m, nbits)) < rng.uniform(0, density, size=(m, 1))
    for rows in (a, b):
        if len(rows) > 2:
            rows[rng.integers(len(rows))] = False  # an all-zero filter
            rows[rng.integers(len(rows))] = True  # an all-one filter
    shared = min(n, m, draw(st.integers(0, 5)))
    b[:shared] = a[:shared]  # identical filters
    return from_bool(a), from_bool(b)


def threshold_for(draw, scores: np.ndarray) -> float:
    """A threshold from a fixed grid or exactly equal to an attained score (the >= boundary)."""
    grid = [0.0, 0.1, 0.5, 0.8, 1.0]
    if scores.size:
        grid.append(float(draw(st.sampled_from(sorted(set(scores.ravel().tolist()))))))
    return draw(st.sampled_from(grid))


@settings(max_examples=80, deadline=None)
@given(pair=encodings_pair(), data=st.data())
def test_linkage_matches_reference(pair, data):
    a, b = pair
    t = threshold_for(data.draw, dice_matrix(a.bits, b.bits))
    k = data.draw(st.sampled_from([None, None, 1, 2, 50]))
    workers = data.draw(st.sampled_from([1, 2]))
    got = dice(a, b, threshold=t, top_k=k, workers=workers)
    assert as_tuple(got) == ref_tuple(dice_pairs(a.bits, b.bits, t, k))


@settings(max_examples=80, deadline=None)
@given(pair=encodings_pair(), data=st.data())
def test_dedup_matches_reference(pair, data):
    a = pair[0]
    t = threshold_for(data.draw, dice_matrix(a.bits, a.bits))
    k = data.draw(st.sampled_from([None, None, 1, 3]))
    got = dice(a, threshold=t, top_k=k, workers=data.draw(st.sampled_from([1, 2])))
    assert as_tuple(got) == ref_tuple(dice_pairs(a.bits, None, t, k))
    assert np.all(got.left < got.right)


def test_known_scores():
    """Hand-computed Dice values, including the >= boundary and two empty filters."""
    a = from_bool(np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool))
    b = from_bool(np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool))
    got = dice(a, b, threshold=0.0)
    pairs = zip(got.left.tolist(), got.right.tolist(), strict=True)
    scores = dict(zip(pairs, got.score.tolist(), strict=True))
    assert scores[(0, 1)] == 1.0
    assert scores[(0, 0)] == 2 * 1 / 3
    assert scores[(2, 1)] == 2 * 2 / 6
    assert scores[(2, 0)] == 2 * 1 / 5
    assert scores[(1, 2)] == 0.0 and scores[(1, 0)] == 0.0
    assert len(got) == 9
    at = dice(a, b, threshold=2 / 3)
    assert as_tuple(at) == ([0, 0, 2], [1, 0, 1], [1.0, 2 / 3, 2 / 3])


def test_identical_sets_score_one_on_the_diagonal():
    rng = np.random.default_rng(5)
    a = random_encodings(rng, 200, 1024, 0.4)
    got = dice(a, a, threshold=1.0)
    assert as_tuple(got) == (list(range(200)), list(range(200)), [1.0] * 200)
    assert len(dice(a, threshold=1.0)) == 0


def test_empty_sides():
    rng = np.random.default_rng(1)
    a = random_encodings(rng, 10, 256)
    none = a.take(np.array([], dtype=np.int64))
    for got in (dice(a, none, threshold=0.0), dice(none, a, threshold=0.0), dice(none,
                threshold=0.0), dice(a.take([3]), threshold=0.0)):
        assert len(got) == 0 and got.left.dtype == np.int64 and got.score.dtype == np.float64


def test_ordering_and_ids():
    rng = np.random.default_rng(2)
    a = random_encodings(rng, 120, 512, 0.3, ids=[f"a{i}" for i in range(120)])
    b = random_encodings(rng, 90, 512, 0.3, ids=np.arange(1000, 1090))
    got = dice(a, b, threshold=0.3)
    key = list(zip((-got.score).tolist(), got.left.tolist(), got.right.tolist(), strict=True))
    assert key == sorted(key) and len(set(key)) == len(key) > 0
    lid, rid = got.ids()
    assert lid[0] == f"a{got.left[0]}" and rid[0] == 1000 + got.right[0]


def test_small_tiles_chunks_and_buffers(monkeypatch):
    """Tiling, chunking and buffer growth are invisible in the result."""
    rng = np.random.default_rng(3)
    a = random_encodings(rng, 700, 1024, (0.05, 0.7))
    b = random_encodings(rng, 900, 1024, (0.05, 0.7))
    expected = ref_tuple(dice_pairs(a.bits, b.bits, 0.43))
    expected_dedup = ref_tuple(dice_pairs(a.bits, None, 0.43))
    expected_top = ref_tuple(dice_pairs(a.bits, b.bits, 0.4, 7))
    assert len(expected[0]) > 1000  # more than the first buffer holds below
    monkeypatch.setattr(_engine, "TILE_BYTES", 1024)  # the 64-row minimum tile
    monkeypatch.setattr(_engine, "MAX_CHUNK_ROWS", 50)
    monkeypatch.setattr(_engine, "OUT_CAPACITY", 1)
    monkeypatch.setattr(_engine, "GROUP_SLICE", 3)  # the interleaved copy built in many slices
    monkeypatch.setattr(_blocks, "MAX_CHUNK_ROWS", 50)
    assert _engine.tile_rows(16) == 64
    for workers in (1, 2):
        assert as_tuple(dice(a, b, threshold=0.43, workers=workers)) == expected
        assert as_tuple(dice(a, threshold=0.43, workers=workers)) == expected_dedup
        assert as_tuple(dice(a, b, threshold=0.4, top_k=7, workers=workers)) == expected_top


def test_popcount_bounds_are_exact():
    """The pruning table keeps exactly the popcount pairs whose best score reaches the threshold."""
    from pprl.compare._kernels import popcount_bounds

    nbits = 300
    p = np.arange(nbits + 1)[:, None]
    q = np.arange(nbits + 1)[None, :]
    best = np.where(p + q > 0, 2 * np.minimum(p, q) / np.maximum(p + q, 1), 0.0)
    for t in (0.0, 0.3, 0.8, 0.81, 2 / 3, 0.9, 1.0):
        lo, hi = popcount_bounds(nbits, t)
        inside = (q >= lo[:, None]) & (q <= hi[:, None])
        assert np.array_equal(inside, best >= t), t


def test_progress_bar_on_stderr(capsys):
    rng = np.random.default_rng(4)
    a = random_encodings(rng, 50, 128)
    dice(a, a, threshold=0.5, progress=True)
    assert "compare" in capsys.readouterr().err
    dice(a, a, threshold=0.5)
    assert capsys.readouterr().err == ""


def test_workers_default_uses_numba_threads(monkeypatch):
    import numba

    seen = []
    real = _engine.execute

    def spy(calls, workers, progress, desc="compare"):
        seen.append(workers)
        return real(calls, workers, progress, desc)

    monkeypatch.setattr(_engine, "execute", spy)
    rng = np.random.default_rng(6)
    a = random_encodings(rng, 30, 128)
    dice(a, a, threshold=0.5)
    dice(a, a, threshold=0.5, workers=3)
    assert seen == [numba.get_num_threads(), 3]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"threshold": 1.5}, ValueError, "threshold must be in [0, 1], got 1.5"),
        ({"threshold": -0.1}, ValueError, "threshold must be in [0, 1]"),
        ({"threshold": float("nan")}, ValueError, "threshold must be in [0, 1]"),
        ({"threshold": "0.8"}, TypeError, "threshold must be a number"),
        ({"threshold": True}, TypeError, "threshold must be a number"),
        ({"threshold": 0.8, "top_k": 0}, ValueError, "top_k must be a positive integer"),
        ({"threshold": 0.8, "top_k": 2.5}, ValueError, "top_k must be a positive integer"),
        ({"threshold": 0.8, "workers": 0}, ValueError, "workers must be a positive integer"),
        ({"threshold": 0.8, "fields": "yes"}, ValueError, "fields must be True, False or 'auto'"),
    ],
)
def test_bad_parameters(kwargs, error, message):
    a = random_encodings(np.random.default_rng(0), 5, 64)
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        dice(a, a, **kwargs)


def test_threshold_is_keyword_only_and_required():
    a = random_encodings(np.random.default_rng(0), 5, 64)
    with pytest.raises(TypeError):
        dice(a, a, 0.8)
    with pytest.raises(TypeError):
        dice(a, a)


def test_different_lengths_raise():
    rng = np.random.default_rng(0)
    a = random_encodings(rng, 5, 1024)
    b = random_encodings(rng, 5, 512)
    with pytest.raises(pprl.IncompatibleEncodingsError,
                       match="a has 1024 bits, b has 512 bits"):
        dice(a, b, threshold=0.8)
    c = random_encodings(rng, 5, 1000)  # the same number of words, another length
    with pytest.raises(pprl.IncompatibleEncodingsError, match="1024 bits, b has 1000 bits"):
        dice(a, c, threshold=0.8)


def test_different_schemas_raise():
    rng = np.random.default_rng(0)
    a = random_encodings(rng, 5, 128, fingerprint="f" * 64)
    b = random_encodings(rng, 5, 128, fingerprint="0" * 64)
    with pytest.raises(pprl.IncompatibleEncodingsError, match="different schemas"):
        dice(a, b, threshold=0.8)
