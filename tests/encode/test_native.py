"""Native pprl schemas: normalisation, missing values, date parts, field filters, weights, RBF,
xor folding and keyed blocking keys, with known answers computed from first principles."""

from __future__ import annotations

import hashlib
import hmac
import logging

import numpy as np
import pandas as pd
import pytest

import pprl
from pprl.encode import _kernels, default_schema
from pprl.encode.encoder import Encoder
from pprl.encode.normalize import Normalizer, expand
from pprl.secret import hkdf

SECRET = pprl.Secret(b"an agency-shared secret of 32 b.")


def schema(features, **extra) -> pprl.Schema:
    return pprl.Schema.from_dict({"format": "pprl-linkage-schema", "version": 1,
                                  "features": features, **extra})


def norm(spec, values):
    return Normalizer.from_options(expand(spec, "basic"))(values)


def test_normalisation_presets():
    assert norm("name", ["  Dr. Bob  O'Brien-Smith Jr. ", "Zoë", "MR", "ＡＢＣ"]) == \
        ["bob obriensmith", "zoe", "mr", "abc"]
    assert norm({"preset": "name", "nicknames": True}, ["Bill", "Mrs Peggy Sue", "Liz-Ann"]) == \
        ["william", "margaret susan", "lizann"]
    assert norm("address", ["12, Main-St.", "Flat 3/4  Rue de l'Église"]) == \
        ["12 main st", "flat 3 4 rue de l eglise"]
    assert norm("basic", ["  Ｆｕｌｌ   Name ", "Straße"]) == ["full name", "straße"]
    assert norm("none", [" As Is "]) == [" As Is "]
    assert norm({"preset": "none", "case": "upper", "whitespace": "remove"}, ["a b\tc"]) == ["ABC"]
    assert norm({"unicode": "NFC", "accents": "strip"}, ["Ångström"]) == ["angstrom"]


def _bits(enc):
    return [enc.bits[i].tobytes() for i in range(len(enc))]


def test_values_that_normalise_alike_encode_alike():
    s = default_schema()
    df = pd.DataFrame({
        "first_name": ["José", "JOSE ", "jose", "Bob", "Robert", "Joseph"],
        "last_name": ["O'Neil", "ONEIL", "o neil", "Smith Jr", "SMITH", "Oneil"],
        "dob": ["1990-05-17"] * 6, "sex": ["M", "M", "M", "M", "M", "M"],
        "address": ["1 Main St.", "1 MAIN ST", "1 main  st", "x", "x", "1 Main St"],
        "city": ["Köln"] * 6, "zip": ["02139"] * 6,
    })
    enc = pprl.encode.clks(df, s, SECRET)
    b = _bits(enc)
    assert b[0] == b[1] and b[3] == b[4]
    assert b[0] != b[2]  # "o neil" keeps the space: a different token
    assert b[0] != b[5]
    for name, f in enc.fields.items():
        if name != "last_name":
            assert f[0].tobytes() == f[1].tobytes(), name
    assert enc.block_keys["soundex_last_yob"][0] == enc.block_keys["soundex_last_yob"][5]


def test_missing_values_set_no_bits():
    s = schema([{"name": "a", "missing": ["N/A", "unknown"], "normalize": "name"},
                {"name": "d", "type": "date"},
                {"name": "s", "type": "enum", "format": {"values": ["M", "F"]},
                 "field_filter": {"nbits": 64}}],
               blocking=[{"name": "k", "parts": [{"feature": "a"}, {"feature": "d",
                                                                     "transform": "year"}]}])
    df = pd.DataFrame({"a": [None, " N/A ", "", "--", "ann"],
                       "d": [np.nan, "", None, " ", "2000-01-02"],
                       "s": [None, "", None, "", "f"]}, dtype=object)
    enc = pprl.encode.clks(df, s, SECRET)
    assert enc.popcounts.tolist()[:4] == [0, 0, 0, 0] and enc.popcounts[4] > 0
    assert not enc.fields["s"][:4].any() and enc.fields["s"][4].any()
    assert list(enc.block_keys["k"]) == [None, None, None, None, enc.block_keys["k"][4]]
    assert isinstance(enc.block_keys["k"][4], str) and len(enc.block_keys["k"][4]) == 32


