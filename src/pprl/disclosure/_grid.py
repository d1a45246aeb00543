"""Cross-tab geometry shared by suppression, the audit and the DP releases.

A *grid* is the finest cross-tab over some columns (one cell per combination of categories). A
*table* over ``by`` (a subset of the grid's columns) has one cell per combination of the ``by``
categories plus :data:`TOTAL` in each column (every partial margin), and a sparse 0/1 matrix that
says which grid cells each table cell adds up.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import DataError

TOTAL = "Total"


def _sorted_categories(values: Iterable[object]) -> list[object]:
    """Distinct values in sorted order, or in order of first appearance when they do not sort."""
    distinct = list(dict.fromkeys(values))
    try:
        return sorted(distinct)  # type: ignore[type-var]
    except TypeError:
        return distinct


def check_columns(df: pd.DataFrame, columns: Iterable[str], what: str = "by") -> None:
    """Raise DataError naming the first column of ``columns`` that ``df`` lacks."""
    for col in columns:
        if col not in df.columns:
            raise DataError(f"{what}: column {col!r} is not in the data (columns: {list(df.columns)})")


def category_lists(
    df: pd.DataFrame,
    columns: Sequence[str],
    given: Mapping[str, Sequence[object]] | None,
    *,
    margins: bool,
) -> list[list[object]]:
    """The category list of each column: ``given[col]`` when present, else the observed values."""
    given = dict(given or {})
    unknown = set(given) - set(columns)
    if unknown:
        raise DataError(f"categories: {sorted(unknown)} are not among the table columns {list(columns)}")
    out = []
    for col in columns:
        if col in given:
            cats = list(given[col])
            if not cats:
                raise DataError(f"categories[{col!r}] is empty")
            if len(set(cats)) != len(cats):
                raise DataError(f"categories[{col!r}] lists a value twice")
        else:
            series = df[col]
            missing = series.isna()
            if missing.any():
                rows = list(np.flatnonzero(missing.to_numpy())[:5])
                raise DataError(
                    f"column {col!r} has {int(missing.sum())} missing values (rows {rows}...); "
                    "fill them with an explicit category such as 'Unknown' before tabulating"
                )
            cats = _sorted_categories(series.tolist())
            if not cats:
                raise DataError(f"column {col!r} has no values (empty data); list its "
                                "categories explicitly")
        if margins and any(isinstance(c, str) and c == TOTAL for c in cats):
            raise DataError(f"column {col!r} has a category {TOTAL!r}, which names the margins")
        out.append(cats)
    return out


@dataclass(frozen=True)
class Grid:
    """The finest cross-tab over ``columns``; cell ``i`` is the row-major index of its categories."""

    columns: tuple[str, ...]
    categories: tuple[tuple[object, ...], ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.categories)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def codes(self, df: pd.DataFrame) -> np.ndarray:
        """The grid cell of every row of ``df``; -1 where a value is missing or not a category."""
        flat = np.zeros(len(df), dtype=np.int64)
        outside = np.zeros(len(df), dtype=bool)
        for col, cats, n in zip(self.columns, self.categories, self.shape, strict=True):
            code = _category_codes(df[col], cats)
            outside |= code < 0
            flat = flat * n + np.maximum(code, 0)
        flat[outside] = -1
        return flat

    def counts(self, codes: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per-cell row counts (or weight sums) of the rows with ``codes >= 0``."""
        keep = codes >= 0
        w = None if weights is None else weights[keep]
        out = np.bincount(codes[keep], weights=w, minlength=self.size)
        return out if weights is not None else out.astype(np.int64)

    def table(self, by: Sequence[str], *, margins: bool = True) -> Table:
        """The cross-tab over ``by`` (with every partial margin when ``margins``)."""
        pos = [self.columns.index(b) for b in by]
        sizes = [self.shape[p] for p in pos]
        tshape = tuple(n + 1 for n in sizes) if margins else tuple(sizes)
        coords = np.indices(self.shape, dtype=np.int64).reshape(len(self.shape), -1)
        rows, cols = [], []
        grid_index = np.arange(self.size, dtype=np.int64)
        for kept in _levels(len(by), margins):
            cell = [coords[p] if k else np.full(self.size, n, np.int64)
                    for p, n, k in zip(pos, sizes, kept, strict=True)]
            rows.append(np.ravel_multi_index(tuple(cell), tshape))
            cols.append(grid_index)
        ncells = int(np.prod(tshape, dtype=np.int64))
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        matrix = sparse.csr_array(
            (np.ones(len(r), dtype=np.float64), (r, c)), shape=(ncells, self.size)
        )
        return Table(self, tuple(by), margins, tshape, matrix)


