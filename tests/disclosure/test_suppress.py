"""Cell suppression: structure, known answers, and the integer-programming audit on random tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pprl import disclosure
from pprl.disclosure._suppress import Problem
from pprl.errors import DataError

T = 11


def frame_from_counts(counts: dict[tuple, int], columns: list[str]) -> pd.DataFrame:
    """One row per person: ``counts[(a, b, ...)]`` rows with those values."""
    rows = [key for key, n in counts.items() for _ in range(n)]
    return pd.DataFrame(rows, columns=columns)


def random_frame(shape: tuple[int, ...], n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # skewed category frequencies, so that small cells and large margins both occur
    cols = {}
    for i, k in enumerate(shape):
        p = rng.dirichlet(np.full(k, 1.5))
        cols[f"d{i}"] = rng.choice([f"c{j}" for j in range(k)], size=n, p=p)
    return pd.DataFrame(cols)


def true_counts(df: pd.DataFrame, table: pd.DataFrame, by: list[str]) -> np.ndarray:
    """The true count of every row of a suppressed table, straight from pandas."""
    out = []
    for _, row in table.iterrows():
        mask = np.ones(len(df), dtype=bool)
        for col in by:
            if row[col] != disclosure.TOTAL:
                mask &= (df[col] == row[col]).to_numpy()
        out.append(int(mask.sum()))
    return np.array(out)


def assert_truthful(df, table, by, threshold=T, zeros=False) -> np.ndarray:
    """Published counts are true and primary cells are exactly the small ones; returns truth."""
    truth = true_counts(df, table, by)
    pub = ~table["suppressed"].to_numpy()
    assert (table["count"].to_numpy()[pub].astype(int) == truth[pub]).all()
    small = (truth < threshold) & ((truth > 0) | zeros)
    assert ((table["reason"] == "primary").to_numpy() == small).all()
    assert table.loc[table["suppressed"], "count"].isna().all()
    return truth


def assert_sound(df, table, by, threshold=T, zeros=False):
    """Truthful, and the audit passes with the true values inside the attacker's intervals."""
    truth = assert_truthful(df, table, by, threshold, zeros)
    audited = disclosure.audit(table, threshold, zeros_published=not zeros)
    assert audited["protected"].all(), audited[~audited["protected"]]
    sup = truth[table["suppressed"].to_numpy()]
    assert (audited["lower"].to_numpy() <= sup).all() and (sup <= audited["upper"].to_numpy()).all()


def test_known_answer_two_by_two():
    df = frame_from_counts({("a", "x"): 5, ("a", "y"): 20, ("b", "x"): 30, ("b", "y"): 40},
                           ["r", "g"])
    t = disclosure.suppress(df, by=["r", "g"], threshold=T)
    assert list(t.columns) == ["r", "g", "count", "suppressed", "reason"]
    assert list(zip(t["r"], t["g"], strict=True)) == [
        ("a", "x"), ("a", "y"), ("a", "Total"), ("b", "x"), ("b", "y"), ("b", "Total"),
        ("Total", "x"), ("Total", "y"), ("Total", "Total")]
    # the only way to hide the 5 cheaply is the interior rectangle; all margins stay published
    assert t["reason"].tolist() == ["primary", "complementary", None, "complementary",
                                    "complementary", None, None, None, None]
    assert t["count"].dtype == "Int64"
    assert t.loc[~t["suppressed"], "count"].tolist() == [25, 70, 35, 60, 95]
    a = disclosure.audit(t, T)
    assert a.loc[0, "upper"] == 24 and a.loc[0, "lower"] == 1  # x_ax <= 25 - 1 (x_ay >= 1)


