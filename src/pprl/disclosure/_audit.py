"""The integer-programming attacker: how far can the published cells pin down each suppressed cell?

The attacker knows every published cell of every table released from the same data, that the
counts are non-negative integers, that every cell adds up the finest cells beneath it, and (when
zeros are published) that a suppressed cell is not zero. For each suppressed cell it minimises
and maximises the cell over the non-negative integer tables that reproduce every published cell
(``scipy.optimize.milp``; the LP relaxation answers directly when its optimal vertex is integral,
and an unbounded relaxation means an unbounded integer program) and reports the interval. A
suppressed cell is *protected* when the interval's upper end is at least the threshold, i.e. the
published tables cannot prove that it is small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from .._log import logger
from ..errors import DataError
from ._grid import TOTAL, CellSet, Grid, _sorted_categories

RESULT_COLUMNS = ("count", "suppressed", "reason", "lower", "upper", "protected")
#: Seconds one search for an alternative table may take (suppression then suppresses more).
REACH_TIME_LIMIT = 20.0


@dataclass(frozen=True)
class Attack:
    """What the attacker knows about the distinct cells of the released tables.

    ``matrix`` (cells x grid cells, 0/1) says which finest cells each cell adds up; ``values`` are
    the published counts where ``published``; ``floor`` is the least value the attacker may assume
    for each unpublished cell (1 for a suppressed cell when zeros are published, else 0).
    """

    matrix: sparse.csr_array
    values: np.ndarray
    published: np.ndarray
    floor: np.ndarray

    def fixed_zero(self) -> np.ndarray:
        """Grid cells inside a published zero cell (the attacker knows they are 0)."""
        zero_rows = np.flatnonzero(self.published & (self.values == 0))
        inside = np.asarray(self.matrix[zero_rows].sum(axis=0)).reshape(-1)
        return inside > 0

    def system(self) -> System:
        """The attacker's integer program, with the finest cells it can read off fixed.

        A finest cell is fixed when it lies in a published zero cell (0) or is the only finest
        cell of a published cell (that cell's value); the rest are the unknowns.
        """
        nf = self.matrix.shape[1]
        fixed = np.full(nf, -1, dtype=np.int64)
        fixed[self.fixed_zero()] = 0
        sizes = np.diff(self.matrix.indptr)
        single = np.flatnonzero(self.published & (sizes == 1))
        cols = self.matrix.indices[self.matrix.indptr[single]]
        order = np.argsort(cols, kind="stable")
        cols, vals = cols[order], self.values[single][order]
        clash = (cols[1:] == cols[:-1]) & (vals[1:] != vals[:-1])
        if clash.any() or ((fixed[cols] >= 0) & (fixed[cols] != vals)).any() or (vals < 0).any():
            raise DataError(_INCONSISTENT)
        fixed[cols] = vals
        free = np.flatnonzero(fixed < 0)
        known = np.where(fixed < 0, 0, fixed)
        offset = np.rint(self.matrix @ known).astype(np.int64)
        sub = sparse.csr_array(self.matrix[:, free])
        has_free = np.diff(sub.indptr) > 0
        pub = self.published
        if (pub & ~has_free & (offset != self.values)).any():
            raise DataError(_INCONSISTENT)
        need = self.floor - offset
        if (~pub & ~has_free & (need > 0)).any():
            raise DataError(_INCONSISTENT)
        eq = np.flatnonzero(pub & has_free)
        ge = np.flatnonzero(~pub & has_free & (need > 0))
        cons = []
        if len(eq):
            rhs = (self.values[eq] - offset[eq]).astype(float)
            cons.append(LinearConstraint(sub[eq], rhs, rhs))
        if len(ge):
            cons.append(LinearConstraint(sub[ge], need[ge].astype(float), np.inf))
        return System(sub, offset, free, known, cons)

    def intervals(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The attacker's [lower, upper] for each of ``cells`` (upper may be ``inf``)."""
        system = self.system()
        lo = np.empty(len(cells))
        hi = np.empty(len(cells))
        for i, cell in enumerate(cells):
            lo[i], hi[i] = system.interval(cell)
        return lo, hi


_INCONSISTENT = "the published cells are inconsistent: no non-negative integer table reproduces them"


@dataclass(frozen=True)
class System:
    """The attacker's program over the unknown finest cells ``free`` (the others are ``known``):
    cell ``c`` equals ``matrix[c] @ x + offset[c]``; ``constraints`` hold the published cells and
    the floors."""

    matrix: sparse.csr_array
    offset: np.ndarray
    free: np.ndarray
    known: np.ndarray
    constraints: list[LinearConstraint]

    def _run(self, objective: np.ndarray, extra: list[LinearConstraint], integral: bool = True,
             time_limit: float | None = None):
        bounds = Bounds(np.zeros(len(self.free)), np.full(len(self.free), np.inf))
        options = {} if time_limit is None else {"time_limit": time_limit}
        return milp(objective, constraints=self.constraints + extra,
                    integrality=np.full(len(self.free), 1 if integral else 0), bounds=bounds,
                    options=options)

    def _optimum(self, objective: np.ndarray) -> float | None:
        """min objective @ x over the integer program (``-inf`` if unbounded, None if
        infeasible). The LP relaxation answers when its optimal vertex is integral."""
        lp = self._run(objective, [], integral=False)
        if lp.status == 2:
            return None
        if lp.status == 3:
            return -float("inf")
        if lp.status == 0 and _integral(lp.x):
            return float(round(lp.fun))
        ip = self._run(objective, [])
        if ip.status == 0:
            return float(round(ip.fun))
        if ip.status == 2 or (ip.status == 4 and lp.status == 2):
            return None
        raise RuntimeError(f"audit: the solver failed ({ip.message})")

    def interval(self, cell: int) -> tuple[float, float]:
        """[min, max] of ``cell`` over the integer program (max may be ``inf``).

        An unbounded LP relaxation of a feasible integer program with rational data means the
        integer program is unbounded too, so ``inf`` is exact.
        """
        row = self.matrix[[cell]].toarray().reshape(-1)
        base = float(self.offset[cell])
        if not row.any():
            return base, base
        low = self._optimum(row)
        if low is None:
            raise DataError(_INCONSISTENT)
        high = self._optimum(-row)
        if high is None:  # cannot happen once the minimum exists
            raise RuntimeError("audit: the maximisation found no table")
        return base + low, base - high

    def reach(self, cell: int, target: int, also: Sequence[int] = ()) -> np.ndarray | None:
        """A full finest table the attacker cannot rule out with ``cell >= target``, or None.

        The LP relaxation also pushes the cells ``also`` towards ``target`` (maximising the sum
        of their values capped at ``target``), so that one table can serve several cells; if
        its vertex is not integral, a plain integer feasibility program decides.
        """
        row = self.matrix[[cell]]
        need = target - int(self.offset[cell])
        if need > 0 and row.nnz == 0:
            return None
        extra = [LinearConstraint(row, need, np.inf)] if need > 0 else []
        x = self._pushed(extra, [q for q in also if q != cell], target)
        if x is None:
            return None
        zero = np.zeros(len(self.free))
        if not _integral(x) and len(also):
            x = self._run(zero, extra, integral=False).x  # a plain vertex is often integral
        if not _integral(x):
            x = self._run(zero, extra, time_limit=REACH_TIME_LIMIT).x
            if x is None:  # infeasible, or no table found in time: the caller suppresses more
                return None
        full = self.known.copy()
        full[self.free] = np.rint(x).astype(np.int64)
        return full

    def _pushed(self, extra: list[LinearConstraint], also: list[int],
                target: int) -> np.ndarray | None:
        """The LP relaxation's table (free cells only), with ``also`` pushed up; None if the
        relaxation (and so the integer program) is infeasible."""
        n, k = len(self.free), len(also)
        if k == 0:
            return self._run(np.zeros(n), extra, integral=False).x
        cons = [LinearConstraint(sparse.hstack([c.A, sparse.csr_array((c.A.shape[0], k))]),
                                 c.lb, c.ub) for c in self.constraints + extra]
        # u_q <= A_q x + offset_q, 0 <= u_q <= target: maximise sum(u)
        cons.append(LinearConstraint(
            sparse.hstack([-self.matrix[also], sparse.identity(k, format="csr")]),
            -np.inf, self.offset[also].astype(float)))
        bounds = Bounds(np.zeros(n + k), np.concatenate([np.full(n, np.inf), np.full(k, target)]))
        res = milp(np.concatenate([np.zeros(n), -np.ones(k)]), constraints=cons, bounds=bounds)
        return None if res.x is None else res.x[:n]


def _integral(x: np.ndarray) -> bool:
    return bool(np.allclose(x, np.rint(x), atol=1e-9, rtol=0))


def audit(
    tables: pd.DataFrame | Sequence[pd.DataFrame],
    threshold: int,
    *,
    zeros_published: bool = True,
) -> pd.DataFrame | list[pd.DataFrame]:
    """Attack published tables with integer programs and report every suppressed cell's interval.

    ``tables`` are tidy tables as :func:`pprl.disclosure.suppress` returns them (the ``by``
    columns, ``count`` with ``<NA>`` where suppressed, ``suppressed``); several tables released
    from the same data are attacked together. The finest table the attacker solves for is the
    cross-tab of every ``by`` column over every category seen in any table. With
    ``zeros_published`` the attacker also knows that suppressed cells are not zero (assuming
    it can only tighten the intervals, so it is the cautious choice).

    Returns, per table, its suppressed rows with ``lower``, ``upper`` (float, ``inf`` when
    unbounded) and ``protected`` (``upper >= threshold``); a single table gives a single frame.
    """
    single = isinstance(tables, pd.DataFrame)
    frames = [tables] if single else list(tables)
    if not frames:
        raise DataError("audit: no tables given")
    threshold = _check_threshold(threshold)
    bys = [[c for c in f.columns if c not in RESULT_COLUMNS] for f in frames]
    for i, (f, by) in enumerate(zip(frames, bys, strict=True)):
        for col in ("count", "suppressed"):
            if col not in f.columns:
                raise DataError(f"audit: table {i} has no {col!r} column")
        if not by:
            raise DataError(f"audit: table {i} has no dimension columns")
        if f[by].isna().any().any():
            raise DataError(f"audit: table {i} has a missing value in its dimension columns")
        if f.duplicated(subset=by).any():
            raise DataError(f"audit: table {i} lists a cell twice")
    columns = list(dict.fromkeys(c for by in bys for c in by))
    cats = [
        _sorted_categories(
            v for f in frames if col in f.columns for v in f[col].tolist() if not _is_total(v)
        )
        for col in columns
    ]
    grid = Grid(tuple(columns), tuple(tuple(c) for c in cats))
    tabs = [grid.table(by) for by in bys]
    cells = CellSet.of(tabs)
    rows = _row_cells(frames, tabs, cells)
    values, published, shown_suppressed = _published(frames, rows, len(cells))
    floor = np.where(shown_suppressed, 1 if zeros_published else 0, 0)
    attack = Attack(cells.matrix, values, published, floor)
    targets = np.flatnonzero(shown_suppressed)
    lo, hi = attack.intervals(targets)
    lower = dict(zip(targets.tolist(), lo, strict=True))
    upper = dict(zip(targets.tolist(), hi, strict=True))
    out = []
    for f, ids in zip(frames, rows, strict=True):
        mask = f["suppressed"].to_numpy(dtype=bool)
        res = f.loc[mask].copy()
        res["lower"] = [lower[c] for c in ids[mask]]
        res["upper"] = [upper[c] for c in ids[mask]]
        res["protected"] = res["upper"] >= threshold
        out.append(res)
    n_bad = sum(int((~r["protected"]).sum()) for r in out)
    logger.debug("audit: %d suppressed cells, %d unprotected", len(targets), n_bad)
    return out[0] if single else out


def _is_total(v: object) -> bool:
    return isinstance(v, str) and v == TOTAL


def _check_threshold(threshold: object) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer) or threshold < 1:
        raise ValueError(f"threshold must be an integer >= 1, got {threshold!r}")
    return int(threshold)