def _category_codes(series: pd.Series, cats: Sequence[object]) -> np.ndarray:
    """Position of each value in ``cats`` (-1 if absent or missing)."""
    lookup = {c: i for i, c in enumerate(cats)}
    try:
        return np.fromiter((lookup.get(v, -1) for v in series.tolist()),
                           dtype=np.int64, count=len(series))
    except TypeError as err:
        raise DataError(f"column {series.name!r}: values must be hashable ({err})") from None


def _levels(d: int, margins: bool) -> list[tuple[bool, ...]]:
    """Which dimensions each level keeps: all ``2**d`` subsets, or only the interior."""
    if not margins:
        return [(True,) * d]
    return list(itertools.product((True, False), repeat=d))


@dataclass(frozen=True)
class Table:
    """A cross-tab over ``by``: ``matrix[cell, grid_cell] = 1`` when the grid cell adds into it."""

    grid: Grid
    by: tuple[str, ...]
    margins: bool
    shape: tuple[int, ...]
    matrix: sparse.csr_array = field(repr=False)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def coords(self) -> np.ndarray:
        """Per cell, the category index in each ``by`` column (``n`` meaning TOTAL)."""
        return np.indices(self.shape, dtype=np.int64).reshape(len(self.shape), -1).T

    def keys(self) -> pd.DataFrame:
        """The ``by`` columns of every cell, TOTAL in collapsed columns, in cell order."""
        pos = [self.grid.columns.index(b) for b in self.by]
        values = [list(self.grid.categories[p]) + ([TOTAL] if self.margins else []) for p in pos]
        rows = list(itertools.product(*values))
        data = {b: pd.Series([r[i] for r in rows], dtype=object) for i, b in enumerate(self.by)}
        return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))

    def canonical(self) -> np.ndarray:
        """A key per cell over all grid columns (-1 = summed over) that is equal for two cells
        exactly when they add up the same grid cells, in this table or in another one."""
        key = np.full((len(self), len(self.grid.columns)), -1, dtype=np.int64)
        coords = self.coords()
        for j, b in enumerate(self.by):
            p = self.grid.columns.index(b)
            n = self.grid.shape[p]
            col = coords[:, j]
            if n > 1:
                key[:, p] = np.where(col < n, col, -1)
        return key

    def collapsed(self) -> np.ndarray:
        """Number of collapsed (TOTAL) columns of each cell."""
        sizes = np.array([self.grid.shape[self.grid.columns.index(b)] for b in self.by])
        return (self.coords() >= sizes).sum(axis=1)


@dataclass(frozen=True)
class CellSet:
    """The distinct cells of several tables over one grid (a cell shared by two tables is one)."""

    matrix: sparse.csr_array
    index: list[np.ndarray]  # per table: the distinct cell of each of its rows
    keys: np.ndarray  # per distinct cell: its category in each grid column, -1 when summed

    @classmethod
    def of(cls, tables: Sequence[Table]) -> CellSet:
        keys = np.concatenate([t.canonical() for t in tables])
        unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        stacked = sparse.vstack([t.matrix for t in tables], format="csr")
        matrix = sparse.csr_array(stacked[first])
        bounds = np.cumsum([0] + [len(t) for t in tables])
        return cls(matrix, [inverse[a:b] for a, b in itertools.pairwise(bounds)], unique)

    def __len__(self) -> int:
        return self.matrix.shape[0]
