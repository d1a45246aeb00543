"""Numba kernels against their NumPy references, and the token hashers against clkhash's own."""

from __future__ import annotations

import numpy as np
from clkhash import bloomfilter as ch_bf
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.encode import _kernels
from pprl.encode.features import Ngram, Strategy
from pprl.encode.hashing import Hasher, clkhash_keys

WORDS = st.lists(st.text(alphabet=st.sampled_from("ab Zé李😀"), max_size=7), max_size=12)


@settings(max_examples=60, deadline=None)
@given(WORDS, st.integers(1, 4), st.booleans())
def test_ngram_tokens_match_clkhash(words, n, positional):
    tokens, errors = Ngram(n, positional).tokenize(words)
    assert not errors
    got = [[tokens.strings[t] for t in tokens.occ_tok[a:b]]
           for a, b in zip(tokens.val_off[:-1], tokens.val_off[1:], strict=True)]
    assert got == _kernels.ngram_tokens_ref(words, n, positional)
    from clkhash.comparators import NgramComparison

    assert got == [list(NgramComparison(n, positional).tokenize(w)) for w in words]
    assert len(set(tokens.strings)) == len(tokens.strings)


def test_ngram_intern_table_grows():
    words = [f"{i:05d}" for i in range(3000)]
    tokens, _ = Ngram(3, True).tokenize(words)
    assert len(tokens.strings) == len(set(tokens.strings)) > 1024
    got = [tokens.strings[t] for t in tokens.occ_tok[: tokens.val_off[1]]]
    assert got == _kernels.ngram_tokens_ref(words[:1], 3, True)[0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=20), st.integers(1, 120))
def test_bits_per_feature_spread(counts, bits):
    val_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    s = Strategy("bits_per_feature", bits)
    assert np.array_equal(s.ks(val_off), s.ks_ref(val_off))
    from clkhash.field_formats import BitsPerFeatureStrategy

    want = [k for c in counts if c for k in BitsPerFeatureStrategy(bits).bits_per_token(c)]
    assert s.ks(val_off).tolist() == want
    t = Strategy("bits_per_token", bits)
    assert np.array_equal(t.ks(val_off), t.ks_ref(val_off))


@st.composite
def filter_inputs(draw):
    nbits = draw(st.integers(1, 300))
    ntok = draw(st.integers(1, 10))
    caps = draw(st.lists(st.integers(0, 12), min_size=ntok, max_size=ntok))
    pos = np.array(draw(st.lists(st.integers(0, nbits - 1), min_size=sum(caps),
                                 max_size=sum(caps))), dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(caps)[:-1]]).astype(np.int64)
    counts = draw(st.lists(st.integers(0, 6), min_size=1, max_size=8))
    total = sum(counts)
    occ = draw(st.lists(st.integers(0, ntok - 1), min_size=total, max_size=total))
    ks = [draw(st.integers(0, caps[t])) for t in occ]
    val_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return val_off, np.array(occ, np.int64), np.array(ks, np.int32), start, pos, nbits


@settings(max_examples=60, deadline=None)
@given(filter_inputs())
def test_value_filters(args):
    val_off, occ, ks, start, pos, nbits = args
    got = _kernels.value_filters(val_off, occ, ks, start, pos, (nbits + 63) // 64)
    assert np.array_equal(got, _kernels.value_filters_ref(val_off, occ, ks, start, pos, nbits))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.integers(0, 3), st.integers(0, 5), st.randoms(use_true_random=False))
def test_fold_rows(nbits, folds, n, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2**32))
    bits = rng.random((n, nbits << folds)) < 0.3
    unfolded = _kernels.positions_to_words(bits)
    assert np.array_equal(_kernels.fold_rows(unfolded, nbits),
                          _kernels.fold_rows_ref(unfolded, nbits, folds))


def test_fold_matches_clkhash():
    from bitarray import bitarray

    rng = np.random.default_rng(5)
    for nbits, folds in [(64, 1), (100, 2), (8, 3)]:
        bools = rng.random(nbits << folds) < 0.4
        ba = bitarray(bools.tolist())
        want = ch_bf.fold_xor(ba, folds)
        got = _kernels.fold_rows(_kernels.positions_to_words(bools[None, :]), nbits)
        assert _kernels.words_to_positions(got, nbits)[0].tolist() == want.tolist()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 200), st.integers(1, 300), st.integers(0, 6), st.randoms(use_true_random=False))
