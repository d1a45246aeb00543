"""Hardening: Rule 90, BLIP, balancing, salting, random hashing, field filter and blocking key
policies, profiles. Kernels against their NumPy references, the encoder against the documented
constructions recomputed here from first principles (hmac, hashlib), clkhash's own blakeHash."""

from __future__ import annotations

import copy
import hashlib
import hmac
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl
from pprl.encode import _kernels, default_schema, hardening
from pprl.encode.hashing import Hasher, native_key

SECRET = pprl.Secret(b"an agency-shared secret of 32 b.")
RAW = SECRET.expose()


def schema(features, **extra) -> pprl.Schema:
    return pprl.Schema.from_dict({"format": "pprl-linkage-schema", "version": 1,
                                  "features": features, **extra})


def _key(purpose: str) -> bytes:
    return native_key(RAW, purpose, salt=None, info=None)


def _people(n: int = 40) -> pd.DataFrame:
    a, _, _ = pprl.datasets.extracts(n, n, seed=3, corruption="none")
    return a


# == kernels ========================================================================================
@settings(max_examples=40, deadline=None)
@given(st.integers(8, 200), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_rule90_and_balance_kernels_match_references(nbits, n, seed):
    rng = np.random.default_rng(seed)
    bits = _kernels.positions_to_words(rng.random((n, nbits)) < 0.4)
    assert np.array_equal(_kernels.rule90_rows(bits, nbits), _kernels.rule90_rows_ref(bits, nbits))
    perm = hardening.keyed_permutation(rng.bytes(32), 2 * nbits)
    out = _kernels.balance_rows(bits, nbits, perm)
    assert np.array_equal(out, _kernels.balance_rows_ref(bits, nbits, perm))
    assert (np.bitwise_count(out).sum(axis=1) == nbits).all()


def test_rule90_known_answer():
    bits = np.zeros((1, 8), dtype=bool)
    bits[0, 3] = True  # a single set bit turns into its two neighbours
    out = _kernels.words_to_positions(_kernels.rule90_rows(_kernels.positions_to_words(bits), 8), 8)
    assert np.flatnonzero(out[0]).tolist() == [2, 4]
    bits[0, [0, 7]] = True  # cyclic: bit 0's neighbours are 7 and 1
    out = _kernels.words_to_positions(_kernels.rule90_rows(_kernels.positions_to_words(bits), 8), 8)
    assert np.flatnonzero(out[0]).tolist() == [0, 1, 2, 4, 6, 7]


def test_xoshiro_reference_vector():
    # xoshiro256** from state (1, 2, 3, 4): the published first outputs
    assert _kernels.xoshiro_ref([1, 2, 3, 4], 4) == [11520, 0, 1509978240, 1215971899390074240]


@settings(max_examples=20, deadline=None)
@given(st.integers(8, 130), st.integers(1, 4), st.floats(0.01, 0.49), st.integers(0, 2**32 - 1))
def test_blip_kernel_matches_reference(nbits, n, p, seed):
    rng = np.random.default_rng(seed)
    bits = _kernels.positions_to_words(rng.random((n, nbits)) < 0.4)
    seeds = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64)
    thr = np.uint64(int(p * 2**64))
    assert np.array_equal(_kernels.blip_rows(bits, nbits, seeds, thr),
                          _kernels.blip_rows_ref(bits, nbits, seeds, thr))


def test_epsilon_and_flip_probability():
    assert hardening.flip_probability(3.0) == pytest.approx(1 / (1 + math.exp(3)))
    s = default_schema().with_hardening({"blip": {"epsilon": 2.0}})
    assert s.hardening.flip_probability == pytest.approx(1 / (1 + math.e**2))
    assert s.hardening.epsilon == pytest.approx(2.0)
    s = default_schema().with_hardening({"blip": {"flip_probability": 0.1}})
    assert s.hardening.epsilon == pytest.approx(math.log(9))