def test_full_cross_tab_with_zero_cells_and_margins():
    df = frame_from_counts({("a", "x", 1): 40, ("b", "y", 2): 50, ("a", "y", 2): 30},
                           ["r", "g", "k"])
    t = disclosure.suppress(df, by=["r", "g", "k"], threshold=T)
    assert len(t) == 3 * 3 * 3  # (2 categories + Total) per column
    zero = t[(t["r"] == "b") & (t["g"] == "x") & (t["k"] == 1)]
    assert zero["count"].tolist() == [0] and not zero["suppressed"].any()
    assert zero["reason"].tolist() == [None]
    total = t[(t["r"] == "Total") & (t["g"] == "Total") & (t["k"] == "Total")]
    assert total["count"].tolist() == [120]
    assert not t["suppressed"].any()  # nothing is 1..10
    assert t["k"].tolist()[:3] == [1, 2, "Total"]  # values keep their type; margins say Total


def test_zeros_can_be_suppressed():
    df = frame_from_counts({("a", "x"): 40, ("a", "y"): 30, ("b", "x"): 50, ("b", "y"): 0,
                            ("c", "y"): 60, ("c", "x"): 45}, ["r", "g"])
    published = disclosure.suppress(df, by=["r", "g"], threshold=T)
    assert not published["suppressed"].any()
    hidden = disclosure.suppress(df, by=["r", "g"], threshold=T, suppress_zeros=True)
    row = hidden[(hidden["r"] == "b") & (hidden["g"] == "y")]
    assert row["reason"].tolist() == ["primary"]
    assert hidden["suppressed"].sum() >= 4
    assert_sound(df, hidden, ["r", "g"], zeros=True)


def test_given_categories_add_absent_rows_and_reject_unknown_values():
    df = frame_from_counts({("a", "x"): 40, ("b", "x"): 50}, ["r", "g"])
    t = disclosure.suppress(df, by=["r", "g"], categories={"g": ["x", "y"]})
    assert len(t) == 3 * 3
    assert t[(t["g"] == "y") & (t["r"] == "a")]["count"].tolist() == [0]
    with pytest.raises(DataError, match="row 0"):
        disclosure.suppress(df, by=["r", "g"], categories={"g": ["y"]})


def test_threshold_one_suppresses_nothing():
    df = frame_from_counts({("a", "x"): 1, ("a", "y"): 2, ("b", "x"): 3}, ["r", "g"])
    t = disclosure.suppress(df, by=["r", "g"], threshold=1)
    assert not t["suppressed"].any()
    assert t["reason"].isna().all()


@pytest.mark.parametrize(
    ("shape", "n", "seed"),
    [((4, 3), 120, 0), ((5, 4), 200, 1), ((3, 3, 2), 150, 2), ((4, 3, 2), 260, 3),
     ((3, 2, 2, 2), 160, 4)],
)
def test_random_tables_pass_the_audit(shape, n, seed):
    df = random_frame(shape, n, seed)
    by = list(df.columns)
    t = disclosure.suppress(df, by=by, threshold=T)
    assert (t["reason"] == "primary").any()  # the case is not trivial
    assert len(t) == int(np.prod([k + 1 for k in shape]))
    assert_sound(df, t, by)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from([(2, 2), (3, 2), (4, 3), (2, 2, 2), (3, 2, 2)]),
    n=st.integers(5, 120),
    seed=st.integers(0, 10_000),
    threshold=st.integers(2, 15),
)
def test_property_random_tables_are_protected(shape, n, seed, threshold):
    df = random_frame(shape, n, seed)
    by = list(df.columns)
    assert_sound(df, disclosure.suppress(df, by=by, threshold=threshold), by, threshold)


def test_each_strategy_alone_protects(monkeypatch):
    """The LP step, the hypercube step and the last-resort pattern each yield safe tables."""
    df = random_frame((3, 3, 2), 100, 11)
    by = list(df.columns)
    monkeypatch.setattr(Problem, "_relaxed", lambda self, *a: None)
    assert_sound(df, disclosure.suppress(df, by=by), by)
    monkeypatch.setattr(Problem, "_cube", lambda self, *a, **k: None)
    assert_sound(df, disclosure.suppress(df, by=by), by)