def test_invalid_values_error_or_count_as_missing(caplog):
    feats = [{"name": "s", "type": "enum", "format": {"values": ["M", "F"]}},
             {"name": "z", "format": {"pattern": "[0-9]{5}"}}]
    df = pd.DataFrame({"s": ["M", "u", "F"], "z": ["02139", "2139", "99999"]})
    with pytest.raises(pprl.DataError, match=r"^column 's', row 2: 'u' is not one of 'f', 'm'$"):
        pprl.encode.clks(df, schema(feats), SECRET)
    for f in feats:
        f["on_invalid"] = "missing"
    with caplog.at_level(logging.WARNING, logger="pprl"):
        enc = pprl.encode.clks(df, schema(feats), SECRET)
    assert enc.popcounts[1] == 0 and enc.popcounts[0] > 0
    assert "feature 's': 1 distinct invalid values were treated as missing" in caplog.text
    assert "feature 'z': 1 distinct invalid values" in caplog.text


def _native_positions(key: bytes, token: str, k: int, nbits: int) -> set[int]:
    """The documented native hashing, written out: keyed BLAKE2b, 16 little-endian uint32 per
    digest (salt b"pprl" + block index), each modulo the filter length."""
    out = []
    block = 0
    while len(out) < k:
        d = hashlib.blake2b(token.encode(), key=key, salt=b"pprl" + block.to_bytes(4, "little"))
        out += [int.from_bytes(d.digest()[4 * i : 4 * i + 4], "little") % nbits for i in range(16)]
        block += 1
    return set(out[:k])


def _filter(positions: set[int], nbits: int) -> bytes:
    bits = np.zeros((1, nbits), dtype=bool)
    bits[0, sorted(positions)] = True
    return _kernels.positions_to_words(bits).tobytes()


def test_native_encoding_known_answer():
    """Field filter and CLK of one record, from the secret by hand (HKDF, BLAKE2b, bit order)."""
    s = schema([{"name": "dob", "type": "date", "format": {"date_format": "%d/%m/%Y"},
                 "bits_per_token": 7, "field_filter": {"nbits": 128, "bits_per_token": 3}},
                {"name": "zip", "tokens": {"type": "ngram", "n": 1, "positional": True},
                 "bits_per_feature": 12, "weight": 0.5}],
               encoding={"nbits": 200})
    enc = pprl.encode.clks(pd.DataFrame({"dob": ["17/05/1990"], "zip": ["021"]}), s, SECRET)
    raw = SECRET.expose()

    def key(purpose):
        return hkdf(raw, length=32, salt=None, info=b"pprl/v1/" + purpose, hash_name="sha256")

    ff = set()
    for tok in ("y1990", "m05", "d17"):
        ff |= _native_positions(key(b"field:dob"), tok, 3, 128)
    assert enc.fields["dob"].tobytes() == _filter(ff, 128)
    clk = set()
    for tok in ("y1990", "m05", "d17"):
        clk |= _native_positions(key(b"clk:dob"), tok, 7, 200)
    # zip: bits_per_feature 12 * weight 0.5 = 6 insertions over 3 tokens -> 2 each
    for tok in ("1 0", "2 2", "3 1"):
        clk |= _native_positions(key(b"clk:zip"), tok, 2, 200)
    assert enc.bits.tobytes() == _filter(clk, 200)
    assert enc.to_clkhash()[0] == pprl.Encodings.from_clkhash(enc.to_clkhash(), nbits=200) \
        .to_clkhash()[0]


def test_date_parts_share_year_and_month():
    s = schema([{"name": "dob", "type": "date", "field_filter": {"nbits": 256}}])
    enc = pprl.encode.clks(pd.DataFrame({"dob": ["1990-05-17", "1990-05-18", "1991-06-17"]}), s,
                           SECRET)
    f = enc.fields["dob"]
    shared_day_differs = np.bitwise_count(f[0] & f[1]).sum()
    shared_two_differ = np.bitwise_count(f[0] & f[2]).sum()
    assert shared_day_differs > shared_two_differ > 0


