"""The pattern-mining attack: it works on unhardened CLKs (the literature's order of magnitude),
identifies q-grams correctly, copes with BLIP noise and Rule 90 alone, and fails against the
recommended profile."""

from __future__ import annotations

import numpy as np

from pprl.attack import pattern_mining
from pprl.attack._data import attributes
from pprl.attack.pattern import _joint, _otsu


def _token_accuracy(result, lab) -> list[float]:
    """Per identified token, the share of encodings whose membership is right."""
    miner = result.miner
    attr = attributes(["first_name"], lab.first_only, None)["first_name"]
    _, toks = attr.prepare(lab.truth["first_name"].fillna("").tolist())
    out = []
    for t in miner.mined.order:
        token = miner.token_names[t].split("\x1f", 1)[1]
        truth = np.array([token in ts for ts in toks])
        out.append(float((miner.contains(t) == truth).mean()))
    return out


def test_unhardened_clks_are_re_identified(lab):
    s, enc = lab.encode(lab.first_only)
    r = pattern_mining(enc, lab.population[["first_name"]], schema=s, truth=lab.truth)
    assert r.details["tokens_identified"] >= 15
    assert min(_token_accuracy(r, lab)) > 0.97
    assert r.rate("correct_one_to_one") > 0.05  # Christen et al.: up to 20.7 % at 10x the size
    assert r.rate("correct_one_to_many") > 0.10
    assert r.wrong < r.correct_one_to_one + r.correct_one_to_many


def test_field_filters_are_re_identified_from_a_name_list(lab):
    s, enc = lab.encode(lab.first_only)
    r = pattern_mining(enc, lab.names, field="first_name", schema=s, truth=lab.truth)
    assert r.rate("correct_one_to_one") > 0.10


def test_blip_alone_and_rule90_alone_do_not_stop_it(lab):
    ref = lab.population[["first_name"]]
    s, enc = lab.encode(lab.first_only, {"blip": {"epsilon": 3}})
    r = pattern_mining(enc, ref, schema=s, truth=lab.truth)
    assert r.rate("correct_one_to_one") > 0.03  # the miner allows the flipped bits
    s, enc = lab.encode(lab.first_only, {"rule90": True})
    r = pattern_mining(enc, ref, schema=s, truth=lab.truth)
    assert r.details["undone"] == "rule90" and r.rate("correct_one_to_one") > 0.05
    blind = pattern_mining(enc, ref, schema=s, truth=lab.truth, undo=False)
    assert blind.rate("correct_one_to_one") < r.rate("correct_one_to_one")


def test_recommended_profile_resists(lab):
    s, enc = lab.encode(lab.first_only, "recommended")
    for undo in (True, False):
        r = pattern_mining(enc, lab.population[["first_name"]], schema=s, truth=lab.truth,
                           undo=undo)
        assert r.rate("correct_one_to_one") <= 0.01
        assert r.rate("correct_one_to_many") <= 0.01


def test_without_truth_the_risk_is_the_share_of_guesses(lab):
    s, enc = lab.encode(lab.first_only)
    r = pattern_mining(enc, lab.population[["first_name"]], schema=s)
    assert not r.evaluated and r.correct_one_to_one is None
    assert r.risk == r.one_to_one / r.n > 0
    assert "correctness unknown" in str(r)


def test_joint_guesses_and_otsu():
    a = [(("ann",),), None, (("bo",), ("bob",))]
    b = [(("lee",), ("li",)), (("x",),), (("ng",),)]
    guesses, many = _joint([a, b], 3, max_many=2)
    assert guesses[0] == (("ann", "lee"), ("ann", "li")) and guesses[1] is None
    assert guesses[2] == (("bo", "ng"), ("bob", "ng")) and not many.any()
    guesses, many = _joint([a, b], 3, max_many=1)
    assert guesses[0] is None and many[0]
    counts = np.r_[np.full(50, 3), np.full(40, 19), np.full(5, 20)]
    assert 4 <= _otsu(counts, 20) <= 19
