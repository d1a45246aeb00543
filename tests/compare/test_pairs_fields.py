"""score_pairs and the per-field similarity vectors of candidates."""

from __future__ import annotations

import numpy as np
import pytest

import pprl
from pprl import DataError, IncompatibleEncodingsError
from pprl.compare import dice, dice_blocks, score_pairs
from pprl.compare._reference import dice_matrix

from .conftest import from_bool, random_encodings


def test_score_pairs_matches_reference():
    rng = np.random.default_rng(0)
    for nbits in (64, 100, 1024, 4096):
        a = random_encodings(rng, 40, nbits, (0.0, 0.6))
        b = random_encodings(rng, 30, nbits, (0.0, 0.6))
        a.bits[3] = 0
        b.bits[4] = 0
        a = pprl.Encodings(a.bits, nbits=nbits)
        b = pprl.Encodings(b.bits, nbits=nbits)
        li, rj = rng.integers(0, 40, 500), rng.integers(0, 30, 500)
        li[:2], rj[:2] = 3, 4  # both empty: 0.0
        full = dice_matrix(a.bits, b.bits)
        assert score_pairs(a, b, li, rj).tolist() == full[li, rj].tolist()
        assert score_pairs(a, None, li, li[::-1]).tolist() == \
            dice_matrix(a.bits, a.bits)[li, li[::-1]].tolist()


def test_score_pairs_agrees_with_dice(fake_clks):
    cands = dice(fake_clks, threshold=0.7)
    assert score_pairs(fake_clks, None, cands.left, cands.right).tolist() == cands.score.tolist()


def test_score_pairs_errors():
    rng = np.random.default_rng(1)
    a = random_encodings(rng, 5, 128)
    with pytest.raises(DataError, match=r"right\[1\] = 5 is not a row index \(0..4\)"):
        score_pairs(a, a, [0, 1], [0, 5])
    with pytest.raises(DataError, match="left and right must have one length, got 2 and 1"):
        score_pairs(a, a, [0, 1], [0])
    with pytest.raises(DataError, match="left must hold integer row indexes"):
        score_pairs(a, a, [0.5], [0])
    with pytest.raises(IncompatibleEncodingsError, match="different lengths"):
        score_pairs(a, random_encodings(rng, 5, 64), [0], [0])
    assert score_pairs(a, a, [], []).shape == (0,)


def with_fields(rng, n: int, widths: dict[str, int], **kwargs) -> pprl.Encodings:
    fields = {}
    for name, words in widths.items():
        rows = random_encodings(rng, n, words * 64, (0.0, 0.5)).bits
        rows[rng.integers(0, n, 3)] = 0  # missing values
        fields[name] = rows
    base = random_encodings(rng, n, 1024, (0.2, 0.5))
    return pprl.Encodings(base.bits, fields=fields, **kwargs)


def test_field_scores_for_candidates():
    rng = np.random.default_rng(2)
    a = with_fields(rng, 60, {"name": 4, "dob": 2})
    b = with_fields(rng, 50, {"dob": 2, "name": 4})
    cands = dice(a, b, threshold=0.3)
    assert cands.field_names == ("name", "dob") and len(cands) > 20
    assert cands.field_scores.dtype == np.float32 and cands.field_scores.shape == (len(cands), 2)
    for col, name in enumerate(cands.field_names):
        full = dice_matrix(a.fields[name], b.fields[name])
        empty = (np.bitwise_count(a.fields[name]).sum(1)[cands.left] == 0) | \
                (np.bitwise_count(b.fields[name]).sum(1)[cands.right] == 0)
        got = cands.field_scores[:, col]
        assert np.array_equal(np.isnan(got), empty) and empty.any()
        assert np.array_equal(got[~empty], full[cands.left, cands.right][~empty].astype(np.float32))
    frame = cands.to_frame()
    assert {"score_name", "score_dob"} <= set(frame.columns)
    blocks = dice_blocks(a, b, [(np.arange(60), np.arange(50))], threshold=0.3)
    assert np.array_equal(blocks.field_scores, cands.field_scores, equal_nan=True)
    dedup = dice(a, threshold=0.3)
    assert dedup.field_scores.shape == (len(dedup), 2)


def test_fields_option():
    rng = np.random.default_rng(3)
    a = with_fields(rng, 20, {"name": 2})
    plain = random_encodings(rng, 20, 1024, (0.2, 0.5))
    assert dice(a, a, threshold=0.2, fields=False).field_scores is None
    assert dice(a, plain, threshold=0.2).field_scores is None  # auto: only one side has fields
    with pytest.raises(DataError, match=r"fields=True needs the same field filters on both sides; "
                                        r"a has \['name'\], b has \[\]"):
        dice(a, plain, threshold=0.2, fields=True)
    other = with_fields(rng, 20, {"name": 3})
    with pytest.raises(IncompatibleEncodingsError, match="field 'name' has filters of 2 words in a "
                                                          "and 3 in b"):
        dice(a, other, threshold=0.2)
    assert dice(a, a, threshold=0.2, fields=True).field_names == ("name",)


def test_field_scores_of_known_filters():
    name_a = from_bool(np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)).bits
    name_b = from_bool(np.array([[1, 0, 0, 0]], dtype=bool)).bits
    bits = np.ones((2, 1), dtype=np.uint64)
    a = pprl.Encodings(bits, fields={"f": name_a})
    b = pprl.Encodings(bits[:1], fields={"f": name_b})
    cands = dice(a, b, threshold=1.0)
    assert cands.left.tolist() == [0, 1]
    assert cands.field_scores[0, 0] == np.float32(2 / 3) and np.isnan(cands.field_scores[1, 0])


def test_score_pairs_in_several_calls(monkeypatch):
    from pprl.compare import _fields

    rng = np.random.default_rng(4)
    a = random_encodings(rng, 50, 512, (0.0, 0.6))
    li, rj = rng.integers(0, 50, 1000), rng.integers(0, 50, 1000)
    expected = dice_matrix(a.bits, a.bits)[li, rj].tolist()
    monkeypatch.setattr(_fields, "PAIRS_PER_CALL", 64)
    assert score_pairs(a, None, li, rj, workers=2).tolist() == expected
    assert score_pairs(a, None, li, rj, workers=1).tolist() == expected
