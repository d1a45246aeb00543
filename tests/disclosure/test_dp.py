"""Differentially private releases: structure, noise calibration, margins of error, budget,
sensitivity and post-processing guarantees.

Noise comes from OpenDP (OS randomness, no seed), so the statistical tests use large samples and
a false-alarm rate of 1e-6, as OpenDP's own tests do."""

from __future__ import annotations

import math

import numpy as np
import opendp.prelude as dp
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opendp import accuracy
from scipy import stats

from pprl import disclosure
from pprl.disclosure import _dp
from pprl.disclosure._grid import Grid
from pprl.errors import DataError

ALARM = 1e-6
CATS = {"race": ["A", "B", "C", "D"], "gender": ["F", "M"]}


def people(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "race": rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1]),  # no D: an absent category
        "gender": rng.choice(["F", "M"], n),
        "grad": rng.integers(0, 2, n),
        "earn": rng.integers(0, 50_000, n),
    })


def uniform_frame(cells: int, per_cell: int) -> pd.DataFrame:
    return pd.DataFrame({"c": np.repeat(np.arange(cells), per_cell)})


# -- the declared distributions ----------------------------------------------------------------
def laplace_pmf(k: np.ndarray, scale: float) -> np.ndarray:
    p = math.exp(-1.0 / scale)
    return (1 - p) / (1 + p) * p ** np.abs(k)


def gaussian_pmf(k: np.ndarray, scale: float) -> np.ndarray:
    support = np.arange(-int(60 * scale) - 60, int(60 * scale) + 61)
    norm = np.exp(-(support**2) / (2 * scale**2)).sum()
    return np.exp(-(k.astype(float) ** 2) / (2 * scale**2)) / norm


def chi_square_pvalue(noise: np.ndarray, pmf, scale: float) -> float:
    """Goodness of fit of integer samples to ``pmf`` (bins with expectation >= 5, tails lumped)."""
    n = len(noise)
    width = int(np.ceil(6 * scale)) + 1
    ks = np.arange(-width, width + 1)
    probs = pmf(ks, scale)
    keep = probs * n >= 5
    ks, probs = ks[keep], probs[keep]
    observed = np.array([(noise == k).sum() for k in ks], dtype=float)
    lo, hi = ks.min(), ks.max()
    tail_p = 1 - probs.sum()
    tail_o = float(((noise < lo) | (noise > hi)).sum())
    observed = np.append(observed, tail_o)
    expected = np.append(probs, tail_p) * n
    return float(stats.chisquare(observed, expected).pvalue)


def noise_samples(**kwargs) -> tuple[np.ndarray, float, float]:
    """Raw noise of dp_counts on 400 cells of 60 rows each, repeated: (noise, scale, moe)."""
    df = uniform_frame(400, 60)
    draws = []
    for _ in range(15):
        r = disclosure.dp_counts(df, ["c"], {"c": list(range(400))}, **kwargs)
        draws.append(r["count"].to_numpy(dtype=np.int64) - 60)  # 60 >> noise: no clamping
    return np.concatenate(draws), float(r["scale"].iloc[0]), float(r["moe"].iloc[0])


@pytest.mark.parametrize(("kwargs", "pmf", "scale"), [
    ({"epsilon": 0.5}, laplace_pmf, 2.0),
    ({"rho": 0.125}, gaussian_pmf, 2.0),
])
def test_noise_follows_the_declared_distribution(kwargs, pmf, scale):
    noise, got_scale, moe = noise_samples(**kwargs)
    assert got_scale == pytest.approx(scale)  # sensitivity 1 (one row per person, no margins)
    assert chi_square_pvalue(noise, pmf, scale) > ALARM
    # the margin of error covers the noise at the rate the declared distribution implies
    inside = np.abs(noise) <= moe
    ks = np.arange(-math.floor(moe), math.floor(moe) + 1)
    exact = pmf(ks, scale).sum()
    assert exact >= 0.95  # OpenDP's accuracy is a 95 % bound for the discrete noise
    assert stats.binomtest(int(inside.sum()), len(inside), exact).pvalue > ALARM


def test_wrong_distribution_is_detected():
    """The calibration test has power: scale-3 noise is not scale-2 discrete Laplace."""
    noise, _, _ = noise_samples(epsilon=1 / 3)
    assert chi_square_pvalue(noise, laplace_pmf, 2.0) < ALARM