# == the encoder, step by step ======================================================================
def test_rule90_is_applied_to_the_record_filter():
    df = _people()
    plain = pprl.encode.clks(df, default_schema(), SECRET, id_column="record_id")
    hard = pprl.encode.clks(df, default_schema().with_hardening({"rule90": True}), SECRET,
                            id_column="record_id")
    assert np.array_equal(hard.bits, _kernels.rule90_rows_ref(plain.bits, 1024))
    for name in plain.fields:  # field filters are kept as they are ("keep")
        assert np.array_equal(hard.fields[name], plain.fields[name])
    assert hard.fingerprint != plain.fingerprint


def test_balancing_doubles_the_length_and_is_the_keyed_permutation_of_bits_and_negation():
    df = _people()
    s = default_schema().with_hardening({"balance": True})
    assert (s.nbits, s.clk_nbits) == (2048, 1024)
    plain = pprl.encode.clks(df, default_schema(), SECRET, id_column="record_id")
    hard = pprl.encode.clks(df, s, SECRET, id_column="record_id")
    assert hard.nbits == 2048 and (hard.popcounts == 1024).all()
    perm = hardening.keyed_permutation(_key("harden:balance"), 2048)
    assert np.array_equal(hard.bits, _kernels.balance_rows_ref(plain.bits, 1024, perm))
    assert len(hard.to_clkhash()[0]) == 2 * len(plain.to_clkhash()[0])  # base64 of 256 bytes


def _blip_by_hand(bits: np.ndarray, ids, nbits: int, p: float, key: bytes) -> np.ndarray:
    """The documented construction: HMAC-SHA256(key, "pprl/blip" 0x1f str(id) 0x1f filter bytes)
    seeds xoshiro256**; bit j flips when the j-th output is below p * 2**64."""
    nbytes = (nbits + 7) // 8
    rows = np.ascontiguousarray(bits).view(np.uint8)[:, :nbytes]
    seeds = []
    for i, r in zip(ids, rows, strict=True):
        msg = b"pprl/blip\x1f" + str(i).encode() + b"\x1f" + r.tobytes()
        seeds.append(np.frombuffer(hmac.digest(key, msg, "sha256"), "<u8"))
    return _kernels.blip_rows_ref(bits, nbits, np.array(seeds, dtype=np.uint64),
                                  np.uint64(int(p * 2**64)))


def test_blip_is_keyed_randomised_response_per_record():
    df = _people(60)
    s = default_schema().with_hardening({"blip": {"flip_probability": 0.1}})
    plain = pprl.encode.clks(df, default_schema(), SECRET, id_column="record_id")
    hard = pprl.encode.clks(df, s, SECRET, id_column="record_id")
    want = _blip_by_hand(plain.bits, df["record_id"], 1024, 0.1, _key("harden:blip"))
    assert np.array_equal(hard.bits, want)
    flips = np.bitwise_count(hard.bits ^ plain.bits).sum()
    assert abs(flips / (60 * 1024) - 0.1) < 4 * math.sqrt(0.1 * 0.9 / (60 * 1024))
    again = pprl.encode.clks(df, s, SECRET, id_column="record_id")
    assert np.array_equal(again.bits, hard.bits)  # deterministic given id, values and secret
    twin = pd.concat([df.iloc[:1]] * 2, ignore_index=True).assign(record_id=["x1", "x2"])
    twins = pprl.encode.clks(twin, s, SECRET, id_column="record_id")
    assert twins.bits[0].tobytes() != twins.bits[1].tobytes()  # equal values, other noise
    other = pprl.encode.clks(df, s, pprl.Secret(b"another secret of 32 bytes......"),
                             id_column="record_id")
    assert not np.array_equal(other.bits ^ pprl.encode.clks(
        df, default_schema(), pprl.Secret(b"another secret of 32 bytes......"),
        id_column="record_id").bits, hard.bits ^ plain.bits)