def test_weights_scale_insertions_and_zero_leaves_the_clk():
    base = [{"name": "a", "bits_per_token": 10}, {"name": "b", "field_filter": {"nbits": 64}}]
    df = pd.DataFrame({"a": ["abcdefgh"], "b": ["qrstuvwx"]})
    light = pprl.encode.clks(df, schema(base), SECRET)
    base[1]["weight"] = 3
    heavy = pprl.encode.clks(df, schema(base), SECRET)
    assert heavy.popcounts[0] > light.popcounts[0]
    base[1]["weight"] = 0
    none = pprl.encode.clks(df, schema(base), SECRET)
    only_a = pprl.encode.clks(df[["a"]], schema(base[:1]), SECRET)
    assert none.bits.tobytes() == only_a.bits.tobytes()
    assert none.fields["b"].tobytes() == light.fields["b"].tobytes()


def test_xor_folding_native():
    feats = [{"name": "a"}, {"name": "d", "type": "date"}]
    df = pd.DataFrame({"a": ["alice", "bob", ""], "d": ["2000-01-01", "1999-12-31", ""]})
    folded = pprl.encode.clks(df, schema(feats, encoding={"nbits": 256},
                                         hardening={"xor_folds": 2}), SECRET)
    flat = pprl.encode.clks(df, schema(feats, encoding={"nbits": 1024}), SECRET)
    assert folded.nbits == 256
    assert np.array_equal(folded.bits, _kernels.fold_rows_ref(flat.bits, 256, 2))


def test_record_level_bloom_filter():
    feats = [{"name": "first", "weight": 1, "field_filter": {"nbits": 128, "bits_per_token": 4}},
             {"name": "last", "weight": 3, "field_filter": {"nbits": 256, "bits_per_token": 4}},
             {"name": "note", "weight": 0}]
    s = schema(feats, encoding={"type": "rbf", "nbits": 500})
    df = pd.DataFrame({"first": ["ann", "ann", "bob"], "last": ["lee", "lee", "lee"],
                       "note": ["x", "y", "z"]})
    enc = pprl.encode.clks(df, s, SECRET)
    assert enc.nbits == 500 and enc.bits.shape == (3, 8)
    assert enc.bits[0].tobytes() == enc.bits[1].tobytes()  # "note" has weight 0: not in the RBF
    maps = Encoder(s, SECRET)._rbf_maps(SECRET.expose())
    src_f, dst_f = maps["first"]
    src_l, dst_l = maps["last"]
    assert (len(src_f), len(src_l)) == (125, 375)
    assert sorted(np.concatenate([dst_f, dst_l]).tolist()) == list(range(500))
    want = _kernels.sample_bits_ref(enc.fields["first"], src_f, dst_f, 128, 500)
    want |= _kernels.sample_bits_ref(enc.fields["last"], src_l, dst_l, 256, 500)
    assert np.array_equal(enc.bits, want)
    again = pprl.encode.clks(df, s, SECRET)
    assert np.array_equal(again.bits, enc.bits)
    other = pprl.encode.clks(df, s, pprl.Secret(b"another secret, also 32 bytes..."))
    assert not np.array_equal(other.bits, enc.bits)


def test_blocking_keys_known_answer():
    s = default_schema()
    df = pprl.datasets.population(4, seed=7)
    df.loc[0, ["first_name", "last_name", "dob", "zip"]] = ["Robert", "Ashcraft", "1990-05-17",
                                                            "02139"]
    df.loc[1, ["first_name", "last_name", "dob", "zip"]] = ["Rob", "Ashcroft", "1990-11-30", None]
    enc = pprl.encode.clks(df, s, SECRET)
    key = hkdf(SECRET.expose(), length=32, salt=None, info=b"pprl/v1/block", hash_name="sha256")

    def expected(name, *parts):
        text = "\x1f".join((name, *parts))
        return hmac.new(key, text.encode(), "sha256").digest()[:16].hex()

    bk = enc.block_keys
    assert bk["soundex_last_yob"][0] == expected("soundex_last_yob", "A261", "1990")
    assert bk["soundex_last_yob"][1] == bk["soundex_last_yob"][0]
    assert bk["first_initial_dob"][0] == expected("first_initial_dob", "r", "19900517")
    assert bk["zip_yob"][0] == expected("zip_yob", "02139", "1990")
    assert bk["zip_yob"][1] is None
    assert bk["metaphone_first_last"][0] == expected("metaphone_first_last", "RBRT", "AXKRFT")
    assert bk["metaphone_first_last"][1] == bk["metaphone_first_last"][0]  # nickname Rob
    raw = {str(v) for v in df.to_numpy().ravel()}
    assert not raw & {str(k) for keys in bk.values() for k in keys}