# -- linked tables ----------------------------------------------------------------------------
LINKED = {("x", "p", "u"): 3, ("x", "q", "u"): 4, ("x", "q", "v"): 2,
          ("y", "p", "u"): 16, ("y", "q", "u"): 15, ("y", "p", "v"): 15, ("y", "q", "v"): 12,
          ("z", "p", "u"): 6, ("z", "q", "u"): 16, ("z", "p", "v"): 13, ("z", "q", "v"): 18}


def test_linked_tables_are_protected_together():
    df = frame_from_counts(LINKED, ["a", "b", "c"])
    bys = [["a", "b"], ["a", "c"]]
    # protected one at a time, each table is safe alone ...
    separate = [disclosure.suppress(df, by=b) for b in bys]
    for table in separate:
        assert disclosure.audit(table, T)["protected"].all()
    # ... but table 1 publishes y's total and table 2 z's total: x's total = 120 - 58 - 53 = 9
    joint_attack = disclosure.audit(separate, T)
    assert not all(a["protected"].all() for a in joint_attack)
    # protected together, no combination of published cells narrows a small cell below 11
    together = disclosure.suppress(df, by=bys)
    assert isinstance(together, list) and len(together) == 2
    for table, by in zip(together, bys, strict=True):
        assert_truthful(df, table, by)
    assert all(a["protected"].all() for a in disclosure.audit(together, T))
    # the shared cells (a's margins) are suppressed alike in both tables
    m1 = together[0][together[0]["b"] == "Total"].set_index("a")["suppressed"]
    m2 = together[1][together[1]["c"] == "Total"].set_index("a")["suppressed"]
    assert m1.equals(m2)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_linked_tables_pass_the_joint_audit(seed):
    df = random_frame((3, 3, 2, 2), 150, 100 + seed)
    bys = [["d0", "d1"], ["d0", "d2", "d3"], ["d1", "d3"]]
    tables = disclosure.suppress(df, by=bys)
    for table, by in zip(tables, bys, strict=True):
        assert_truthful(df, table, by)
    assert all(a["protected"].all() for a in disclosure.audit(tables, T))


def test_a_table_nested_in_another_shares_its_cells():
    df = random_frame((4, 3), 90, 5)
    one, two = disclosure.suppress(df, by=[["d0"], ["d0", "d1"]])
    nested = two[two["d1"] == "Total"].set_index("d0")
    assert one.set_index("d0")["suppressed"].equals(nested["suppressed"])
    assert one.set_index("d0")["count"].equals(nested["count"])


# -- bad input --------------------------------------------------------------------------------
def test_bad_inputs_name_what_is_wrong():
    df = pd.DataFrame({"race": ["a", "b", None], "sex": ["f", "m", "f"]})
    with pytest.raises(DataError, match="'gender'"):
        disclosure.suppress(df, by=["race", "gender"])
    with pytest.raises(DataError, match="column 'race' has 1 missing"):
        disclosure.suppress(df, by=["race", "sex"])
    with pytest.raises(DataError, match="'Total'"):
        disclosure.suppress(pd.DataFrame({"g": ["Total", "x"]}), by=["g"])
    with pytest.raises(ValueError, match="threshold"):
        disclosure.suppress(df.dropna(), by=["race"], threshold=0)
    with pytest.raises(ValueError, match="threshold"):
        disclosure.suppress(df.dropna(), by=["race"], threshold=2.5)
    with pytest.raises(DataError, match="by"):
        disclosure.suppress(df.dropna(), by=["race", ["sex"]])
    with pytest.raises(DataError, match="listed twice"):
        disclosure.suppress(df.dropna(), by=["race", "race"])
    with pytest.raises(DataError, match="categories"):
        disclosure.suppress(df.dropna(), by=["race"], categories={"colour": ["x"]})
