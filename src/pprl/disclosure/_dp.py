"""Differentially private counts, sums and means over public categories, with OpenDP noise.

Guarantee: each release is ``epsilon``-DP (discrete Laplace noise, pure DP) or ``rho``-zCDP
(discrete Gaussian noise) with respect to adding or removing one *person*: one row, or, when
``privacy_unit`` names a column, all rows that share its value, of which at most
``max_contributions`` (the first ones in input order) are used. The categories are public (never
read from the data); rows whose value is missing or not a listed category are dropped.

How: the exact table (every cell, plus every partial margin when ``margins``) is one integer
vector; its L1 / L2 sensitivity follows from the contribution bound (a person moves at most
``max_contributions`` rows, each adding at most ``B`` to one cell of each of the ``L`` levels:
L1 = ``max_contributions * B * L``, L2 = ``max_contributions * B * sqrt(L)``). OpenDP's
``make_laplace`` / ``make_gaussian`` over integer vectors adds the noise; the scale is the
textbook one (``L1 / epsilon``, ``L2 / sqrt(2 rho)``) confirmed by OpenDP's privacy map, which
also reports what the release spent.

Post-processing (free under DP): without margins, cells are clamped at 0. With margins, the
interior is fitted to all noisy cells by non-negative least squares (``scipy.optimize.
lsq_linear``; equal noise on every cell, so this is the best linear fit) and rounded to integers
by an integer program that keeps every margin within one of its fitted value where it can
(controlled rounding); every published margin is then exactly the sum of its published children.
``moe`` is the margin of error of the noise itself (before post-processing), from OpenDP's
accuracy functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import opendp.prelude as dp
import pandas as pd
from opendp import accuracy as dp_accuracy
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, lsq_linear, milp

from .._log import logger
from ..errors import DataError
from ._budget import Budget, _check_amount
from ._grid import Grid, Table, category_lists, check_columns

dp.enable_features("contrib")

#: Seconds the controlled-rounding program may take before plain rounding of the total is used.
ROUNDING_TIME_LIMIT = 10.0

MECHANISMS = {"epsilon": "discrete_laplace", "rho": "discrete_gaussian"}


@dataclass(frozen=True)
class Privacy:
    """The requested privacy loss: ``measure`` is "epsilon" (Laplace) or "rho" (Gaussian)."""

    measure: str
    amount: float

    @classmethod
    def of(cls, epsilon: float | None, rho: float | None) -> Privacy:
        if (epsilon is None) == (rho is None):
            raise ValueError("give exactly one of epsilon= (discrete Laplace, pure DP) or "
                             "rho= (discrete Gaussian, zCDP)")
        measure = "epsilon" if epsilon is not None else "rho"
        return cls(measure, _check_amount(measure, epsilon if epsilon is not None else rho))

    def split(self, parts: int) -> Privacy:
        return Privacy(self.measure, self.amount / parts)

    @property
    def mechanism(self) -> str:
        return MECHANISMS[self.measure]


@dataclass(frozen=True)
class Noise:
    """A calibrated OpenDP measurement for one integer vector of known sensitivity."""

    privacy: Privacy
    measurement: dp.Measurement
    d_in: float
    scale: float

    @classmethod
    def calibrate(cls, privacy: Privacy, l1: float, l2: float) -> Noise:
        d_in = float(l1 if privacy.measure == "epsilon" else l2)
        # the textbook scale, nudged up until OpenDP's privacy map confirms it (float rounding)
        pure = privacy.measure == "epsilon"
        scale = d_in / privacy.amount if pure else d_in / np.sqrt(2 * privacy.amount)
        for _ in range(8):
            meas = _measurement(privacy.measure, scale)
            if meas.map(d_in) <= privacy.amount:
                return cls(privacy, meas, d_in, float(scale))
            scale *= 1 + 1e-12
        scale = dp.binary_search_param(lambda s: _measurement(privacy.measure, s),
                                       d_in=d_in, d_out=privacy.amount)
        return cls(privacy, _measurement(privacy.measure, scale), d_in, float(scale))

    def cost(self, measure: str) -> float:
        """Privacy loss of this measurement in ``measure`` (a budget's epsilon or rho)."""
        if measure == self.privacy.measure:
            return float(self.measurement.map(self.d_in))
        if measure == "rho":  # epsilon-DP implies (epsilon**2 / 2)-zCDP
            return float(dp.c.make_pureDP_to_zCDP(self.measurement).map(self.d_in))
        raise ValueError("a zCDP (rho=) release cannot be charged to an epsilon budget; "
                         "use Budget(rho=...) or release with epsilon=")

    def moe(self, alpha: float) -> float:
        """Half-width of the (1 - alpha) interval of the noise, from OpenDP."""
        if self.privacy.measure == "epsilon":
            return float(dp_accuracy.discrete_laplacian_scale_to_accuracy(self.scale, alpha))
        return float(dp_accuracy.discrete_gaussian_scale_to_accuracy(self.scale, alpha))

    def __call__(self, exact: np.ndarray) -> np.ndarray:
        return np.asarray(self.measurement([int(v) for v in exact]), dtype=np.int64)


def _measurement(measure: str, scale: float) -> dp.Measurement:
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    if measure == "epsilon":
        return dp.m.make_laplace(domain, dp.l1_distance(T="f64"), scale=scale)
    return dp.m.make_gaussian(domain, dp.l2_distance(T="f64"), scale=scale)


def draw(noises: Sequence[Noise], exacts: Sequence[np.ndarray], budget: Budget | None,
         label: str) -> list[np.ndarray]:
    """Charge the budget for all ``noises`` at once (refusing before any draw), then draw."""
    if budget is None:
        return [n(e) for n, e in zip(noises, exacts, strict=True)]
    cost = sum(n.cost(budget.measure) for n in noises)
    with budget.charge(cost, label):
        return [n(e) for n, e in zip(noises, exacts, strict=True)]


# -- inputs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """The table being released and the rows that feed it (after contribution bounding)."""

    table: Table
    codes: np.ndarray  # grid cell of each kept row, -1 = outside the categories
    rows: pd.DataFrame
    contributions: int
    privacy_unit: str | None

    @property
    def levels(self) -> int:
        return 2 ** len(self.table.by) if self.table.margins else 1

    def exact(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Exact cell values (counts, or sums of integer ``weights``) of the whole table."""
        if weights is None:
            finest = self.table.grid.counts(self.codes)
        else:
            keep = self.codes >= 0
            finest = np.zeros(self.table.grid.size, dtype=np.int64)
            np.add.at(finest, self.codes[keep], weights[keep])
        return (self.table.matrix.astype(np.int64) @ finest).astype(np.int64)

    def sensitivity(self, per_row: float) -> tuple[float, float]:
        """(L1, L2) sensitivity of the whole vector when one row moves a cell by <= per_row."""
        step = self.contributions * per_row
        return step * self.levels, step * float(np.sqrt(self.levels))


def layout(df: pd.DataFrame, by: Sequence[str], categories: Mapping[str, Sequence[object]],
           *, privacy_unit: str | None, max_contributions: int, margins: bool,
           value: str | None = None) -> Layout:
    """Validate the inputs, bound each person's rows and place every row in its cell."""
    if isinstance(by, str):
        by = [by]
    by = list(by)
    if not by or len(set(by)) != len(by):
        raise DataError("by: give a non-empty list of distinct columns")
    check_columns(df, by + [c for c in (privacy_unit, value) if c is not None])
    if not isinstance(categories, Mapping):
        raise DataError("categories: give a mapping column -> list of public categories")
    missing = [b for b in by if b not in categories]
    if missing:
        raise DataError(f"categories: no public category list for {missing} (DP categories must "
                        "not be read from the data)")
    cats = category_lists(df, by, {b: categories[b] for b in by}, margins=margins)
    if isinstance(max_contributions, bool) or not isinstance(max_contributions, int) \
            or max_contributions < 1:
        raise ValueError(f"max_contributions must be an integer >= 1, got {max_contributions!r}")
    rows = df
    if privacy_unit is not None:
        unit = df[privacy_unit]
        if unit.isna().any():
            bad = int(np.flatnonzero(unit.isna().to_numpy())[0])
            raise DataError(f"column {privacy_unit!r} (privacy_unit), row {bad}: missing id")
        keep = (df.groupby(privacy_unit, sort=False).cumcount() < max_contributions).to_numpy()
        if not keep.all():
            logger.info("dp: kept at most %d rows per %s (%d rows dropped)", max_contributions,
                        privacy_unit, int((~keep).sum()))
        rows = df.loc[keep]
    elif max_contributions != 1:
        raise ValueError("max_contributions applies to a privacy_unit column; without one, "
                         "each row is one person")
    grid = Grid(tuple(by), tuple(tuple(c) for c in cats))
    codes = grid.codes(rows)
    outside = int((codes < 0).sum())
    if outside:
        logger.info("dp: %d rows have a value outside the public categories; dropped", outside)
    return Layout(grid.table(by, margins=margins), codes, rows, max_contributions, privacy_unit)


def _check_alpha(alpha: float, moe_share: float) -> None:
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not (isinstance(moe_share, float | int) and moe_share > 0):
        raise ValueError(f"moe_share must be > 0, got {moe_share!r}")


# -- post-processing --------------------------------------------------------------------------
def consistent(table: Table, noisy: np.ndarray, *, nonnegative: bool) -> np.ndarray:
    """Integer cell values close to ``noisy`` (see the module doc), margins = sums of children."""
    if not table.margins:
        return np.maximum(noisy, 0) if nonnegative else noisy.copy()
    fit = lsq_linear(table.matrix, noisy.astype(float),
                     bounds=(0.0 if nonnegative else -np.inf, np.inf), tol=1e-10,
                     lsmr_tol="auto")
    interior = _controlled_round(table.matrix, np.maximum(fit.x, 0) if nonnegative else fit.x)
    return (table.matrix.astype(np.int64) @ interior).astype(np.int64)


def _controlled_round(matrix: sparse.csr_array, x: np.ndarray) -> np.ndarray:
    """Round ``x`` to integers so that each ``matrix`` row sum stays within one of its value."""
    low = np.floor(x)
    frac = x - low
    target = matrix @ x
    base = matrix @ low
    margins = np.flatnonzero(np.diff(matrix.indptr) > 1)
    n, m = len(x), len(margins)
    if m == 0 or n == 0:
        return np.rint(x).astype(np.int64)
    rows = matrix[margins]
    lo = np.floor(target[margins] + 1e-9) - base[margins]
    hi = np.ceil(target[margins] - 1e-9) - base[margins]
    eye = sparse.identity(m, format="csr")
    penalty = float(n + 1)
    cost = np.concatenate([1.0 - 2.0 * frac, np.full(2 * m, penalty)])
    cons = [LinearConstraint(sparse.hstack([rows, eye, sparse.csr_array((m, m))]), lo, np.inf),
            LinearConstraint(sparse.hstack([rows, sparse.csr_array((m, m)), -eye]), -np.inf, hi)]
    fractional = (frac > 1e-9) & (frac < 1 - 1e-9)
    upper = np.concatenate([np.where(fractional, 1.0, np.rint(frac)), np.full(2 * m, np.inf)])
    lower = np.concatenate([np.where(fractional, 0.0, np.rint(frac)), np.zeros(2 * m)])
    res = milp(cost, constraints=cons, integrality=np.concatenate([np.ones(n), np.zeros(2 * m)]),
               bounds=Bounds(lower, upper), options={"time_limit": ROUNDING_TIME_LIMIT})
    if res.x is None:
        logger.warning("dp: controlled rounding timed out; rounding to the total instead")
        return _round_to_total(x)
    return (low + np.rint(res.x[:n])).astype(np.int64)


def _round_to_total(x: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding that keeps the grand total within one of its value."""
    low = np.floor(x)
    extra = round(float(x.sum() - low.sum()))
    order = np.argsort(-(x - low), kind="stable")
    out = low.astype(np.int64)
    out[order[:extra]] += 1
    return out


# -- public releases --------------------------------------------------------------------------
def dp_counts(
    df: pd.DataFrame,
    by: Sequence[str],
    categories: Mapping[str, Sequence[object]],
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    budget: Budget | None = None,
    privacy_unit: str | None = None,
    max_contributions: int = 1,
    margins: bool = False,
    alpha: float = 0.05,
    moe_share: float = 0.5,
    label: str | None = None,
) -> pd.DataFrame:
    """Noisy counts of ``df`` over the public ``categories`` of the ``by`` columns.

    One row per cell of the cross-tab (cells absent from the data included; with ``margins``
    also every partial margin, :data:`TOTAL` in collapsed columns) with ``count`` (noisy,
    post-processed to non-negative integers, Int64), ``moe`` (the ``1 - alpha`` margin of error
    of the noise before post-processing), ``scale``, ``epsilon`` or ``rho`` (what this release
    spent) and ``unreliable`` (``moe > moe_share * count``). ``epsilon=`` uses discrete Laplace
    noise (pure DP), ``rho=`` discrete Gaussian noise (zCDP); see the module doc for the
    guarantee. With a ``budget`` the release is refused (:class:`BudgetExceeded`) before any
    noise is drawn if it would overspend. ``df.attrs``-style metadata is in ``result.attrs["pprl"]``.
    """
    privacy = Privacy.of(epsilon, rho)
    _check_alpha(alpha, moe_share)
    lay = layout(df, by, categories, privacy_unit=privacy_unit,
                 max_contributions=max_contributions, margins=margins)
    exact = lay.exact()
    noise = Noise.calibrate(privacy, *lay.sensitivity(1.0))
    (noisy,) = draw([noise], [exact], budget, label or f"dp_counts by {list(lay.table.by)}")
    counts = consistent(lay.table, noisy, nonnegative=True)
    out = lay.table.keys()
    out["count"] = pd.array(counts, dtype="Int64")
    _annotate(out, noise, alpha, moe_share, counts)
    out.attrs["pprl"] = _metadata(lay, noise, alpha, moe_share, measure="count")
    return out


def dp_sums(
    df: pd.DataFrame,
    by: Sequence[str],
    value: str,
    bounds: tuple[float, float],
    categories: Mapping[str, Sequence[object]],
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    budget: Budget | None = None,
    privacy_unit: str | None = None,
    max_contributions: int = 1,
    margins: bool = False,
    resolution: float | None = None,
    alpha: float = 0.05,
    moe_share: float = 0.5,
    label: str | None = None,
) -> pd.DataFrame:
    """Noisy sums of column ``value`` per cell, each value clamped to the declared ``bounds``.

    Values are clamped to ``bounds`` and rounded to multiples of ``resolution`` (default 1 for
    an integer column with integer bounds, else ``(hi - lo) / 10000``) so that the sums are
    exact integers; rows with a missing value are dropped. Columns: ``sum`` (float; clamped at 0
    when ``lo >= 0``), ``moe``, ``scale`` (in the value's units), ``epsilon`` or ``rho``,
    ``unreliable`` (``moe > moe_share * |sum|``). Otherwise as :func:`dp_counts`.
    """
    privacy = Privacy.of(epsilon, rho)
    _check_alpha(alpha, moe_share)
    lay = layout(df, by, categories, privacy_unit=privacy_unit,
                 max_contributions=max_contributions, margins=margins, value=value)
    units, res, bound = _quantise(lay, value, bounds, resolution)
    noise = Noise.calibrate(privacy, *lay.sensitivity(bound))
    (noisy,) = draw([noise], [lay.exact(units)], budget,
                    label or f"dp_sums of {value} by {list(lay.table.by)}")
    sums = consistent(lay.table, noisy, nonnegative=bounds[0] >= 0) * res
    out = lay.table.keys()
    out["sum"] = sums
    _annotate(out, noise, alpha, moe_share, sums, unit=res)
    out.attrs["pprl"] = _metadata(lay, noise, alpha, moe_share, measure="sum", value=value,
                                  bounds=list(bounds), resolution=res)
    return out


def dp_means(
    df: pd.DataFrame,
    by: Sequence[str],
    value: str,
    bounds: tuple[float, float],
    categories: Mapping[str, Sequence[object]],
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    budget: Budget | None = None,
    privacy_unit: str | None = None,
    max_contributions: int = 1,
    margins: bool = False,
    resolution: float | None = None,
    alpha: float = 0.05,
    moe_share: float = 0.5,
    label: str | None = None,
) -> pd.DataFrame:
    """Noisy means of ``value`` per cell (a rate is the mean of a 0/1 column, bounds (0, 1)).

    Half the privacy loss goes to a noisy count, half to a noisy sum (as :func:`dp_sums`), both
    over the rows with a value; ``mean = sum / count`` clamped to ``bounds`` (NaN where the noisy
    count is 0). ``moe`` covers the true mean of the clamped values with probability at least
    ``1 - alpha``: the count and the sum each get a ``1 - alpha/2`` noise interval, the mean's
    interval is the range of ``sum / count`` over both (intersected with ``bounds``), and ``moe``
    is the largest distance from ``mean`` to that interval's ends (``lower``/``upper`` columns).
    Also ``count``, ``sum``, ``scale_count``, ``scale_sum``, ``epsilon``/``rho``, ``unreliable``.
    """
    privacy = Privacy.of(epsilon, rho)
    _check_alpha(alpha, moe_share)
    present = df.loc[df[value].notna()] if value in df.columns else df
    lay = layout(present, by, categories, privacy_unit=privacy_unit,
                 max_contributions=max_contributions, margins=margins, value=value)
    units, res, bound = _quantise(lay, value, bounds, resolution)
    half = privacy.split(2)
    n_noise = Noise.calibrate(half, *lay.sensitivity(1.0))
    s_noise = Noise.calibrate(half, *lay.sensitivity(bound))
    n_raw, s_raw = draw([n_noise, s_noise], [lay.exact(), lay.exact(units)], budget,
                        label or f"dp_means of {value} by {list(lay.table.by)}")
    counts = consistent(lay.table, n_raw, nonnegative=True)
    sums = consistent(lay.table, s_raw, nonnegative=bounds[0] >= 0) * res
    lo, hi = float(bounds[0]), float(bounds[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(counts > 0, np.clip(sums / counts, lo, hi), np.nan)
    lower, upper = _mean_interval(n_raw, s_raw * res, n_noise.moe(alpha / 2),
                                  s_noise.moe(alpha / 2) * res, lo, hi)
    out = lay.table.keys()
    out["mean"] = mean
    out["moe"] = np.where(np.isnan(mean), np.nan,
                          np.maximum(np.abs(mean - lower), np.abs(upper - mean)))
    out["lower"], out["upper"] = lower, upper
    out["count"] = pd.array(counts, dtype="Int64")
    out["sum"] = sums
    out["scale_count"], out["scale_sum"] = n_noise.scale, s_noise.scale * res
    spent = n_noise.cost(privacy.measure) + s_noise.cost(privacy.measure)
    out[privacy.measure] = spent
    out["unreliable"] = ~(out["moe"] <= moe_share * np.abs(mean))
    out.attrs["pprl"] = _metadata(lay, n_noise, alpha, moe_share, measure="mean", value=value,
                                  bounds=[lo, hi], resolution=res, **{privacy.measure: spent},
                                  scale=None, scale_count=n_noise.scale,
                                  scale_sum=s_noise.scale * res)
    return out


def _mean_interval(n: np.ndarray, s: np.ndarray, n_moe: float, s_moe: float, lo: float,
                   hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Range of sum / count over the noise box of both, intersected with [lo, hi]."""
    n_low, n_high = n - n_moe, n + n_moe
    with np.errstate(divide="ignore", invalid="ignore"):
        corners = np.stack([(s + a) / np.maximum(b, 1e-300) for a in (-s_moe, s_moe)
                            for b in (n_low, n_high)])
    known = n_low >= 1  # the true count is at least 1 wherever a mean exists
    lower = np.where(known, np.clip(corners.min(axis=0), lo, hi), lo)
    upper = np.where(known, np.clip(corners.max(axis=0), lo, hi), hi)
    return lower, upper


def _quantise(lay: Layout, value: str, bounds: tuple[float, float],
              resolution: float | None) -> tuple[np.ndarray, float, float]:
    """Clamped values in integer units of the resolution, the resolution, and the largest
    absolute value (in units) one row can contribute."""
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be (low, high) numbers, got {bounds!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds must be finite with low < high, got {bounds!r}")
    try:
        numeric = pd.to_numeric(lay.rows[value], errors="raise")
    except (TypeError, ValueError):
        raise DataError(f"column {value!r} is not numeric") from None
    values = numeric.to_numpy(dtype=float)
    integral = pd.api.types.is_integer_dtype(numeric) or pd.api.types.is_bool_dtype(numeric)
    if resolution is None:
        resolution = 1.0 if integral and lo.is_integer() and hi.is_integer() else (hi - lo) / 1e4
    res = _check_amount("resolution", resolution)
    # a missing value adds nothing to a sum (dp_means drops those rows before counting)
    units = np.rint(np.clip(np.nan_to_num(values), lo, hi) / res).astype(np.int64)
    bound = float(max(abs(np.rint(lo / res)), abs(np.rint(hi / res))))
    return units, res, bound


def _annotate(out: pd.DataFrame, noise: Noise, alpha: float, moe_share: float,
              values: np.ndarray, unit: float = 1.0) -> None:
    out["moe"] = noise.moe(alpha) * unit
    out["scale"] = noise.scale * unit
    out[noise.privacy.measure] = noise.cost(noise.privacy.measure)
    out["unreliable"] = out["moe"].to_numpy() > moe_share * np.abs(values)


def _metadata(lay: Layout, noise: Noise, alpha: float, moe_share: float, **extra) -> dict:
    measure = noise.privacy.measure
    grid = lay.table.grid
    return {
        "method": "dp",
        "mechanism": noise.privacy.mechanism,
        "privacy": "pure DP" if measure == "epsilon" else "zCDP",
        measure: noise.cost(measure),
        "scale": noise.scale,
        "alpha": alpha,
        "moe_share": moe_share,
        "by": list(lay.table.by),
        "categories": {c: list(v) for c, v in zip(grid.columns, grid.categories, strict=True)},
        "margins": lay.table.margins,
        "privacy_unit": lay.privacy_unit,
        "max_contributions": lay.contributions,
        "post_processing": ("non-negative least squares + controlled rounding"
                            if lay.table.margins else "clamped at 0"),
        **extra,
    }

