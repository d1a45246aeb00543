"""Primary and complementary cell suppression of count tables with all their margins.

Rule enforced (checked by :func:`pprl.disclosure.audit`): after suppression, an attacker who knows
every published cell of every table protected together, that counts are non-negative integers,
that every margin is the sum of its children and (when zeros are published) that suppressed cells
are not zero, cannot prove that a suppressed cell is below the threshold: the largest value the
integer program allows is at least ``threshold``. The lower end is not protected; when zeros are
published a suppressed cell is known to be >= 1 by construction.

How complementary cells are chosen: each primary cell (smallest first) needs a *certificate*, an
alternative non-negative integer table that agrees with every published cell, respects the floor
of every suppressed cell and gives the primary cell a value >= threshold. A primary cell that no
certificate found so far raises is handled in this order:

1. a certificate under the current suppression (nothing more to suppress): the LP relaxation,
   which also pushes the other waiting small cells up so that one table often serves many, or,
   if its vertex is fractional, an integer program (``scipy.optimize.milp``);
2. else the LP relaxation of the cheapest-protection program chooses the cells: published cells
   may move (by at most the missing amount, then by any amount) if suppressed, at a cost of
   ``1 + log(count)`` per cell scaled by the move, so few and small cells win and margins, being
   large, come last; the cells it moves are suppressed and the certificate is its table (or, if
   fractional, an integer program's);
3. else the cheapest hypercube (Repsilber's method: ``2**d`` corners around the cell, where a
   column's partner category may be its margin), if one fits;
4. else the last resort: suppress every published cell containing the primary cell's largest
   finest cell, which then is unbounded above.

Suppressing more cells never invalidates a certificate (its values at newly suppressed cells are
the true ones, so >= threshold), so once every primary cell has one, the release passes the
audit. Every certificate is verified in exact integer arithmetic before it is used, and all of
them again at the end.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from .._log import logger
from ..errors import DataError
from ._audit import Attack, _check_threshold
from ._grid import CellSet, Grid, Table, category_lists, check_columns

_NONE = np.zeros(0, dtype=np.int64)

#: Largest hypercube search (finest cells x corners) tried before the last-resort pattern.
MAX_CUBE_ENTRIES = 4_000_000


def suppress(
    df: pd.DataFrame,
    by: Sequence[str] | Sequence[Sequence[str]],
    threshold: int = 11,
    *,
    suppress_zeros: bool = False,
    categories: Mapping[str, Sequence[object]] | None = None,
) -> pd.DataFrame | list[pd.DataFrame]:
    """The full cross-tab of ``df`` over ``by`` with primary and complementary suppression.

    ``by`` is a list of column names (one table) or a list of such lists (several tables released
    from the same data, protected together: a cell shared by two tables is one cell, and no
    table's published cells can undo another's suppression); a list of tables gives a list of
    frames. Each frame has one row per cell, zero cells and every partial margin included (a
    margin holds :data:`TOTAL` in each collapsed column), and the columns ``by``, ``count``
    (Int64, ``<NA>`` where suppressed), ``suppressed`` and ``reason`` ("primary", "complementary"
    or None).

    Primary cells are the counts 1..threshold-1 (and 0 when ``suppress_zeros``); true zeros are
    published by default. ``categories`` optionally lists a column's categories (so that zero rows
    for categories absent from the data appear); otherwise the observed values, sorted, are used.
    See the module docstring for the protection rule and how complementary cells are chosen.
    """
    threshold = _check_threshold(threshold)
    bys, single = _normalise_by(by)
    columns = list(dict.fromkeys(c for b in bys for c in b))
    check_columns(df, columns)
    cats = category_lists(df, columns, categories, margins=True)
    grid = Grid(tuple(columns), tuple(tuple(c) for c in cats))
    codes = grid.codes(df)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise DataError(f"row {row}: a 'by' value is missing or not among the given categories")
    counts = grid.counts(codes)
    tables = [grid.table(b) for b in bys]
    cells = CellSet.of(tables)
    values = np.rint(cells.matrix @ counts).astype(np.int64)
    primary = (values < threshold) & ((values > 0) | suppress_zeros)
    problem = Problem(cells.matrix, values, threshold, 0 if suppress_zeros else 1, counts,
                      cells.keys, grid.shape)
    started = time.perf_counter()
    suppressed = problem.protect(primary)
    logger.debug(
        "suppress: %d cells, %d primary, %d complementary (%.2f s)",
        len(cells), int(primary.sum()), int((suppressed & ~primary).sum()),
        time.perf_counter() - started,
    )
    frames = [_frame(t, values[i], suppressed[i], primary[i]) for t, i in
              zip(tables, cells.index, strict=True)]
    return frames[0] if single else frames


def _normalise_by(by: object) -> tuple[list[list[str]], bool]:
    """``by`` as a list of column lists, and whether it named a single table."""
    if isinstance(by, str):
        by = [by]
    if not isinstance(by, Sequence) or not by:
        raise DataError("by: give a non-empty list of columns, or a list of such lists")
    if all(isinstance(b, str) for b in by):
        bys, single = [list(by)], True
    elif all(isinstance(b, Sequence) and not isinstance(b, str) for b in by):
        bys, single = [list(b) for b in by], False
    else:
        raise DataError("by: mix of column names and column lists")
    for i, b in enumerate(bys):
        if not b or not all(isinstance(c, str) for c in b):
            raise DataError(f"by[{i}]: give a non-empty list of column names")
        if len(set(b)) != len(b):
            raise DataError(f"by[{i}]: a column is listed twice")
    return bys, single


def _frame(table: Table, values, suppressed, primary) -> pd.DataFrame:
    out = table.keys()
    out["count"] = pd.array(np.where(suppressed, 0, values), dtype="Int64")
    out.loc[suppressed, "count"] = pd.NA
    out["suppressed"] = suppressed
    reason = np.where(primary, "primary", np.where(suppressed, "complementary", None))
    out["reason"] = pd.Series(reason, dtype=object).where(suppressed, None)
    return out


@dataclass(frozen=True)
class Certificate:
    """An alternative finest table ``x`` and the values ``cells`` it gives every cell."""

    x: np.ndarray
    cells: np.ndarray


@dataclass
class Problem:
    """Distinct cells (``matrix``: cells x finest cells), their true ``values``, the
    ``threshold``, the ``floor`` of a suppressed cell (1 when zeros are published), the true
    finest ``counts``, each cell's category ``keys`` in the grid (-1: summed) and the grid
    ``shape``."""

    matrix: sparse.csr_array
    values: np.ndarray
    threshold: int
    floor: int
    counts: np.ndarray
    keys: np.ndarray
    shape: tuple[int, ...]

    def protect(self, primary: np.ndarray) -> np.ndarray:
        """The suppression mask: ``primary`` plus complementary cells (see the module doc)."""
        suppressed = primary.copy()
        certificates: list[Certificate] = []
        covered = np.zeros(len(self.values), dtype=bool)
        order = np.flatnonzero(primary)
        order = order[np.argsort(self.values[order], kind="stable")]
        for p in order:
            if not covered[p]:
                waiting = order[~covered[order]]
                cert = self._certificate(suppressed, p, waiting)
                certificates.append(cert)
                covered |= cert.cells >= self.threshold
        self._check(suppressed, primary, certificates)
        return suppressed

    # -- certificates ---------------------------------------------------------------------------
    def _certify(self, x: np.ndarray) -> Certificate:
        return Certificate(x, self.matrix.astype(np.int64) @ x)

    def _valid(self, suppressed: np.ndarray, cert: Certificate) -> bool:
        """Can the attacker not rule out ``cert`` (exact integer arithmetic)?"""
        pub = ~suppressed
        return bool((cert.x >= 0).all()
                    and (cert.cells[pub] == self.values[pub]).all()
                    and (cert.cells[suppressed] >= self.floor).all())

    def _reach(self, suppressed: np.ndarray, p: int,
               also: np.ndarray = _NONE) -> Certificate | None:
        """A verified certificate for ``p`` under ``suppressed`` without more suppression (one
        that raises the primary cells ``also`` too, where it can)."""
        floor = np.where(suppressed, self.floor, 0)
        try:
            x = Attack(self.matrix, self.values, ~suppressed, floor).system().reach(
                p, self.threshold, also)
        except DataError:
            return None
        if x is None:
            return None
        cert = self._certify(x)
        ok = self._valid(suppressed, cert) and cert.cells[p] >= self.threshold
        return cert if ok else None

    def _certificate(self, suppressed: np.ndarray, p: int, waiting: np.ndarray) -> Certificate:
        """A verified certificate for ``p``, suppressing more cells (in place) if needed;
        ``waiting`` are the primary cells still without one."""
        cert = self._reach(suppressed, p, waiting)
        if cert is not None:
            return cert
        delta = self.threshold - int(self.values[p])
        for reach in (delta, None):
            found = self._relaxed(suppressed, p, reach)
            if found is None:
                continue
            x, extra = found
            trial = suppressed.copy()
            trial[extra] = True
            cert = self._certify(x)
            if not (self._valid(trial, cert) and cert.cells[p] >= self.threshold):
                cert = self._reach(trial, p, waiting)  # the LP table is fractional
            if cert is not None:
                suppressed[extra] = True
                return cert
        found = None
        if self.counts.size * 2 ** len(self.shape) <= MAX_CUBE_ENTRIES:
            found = self._cube(suppressed, p, allow=suppressed.size)
        if found is not None:
            x, extra = found
            suppressed[extra] = True
            return self._certify(x)
        logger.warning("suppress: cell %d needed the fallback pattern", p)
        return self._fallback(suppressed, p)

    def _relaxed(self, suppressed: np.ndarray, p: int,
                 reach: int | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Cells to suppress so that ``p`` can reach the threshold, from the LP relaxation of
        the cheapest-protection program (published cells may move by ``reach``, or any amount
        when None, if suppressed; the cost is ``weight * move / reach``), with the LP's
        alternative table rounded to integers."""
        a, t = self.values, self.threshold
        nf = self.matrix.shape[1]
        cand = np.flatnonzero(~suppressed & (a >= max(t, 1)))
        sup = np.flatnonzero(suppressed)
        big = float(self.counts.sum() + t) if reach is None else float(reach)
        down = np.minimum(big, a[cand] - self.floor).astype(float)
        eye = sparse.identity(len(cand), format="csr")
        mc = self.matrix[cand]
        floors = np.full(len(sup), float(self.floor))
        floors[sup == p] = float(t)
        zeros = sparse.csr_array((len(sup), len(cand)))
        cons = [
            LinearConstraint(sparse.hstack([mc, eye.multiply(down[:, None])]), a[cand], np.inf),
            LinearConstraint(sparse.hstack([mc, -big * eye]), -np.inf, a[cand]),
            LinearConstraint(sparse.hstack([self.matrix[sup], zeros]), floors, np.inf),
        ]
        cost = np.concatenate([np.zeros(nf), self._weight(cand)])
        fixed = Attack(self.matrix, self.values, ~suppressed, np.zeros(len(a))).fixed_zero()
        bounds = Bounds(np.zeros(nf + len(cand)),
                        np.concatenate([np.where(fixed, 0.0, np.inf), np.ones(len(cand))]))
        res = milp(cost, constraints=cons, bounds=bounds)  # no integrality: an LP
        if res.x is None:
            return None
        return np.rint(res.x[:nf]).astype(np.int64), cand[res.x[nf:] > 1e-9]

    def _cube(self, suppressed: np.ndarray, p: int,
              allow: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The cheapest hypercube pattern for ``p`` that suppresses at most ``allow`` more cells:
        an alternative table and the extra cells, or None."""
        delta = self.threshold - int(self.values[p])
        y = self._patterns(p)  # finest cells x patterns, entries +-1
        change = sparse.csc_array(self.matrix @ y)
        change.eliminate_zeros()
        # every finest cell of the alternative table stays >= 0
        finest = self.counts[y.indices] + delta * y.data
        ok = np.minimum.reduceat(finest, y.indptr[:-1]) >= 0
        coo = change.tocoo()
        cell, pat, step = coo.row, coo.col, coo.data
        published = ~suppressed[cell]
        candidate = published & (self.values[cell] >= max(self.threshold, 1))
        bad = (published & ~candidate) | (self.values[cell] + delta * step < self.floor)
        np.logical_and.at(ok, pat[bad], False)
        cost = np.zeros(y.shape[1])
        new = np.zeros(y.shape[1], dtype=np.int64)
        np.add.at(cost, pat[candidate], self._weight(cell[candidate]))
        np.add.at(new, pat[candidate], 1)
        ok &= new <= allow
        if not ok.any():
            return None
        best = int(np.flatnonzero(ok)[np.argmin(cost[ok])])
        col = y[:, [best]].toarray().reshape(-1).astype(np.int64)
        mask = (pat == best) & candidate
        return self.counts + delta * col, cell[mask]

    def _patterns(self, p: int) -> sparse.csc_array:
        """Every hypercube pattern through cell ``p``, as columns over the finest cells.

        A pattern is the tensor product over the grid columns of one vector per column: where
        ``p`` fixes category ``c``, either ``e_c - e_q`` (``q`` another category) or ``e_c`` (the
        margin moves with it); where ``p`` sums the column, ``e_q`` for some category ``q``. Adding
        ``delta`` times a pattern raises ``p`` by ``delta`` and moves only the cube's corners.
        """
        options = []
        for c, n in zip(self.keys[p], self.shape, strict=True):
            if c >= 0:
                options.append([(c, q) for q in range(n) if q != c] + [(c, -1)])
            else:
                options.append([(q, -1) for q in range(n)])
        choice = np.array(list(itertools.product(*options)), dtype=np.int64)  # P x d x 2
        first, second = choice[:, :, 0], choice[:, :, 1]
        npat, d = first.shape
        rows, cols, data = [], [], []
        for bits in itertools.product((False, True), repeat=d):
            bits_arr = np.array(bits, dtype=bool)
            valid = (second[:, bits_arr] >= 0).all(axis=1)
            corner = np.where(bits_arr, second, first)[valid]
            rows.append(np.ravel_multi_index(tuple(corner.T), self.shape))
            cols.append(np.flatnonzero(valid))
            data.append(np.full(int(valid.sum()), -1 if sum(bits) % 2 else 1, dtype=np.int64))
        r, c, v = (np.concatenate(a) for a in (rows, cols, data))
        return sparse.csc_array((v, (r, c)), shape=(self.counts.size, npat))

    def _weight(self, cells: np.ndarray) -> np.ndarray:
        """Information loss of suppressing ``cells``: few and small."""
        return 1.0 + np.log(np.maximum(self.values[cells], 1).astype(float))

    def _fallback(self, suppressed: np.ndarray, p: int) -> Certificate:
        """Suppress every cell containing the largest finest cell of ``p``; raise that cell."""
        inside = self.matrix[[p]].indices
        f = inside[np.argmax(self.counts[inside])]
        suppressed |= self.matrix[:, [f]].toarray().reshape(-1) > 0
        x = self.counts.copy()
        x[f] += self.threshold - int(self.values[p])
        return self._certify(x)

    def _check(self, suppressed, primary, certificates) -> None:
        """Every primary cell has a certificate valid under the final suppression."""
        done = np.zeros(len(self.values), dtype=bool)
        for cert in certificates:
            if not self._valid(suppressed, cert):
                raise RuntimeError("suppress: a certificate broke; this is a bug")
            done |= cert.cells >= self.threshold
        if (primary & ~done).any():
            raise RuntimeError("suppress: a primary cell has no certificate; this is a bug")
