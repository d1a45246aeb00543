"""The frequency attack: known answers on planted frequencies, the literature's order of magnitude
on pprl.datasets, no guesses on BLIP-hardened filters, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pprl
from pprl.attack import Reference, block_key_frequency, frequency
from pprl.attack.frequency import _assign

from .conftest import SECRET

NAMES = ["mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william",
         "elizabeth", "david"]
COUNTS = [900, 700, 550, 420, 330, 250, 180, 120, 80, 40]


def _planted(lab, hardening="none"):
    values = np.repeat(NAMES, COUNTS)
    np.random.default_rng(0).shuffle(values)
    df = pd.DataFrame({"first_name": values})
    s = lab.first_only.with_hardening(hardening)
    ref = pd.DataFrame({"first_name": NAMES, "count": [10 * c for c in COUNTS]})
    return pprl.encode.clks(df, s, SECRET), s, ref, df


def test_distinct_frequencies_are_re_identified_exactly(lab):
    enc, s, ref, df = _planted(lab)
    for field in ("first_name", None):  # the field filters and the record filters
        r = frequency(enc, ref, field=field, schema=s, truth=df)
        assert r.correct_one_to_one == len(df) and r.wrong == 0
        assert r.details["groups"] == len(NAMES)
    blind = frequency(enc, ref, field="first_name", truth=df)  # without the schema, too
    assert blind.correct_one_to_one == len(df)


def test_blip_leaves_nothing_to_count(lab):
    enc, s, ref, df = _planted(lab, {"blip": {"epsilon": 3}, "field_filters": "harden"})
    for field in ("first_name", None):
        r = frequency(enc, ref, field=field, schema=s, truth=df)
        assert r.one_to_one == r.one_to_many == 0 and r.no_guess == len(df)


def test_balancing_and_rule90_do_not_stop_it(lab):
    enc, s, ref, df = _planted(lab, {"balance": True, "rule90": True})
    r = frequency(enc, ref, schema=s, truth=df)
    assert r.details["undone"] == "balance+rule90"
    assert r.correct_one_to_one == len(df)


def test_field_filters_of_first_names_from_a_public_list(lab):
    s, enc = lab.encode(lab.first_only)
    r = frequency(enc, lab.names, field="first_name", schema=s, truth=lab.truth)
    assert r.rate("correct_one_to_one") > 0.02  # Christen et al.: about 5 %
    assert r.one_to_one > r.correct_one_to_one  # rank alignment also guesses wrong
    s, enc = lab.encode(lab.first_only, "recommended")
    assert enc.fields == {}
    r = frequency(enc, lab.names, schema=s, truth=lab.truth)
    assert r.one_to_one == 0


def test_one_to_one_alignment_prefers_the_closer_count():
    counts = np.array([100, 52])
    expected = np.array([98.0, 55.0, 50.0])
    out = _assign([[0, 1], [1, 2]], counts, expected)
    assert out == [[0], [2]]  # 0.04 + 0.08 beats 0.04 + 0.16
    assert _assign([None, [2]], counts, expected) == [None, [2]]


def test_bad_input(lab):
    enc, _, ref, df = _planted(lab)
    with pytest.raises(pprl.DataError, match=r"no field filter 'nickname' \(field filters: "
                                             r"'first_name'\)"):
        frequency(enc, ref, field="nickname")
    with pytest.raises(pprl.DataError, match="reference: no column 'last_name'"):
        frequency(enc, ref, target=["last_name"])
    with pytest.raises(pprl.DataError, match=r"column 'count', row 2: '-3' is not a non-negative"):
        Reference(pd.DataFrame({"first_name": ["a", "b"], "count": ["1", "-3"]}))
    with pytest.raises(pprl.DataError, match="no attribute columns"):
        Reference(pd.DataFrame({"count": [1]}))
    with pytest.raises(pprl.DataError, match="truth has 3 rows for 3570 encodings"):
        frequency(enc, ref, truth=df.iloc[:3])
    with pytest.raises(TypeError, match=r"encodings must be pprl\.Encodings"):
        frequency(enc.bits, ref)


def test_blocking_keys_leak_their_frequencies(lab):
    doc = {"format": "pprl-linkage-schema", "version": 1,
           "features": [{"name": "last_name", "normalize": "name"}],
           "blocking": [{"name": "sx", "parts": [{"feature": "last_name",
                                                   "transform": "soundex"}]}]}
    s = pprl.Schema.from_dict(doc)
    surnames = ["smith", "johnson", "williams", "brown", "garcia", "miller"]  # distinct soundex
    values = np.repeat(surnames, [800, 600, 450, 300, 200, 120])
    df = pd.DataFrame({"last_name": values})
    enc = pprl.encode.clks(df, s, SECRET)
    ref = pd.DataFrame({"last_name": [*surnames, "smyth"], "count": [80, 60, 45, 30, 20, 12, 1]})
    r = block_key_frequency(enc, ref, "sx", schema=s, truth=df)
    assert r.source == "block:sx" and r.target == ("last_name",)
    assert r.correct_one_to_one == int((values != "smith").sum())  # smith shares S530 with smyth
    assert r.correct_one_to_many == 800 and r.wrong == 0
    dropped = pprl.encode.clks(df, s.with_hardening({"blocking": "drop"}), SECRET)
    with pytest.raises(pprl.DataError, match=r"no blocking key 'sx' \(blocking keys: none\)"):
        block_key_frequency(dropped, ref, "sx", schema=s)
