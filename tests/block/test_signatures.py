"""Keyed signatures: pairs sharing a key are always compared, blocks are deterministic."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl
from pprl.block import candidates, key_codes, signature_blocks
from pprl.errors import DataError

from .conftest import noisy_copies, pair_set, strip_keys

KEYS = st.lists(st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3", "k4"])), min_size=1,
                max_size=14)


def with_keys(enc: pprl.Encodings, **keys) -> pprl.Encodings:
    return pprl.Encodings(enc.bits, enc.ids, enc.nbits,
                          block_keys={k: np.array(v, dtype=object) for k, v in keys.items()})


def sharing(left: dict, right: dict | None) -> set[tuple[int, int]]:
    """Pairs that share at least one non-missing key (i < j when deduplicating)."""
    out = set()
    other = left if right is None else right
    for name, lk in left.items():
        rk = other[name]
        for i, x in enumerate(lk):
            for j, y in enumerate(rk):
                if x is not None and x == y and (right is not None or i < j):
                    out.add((i, j))
    return out


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dedup=st.booleans())
def test_pair_sharing_a_key_is_always_compared(data, dedup):
    """With threshold 0 every compared pair is returned: exactly the pairs sharing a key."""
    p1 = data.draw(KEYS)
    p2 = data.draw(st.lists(st.one_of(st.none(), st.text("xy", max_size=2)), min_size=len(p1),
                            max_size=len(p1)))
    rng = np.random.default_rng(len(p1))
    a, b = noisy_copies(rng, len(p1), nbits=64)
    a = with_keys(a, p1=p1, p2=p2)
    right = None
    if not dedup:
        q1 = data.draw(KEYS)
        q2 = data.draw(st.lists(st.one_of(st.none(), st.text("xy", max_size=2)),
                                min_size=len(q1), max_size=len(q1)))
        b = with_keys(noisy_copies(rng, len(q1), nbits=64)[1], p1=q1, p2=q2)
        right = {"p1": q1, "p2": q2}
    cands, report = candidates(a, None if dedup else b, threshold=0.0, blocking="signatures",
                               max_block_pairs=10**9)
    assert pair_set(cands) == sharing({"p1": p1, "p2": p2}, right)
    assert report.method == "signatures"
    again, _ = candidates(a, None if dedup else b, threshold=0.0, blocking="signatures",
                          max_block_pairs=10**9)
    assert again.left.tolist() == cands.left.tolist()
    assert again.right.tolist() == cands.right.tolist()


def test_blocks_are_deterministic(extracts):
    a, b, _ = extracts
    one = signature_blocks(a.block_keys, b.block_keys, n_left=len(a), n_right=len(b))
    two = signature_blocks(a.block_keys, b.block_keys, n_left=len(a), n_right=len(b))
    for name in ("left_offsets", "left_index", "right_offsets", "right_index"):
        assert getattr(one.blocks, name).tolist() == getattr(two.blocks, name).tolist()
    assert one.passes == two.passes
    assert [p.name for p in one.passes] == sorted(a.block_keys)


def test_passes_are_unioned_and_counted(extracts):
    a, b, _ = extracts
    sb = signature_blocks(a.block_keys, b.block_keys, n_left=len(a), n_right=len(b))
    assert sb.comparisons() == sum(p.comparisons for p in sb.passes)
    assert len(sb.blocks) == sum(p.blocks for p in sb.passes)
    singles = [signature_blocks(a.block_keys, b.block_keys, n_left=len(a), n_right=len(b),
                                names=[name]) for name in sorted(a.block_keys)]
    assert [s.passes[0] for s in singles] == list(sb.passes)
    union, _ = candidates(a, b, threshold=0.5, blocking="signatures")
    parts = set()
    for name in sorted(a.block_keys):
        only = with_keys(strip_keys(a), **{name: a.block_keys[name]})
        other = with_keys(strip_keys(b), **{name: b.block_keys[name]})
        parts |= pair_set(candidates(only, other, threshold=0.5, blocking="signatures")[0])
    assert pair_set(union) == parts


def test_key_codes_match_text_across_sides():
    left = np.array(["a", None, "b", "a"], dtype=object)
    right = pa.chunked_array([pa.array(["b", "c"]), pa.array([None, "a"])])
    cl, cr = key_codes("k", left, right)
    assert cl[0] == cl[3] == cr[3] and cl[2] == cr[0] and cl[1] == cr[2] == -1
    assert len({cl[0], cl[2], cr[1]}) == 3
    only, none = key_codes("k", left)
    assert only.tolist() == cl.tolist() and none is None


def test_key_codes_reject_non_text():
    with pytest.raises(DataError, match=r"block keys 'zip' \(right\): keys must be text"):
        key_codes("zip", np.array(["a"], dtype=object), np.array([5], dtype=object))


def test_oversized_blocks_dropped_or_split(rng):
    """One key on every record: the block is oversized; drop finds nothing, split finds pairs."""
    a, b = noisy_copies(rng, 80, nbits=256, flip=0.03)
    a = with_keys(a, same=["x"] * 80, rare=[f"r{i}" if i < 5 else None for i in range(80)])
    b = with_keys(b, same=["x"] * 80, rare=[f"r{i}" if i < 5 else None for i in range(80)])
    dropped, report = candidates(a, b, threshold=0.8, blocking="signatures", oversized="drop",
                                 max_block_pairs=1000)
    assert pair_set(dropped) == {(i, i) for i in range(5)}
    assert report.oversized == 1 and report.oversized_rule == "drop"
    big = next(p for p in report.passes if p.name == "same")
    assert (big.blocks, big.oversized, big.oversized_pairs, big.largest) == (0, 1, 6400, (80, 80))
    assert "1 oversized blocks drop" in str(report)
    split, report = candidates(a, b, threshold=0.8, blocking="signatures", max_block_pairs=1000)
    exact = pprl.compare.dice(a, b, threshold=0.8)
    assert pair_set(split) == pair_set(exact)  # near-copies: LSH inside the block finds them all
    assert report.comparisons < 6400 + 5 and report.lsh is not None
    assert report.largest_blocks[0] == ("same", 80, 80)


def test_missing_keys_never_block(rng):
    a, b = noisy_copies(rng, 4, nbits=64)
    a = with_keys(a, k=[None, None, "z", None])
    b = with_keys(b, k=[None, None, "z", None])
    c, _ = candidates(a, b, threshold=0.0, blocking="signatures")
    assert pair_set(c) == {(2, 2)}


def test_signature_errors(rng):
    a, b = noisy_copies(rng, 4, nbits=64)
    with pytest.raises(DataError, match="needs blocking keys shared by both sides"):
        candidates(a, b, threshold=0.8, blocking="signatures")
    with pytest.raises(DataError, match=r"block keys 'k' \(left\): 3 keys for 4 records"):
        signature_blocks({"k": ["a", "b", "c"]}, {"k": ["a"] * 4}, n_left=4, n_right=4)
    with pytest.raises(ValueError, match="oversized must be one of"):
        signature_blocks({"k": ["a"] * 4}, None, n_left=4, oversized="keep")
    with pytest.raises(ValueError, match="max_block_pairs must be a positive integer"):
        signature_blocks({"k": ["a"] * 4}, None, n_left=4, max_block_pairs=0)