def test_steps_run_in_order_fold_rule90_blip_balance():
    df = _people(20)
    feats = [{"name": "first_name"}, {"name": "dob", "type": "date"}]
    base = schema(feats, encoding={"nbits": 256}, hardening={"xor_folds": 1})
    s = base.with_hardening({"xor_folds": 1, "rule90": True, "balance": True,
                             "blip": {"flip_probability": 0.05}})
    folded = pprl.encode.clks(df, base, SECRET, id_column="record_id").bits
    step = _kernels.rule90_rows_ref(folded, 256)
    step = _blip_by_hand(step, df["record_id"], 256, 0.05, _key("harden:blip"))
    step = _kernels.balance_rows_ref(step, 256,
                                     hardening.keyed_permutation(_key("harden:balance"), 512))
    assert np.array_equal(pprl.encode.clks(df, s, SECRET, id_column="record_id").bits, step)


def _salted_bits(tokens: list[str], salt: str, nbits: int, k: int, key: bytes) -> np.ndarray:
    h = Hasher("blake2b", nbits, key)
    toks = [(t + "\x1f" + salt.encode().hex()).encode() for t in tokens]
    pos = h.positions(toks, np.array([h.capacity(k)] * len(toks)))
    caps = h.capacity(k)
    bits = np.zeros((1, nbits), dtype=bool)
    for i in range(len(toks)):
        bits[0, pos[i * caps : i * caps + k]] = True
    return _kernels.positions_to_words(bits)


def test_salting_hashes_tokens_with_the_salt():
    feats = [{"name": "name", "normalize": "none", "bits_per_token": 5},
             {"name": "dob", "type": "date", "weight": 0}]
    s = schema(feats, encoding={"nbits": 128},
               hardening={"salt": {"feature": "dob", "transform": "year"}})
    assert s.hardening.salt.features == ("name",)
    df = pd.DataFrame({"name": ["ab", "ab", "ab"],
                       "dob": ["1990-01-02", "1990-12-31", "1991-01-02"]})
    enc = pprl.encode.clks(df, s, SECRET)
    want = _salted_bits([" a", "ab", "b "], "1990", 128, 5, _key("clk:name"))
    assert enc.bits[0].tobytes() == want[0].tobytes() == enc.bits[1].tobytes()
    assert enc.bits[2].tobytes() != enc.bits[0].tobytes()  # another year, other bits
    unsalted = pprl.encode.clks(df, schema(feats, encoding={"nbits": 128}), SECRET)
    assert unsalted.bits[0].tobytes() == unsalted.bits[2].tobytes()


def test_salting_a_missing_value():
    feats = [{"name": "name"}, {"name": "dob", "type": "date"}]
    df = pd.DataFrame({"name": ["ann", "bob", "cy"], "dob": ["1990-01-02", None, "1991-05-05"]})
    strict = schema(feats, hardening={"salt": {"feature": "dob", "transform": "year"}})
    with pytest.raises(pprl.DataError, match=r"column 'dob', row 2: no value to salt with"):
        pprl.encode.clks(df, strict, SECRET)
    lenient = schema(feats, hardening={"salt": {"feature": "dob", "transform": "year",
                                                "on_missing": "empty"}})
    enc = pprl.encode.clks(df, lenient, SECRET)
    f = lenient.hashed_features[0]
    want = _salted_bits([" b", "bo", "ob", "b "], "", 1024, f.clk.strategy.value,
                        _key("clk:name"))
    assert enc.bits[1].tobytes() == want[0].tobytes()


def test_salting_errors_name_the_row():
    feats = [{"name": "name", "format": {"pattern": "[a-z]+"}}, {"name": "dob", "type": "date"},
             {"name": "zip", "format": {"pattern": "[0-9]+"}}]
    s = schema(feats, hardening={"salt": {"feature": "dob", "transform": "year",
                                          "features": ["name"]}})
    df = pd.DataFrame({"name": ["ann", "ann", "B0B"], "dob": ["1990-01-02"] * 3,
                       "zip": ["1", "x", "2"]})
    with pytest.raises(pprl.DataError, match=r"column 'zip', row 2: 'x' does not match"):
        pprl.encode.clks(df, s, SECRET)
    df["zip"] = "1"
    with pytest.raises(pprl.DataError, match=r"column 'name', row 3: 'B0B' does not match"):
        pprl.encode.clks(df, s, SECRET)
    df = pd.DataFrame({"name": ["ann", "bob"], "dob": ["1990-01-02", "2.2.1990"], "zip": "1"})
    with pytest.raises(pprl.DataError, match=r"column 'dob', row 2"):
        pprl.encode.clks(df, s, SECRET)