# -- structure --------------------------------------------------------------------------------
def test_one_row_per_cell_including_absent_categories():
    df = people()
    b = disclosure.Budget(epsilon=1.0)
    r = disclosure.dp_counts(df, by=["race", "gender"], categories=CATS, epsilon=0.5, budget=b)
    assert list(r.columns) == ["race", "gender", "count", "moe", "scale", "epsilon", "unreliable"]
    assert list(zip(r["race"], r["gender"], strict=True)) == [
        (a, g) for a in CATS["race"] for g in CATS["gender"]]
    assert r["count"].dtype == "Int64" and (r["count"] >= 0).all()
    assert (r["epsilon"] == 0.5).all() and (r["scale"] == 2.0).all()
    assert r["moe"].iloc[0] == pytest.approx(
        accuracy.discrete_laplacian_scale_to_accuracy(2.0, 0.05))
    assert b.spent == pytest.approx(0.5) and b.remaining == pytest.approx(0.5)
    meta = r.attrs["pprl"]
    assert meta["mechanism"] == "discrete_laplace" and meta["epsilon"] == 0.5
    assert meta["scale"] == 2.0 and meta["categories"] == CATS
    # flags: moe > half the count
    assert (r["unreliable"] == (r["moe"] > 0.5 * r["count"].astype(float))).all()


def test_margins_are_consistent_non_negative_integers():
    df = people(300)
    r = disclosure.dp_counts(df, ["race", "gender"], CATS, epsilon=0.2, margins=True)
    assert len(r) == 5 * 3
    counts = {(a, g): int(c) for a, g, c in zip(r["race"], r["gender"], r["count"], strict=True)}
    for a in [*CATS["race"], "Total"]:
        assert counts[(a, "Total")] == sum(counts[(a, g)] for g in CATS["gender"])
    for g in [*CATS["gender"], "Total"]:
        assert counts[("Total", g)] == sum(counts[(a, g)] for a in CATS["race"])
    # four levels measured: sensitivity 4, scale 4 / epsilon
    assert r["scale"].iloc[0] == pytest.approx(4 / 0.2)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.sampled_from([(3,), (2, 3), (4, 2), (2, 2, 2)]),
    data=st.data(),
)
def test_post_processing_properties(shape, data):
    grid = Grid(tuple(f"d{i}" for i in range(len(shape))),
                tuple(tuple(range(n)) for n in shape))
    table = grid.table(list(grid.columns), margins=True)
    noisy = np.array(data.draw(st.lists(st.integers(-30, 60), min_size=len(table),
                                        max_size=len(table))), dtype=np.int64)
    out = _dp.consistent(table, noisy, nonnegative=True)
    assert out.dtype == np.int64 and (out >= 0).all()
    interior = out[_interior_rows(table)]
    assert (out == table.matrix.astype(np.int64) @ interior).all()  # margins = sums of children
    # a table whose noisy cells are already consistent and non-negative is left unchanged
    truth = np.array(data.draw(st.lists(st.integers(0, 40), min_size=grid.size,
                                        max_size=grid.size)), dtype=np.int64)
    exact = table.matrix.astype(np.int64) @ truth
    assert (_dp.consistent(table, exact, nonnegative=True) == exact).all()


def _interior_rows(table) -> np.ndarray:
    """Row of each interior (finest) cell in the table, in grid order."""
    sizes = np.diff(table.matrix.indptr)
    rows = np.flatnonzero(sizes == 1)
    order = np.argsort(table.matrix.indices[table.matrix.indptr[rows]])
    return rows[order]


def test_controlled_rounding_keeps_two_way_margins_within_one():
    grid = Grid(("a", "b"), (tuple(range(5)), tuple(range(4))))
    table = grid.table(["a", "b"], margins=True)
    rng = np.random.default_rng(3)
    fitted = rng.uniform(0, 20, grid.size)
    rounded = _dp._controlled_round(table.matrix, fitted)
    assert (np.abs(rounded - fitted) < 1).all()
    margins = np.diff(table.matrix.indptr) > 1
    # two-way tables always admit a controlled rounding (Cox 1987)
    target = table.matrix @ fitted
    assert (np.abs(table.matrix @ rounded - target)[margins] < 1).all()


# -- privacy unit and sensitivity ----------------------------------------------------------------
def test_privacy_unit_bounds_contributions_and_scales_noise():
    df = pd.DataFrame({"pid": [1, 1, 1, 1, 2, 3, 3], "race": list("AABBACC"),
                       "gender": list("FFMMFMM")})
    lay = _dp.layout(df, ["race", "gender"], CATS, privacy_unit="pid", max_contributions=2,
                     margins=False)
    assert len(lay.rows) == 5  # person 1 keeps the first 2 of 4 rows
    assert lay.sensitivity(1.0) == (2.0, 2.0)
    r = disclosure.dp_counts(df, ["race", "gender"], CATS, epsilon=1.0, privacy_unit="pid",
                             max_contributions=2)
    assert r["scale"].iloc[0] == pytest.approx(2.0)
    assert r.attrs["pprl"]["privacy_unit"] == "pid"


