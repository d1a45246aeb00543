"""pprl.Schema: loading, detection, validation with every problem reported, fingerprint, round trip."""

from __future__ import annotations

import copy
import json
from importlib import resources

import jsonschema
import pytest
from clkhash import schema as ch_schema

import pprl
from pprl.encode import default_schema
from pprl.encode.schema import Schema


def _native(**over) -> dict:
    doc = {
        "format": "pprl-linkage-schema", "version": 1,
        "features": [
            {"name": "first_name", "normalize": "name", "field_filter": {"nbits": 128}},
            {"name": "dob", "type": "date"},
            {"name": "note", "ignored": True},
        ],
    }
    doc.update(over)
    return doc


def _clkhash(**over) -> dict:
    doc = {
        "version": 3,
        "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
        "features": [
            {"identifier": "id", "ignored": True},
            {"identifier": "name", "format": {"type": "string"},
             "hashing": {"comparison": {"type": "ngram", "n": 2},
                         "strategy": {"bitsPerToken": 20}}},
        ],
    }
    doc.update(over)
    return doc


def test_lazy_public_name():
    assert pprl.Schema is Schema


def test_shipped_json_schemas_are_valid_draft7():
    for name in ("pprl-linkage-schema-v1.json", "clkhash-linkage-schema-v3.json"):
        doc = json.loads(resources.files("pprl.encode").joinpath(f"schemas/{name}").read_text())
        jsonschema.Draft7Validator.check_schema(doc)


def test_default_schema_matches_generated_data_columns():
    s = default_schema()
    assert s.kind == "pprl"
    assert s.columns == ["first_name", "last_name", "dob", "sex", "address", "city", "zip"]
    assert s.nbits == 1024
    assert set(s.field_filters) == set(s.columns)
    assert [b.name for b in s.blocking] == ["soundex_last_yob", "first_initial_dob", "zip_yob",
                                            "metaphone_first_last"]
    assert set(s.weights.values()) == {1.0}


def test_detects_both_kinds(tmp_path):
    native = tmp_path / "n.json"
    native.write_text(json.dumps(_native()))
    clkhash = tmp_path / "c.json"
    clkhash.write_text(json.dumps(_clkhash()))
    assert Schema.load(native).kind == "pprl"
    s = Schema.load(clkhash)
    assert s.kind == "clkhash" and s.columns == ["name"] and s.nbits == 1024
    with pytest.raises(pprl.SchemaError, match="not a linkage schema"):
        Schema.from_dict({"features": []})
    with pytest.raises(pprl.SchemaError, match="a linkage schema is a JSON object, got list"):
        Schema.from_dict([1, 2])


def test_file_problems_name_the_file(tmp_path):
    with pytest.raises(pprl.SchemaError, match="schema file not found"):
        Schema.load(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 3,\n  "clkConfig": }')
    with pytest.raises(pprl.SchemaError, match=r"bad\.json: not valid JSON \(line 2, column 16"):
        Schema.load(bad)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"a": "é"}'.encode("latin-1"))
    with pytest.raises(pprl.SchemaError, match="not UTF-8"):
        Schema.load(latin)
    wrong = tmp_path / "wrong.json"
    doc = _clkhash()
    doc["clkConfig"]["l"] = 0
    wrong.write_text(json.dumps(doc))
    with pytest.raises(pprl.SchemaError) as err:
        Schema.load(wrong)
    assert err.value.errors == [f"{wrong}: clkConfig.l: 0 is less than the minimum of 1"]


def test_clkhash_problems_are_all_reported_with_their_feature():
    doc = _clkhash()
    doc["features"][1]["hashing"]["strategy"] = {"bitsPerToken": 0, "bitsPerFeature": 3}
    doc["features"][1]["format"]["case"] = "title"
    doc["features"].append({"identifier": "dob", "format": {"type": "date"},
                            "hashing": {"comparison": {"type": "ngram"},
                                        "strategy": {"bitsPerToken": 5}}})
    with pytest.raises(pprl.SchemaError) as err:
        Schema.from_dict(doc)
    errors = err.value.errors
    assert "feature 'name' (features[1]): format.case: 'title' is not one of " \
           "['upper', 'lower', 'mixed']" in errors
    assert "feature 'name' (features[1]): hashing.strategy.bitsPerToken: 0 is less than the " \
           "minimum of 1" in errors
    assert any(e.startswith("feature 'name' (features[1]): hashing.strategy: ") and
               "has too many properties" in e for e in errors)
    assert "feature 'dob' (features[2]): format: 'format' is a required property" in errors
    assert "feature 'dob' (features[2]): hashing.comparison: 'n' is a required property" in errors
    assert len(errors) == 5
    assert str(err.value).startswith("invalid clkhash v3 linkage schema (5 problems):")


