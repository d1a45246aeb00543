"""pprl.encode.clks(...).to_clkhash() equals clkhash 0.18's CLKs, string for string."""

from __future__ import annotations

import base64
import json
import pkgutil
from importlib import resources

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pprl

NAMES = ["Anna", "anna", "Zoë", "Jean-Luc", "O'Brien", "Ærøskøbing", "李小龙", "Ngọc Ánh", "😀 smile",
         "x", "", "  spaced  ", "ÅSA", "Straße", "a" * 40]
DATES = ["1999-12-31", "2000-02-29", "1970-01-01", "1999-1-5", "1066-10-14", "2024-11-09"]


def _f(make_doc, ident, fmt, comparison, strategy, hash_=None, missing=None):
    return make_doc.feature(ident, fmt, comparison, strategy, hash_, missing)


def test_clkhash_example_schema(clk):
    """clkhash's own example schema (doubleHash, positional unigrams, enum) on its random names."""
    doc = json.loads(pkgutil.get_data("clkhash", "data/randomnames-schema.json"))
    from clkhash.randomnames import NameList

    rows = [list(r) for r in NameList(120).names]
    assert clk.ours(doc, rows) == clk.reference(doc, rows)


def test_shipped_clkhash_example(clk):
    doc = json.loads(resources.files("pprl.encode").joinpath(
        "schemas/clkhash_v3_example.json").read_text())
    rows = [
        ["1", "r1", "Anna", "Smith", "1990-05-17", "F", "12 Main St", "Springfield", "02139"],
        ["2", "r2", "", "Müller", "", "", "", "", ""],
        ["3", "r3", "Bob", "O'Neil", "2001-1-2", "M", "1 A", "Köln", "99999"],
        ["4", "r4", "Anna", "Smith", "1990-05-17", "F", "12 Main St", "Springfield", "02139"],
    ]
    ours = clk.ours(doc, rows)
    assert ours == clk.reference(doc, rows)
    assert ours[0] == ours[3] and ours[0] != ours[2]