@pytest.mark.parametrize("margins", [False, True])
def test_declared_sensitivity_bounds_removing_any_person(margins):
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"pid": rng.integers(0, 25, 120), "race": rng.choice(list("ABCD"), 120),
                       "gender": rng.choice(list("FM"), 120), "earn": rng.integers(-50, 90, 120)})
    kw = {"privacy_unit": "pid", "max_contributions": 3, "margins": margins}
    full = _dp.layout(df, ["race", "gender"], CATS, **kw)
    l1, l2 = full.sensitivity(1.0)
    units, _, bound = _dp._quantise(full, "earn", (-40, 80), 1.0)
    s1, s2 = full.sensitivity(bound)
    worst = np.zeros(4)
    for pid in df["pid"].unique():
        rest = _dp.layout(df[df["pid"] != pid], ["race", "gender"], CATS, **kw)
        rest_units, _, _ = _dp._quantise(rest, "earn", (-40, 80), 1.0)
        dc = full.exact() - rest.exact()
        ds = full.exact(units) - rest.exact(rest_units)
        worst = np.maximum(worst, [np.abs(dc).sum(), np.sqrt((dc**2).sum()),
                                   np.abs(ds).sum(), np.sqrt((ds**2).sum())])
    assert worst[0] <= l1 and worst[1] <= l2 + 1e-9
    assert worst[2] <= s1 and worst[3] <= s2 + 1e-9
    assert worst[0] == l1  # the bound is attained (a person with 3 rows exists)


def test_per_level_sensitivity_matches_opendp():
    """OpenDP's own count-by-categories transformation reports the same per-level bound."""
    t = dp.t.make_count_by_categories(dp.vector_domain(dp.atom_domain(T=str)),
                                      dp.symmetric_distance(), categories=["A", "B"],
                                      null_category=False)
    df = pd.DataFrame({"pid": [1, 1, 1], "race": list("ABA")})
    lay = _dp.layout(df, ["race"], {"race": ["A", "B"]}, privacy_unit="pid",
                     max_contributions=3, margins=False)
    assert lay.sensitivity(1.0)[0] == t.map(3)


def test_rows_outside_the_categories_are_not_counted():
    df = pd.DataFrame({"race": ["A", "A", "Z", None], "gender": ["F", "F", "F", "M"]})
    lay = _dp.layout(df, ["race", "gender"], CATS, privacy_unit=None, max_contributions=1,
                     margins=True)
    exact = dict(zip(map(tuple, lay.table.keys().to_numpy()), lay.exact(), strict=True))
    assert exact[("A", "F")] == 2 and exact[("Total", "Total")] == 2


# -- budget -----------------------------------------------------------------------------------
def test_overspend_is_refused_before_any_noise(monkeypatch):
    df = people(100)
    b = disclosure.Budget(epsilon=1.0)
    disclosure.dp_counts(df, ["race"], CATS, epsilon=0.6, budget=b)
    calls = []
    real = _dp.Noise.__call__
    monkeypatch.setattr(_dp.Noise, "__call__", lambda self, e: calls.append(1) or real(self, e))
    with pytest.raises(disclosure.BudgetExceeded, match=r"needs epsilon=0\.6") as err:
        disclosure.dp_counts(df, ["race"], CATS, epsilon=0.6, budget=b)
    assert isinstance(err.value, ValueError)
    assert calls == [] and b.spent == pytest.approx(0.6) and len(b.entries) == 1
    disclosure.dp_counts(df, ["race"], CATS, epsilon=0.4, budget=b)  # still usable
    assert calls == [1] and b.remaining == pytest.approx(0.0)
    # a mean spends its count and its sum together: refused as a whole
    with pytest.raises(disclosure.BudgetExceeded):
        disclosure.dp_means(df, ["race"], "grad", (0, 1), CATS, epsilon=0.1, budget=b)
    assert calls == [1]


def test_rho_budget_takes_pure_dp_and_epsilon_budget_refuses_zcdp():
    df = people(100)
    rho = disclosure.Budget(rho=0.5)
    disclosure.dp_counts(df, ["race"], CATS, epsilon=0.6, budget=rho)
    assert rho.spent == pytest.approx(0.6**2 / 2)
    disclosure.dp_counts(df, ["race"], CATS, rho=0.1, budget=rho)
    assert rho.spent == pytest.approx(0.18 + 0.1)
    eps = disclosure.Budget(epsilon=1.0)
    with pytest.raises(ValueError, match="cannot be charged to an epsilon budget"):
        disclosure.dp_counts(df, ["race"], CATS, rho=0.1, budget=eps)
    assert eps.spent == 0


def test_gaussian_scale_follows_rho_and_levels():
    df = people(100)
    r = disclosure.dp_counts(df, ["race", "gender"], CATS, rho=0.5, margins=True)
    # L2 sensitivity sqrt(4) = 2, sigma = 2 / sqrt(2 rho) = 2
    assert r["scale"].iloc[0] == pytest.approx(2.0)
    assert np.allclose(r["rho"], 0.5)
    assert r["moe"].iloc[0] == pytest.approx(
        accuracy.discrete_gaussian_scale_to_accuracy(2.0, 0.05))