def test_salted_encodings_are_the_same_in_chunks_and_streams():
    df = _people(50)
    s = default_schema().with_hardening({"salt": {"feature": "dob", "transform": "year",
                                                  "on_missing": "empty"}})
    whole = pprl.encode.clks(df, s, SECRET, id_column="record_id")
    parts = list(pprl.encode.clks_chunks([df.iloc[:17], df.iloc[17:]], s, SECRET,
                                         id_column="record_id", chunk_rows=7))
    assert np.array_equal(np.concatenate([p.bits for p in parts]), whole.bits)
    for name in whole.fields:  # field filters are salted too
        assert np.array_equal(np.concatenate([p.fields[name] for p in parts]), whole.fields[name])
    plain = pprl.encode.clks(df, default_schema(), SECRET, id_column="record_id")
    assert not np.array_equal(whole.fields["first_name"], plain.fields["first_name"])
    assert np.array_equal(whole.fields["dob"], plain.fields["dob"])  # the salt is not salted


def test_field_filter_and_blocking_policies():
    df = _people(30)
    dropped = pprl.encode.clks(df, default_schema().with_hardening(
        {"field_filters": "drop", "blocking": "drop"}), SECRET, id_column="record_id")
    assert dropped.fields == {} and dropped.block_keys == {}
    plain = pprl.encode.clks(df, default_schema(), SECRET, id_column="record_id")
    assert np.array_equal(dropped.bits, plain.bits)
    s = default_schema().with_hardening({"field_filters": "harden", "rule90": True,
                                         "balance": True})
    hard = pprl.encode.clks(df, s, SECRET, id_column="record_id")
    perm = hardening.keyed_permutation(_key("harden:balance:field:first_name"), 512)
    want = _kernels.balance_rows_ref(_kernels.rule90_rows_ref(plain.fields["first_name"], 256),
                                     256, perm)
    assert np.array_equal(hard.fields["first_name"], want)
    assert hard.block_keys.keys() == plain.block_keys.keys()


def test_record_level_profile_switches_to_rbf():
    s = default_schema().with_hardening({"record_level": True, "field_filters": "drop"})
    assert s.encoding_type == "rbf"
    enc = pprl.encode.clks(_people(10), s, SECRET, id_column="record_id")
    assert enc.fields == {} and enc.popcounts.min() > 0


def test_random_hashing_turns_clkhash_double_hashing_into_clkhash_blake_hashing(clk, make_doc):
    feats = [make_doc.feature("name", {"type": "string"}, {"type": "ngram", "n": 2},
                              {"bitsPerToken": 15}, {"type": "doubleHash"}),
             make_doc.feature("yob", {"type": "integer"}, {"type": "ngram", "n": 1},
                              {"bitsPerToken": 8}, {"type": "doubleHash"})]
    doc = make_doc.doc(feats, l=512)
    rows = [["alice", "1980"], ["bob", "1975"], ["", "2001"]]
    hard = pprl.Schema.from_dict(doc).with_hardening({"random_hashing": True})
    blake_doc = copy.deepcopy(doc)
    for f in blake_doc["features"]:
        f["hashing"]["hash"] = {"type": "blakeHash"}
    got = pprl.encode.clks(clk.frame(doc, rows), hard, pprl.Secret(clk.secret)).to_clkhash()
    assert got == clk.reference(blake_doc, rows)
    assert clk.ours(doc, rows) == clk.reference(doc, rows)  # unhardened: still clkhash's
    assert hard.to_dict()["hardening"] == {"random_hashing": True}
    odd = make_doc.doc(feats, l=500)
    with pytest.raises(pprl.SchemaError, match=r"hardening\.random_hashing: hashing\.hash: blakeHash"):
        pprl.Schema.from_dict(odd).with_hardening({"random_hashing": True})