def test_ids_progress_and_chunked_stream(tmp_path, capsys):
    s = default_schema()
    df = pprl.datasets.population(57, seed=2)
    whole = pprl.encode.clks(df, s, SECRET, id_column="entity_id", progress=True)
    assert "encoding" in capsys.readouterr().err
    assert whole.ids.tolist() == df["entity_id"].tolist()
    by_index = pprl.encode.clks(df.set_index("entity_id"), s, SECRET)
    assert np.array_equal(by_index.bits, whole.bits)
    path = tmp_path / "people.csv"
    df.to_csv(path, index=False)
    frames = pprl.io.iter_table(path, chunk_rows=20)
    parts = list(pprl.encode.clks_chunks(frames, s, SECRET, id_column="entity_id", chunk_rows=8))
    assert [len(p) for p in parts] == [8, 8, 4, 8, 8, 4, 8, 8, 1]
    joined = pprl.Encodings.concat(parts)
    assert np.array_equal(joined.bits, whole.bits)
    for name in whole.fields:
        assert np.array_equal(joined.fields[name], whole.fields[name])
    for name in whole.block_keys:
        assert list(joined.block_keys[name]) == list(whole.block_keys[name])
    out = whole.write(tmp_path / "enc.parquet")
    back = pprl.Encodings.read(out)
    assert back.fingerprint == s.fingerprint
    assert np.array_equal(back.fields["address"], whole.fields["address"])
    assert list(back.block_keys["zip_yob"]) == list(whole.block_keys["zip_yob"])


def test_empty_frame():
    s = default_schema()
    df = pprl.datasets.population(3, seed=2).iloc[:0]
    enc = pprl.encode.clks(df, s, SECRET)
    assert len(enc) == 0 and enc.bits.shape == (0, 16)
    assert enc.fields["sex"].shape == (0, 1) and len(enc.block_keys["zip_yob"]) == 0


def test_integer_numeric_and_enum_features():
    s = schema([{"name": "age", "type": "integer", "format": {"minimum": 0},
                 "tokens": {"type": "numeric", "threshold_distance": 4, "resolution": 2},
                 "field_filter": {"nbits": 64}},
                {"name": "sex", "type": "enum", "format": {"values": ["Male", "Female"]}}])
    df = pd.DataFrame({"age": ["40", " 41", "+40", "90"], "sex": ["male", "MALE ", "Male", "female"]})
    enc = pprl.encode.clks(df, s, SECRET)
    assert enc.bits[0].tobytes() == enc.bits[2].tobytes()
    f = enc.fields["age"]
    assert np.bitwise_count(f[0] & f[1]).sum() > np.bitwise_count(f[0] & f[3]).sum()
    with pytest.raises(pprl.DataError, match=r"column 'age', row 1: '-3' is less than the minimum"):
        pprl.encode.clks(df.assign(age=["-3", "1", "2", "3"]), s, SECRET)


def test_value_cache_stays_bounded(monkeypatch):
    from pprl.encode import encoder

    monkeypatch.setattr(encoder, "VALUE_CACHE_BYTES", 64 * 1024)
    monkeypatch.setattr(encoder, "DEFAULT_CHUNK_ROWS", 50)
    s = schema([{"name": "a", "tokens": {"type": "exact"}}])
    rng = np.random.default_rng(0)
    values = [f"v{x}" for x in rng.integers(0, 5000, 4000)]
    df = pd.DataFrame({"a": values})
    enc_small = Encoder(s, SECRET, chunk_rows=50)
    got = enc_small.encode(df)
    col = enc_small._columns[0]
    assert col.max_values == 512 and col.capacity <= 1024
    want = Encoder(s, SECRET, chunk_rows=4000).encode(df)
    assert np.array_equal(got.bits, want.bits)