# -- sums and means -----------------------------------------------------------------------------
def test_sums_clamp_to_bounds_and_scale_with_them():
    df = pd.DataFrame({"race": ["A"] * 50 + ["B"] * 50,
                       "earn": [1_000_000] * 50 + [100] * 50})  # A's values exceed the bound
    r = disclosure.dp_sums(df, ["race"], "earn", (0, 10_000), {"race": ["A", "B"]},
                           epsilon=100.0)
    assert r["scale"].iloc[0] == pytest.approx(100.0)
    sums = dict(zip(r["race"], r["sum"], strict=True))
    assert abs(sums["A"] - 500_000) < 100 * 30  # clamped: 50 x 10 000, noise scale 100
    assert abs(sums["B"] - 5_000) < 100 * 30
    f = disclosure.dp_sums(df.assign(earn=df["earn"] / 7), ["race"], "earn", (0, 10.0),
                           {"race": ["A", "B"]}, epsilon=1.0)
    assert f.attrs["pprl"]["resolution"] == pytest.approx(10.0 / 1e4)
    assert f["scale"].iloc[0] == pytest.approx(10.0)  # sensitivity 10 (in value units) / 1


def test_mean_margins_cover_the_truth():
    rng = np.random.default_rng(5)
    n = 900
    df = pd.DataFrame({"race": rng.choice(list("ABCDEF"), n),
                       "grad": rng.random(n) < np.where(rng.random(n) < 0.5, 0.8, 0.4)})
    cats = {"race": list("ABCDEF")}
    truth = df.groupby("race")["grad"].mean()
    hits, trials = 0, 0
    for _ in range(30):
        r = disclosure.dp_means(df, ["race"], "grad", (0, 1), cats, epsilon=0.5)
        assert list(r.columns[:4]) == ["race", "mean", "moe", "lower"]
        for race, mean, moe in zip(r["race"], r["mean"], r["moe"], strict=True):
            trials += 1
            hits += abs(mean - truth[race]) <= moe + 1e-12
    # the interval is conservative (>= 95 %): far fewer hits would be a calibration bug
    assert stats.binomtest(hits, trials, 0.95, alternative="less").pvalue > ALARM


def test_mean_with_no_people_is_nan_and_unreliable():
    df = pd.DataFrame({"race": ["A"] * 200, "grad": [1] * 120 + [0] * 80})
    r = disclosure.dp_means(df, ["race"], "grad", (0, 1), {"race": ["A", "B"]}, epsilon=1.0)
    row_a, row_b = r.iloc[0], r.iloc[1]
    assert abs(row_a["mean"] - 0.6) < 0.2 and row_a["epsilon"] == pytest.approx(1.0)
    assert bool(row_b["unreliable"])


# -- bad input --------------------------------------------------------------------------------
def test_bad_inputs_name_what_is_wrong():
    df = people(50)
    with pytest.raises(DataError, match=r"no public category list for \['gender'\]"):
        disclosure.dp_counts(df, ["race", "gender"], {"race": ["A"]}, epsilon=1)
    with pytest.raises(ValueError, match="exactly one of epsilon"):
        disclosure.dp_counts(df, ["race"], CATS, epsilon=1, rho=1)
    with pytest.raises(ValueError, match="exactly one of epsilon"):
        disclosure.dp_counts(df, ["race"], CATS)
    with pytest.raises(ValueError, match="epsilon must be a finite number > 0"):
        disclosure.dp_counts(df, ["race"], CATS, epsilon=-1)
    with pytest.raises(ValueError, match="bounds"):
        disclosure.dp_sums(df, ["race"], "earn", (10, 1), CATS, epsilon=1)
    with pytest.raises(DataError, match="'race' is not numeric"):
        disclosure.dp_sums(df, ["gender"], "race", (0, 1), CATS, epsilon=1)
    with pytest.raises(ValueError, match="privacy_unit"):
        disclosure.dp_counts(df, ["race"], CATS, epsilon=1, max_contributions=2)
    with pytest.raises(DataError, match="'pid' \\(privacy_unit\\), row 1"):
        disclosure.dp_counts(df.assign(pid=[1, None] + [2] * 48), ["race"], CATS, epsilon=1,
                             privacy_unit="pid")
    with pytest.raises(DataError, match="'colour'"):
        disclosure.dp_counts(df, ["colour"], {"colour": ["x"]}, epsilon=1)
    with pytest.raises(ValueError, match="alpha"):
        disclosure.dp_counts(df, ["race"], CATS, epsilon=1, alpha=1.5)
