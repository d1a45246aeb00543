"""Shared types: Encodings layout and I/O, Candidates ordering, Secret secrecy."""

from __future__ import annotations

import base64
import pickle

import numpy as np
import pytest
from bitarray import bitarray
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl
from pprl.encodings import Encodings
from tests.conftest import random_encodings


def test_clkhash_roundtrip_is_byte_exact(rng):
    raw = [bytes(rng.integers(0, 256, 128, dtype=np.uint8)) for _ in range(5)]
    strings = [base64.b64encode(r).decode() for r in raw]
    enc = Encodings.from_clkhash(strings)
    assert enc.nbits == 1024 and enc.bits.shape == (5, 16) and enc.bits.dtype == np.uint64
    assert enc.to_clkhash() == strings
    assert list(enc.ids) == [0, 1, 2, 3, 4]


@given(nbits=st.integers(1, 700), data=st.data())
@settings(max_examples=40, deadline=None)
def test_bit_order_matches_bitarray(nbits, data):
    bits = data.draw(st.lists(st.booleans(), min_size=nbits, max_size=nbits))
    ba = bitarray(bits, endian="big")
    enc = Encodings.from_clkhash([base64.b64encode(ba.tobytes()).decode()], nbits=nbits)
    assert enc.to_bitarrays()[0] == ba
    assert int(enc.popcounts[0]) == ba.count()
    assert enc.bits.shape[1] == (nbits + 63) // 64


def test_padding_bits_must_be_zero():
    with pytest.raises(ValueError, match="beyond nbits"):
        Encodings(np.array([[1]], dtype=np.uint64) << np.uint64(56), nbits=10)
    Encodings(np.array([[0xC0]], dtype=np.uint64), nbits=10)  # first two bits of byte 0


def test_bad_construction():
    with pytest.raises(TypeError, match="uint64"):
        Encodings(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="2 ids for 3"):
        Encodings(np.zeros((3, 1), dtype=np.uint64), ids=[1, 2])
    with pytest.raises(pprl.DataError, match="different lengths"):
        Encodings.from_clkhash([base64.b64encode(b"ab").decode(), base64.b64encode(b"a").decode()])
    with pytest.raises(pprl.DataError, match="CLK 1 is not valid base64"):
        Encodings.from_clkhash(["AAAA", "!!"])


def test_parquet_roundtrip(tmp_path, rng):
    enc = random_encodings(rng, 300, 1000, ids=[f"r{i}" for i in range(300)])
    enc = Encodings(enc.bits, enc.ids, enc.nbits, fingerprint="abc123",
                    fields={"name": enc.bits[:, :4].copy()},
                    block_keys={"p1": np.array([None if i % 7 == 0 else f"k{i % 5}"
                                                for i in range(300)], dtype=object)})
    path = enc.write(tmp_path / "e.parquet", row_group_size=64)
    back = Encodings.read(path)
    assert back.nbits == 1000 and back.fingerprint == "abc123"
    np.testing.assert_array_equal(back.bits, enc.bits)
    assert list(back.ids) == list(enc.ids)
    np.testing.assert_array_equal(back.fields["name"], enc.fields["name"])
    assert list(back.block_keys["p1"]) == list(enc.block_keys["p1"])
    parts = list(Encodings.iter_read(path, batch_rows=100))
    assert [len(p) for p in parts] == [100, 100, 100]
    np.testing.assert_array_equal(Encodings.concat(parts).bits, enc.bits)
    assert not list(tmp_path.glob(".*tmp"))