def test_clkhash_semantic_problems():
    doc = _clkhash()
    doc["clkConfig"]["l"] = 1000
    doc["clkConfig"]["kdf"]["keySize"] = 100
    hashing = doc["features"][1]["hashing"]
    hashing["hash"] = {"type": "blakeHash", "prevent_singularity": True}
    doc["features"].append({"identifier": "x", "format": {"type": "string", "pattern": "(["},
                            "hashing": {"comparison": {"type": "numeric", "thresholdDistance": 0.1,
                                                       "resolution": 2},
                                        "strategy": {"bitsPerToken": 5},
                                        "hash": {"type": "doubleHash"}}})
    doc["features"].append(copy.deepcopy(doc["features"][1]))
    with pytest.raises(pprl.SchemaError) as err:
        Schema.from_dict(doc)
    text = "\n".join(err.value.errors)
    for expected in [
        "feature 'name' (features[1]): hashing.hash: prevent_singularity only goes with doubleHash",
        "feature 'name' (features[1]): hashing.hash: blakeHash needs l * 2**xor_folds to be a "
        "power of two, got 1000",
        "feature 'name' (features[1]): hashing.hash: blakeHash takes keys of at most 64 bytes",
        "feature 'x' (features[2]): invalid regular expression '(['",
        "feature 'x' (features[2]): hashing.comparison: not enough fractional precision",
        "feature 'name' (features[3]): the identifier is also used by features[1]",
    ]:
        assert expected in text


def test_clkhash_versions():
    with pytest.raises(pprl.SchemaError, match="version 2 is not supported"):
        Schema.from_dict(_clkhash(version=2))
    with pytest.raises(pprl.SchemaError, match="version: 4 is not a clkhash schema version"):
        Schema.from_dict(_clkhash(version=4))


def _variants():
    """Borderline clkhash v3 documents: pprl accepts exactly those clkhash accepts."""
    out = {}

    def put(name, fn):
        doc = _clkhash()
        fn(doc)
        out[name] = doc

    f = lambda d: d["features"][1]  # noqa: E731
    put("ok", lambda d: None)
    put("ignored-with-format", lambda d: f(d).update(ignored=True))
    put("ignored-false", lambda d: f(d).update(ignored=False))
    put("ignored-extra-key", lambda d: d["features"][0].update(format={"type": "string"}))
    put("ignored-string", lambda d: f(d).update(ignored="yes"))
    put("pattern-and-case", lambda d: f(d)["format"].update(pattern="a+", case="upper"))
    put("pattern", lambda d: f(d)["format"].update(pattern="a+", encoding="ascii"))
    put("integer-with-pattern", lambda d: f(d).update(format={"type": "integer", "pattern": "1"}))
    put("date-without-format", lambda d: f(d).update(format={"type": "date"}))
    put("enum-without-values", lambda d: f(d).update(format={"type": "enum"}))
    put("enum", lambda d: f(d).update(format={"type": "enum", "values": ["a"]}))
    put("unknown-type", lambda d: f(d).update(format={"type": "float"}))
    put("strategy-empty", lambda d: f(d)["hashing"].update(strategy={}))
    put("strategy-extra", lambda d: f(d)["hashing"]["strategy"].update(k=3))
    put("hash-no-type", lambda d: f(d)["hashing"].update(hash={}))
    put("hash-unknown", lambda d: f(d)["hashing"].update(hash={"type": "md5"}))
    put("double-ps-string", lambda d: f(d)["hashing"].update(
        hash={"type": "doubleHash", "prevent_singularity": "yes"}))
    put("ngram-no-n", lambda d: f(d)["hashing"].update(comparison={"type": "ngram"}))
    put("ngram-n0", lambda d: f(d)["hashing"].update(comparison={"type": "ngram", "n": 0}))
    put("ngram-extra", lambda d: f(d)["hashing"].update(comparison={"type": "ngram", "n": 2,
                                                                     "x": 1}))
    put("numeric-zero", lambda d: f(d)["hashing"].update(
        comparison={"type": "numeric", "thresholdDistance": 0, "resolution": 1}))
    put("exact-extra", lambda d: f(d)["hashing"].update(comparison={"type": "exact", "n": 2}))
    put("missing-no-sentinel", lambda d: f(d)["hashing"].update(missingValue={"replaceWith": ""}))
    put("hashing-extra", lambda d: f(d)["hashing"].update(weight=1))
    put("top-extra", lambda d: d.update(extra=1))
    put("kdf-type", lambda d: d["clkConfig"]["kdf"].update(type="PBKDF2"))
    put("kdf-hash", lambda d: d["clkConfig"]["kdf"].update(hash="MD5"))
    put("keysize-0", lambda d: d["clkConfig"]["kdf"].update(keySize=0))
    put("xorfolds-negative", lambda d: d["clkConfig"].update(xorFolds=-1))
    put("no-features", lambda d: d.pop("features"))
    put("feature-not-object", lambda d: d["features"].append("name"))
    put("minlength-negative", lambda d: f(d)["format"].update(minLength=-1))
    put("encoding-latin1", lambda d: f(d)["format"].update(encoding="latin-1"))
    return out