def test_sample_bits_and_or_rows(nin, nout, n, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2**32))
    source = _kernels.positions_to_words(rng.random((n, nin)) < 0.5)
    m = rng.integers(0, nout + 1)
    src = rng.integers(0, nin, m).astype(np.int64)
    dst = rng.permutation(nout)[:m].astype(np.int64)
    got = _kernels.sample_bits(source, src, dst, nout)
    assert np.array_equal(got, _kernels.sample_bits_ref(source, src, dst, nin, nout))
    gids = rng.integers(-1, n, 9) if n else np.full(9, -1)
    out = _kernels.positions_to_words(rng.random((9, nout)) < 0.2)
    ref = out.copy()
    _kernels.or_rows(out, got, gids)
    _kernels.or_rows_ref(ref, got, gids)
    assert np.array_equal(out, ref)


def test_bit_layout_is_bitarrays():
    from bitarray import bitarray

    words = _kernels.positions_to_words(np.eye(1, 70, 9, dtype=bool))
    ba = bitarray(70)
    ba.setall(0)
    ba[9] = 1
    assert words.view(np.uint8)[0, :9].tobytes() == ba.tobytes()


TOKENS = st.lists(st.text(max_size=6).map(lambda s: s.encode()), min_size=1, max_size=6,
                  unique=True)


@settings(max_examples=40, deadline=None)
@given(TOKENS, st.integers(1, 80), st.sampled_from([64, 100, 1024, 4096]))
def test_hashers_match_clkhash_token_functions(tokens, k, l):  # noqa: E741
    key1, key2 = clkhash_keys(b"secret", 1, key_size=64, salt=None, info=None,
                              hash_name="sha256")[0]
    caps = np.full(len(tokens), k)
    for scheme, fn in [("double", ch_bf._double_hash_token),
                       ("double_ns", ch_bf._double_hash_token_non_singular)]:
        got = Hasher(scheme, l, key1, key2).positions(tokens, caps).reshape(len(tokens), k)
        for t, row in zip(tokens, got, strict=True):
            md5hm, sha1hm = fn(t, l, key1, key2)
            assert row.tolist() == [(sha1hm + i * md5hm) % l for i in range(k)]
    if l & (l - 1) == 0:
        h = Hasher("blake", l, key1)
        flat = h.positions(tokens, np.full(len(tokens), h.capacity(k)))
        got = flat.reshape(len(tokens), -1)[:, :k]
        for t, row in zip(tokens, got, strict=True):
            assert row.tolist() == ch_bf.blake_hash_token(t, k, key1, l)


def test_double_hash_singularity_is_prevented():
    """Find a token whose MD5 HMAC is 0 mod l: legacy double hashing then sets one bit only."""
    key1, key2 = b"a" * 64, b"b" * 64
    l = 16  # noqa: E741
    tok = next(t for i in range(1000) if (t := str(i).encode())
               and ch_bf._double_hash_token(t, l, key1, key2)[0] == 0)
    legacy = Hasher("double", l, key1, key2).positions([tok], np.array([8]))
    fixed = Hasher("double_ns", l, key1, key2).positions([tok], np.array([8]))
    assert len(set(legacy.tolist())) == 1 and len(set(fixed.tolist())) > 1


def test_clkhash_key_derivation():
    from clkhash.key_derivation import generate_key_lists

    for hash_name, salt, info, size in [("SHA256", None, None, 64), ("SHA512", b"s", b"i", 17)]:
        want = generate_key_lists(b"top secret", 3, key_size=size, salt=salt, info=info,
                                  hash_algo=hash_name)
        got = clkhash_keys(b"top secret", 3, key_size=size, salt=salt, info=info,
                           hash_name=hash_name.lower())
        assert [tuple(k) for k in want] == got


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=150), st.binary(max_size=20),
       st.lists(st.binary(max_size=130), min_size=1, max_size=6), st.integers(1, 4),
       st.integers(1, 32), st.randoms(use_true_random=False))
def test_numba_hmac_sha256_equals_hmac(key, prefix, texts, nparts, nbytes, rnd):
    import hmac

    from pprl.encode._hmac import hmac_sha256_many, to_hex

    combos = np.array([[rnd.randrange(len(texts)) for _ in range(nparts)] for _ in range(5)])
    got = hmac_sha256_many(key, prefix, 0x1F, texts, combos, nbytes)
    want = [hmac.digest(key, prefix + b"\x1f".join(texts[i] for i in row), "sha256")[:nbytes]
            for row in combos]
    assert [g.tobytes() for g in got] == want
    assert list(to_hex(got)) == [w.hex() for w in want]
