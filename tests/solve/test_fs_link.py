"""Field-aware Fellegi–Sunter scoring and the two-party ``link`` decision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pprl
from pprl.solve import decide, fellegi_sunter, link
from pprl.solve._fs import CUTS, agreement_levels

from .conftest import generated_candidates, generated_linkage


def test_agreement_levels_known_answer():
    x = np.array([[1.0, 0.95, np.nan], [0.85, 0.75, 0.65], [0.5, 0.0, 0.9999]])
    np.testing.assert_array_equal(agreement_levels(x), [[0, 1, -1], [2, 3, 4], [5, 5, 0]])
    assert len(CUTS) == 5


def test_model_is_learnt_without_labels():
    cands, _ = generated_candidates("moderate", 1500, 0.5, 3)
    model = fellegi_sunter(cands)
    assert model.field_names == cands.field_names
    np.testing.assert_allclose(model.m.sum(axis=1), 1.0)
    np.testing.assert_allclose(model.u.sum(axis=1), 1.0)
    table = model.table()
    assert list(table.columns) == ["field", "level", "lower", "m", "u", "weight"]
    weight = table.set_index(["field", "level"])["weight"]
    for field in ("first_name", "last_name", "dob"):
        # agreement is evidence for a match, disagreement against
        assert weight[(field, 0)] > 0.5 > -1.5 > weight[(field, len(CUTS))]
    # a rescored pair keeps its identity; the order follows the new score
    scored = model.rescore(cands)
    assert len(scored) == len(cands)
    assert np.all(np.diff(scored.score) <= 0)
    assert set(zip(scored.left, scored.right, strict=True)) == set(
        zip(cands.left, cands.right, strict=True))


def test_field_scoring_beats_dice_on_corrupted_data():
    cands, truth = generated_candidates("high", 1500, 0.5, 4)
    dice = pprl.solve.evaluate(pprl.solve.greedy(cands), truth).best["f1"]
    scored = fellegi_sunter(cands, u_from="links").rescore(cands)
    fs = pprl.solve.evaluate(pprl.solve.greedy(scored), truth).best["f1"]
    assert fs > dice, (fs, dice)


def test_fs_bad_input():
    plain = pprl.Candidates([0, 1], [0, 1], [0.9, 0.8])
    with pytest.raises(pprl.DataError, match="these candidates have no per-field scores"):
        fellegi_sunter(plain)
    cands, _ = generated_candidates("moderate", 1500, 0.5, 3)
    with pytest.raises(ValueError, match=r"u_from must be one of \('links', 'non-links'\)"):
        fellegi_sunter(cands, u_from="random")
    with pytest.raises(ValueError, match=f"probabilities must be {len(cands)} numbers in"):
        fellegi_sunter(cands, probabilities=np.full(3, 0.5))
    with pytest.raises(ValueError, match="cuts must be strictly decreasing"):
        fellegi_sunter(cands, cuts=(0.5, 0.9))


@pytest.mark.parametrize("level, seed", [("moderate", 3), ("high", 4)])
def test_link_auto_quality(level, seed):
    cands, truth = generated_candidates(level, 1500, 0.5, seed)
    oracle = pprl.solve.evaluate(pprl.solve.greedy(cands), truth).best["f1"]
    for solver in ("greedy", "optimal"):
        links = link(cands, solver=solver)
        ev = pprl.solve.evaluate(links, truth)
        assert ev.f1 >= oracle - 0.005, (solver, ev, oracle)
        info = links.attrs["threshold"]
        assert info["solver"] == solver and info["scoring"] in ("dice", "fellegi-sunter")
        assert abs(info["precision"] - ev.precision) < 0.03
        assert links["left_id"].is_unique and links["right_id"].is_unique
        assert links["score"].min() >= info["threshold"]
        if info["scoring"] == "fellegi-sunter":
            assert list(links.columns) == ["left_id", "right_id", "score", "dice", "match_weight"]
            assert links["dice"].between(0.5, 1.0).all()
            assert links["score"].between(0.0, 1.0).all()


def test_decide_reports_every_option():
    cands, _ = generated_candidates("moderate", 1500, 0.5, 3)
    d = decide(cands)
    assert [o["scoring"] for o in d.options] == ["dice", "fellegi-sunter", "fellegi-sunter"]
    assert d.choice.f1 == max(o["f1"] for o in d.options)
    assert decide(cands, scoring="dice").scoring == "dice"
    forced = decide(cands, scoring="fellegi-sunter")
    assert forced.scoring == "fellegi-sunter" and forced.model is not None


def test_link_encodings_with_a_fixed_threshold_is_greedy():
    ea, eb, _ = generated_linkage("moderate", 1500, 0.5, 3)
    links = link(ea, eb, threshold=0.8)
    expected = pprl.solve.greedy(pprl.compare.dice(ea, eb, threshold=0.8))
    pd.testing.assert_frame_equal(links, expected)
    assert links.attrs["threshold"]["method"] == "fixed"


def test_link_encodings_auto():
    ea, eb, truth = generated_linkage("moderate", 1500, 0.5, 3)
    links = link(ea, eb)
    same = link(pprl.compare.dice(ea, eb, threshold=0.5, top_k=10))
    pd.testing.assert_frame_equal(links, same)
    assert pprl.solve.evaluate(links, truth).f1 > 0.95


def test_link_bad_input():
    cands, _ = generated_candidates("moderate", 1500, 0.5, 3)
    ea, eb, _ = generated_linkage("moderate", 1500, 0.5, 3)
    with pytest.raises(TypeError, match=r"link\(candidates\) takes no second dataset"):
        link(cands, eb)
    with pytest.raises(TypeError, match=r"link needs pprl\.Candidates, or two pprl\.Encodings"):
        link(ea, "b.parquet")
    with pytest.raises(ValueError, match="threshold must be a number or 'auto', got 'best'"):
        link(cands, threshold="best")
    with pytest.raises(ValueError, match="solver must be one of"):
        link(cands, solver="hungarian")
    with pytest.raises(ValueError, match="scoring must be one of"):
        link(cands, scoring="jaro")
    with pytest.raises(ValueError, match="a numeric threshold is a Dice threshold"):
        link(cands, threshold=0.8, scoring="fellegi-sunter")
    with pytest.raises(ValueError, match=r"candidate_threshold=0\.9 is above threshold=0\.8"):
        link(ea, eb, threshold=0.8, candidate_threshold=0.9)
    plain = pprl.Candidates([0], [0], [0.9])
    with pytest.raises(pprl.DataError, match="scoring='fellegi-sunter' needs per-field scores"):
        link(plain, scoring="fellegi-sunter")