@pytest.mark.parametrize(("name", "doc"), sorted(_variants().items()))
def test_accepts_what_clkhash_accepts(name, doc):
    try:
        ch_schema.from_json_dict(copy.deepcopy(doc))
        clkhash_ok = True
    except Exception:
        clkhash_ok = False
    try:
        Schema.from_dict(doc)
        ours_ok = True
    except pprl.SchemaError:
        ours_ok = False
    assert ours_ok == clkhash_ok


def test_native_problems_are_all_reported():
    doc = _native()
    doc["features"][0].update(bits_per_token=5, bits_per_feature=50, tokens={"type": "ngram",
                                                                             "n": 0})
    doc["features"][1]["format"] = {"date_format": "%Y", "pattern": "x"}
    doc["features"].append({"name": "first_name", "type": "enum"})
    doc["features"].append({"name": "zip", "format": {"pattern": "[0-9"}, "normalize": "zip"})
    doc["blocking"] = [{"name": "b", "parts": [{"feature": "dob", "transform": "soundex"},
                                                {"feature": "nope"},
                                                {"feature": "first_name", "transform": "prefix"}]}]
    with pytest.raises(pprl.SchemaError) as err:
        Schema.from_dict(doc)
    errors = err.value.errors
    assert "feature 'first_name' (features[0]): give bits_per_token or bits_per_feature, not both" \
        in errors
    assert "feature 'first_name' (features[0]): tokens.n: 0 is less than the minimum of 1" in errors
    assert any(e.startswith("feature 'zip' (features[4]): normalize: 'zip' is not one of")
               for e in errors)
    assert len(errors) == 3
    # once the structure is right, the meaning is checked: all problems again at once
    doc["features"][0].pop("bits_per_feature")
    doc["features"][0]["tokens"]["n"] = 2
    doc["features"][4]["normalize"] = "basic"
    with pytest.raises(pprl.SchemaError) as err:
        Schema.from_dict(doc)
    text = "\n".join(err.value.errors)
    for expected in [
        "feature 'dob' (features[1]): format.pattern does not apply to a date feature",
        "feature 'dob' (features[1]): format.date_format '%Y' does not read back year, month and "
        "day",
        "feature 'first_name' (features[3]): the name is also used by features[0]",
        "feature 'first_name' (features[3]): format.values: an enum feature lists its values",
        "feature 'zip' (features[4]): invalid regular expression '[0-9'",
        "blocking key 'b' (blocking[0]): parts[0]: transform 'soundex' does not apply to a date "
        "feature ('dob')",
        "blocking key 'b' (blocking[0]): parts[1]: no hashed feature named 'nope'",
        "blocking key 'b' (blocking[0]): parts[2]: 'length' goes with the 'prefix' transform",
    ]:
        assert expected in text
    assert len(err.value.errors) == 8