def _row_cells(frames, tabs, cells) -> list[np.ndarray]:
    """For each frame row, its distinct cell."""
    out = []
    for i, (f, tab, idx) in enumerate(zip(frames, tabs, cells.index, strict=True)):
        keys = tab.keys()
        keys["_cell"] = idx
        left = f[list(tab.by)].astype(object).reset_index(drop=True)
        merged = left.merge(keys, on=list(tab.by), how="left")
        if merged["_cell"].isna().any():
            bad = int(np.flatnonzero(merged["_cell"].isna().to_numpy())[0])
            raise DataError(f"audit: table {i}, row {bad}: not a cell of the cross-tab")
        out.append(merged["_cell"].to_numpy(dtype=np.int64))
    return out


def _published(frames, rows, ncells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct cell: the published value, whether any table publishes it, and whether any
    table shows it suppressed."""
    values = np.zeros(ncells, dtype=np.int64)
    published = np.zeros(ncells, dtype=bool)
    shown_suppressed = np.zeros(ncells, dtype=bool)
    for i, (f, ids) in enumerate(zip(frames, rows, strict=True)):
        sup = f["suppressed"].to_numpy(dtype=bool)
        counts = f["count"]
        if counts[~sup].isna().any():
            raise DataError(f"audit: table {i} has a published cell without a count")
        vals = counts.fillna(-1).to_numpy(dtype=np.int64)
        shown_suppressed[ids[sup]] = True
        for cell, v in zip(ids[~sup], vals[~sup], strict=True):
            if published[cell] and values[cell] != v:
                raise DataError(
                    f"audit: table {i} publishes a cell as {v}, another table as {values[cell]}"
                )
            values[cell] = v
            published[cell] = True
    return values, published, shown_suppressed
