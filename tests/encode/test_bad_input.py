"""Bad data: what clkhash rejects pprl rejects too, naming the column and the 1-based data row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pprl
from pprl.encode import default_schema

F = {
    "date": ({"type": "date", "format": "%Y-%m-%d"}, {"type": "ngram", "n": 1}),
    "integer": ({"type": "integer", "minimum": 0, "maximum": 130}, {"type": "exact"}),
    "enum": ({"type": "enum", "values": ["M", "F"]}, {"type": "exact"}),
    "pattern": ({"type": "string", "pattern": "[0-9]{5}"}, {"type": "ngram", "n": 1}),
    "short": ({"type": "string", "minLength": 2}, {"type": "ngram", "n": 2}),
    "long": ({"type": "string", "maxLength": 3}, {"type": "ngram", "n": 2}),
    "upper": ({"type": "string", "case": "upper"}, {"type": "ngram", "n": 2}),
    "lower": ({"type": "string", "case": "lower"}, {"type": "ngram", "n": 2}),
    "ascii": ({"type": "string", "encoding": "ascii"}, {"type": "ngram", "n": 2}),
    "number": ({"type": "string"}, {"type": "numeric", "thresholdDistance": 2, "resolution": 1}),
}
CASES = [
    ("date", "1999-13-01", "'1999-13-01' is not a date in format %Y-%m-%d"),
    ("date", "", "'' is not a date in format %Y-%m-%d"),
    ("date", "1999-02-29", "'1999-02-29' is not a date in format %Y-%m-%d"),
    ("integer", "12a", "'12a' is not an integer"),
    ("integer", "-1", "'-1' is less than the minimum 0"),
    ("integer", "131", "'131' is greater than the maximum 130"),
    ("enum", "X", "'X' is not one of 'F', 'M'"),
    ("pattern", "0213", "'0213' does not match the pattern '[0-9]{5}'"),
    ("short", "a", "'a' is shorter than 2 characters"),
    ("long", "abcd", "'abcd' is longer than 3 characters"),
    ("upper", "Ab", "'Ab' is not upper case"),
    ("lower", "Ab", "'Ab' is not lower case"),
    ("ascii", "é", "'é' cannot be encoded as ascii"),
]


@pytest.mark.parametrize(("kind", "bad", "message"), CASES)
def test_invalid_values_rejected_like_clkhash(clk, make_doc, kind, bad, message):
    fmt, comparison = F[kind]
    good = {"date": "2000-01-01", "integer": "7", "enum": "M", "pattern": "02139", "short": "ab",
            "long": "abc", "upper": "AB", "lower": "ab", "ascii": "ab"}[kind]
    doc = make_doc.doc([
        {"identifier": "id", "ignored": True},
        make_doc.feature("ok", {"type": "string"}, {"type": "ngram", "n": 2}, {"bitsPerToken": 5}),
        make_doc.feature(kind, fmt, comparison, {"bitsPerToken": 5}),
    ])
    rows = [["1", "x", good], ["2", "y", good], ["3", "z", bad], ["4", "w", bad]]
    with pytest.raises(ValueError) as ref:
        clk.reference(doc, rows)
    assert "row 2" in str(ref.value)  # clkhash counts rows from 0
    with pytest.raises(pprl.DataError) as err:
        clk.ours(doc, rows)
    assert str(err.value) == f"column {kind!r}, row 3: {message}"


def test_numeric_comparison_needs_numbers(clk, make_doc):
    """clkhash crashes with a bare ValueError; pprl names the row and the column."""
    fmt, comparison = F["number"]
    doc = make_doc.doc([make_doc.feature("n", fmt, comparison, {"bitsPerToken": 5})])
    rows = [["1.5"], ["abc"]]
    with pytest.raises(ValueError):
        clk.reference(doc, rows)
    with pytest.raises(pprl.DataError, match=r"^column 'n', row 2: 'abc' is not a number$"):
        clk.ours(doc, rows)
    with pytest.raises(pprl.DataError, match=r"row 1: 'inf' is not a finite number"):
        clk.ours(doc, [["inf"]])


def test_earliest_row_wins_across_columns(clk, make_doc):
    doc = make_doc.doc([
        make_doc.feature("a", *F["integer"], {"bitsPerToken": 5}),
        make_doc.feature("b", *F["date"], {"bitsPerToken": 5}),
    ])
    rows = [["1", "2000-01-01"], ["2", "bad"], ["x", "bad"]]
    with pytest.raises(pprl.DataError, match=r"^column 'b', row 2: 'bad' is not a date"):
        clk.ours(doc, rows)
    rows[1][0] = "y"
    with pytest.raises(pprl.DataError, match=r"^column 'a', row 2: 'y' is not an integer"):
        clk.ours(doc, rows)


def test_row_numbers_count_across_chunks(clk, make_doc):
    doc = make_doc.doc([make_doc.feature("d", *F["date"], {"bitsPerToken": 5})])
    rows = [["2000-01-01"]] * 23 + [["2000-01-32"]]
    with pytest.raises(pprl.DataError, match=r"^column 'd', row 24: "):
        clk.ours(doc, rows, chunk_rows=5)
    frames = [clk.frame(doc, rows[:10]), clk.frame(doc, rows[10:])]
    schema, secret = pprl.Schema.from_dict(doc), pprl.Secret(clk.secret)
    with pytest.raises(pprl.DataError, match=r"^column 'd', row 24: "):
        list(pprl.encode.clks_chunks(frames, schema, secret, chunk_rows=4))


def test_missing_columns_are_named_together(make_doc):
    schema = default_schema()
    df = pd.DataFrame({"first_name": ["a"], "zip": ["02139"]})
    with pytest.raises(pprl.DataError) as err:
        pprl.encode.clks(df, schema, pprl.Secret(b"k" * 32))
    msg = str(err.value)
    assert msg.startswith("missing columns 'last_name', 'dob', 'sex', 'address', 'city'")
    assert "'first_name'" in msg.split("the data has")[1]


def test_non_text_columns_are_refused():
    schema = default_schema()
    df = pprl.datasets.population(5, seed=3)
    secret = pprl.Secret(b"k" * 32)
    bad = df.assign(zip=df["zip"].astype(int))
    with pytest.raises(pprl.DataError, match=r"^column 'zip' holds int64 values, not text"):
        pprl.encode.clks(bad, schema, secret)
    mixed = df.astype(object)
    mixed.loc[3, "city"] = 12
    with pytest.raises(pprl.DataError, match=r"^column 'city', row 4: 12 is not text$"):
        pprl.encode.clks(mixed, schema, secret)


def test_bad_arguments():
    schema = default_schema()
    df = pprl.datasets.population(3, seed=1)
    secret = pprl.Secret(b"k" * 32)
    with pytest.raises(TypeError, match="expected a pandas DataFrame"):
        pprl.encode.clks(df.to_dict(), schema, secret)
    with pytest.raises(pprl.DataError, match="id column 'nope' is not in the data"):
        pprl.encode.clks(df, schema, secret, id_column="nope")
    with pytest.raises(ValueError, match="chunk_rows must be at least 1"):
        pprl.encode.clks(df, schema, secret, chunk_rows=0)
    with pytest.raises(TypeError, match=r"schema must be a pprl\.Schema"):
        pprl.encode.Encoder({"features": []}, secret)
    dup = pd.concat([df, df[["zip"]]], axis=1)
    with pytest.raises(pprl.DataError, match="column 'zip' appears more than once"):
        pprl.encode.clks(dup, schema, secret)


def test_secret_never_in_errors_or_reprs(make_doc):
    secret_text = "TOP-SECRET-KEY-VALUE-1234567890"
    doc = make_doc.doc([make_doc.feature("d", *F["date"], {"bitsPerToken": 5})])
    df = pd.DataFrame({"d": ["oops"]})
    with pytest.raises(pprl.DataError) as err:
        pprl.encode.clks(df, pprl.Schema.from_dict(doc), secret_text)
    assert secret_text not in str(err.value)
    enc = pprl.encode.Encoder(pprl.Schema.from_dict(doc), pprl.Secret(secret_text))
    col = enc._columns[0]
    assert secret_text not in repr(col.clk.hasher)
    assert "key" not in repr(col.clk.hasher).lower().replace("hasher", "")
    assert np.all(enc.encode(pd.DataFrame({"d": ["2000-01-01"]})).bits.sum() > 0)


@pytest.mark.parametrize(("feature", "bad", "message"), [
    ({"type": "date", "format": {"date_format": "%d.%m.%Y"}}, "31.02.2001",
     "'31.02.2001' is not a date in format %d.%m.%Y"),
    ({"type": "integer", "format": {"maximum": 9}}, "10", "'10' is greater than the maximum 9"),
    ({"type": "integer"}, "1.5", "'1.5' is not an integer"),
    ({"type": "enum", "format": {"values": ["yes", "no"]}, "normalize": "none"}, "Yes",
     "'Yes' is not one of 'no', 'yes'"),
    ({"format": {"pattern": "[a-z]+"}}, "ab1", "'ab1' does not match the pattern '[a-z]+'"),
    ({"format": {"min_length": 3}, "normalize": "name"}, "Al.", "'Al.' is shorter than 3 characters"),
    ({"format": {"max_length": 3}}, "abcd", "'abcd' is longer than 3 characters"),
    ({"tokens": {"type": "numeric", "threshold_distance": 1, "resolution": 1}}, "x1",
     "'x1' is not a number"),
])
def test_native_invalid_values(feature, bad, message):
    schema = pprl.Schema.from_dict({"format": "pprl-linkage-schema", "version": 1,
                                    "features": [{"name": "v", **feature}]})
    good = {"date": "01.02.2001", "integer": "7", "enum": "yes"}.get(feature.get("type"), "abc")
    if "tokens" in feature:
        good = "12"
    df = pd.DataFrame({"v": [good, None, bad]})
    with pytest.raises(pprl.DataError) as err:
        pprl.encode.clks(df, schema, pprl.Secret(b"k" * 32))
    assert str(err.value) == f"column 'v', row 3: {message}"