def test_clkhash_schema_hardening_steps_and_round_trip(clk, make_doc, tmp_path):
    feats = [make_doc.feature("name", {"type": "string"}, {"type": "ngram", "n": 2},
                              {"bitsPerToken": 20})]
    doc = make_doc.doc(feats, l=256)
    base = pprl.Schema.from_dict(doc)
    hard = base.with_hardening({"rule90": True})
    rows = [["alice"], ["bob"]]
    df = clk.frame(doc, rows)
    plain = pprl.encode.clks(df, base, pprl.Secret(clk.secret))
    got = pprl.encode.clks(df, hard, pprl.Secret(clk.secret))
    assert np.array_equal(got.bits, _kernels.rule90_rows_ref(plain.bits, 256))
    path = hard.save(tmp_path / "hard.json")
    assert pprl.Schema.load(path).fingerprint == hard.fingerprint != base.fingerprint
    assert base.with_hardening("none").fingerprint == base.fingerprint
    with pytest.raises(pprl.SchemaError, match=r"clkConfig\.xor_folds"):
        base.with_hardening({"xor_folds": 1})
    with pytest.raises(pprl.SchemaError, match="record_level"):
        base.with_hardening({"record_level": True})


def test_profiles_and_round_trip(tmp_path):
    s = default_schema()
    rec = s.with_hardening("recommended")
    assert rec.with_hardening("recommended").fingerprint == rec.fingerprint
    assert rec.fingerprint != s.fingerprint
    assert rec.to_dict()["hardening"] == {"xor_folds": 0, **hardening.PROFILES["recommended"]}
    h = rec.hardening
    assert h.rule90 and h.flip_probability > 0 and h.field_filters == "drop"
    assert pprl.Schema.load(rec.save(tmp_path / "rec.json")).fingerprint == rec.fingerprint
    assert s.with_hardening("none").fingerprint == s.fingerprint
    assert s.with_hardening({}).fingerprint == s.fingerprint
    with pytest.raises(ValueError, match="unknown hardening profile 'strongest'"):
        s.with_hardening("strongest")
    with pytest.raises(TypeError, match="profile name or a dict"):
        s.with_hardening(3)


@pytest.mark.parametrize(("section", "message"), [
    ({"blip": {}}, "hardening.blip: give epsilon or flip_probability"),
    ({"blip": {"epsilon": 1, "flip_probability": 0.1}}, "give epsilon or flip_probability"),
    ({"blip": {"flip_probability": 0.5}}, r"hardening.blip.flip_probability: 0.5 is greater"),
    ({"salt": {"feature": "zip"}}, r"hardening.salt: no hashed feature named 'zip'"),
    ({"salt": {"feature": "dob", "transform": "soundex"}},
     r"hardening.salt: transform 'soundex' does not apply to a date"),
    ({"salt": {"feature": "dob", "features": ["dob"]}}, "the salt itself"),
    ({"salt": {"feature": "dob", "features": ["nope"]}}, "features: no hashed feature named"),
    ({"field_filters": "encrypt"}, r"hardening.field_filters: 'encrypt' is not one of"),
])
def test_bad_hardening_sections(section, message):
    feats = [{"name": "first_name"}, {"name": "dob", "type": "date"}]
    with pytest.raises(pprl.SchemaError, match=message):
        schema(feats, hardening=section)


def test_hardened_true_matches_stay_similar():
    a, b, truth = pprl.datasets.extracts(300, 300, seed=5)
    s = default_schema().with_hardening("recommended")
    ea = pprl.encode.clks(a, s, SECRET, id_column="record_id")
    eb = pprl.encode.clks(b, s, SECRET, id_column="record_id")
    links = pprl.solve.greedy(pprl.compare.dice(ea, eb, threshold=0.6))
    ev = pprl.solve.evaluate(links, truth)
    assert ev.best["f1"] > 0.95
    assert hashlib.sha256(ea.bits.tobytes()).hexdigest() == hashlib.sha256(
        pprl.encode.clks(a, s, SECRET, id_column="record_id").bits.tobytes()).hexdigest()