def test_json_roundtrip_and_errors(tmp_path, rng):
    enc = random_encodings(rng, 4, 128)
    p = enc.write_json(tmp_path / "clks.json")
    assert Encodings.read_json(p).to_clkhash() == enc.to_clkhash()
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(pprl.DataError, match="not valid JSON"):
        Encodings.read_json(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(pprl.DataError, match="not UTF-8"):
        Encodings.read_json(bad)


def test_read_rejects_foreign_parquet(tmp_path):
    import pandas as pd

    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(pprl.DataError, match="not a pprl encodings file"):
        Encodings.read(tmp_path / "x.parquet")
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(pprl.DataError, match="empty"):
        Encodings.read(tmp_path / "empty.parquet")
    with pytest.raises(pprl.DataError, match="not found"):
        Encodings.read(tmp_path / "missing.parquet")


def test_check_compatible(rng):
    a = random_encodings(rng, 2, 128)
    b = random_encodings(rng, 2, 256)
    with pytest.raises(pprl.IncompatibleEncodingsError, match=r"128 bits.*256 bits"):
        a.check_compatible(b)
    c = Encodings(a.bits, nbits=128, fingerprint="f" * 64)
    d = Encodings(a.bits, nbits=128, fingerprint="0" * 64)
    with pytest.raises(pprl.IncompatibleEncodingsError, match="different schemas"):
        c.check_compatible(d)


def test_candidates_sorted_and_framed():
    c = pprl.Candidates(np.array([2, 0, 1, 0]), np.array([1, 3, 1, 1]),
                        np.array([0.9, 0.95, 0.9, 0.9]),
                        left_ids=np.array(["a", "b", "c"]), right_ids=np.array(["w", "x", "y", "z"]))
    assert list(c.left) == [0, 0, 1, 2] and list(c.right) == [3, 1, 1, 1]
    df = c.to_frame()
    assert list(df.left_id) == ["a", "a", "b", "c"] and list(df.right_id) == ["z", "x", "x", "x"]
    sub = c.select(c.score < 0.95)
    assert len(sub) == 3 and list(sub.left) == [0, 1, 2]


def test_secret_never_shows(tmp_path, monkeypatch):
    key = b"correct horse battery staple!!"
    s = pprl.Secret(key)
    assert key.decode() not in repr(s) and key.decode() not in str(s) and "hidden" in repr(s)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(s)
    with pytest.raises(AttributeError):
        s._key = b"x"
    (tmp_path / "k").write_bytes(key + b"\n")
    assert pprl.Secret.from_file(tmp_path / "k") == s
    (tmp_path / "k2").write_bytes(key + b"\r\n")
    assert pprl.Secret.from_file(tmp_path / "k2") == s
    monkeypatch.setenv("PPRL_TEST_SECRET", key.decode())
    assert pprl.Secret.from_env("PPRL_TEST_SECRET") == s
    assert s.derive(b"a") != s.derive(b"b") and len(s.derive(b"a", 64)) == 64


def test_secret_bad_input(tmp_path, monkeypatch):
    with pytest.raises(pprl.DataError, match="secret file not found"):
        pprl.Secret.from_file(tmp_path / "nope")
    (tmp_path / "e").write_bytes(b"\n")
    with pytest.raises(pprl.DataError, match="secret file is empty"):
        pprl.Secret.from_file(tmp_path / "e")
    monkeypatch.delenv("PPRL_NOPE", raising=False)
    with pytest.raises(pprl.DataError, match="PPRL_NOPE"):
        pprl.Secret.from_env("PPRL_NOPE")
    with pytest.warns(UserWarning, match="shorter than 16 bytes"):
        pprl.Secret(b"short")


def test_hkdf_rfc5869_vector():
    from pprl.secret import hkdf

    ikm = bytes.fromhex("0b" * 22)
    okm = hkdf(ikm, length=42, salt=bytes.fromhex("000102030405060708090a0b0c"),
               info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), hash_name="sha256")
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")


def test_writer_streams_batches_atomically(tmp_path, rng):
    from pprl.encodings import EncodingsWriter

    enc = random_encodings(rng, 250, 200, ids=np.arange(250) + 1000)
    out = tmp_path / "w.parquet"
    with EncodingsWriter(out) as w:
        for start in range(0, 250, 100):
            w.write(enc.take(np.arange(start, min(start + 100, 250))))
    back = Encodings.read(out)
    np.testing.assert_array_equal(back.bits, enc.bits)
    assert list(back.ids) == list(enc.ids) and w.rows == 250

    crashed = tmp_path / "crash.parquet"
    with pytest.raises(RuntimeError), EncodingsWriter(crashed) as w:
        w.write(enc.take([0, 1]))
        raise RuntimeError("killed")
    assert not crashed.exists() and not list(tmp_path.glob(".*tmp"))
    with pytest.raises(pprl.DataError, match="no encodings"), EncodingsWriter(crashed):
        pass
    assert not crashed.exists()