SCHEMAS = {
    "blake-bits-per-feature": (
        [("name", {"type": "string"}, {"type": "ngram", "n": 2}, {"bitsPerFeature": 100}, None),
         ("dob", {"type": "date", "format": "%Y-%m-%d"},
          {"type": "ngram", "n": 1, "positional": True}, {"bitsPerFeature": 7}, None)], {}),
    "double-legacy-and-singularity": (
        [("name", {"type": "string", "maxLength": 60}, {"type": "ngram", "n": 3},
          {"bitsPerToken": 9}, {"type": "doubleHash"}),
         ("name2", {"type": "string"}, {"type": "ngram", "n": 2, "positional": True},
          {"bitsPerToken": 4}, {"type": "doubleHash", "prevent_singularity": True})],
        {"l": 1000}),
    "xor-folds": (
        [("name", {"type": "string"}, {"type": "ngram", "n": 2}, {"bitsPerToken": 20}, None),
         ("name2", {"type": "string"}, {"type": "exact"}, {"bitsPerToken": 50},
          {"type": "doubleHash", "prevent_singularity": False})],
        {"l": 256, "xor_folds": 2}),
    "sha512-salt-keysize": (
        [("name", {"type": "string", "encoding": "utf-16"}, {"type": "ngram", "n": 2},
          {"bitsPerToken": 11}, {"type": "blakeHash"}),
         ("name2", {"type": "string", "encoding": "utf-32"}, {"type": "ngram", "n": 1},
          {"bitsPerFeature": 3}, {"type": "doubleHash"})],
        {"l": 512, "kdf": {"hash": "SHA512", "salt": base64.b64encode(b"salt!").decode(),
                           "info": base64.b64encode(b"info").decode(), "keySize": 20}}),
    "exact-many-bits": (
        [("name", {"type": "string"}, {"type": "exact"}, {"bitsPerFeature": 300}, None),
         ("dob", {"type": "date", "format": "%Y-%m-%d"}, {"type": "exact"}, {"bitsPerToken": 70},
          None)], {"l": 2048}),
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_handwritten_schemas(clk, make_doc, name):
    feats, cfg = SCHEMAS[name]
    features = [{"identifier": "rec", "ignored": True}]
    features += [_f(make_doc, *spec) for spec in feats]
    doc = make_doc.doc(features, **cfg)
    rows = []
    for i, nm in enumerate(NAMES * 2):
        row = [str(i)]
        for spec in feats:
            row.append(DATES[i % len(DATES)] if spec[1]["type"] == "date" else nm[::1 + i // 15])
        rows.append(row)
    assert clk.ours(doc, rows) == clk.reference(doc, rows)


def test_missing_value_sentinels(clk, make_doc):
    feats = [
        _f(make_doc, "dob", {"type": "date", "format": "%d/%m/%Y"}, {"type": "ngram", "n": 2},
           {"bitsPerToken": 10}, None, {"sentinel": ""}),
        _f(make_doc, "sex", {"type": "enum", "values": ["M", "F"]}, {"type": "exact"},
           {"bitsPerToken": 20}, None, {"sentinel": "N/A", "replaceWith": "unknown"}),
        _f(make_doc, "age", {"type": "integer", "minimum": 0, "maximum": 120},
           {"type": "numeric", "thresholdDistance": 3, "resolution": 2}, {"bitsPerToken": 8},
           {"type": "doubleHash"}, {"sentinel": "?", "replaceWith": "200"}),
    ]
    doc = make_doc.doc(feats, l=512)
    rows = [["01/02/1990", "M", "33"], ["", "N/A", "?"], ["31/12/1999", "F", " +7 "],
            ["", "F", "007"]]
    assert clk.ours(doc, rows) == clk.reference(doc, rows)


def test_none_and_nan_count_as_empty_string(clk, make_doc):
    feats = [_f(make_doc, "name", {"type": "string"}, {"type": "ngram", "n": 2},
                {"bitsPerToken": 10}),
             _f(make_doc, "dob", {"type": "date", "format": "%Y-%m-%d"}, {"type": "ngram", "n": 1},
                {"bitsPerToken": 10}, None, {"sentinel": "", "replaceWith": "19000101"})]
    doc = make_doc.doc(feats)
    want = clk.reference(doc, [["ann", ""], ["", "2000-01-01"], ["", ""]])
    df = clk.frame(doc, [["ann", None], [float("nan"), "2000-01-01"], [None, float("nan")]])
    got = pprl.encode.clks(df, pprl.Schema.from_dict(doc), pprl.Secret(clk.secret)).to_clkhash()
    assert got == want


def test_numeric_comparisons(clk, make_doc):
    feats = [
        _f(make_doc, "x", {"type": "string"},
           {"type": "numeric", "thresholdDistance": 0.5, "resolution": 3,
            "fractional_precision": 2}, {"bitsPerToken": 6}),
        _f(make_doc, "y", {"type": "integer"},
           {"type": "numeric", "thresholdDistance": 7, "resolution": 1}, {"bitsPerFeature": 13}),
    ]
    doc = make_doc.doc(feats, l=256)
    rows = [["1.25", "10"], ["-3.333", "-4"], ["1e3", "0"], ["7", "1_000"], ["", "99999999999999"]]
    assert clk.ours(doc, rows) == clk.reference(doc, rows)


def test_string_constraints(clk, make_doc):
    feats = [
        _f(make_doc, "up", {"type": "string", "case": "upper", "minLength": 1, "maxLength": 8},
           {"type": "ngram", "n": 2}, {"bitsPerToken": 5}),
        _f(make_doc, "low", {"type": "string", "case": "lower", "encoding": "ascii"},
           {"type": "ngram", "n": 2, "positional": True}, {"bitsPerToken": 5}),
        _f(make_doc, "zip", {"type": "string", "pattern": "[0-9]{4,5}"},
           {"type": "ngram", "n": 1, "positional": True}, {"bitsPerToken": 5}),
    ]
    doc = make_doc.doc(feats, l=128)
    rows = [["ÉCOLE", "école"[1:], "02139"], ["Σ", "abc def", "0213"], ["A1 B2", "", "99999"]]
    assert clk.ours(doc, rows) == clk.reference(doc, rows)


def test_xorfolds_spelling_is_ignored_like_clkhash(clk, make_doc, caplog):
    """clkhash 0.18 reads clkConfig.xor_folds and ignores the documented "xorFolds"."""
    feats = [_f(make_doc, "name", {"type": "string"}, {"type": "ngram", "n": 2},
                {"bitsPerToken": 20})]
    doc = make_doc.doc(feats, l=512, xorFolds=1)
    rows = [["alice"], ["bob"]]
    with caplog.at_level("WARNING", logger="pprl"):
        ours = clk.ours(doc, rows)
    assert ours == clk.reference(doc, rows)
    assert len(base64.b64decode(ours[0])) == 64
    assert "xorFolds" in caplog.text


def test_chunking_and_cache_resets_do_not_change_output(clk, make_doc, monkeypatch):
    from pprl.encode import encoder

    feats = [_f(make_doc, "name", {"type": "string"}, {"type": "ngram", "n": 2},
                {"bitsPerFeature": 30}),
             _f(make_doc, "dob", {"type": "date", "format": "%Y-%m-%d"},
                {"type": "ngram", "n": 1, "positional": True}, {"bitsPerToken": 9},
                {"type": "doubleHash"})]
    doc = make_doc.doc(feats, l=512, xor_folds=1)
    rows = [[NAMES[i % len(NAMES)] + str(i % 7), DATES[i % len(DATES)]] for i in range(300)]
    want = clk.reference(doc, rows)
    assert clk.ours(doc, rows) == want
    monkeypatch.setattr(encoder, "MAX_TOKENS", 3)
    monkeypatch.setattr(encoder, "VALUE_CACHE_BYTES", 1)
    monkeypatch.setattr(encoder, "DEFAULT_CHUNK_ROWS", 5)
    assert clk.ours(doc, rows, chunk_rows=7) == want
    assert clk.ours(doc, rows, chunk_rows=1) == want


# -- property test: random schemas, random values -------------------------------------------------
TEXT = st.text(alphabet=st.sampled_from("abcXYZ éüßÆ李😀-'"), max_size=12)
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%Y%m%d", "%m.%d.%Y", "%d %b %Y"]


@st.composite
def feature_and_values(draw, name):
    kind = draw(st.sampled_from(["string", "string", "pattern", "integer", "date", "enum"]))
    if kind == "string":
        fmt = {"type": "string", **draw(st.sampled_from(
            [{}, {"encoding": "utf-16"}, {"case": "mixed"}, {"maxLength": 12}]))}
        values = TEXT
    elif kind == "pattern":
        pattern = draw(st.sampled_from([r"[0-9]{3,5}", r"[A-Za-z]+( [A-Za-z]+)?", r"\w{1,4}"]))
        fmt, values = {"type": "string", "pattern": pattern}, st.from_regex(pattern, fullmatch=True)
    elif kind == "integer":
        fmt = {"type": "integer", "minimum": -50, "maximum": 5000}
        values = st.tuples(st.integers(-50, 5000), st.sampled_from(["{}", " {} ", "+{}"])).map(
            lambda t: t[1].format(t[0]) if t[0] >= 0 else str(t[0]))
    elif kind == "date":
        date_format = draw(st.sampled_from(DATE_FORMATS))
        fmt = {"type": "date", "format": date_format}
        values = st.dates().map(lambda d: d.strftime(date_format))
    else:
        choices = draw(st.lists(TEXT.filter(bool), min_size=1, max_size=4, unique=True))
        fmt, values = {"type": "enum", "values": choices}, st.sampled_from(choices)
    comparisons = [{"type": "ngram", "n": draw(st.integers(1, 3)),
                    "positional": draw(st.booleans())}, {"type": "exact"}]
    if kind == "integer":
        comparisons.append({"type": "numeric", "thresholdDistance": draw(st.integers(1, 20)),
                            "resolution": draw(st.integers(1, 4))})
    comparison = draw(st.sampled_from(comparisons))
    strategy = draw(st.one_of(st.builds(lambda k: {"bitsPerToken": k}, st.integers(1, 40)),
                              st.builds(lambda k: {"bitsPerFeature": k}, st.integers(1, 200))))
    hash_ = draw(st.sampled_from([None, {"type": "blakeHash"}, {"type": "doubleHash"},
                                  {"type": "doubleHash", "prevent_singularity": True}]))
    missing = draw(st.sampled_from([None, {"sentinel": ""}, {"sentinel": "NA", "replaceWith": "?"}]))
    hashing = {"comparison": comparison, "strategy": strategy}
    if hash_:
        hashing["hash"] = hash_
    if missing:
        hashing["missingValue"] = missing
        values = st.one_of(values, st.just(missing["sentinel"]))
    return {"identifier": name, "format": fmt, "hashing": hashing}, values


@st.composite
def schema_and_rows(draw):
    nfeat = draw(st.integers(1, 3))
    pairs = [draw(feature_and_values(f"f{i}")) for i in range(nfeat)]
    features = [p[0] for p in pairs]
    if draw(st.booleans()):
        features.insert(0, {"identifier": "skip", "ignored": True})
        pairs.insert(0, ({}, st.just("whatever")))
    blake = any(f.get("hashing", {}).get("hash", {"type": "blakeHash"})["type"] == "blakeHash"
                for f in features if "hashing" in f)
    l = draw(st.sampled_from([64, 128, 512, 1024]) if blake else st.integers(8, 1500))  # noqa: E741
    cfg = {"l": l, "kdf": {"type": "HKDF", "hash": draw(st.sampled_from(["SHA256", "SHA512"])),
                           "keySize": draw(st.integers(16, 64))}}
    if draw(st.booleans()):
        cfg["xor_folds"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        cfg["kdf"]["salt"] = base64.b64encode(draw(st.binary(max_size=20))).decode()
    rows = draw(st.lists(st.tuples(*[v for _, v in pairs]).map(list), min_size=1, max_size=25))
    return {"version": 3, "clkConfig": cfg, "features": features}, rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_and_rows())
def test_random_schemas_match_clkhash(clk, doc_rows):
    doc, rows = doc_rows
    try:
        want = clk.reference(doc, rows)
    except Exception as err:  # clkhash rejects the data: so must pprl
        event(f"clkhash rejects: {type(err).__name__}")
        with pytest.raises(pprl.DataError):
            clk.ours(doc, rows)
        return
    event("encoded")
    assert clk.ours(doc, rows) == want


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", object])
def test_text_dtypes_and_the_arrow_path(clk, make_doc, dtype):
    """Mostly-distinct text columns skip Python strings (Arrow buffers straight to n-grams)."""
    feats = [_f(make_doc, "addr", {"type": "string"}, {"type": "ngram", "n": 2},
                {"bitsPerToken": 7}),
             _f(make_doc, "pos", {"type": "string", "encoding": "utf-16"},
                {"type": "ngram", "n": 3, "positional": True}, {"bitsPerFeature": 40},
                {"type": "doubleHash"}, {"sentinel": "N/A"}),
             _f(make_doc, "asc", {"type": "string", "encoding": "ascii"}, {"type": "ngram", "n": 2},
                {"bitsPerToken": 7})]
    doc = make_doc.doc(feats)
    rows = [[f"{i} {NAMES[i % len(NAMES)]} ST", f"N{i}°é" if i % 5 else "N/A", f"a{i}"]
            for i in range(400)]
    rows[7][0] = ""
    want = clk.reference(doc, rows)
    df = clk.frame(doc, rows).astype(dtype)
    df.loc[9, "addr"] = None
    rows[9][0] = ""
    want[9] = clk.reference(doc, [rows[9]])[0]
    got = pprl.encode.clks(df, pprl.Schema.from_dict(doc), pprl.Secret(clk.secret),
                           chunk_rows=150).to_clkhash()
    assert got == want
    df.loc[300, "asc"] = "é"
    with pytest.raises(pprl.DataError, match=r"^column 'asc', row 301: 'é' cannot be encoded"):
        pprl.encode.clks(df, pprl.Schema.from_dict(doc), pprl.Secret(clk.secret), chunk_rows=150)


def test_arrow_path_is_taken():
    import pandas as pd

    from pprl.encode.encoder import Encoder

    doc = {"version": 3, "clkConfig": {"l": 64, "kdf": {"type": "HKDF"}}, "features": [
        {"identifier": "a", "format": {"type": "string"},
         "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 3}}}]}
    enc = Encoder(pprl.Schema.from_dict(doc), pprl.Secret(b"k" * 32))
    calls = []
    col = enc._columns[0]
    original = col.stage_arrow
    col.stage_arrow = lambda *a: calls.append(1) or original(*a)
    enc.encode(pd.DataFrame({"a": [f"x{i}" for i in range(50)]}, dtype="str"))
    assert calls == [1]