def test_rbf_needs_field_filters():
    doc = _native(encoding={"type": "rbf", "nbits": 512})
    with pytest.raises(pprl.SchemaError, match="feature 'dob': encoding type 'rbf' samples"):
        Schema.from_dict(doc)
    doc["features"][1]["weight"] = 0
    assert Schema.from_dict(doc).encoding_type == "rbf"


def test_hardening_section_only_takes_what_is_implemented():
    assert Schema.from_dict(_native(hardening={"xor_folds": 1})).xor_folds == 1
    with pytest.raises(pprl.SchemaError, match=r"hardening: Additional properties .*'shuffle'"):
        Schema.from_dict(_native(hardening={"shuffle": True}))
    with pytest.raises(pprl.SchemaError, match=r"hardening.blip: 0.1 is not of type 'object'"):
        Schema.from_dict(_native(hardening={"blip": 0.1}))


def test_native_defaults_are_made_explicit_and_round_trip(tmp_path):
    s = Schema.from_dict(_native())
    d = s.to_dict()
    first, dob = d["features"][0], d["features"][1]
    assert first["tokens"] == {"type": "ngram", "n": 2, "positional": False}
    assert first["bits_per_token"] == 20 and first["weight"] == 1.0
    assert first["field_filter"] == {"nbits": 128, "bits_per_token": 20}
    assert first["normalize"]["case"] == "lower" and "mr" in first["normalize"]["prefixes"]
    assert dob["format"] == {"date_format": "%Y-%m-%d"}
    assert dob["tokens"] == {"type": "date_parts", "parts": ["year", "month", "day"]}
    assert d["encoding"] == {"type": "clk", "nbits": 1024, "hash": "blake2b",
                             "kdf": {"hash": "SHA256"}}
    again = Schema.from_dict(d)
    assert again.fingerprint == s.fingerprint and again == s
    path = s.save(tmp_path / "out" / "schema.json")
    assert Schema.load(path).fingerprint == s.fingerprint
    assert json.loads(path.read_text()) == d


def test_fingerprint_is_stable_and_sensitive():
    base = Schema.from_dict(_native())
    assert len(base.fingerprint) == 64 and int(base.fingerprint, 16) >= 0
    reordered = json.loads(json.dumps(_native(), sort_keys=True))
    assert Schema.from_dict(reordered).fingerprint == base.fingerprint
    described = _native(description="made by the education agency")
    described["features"][0]["description"] = "given name"
    assert Schema.from_dict(described).fingerprint == base.fingerprint
    explicit = _native()
    explicit["features"][1]["tokens"] = {"type": "date_parts"}
    assert Schema.from_dict(explicit).fingerprint == base.fingerprint
    changed = _native()
    changed["features"][0]["bits_per_token"] = 21
    assert Schema.from_dict(changed).fingerprint != base.fingerprint
    clk_a, clk_b = Schema.from_dict(_clkhash()), _clkhash()
    clk_b["clkConfig"]["kdf"]["salt"] = "c2FsdA=="
    assert Schema.from_dict(clk_b).fingerprint != clk_a.fingerprint
    assert clk_a.to_dict() == _clkhash()


def test_fingerprint_travels_with_the_encodings():
    import pandas as pd

    s = Schema.from_dict(_native())
    enc = pprl.encode.clks(pd.DataFrame({"first_name": ["ann"], "dob": ["2001-02-03"]}), s,
                           pprl.Secret(b"k" * 32))
    assert enc.fingerprint == s.fingerprint
    other = Schema.from_dict(_native(encoding={"nbits": 1024, "kdf": {"info": "eA=="}}))
    enc2 = pprl.encode.clks(pd.DataFrame({"first_name": ["ann"], "dob": ["2001-02-03"]}), other,
                            pprl.Secret(b"k" * 32))
    with pytest.raises(pprl.IncompatibleEncodingsError, match="different schemas"):
        enc.check_compatible(enc2)
