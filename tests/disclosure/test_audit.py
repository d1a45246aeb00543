"""The integer-programming attacker, checked against brute-force enumeration of every table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from pprl import disclosure
from pprl.errors import DataError

TOTAL = disclosure.TOTAL


def tidy(interior: np.ndarray, suppressed: np.ndarray) -> pd.DataFrame:
    """A published 2-D/3-D table with all margins from ``interior`` and a suppression mask over
    the full table (shape ``interior.shape + 1`` per axis, last index = Total)."""
    full = interior.astype(np.int64)
    for axis in range(interior.ndim):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    rows = []
    for idx in itertools.product(*(range(n + 1) for n in interior.shape)):
        key = [TOTAL if i == n else f"c{i}" for i, n in zip(idx, interior.shape, strict=True)]
        s = bool(suppressed[idx])
        rows.append([*key, pd.NA if s else int(full[idx]), s])
    cols = [f"d{k}" for k in range(interior.ndim)]
    out = pd.DataFrame(rows, columns=[*cols, "count", "suppressed"])
    out["count"] = out["count"].astype("Int64")
    return out


def brute_force(interior: np.ndarray, suppressed: np.ndarray, floor: int):
    """Every integer interior table consistent with the published cells; per suppressed cell
    of the full table, its (min, max) over them."""
    shape = interior.shape
    total = int(interior.sum())
    full_true = interior
    for axis in range(interior.ndim):
        full_true = np.concatenate([full_true, full_true.sum(axis=axis, keepdims=True)], axis=axis)
    unknown = [idx for idx in itertools.product(*map(range, shape)) if suppressed[idx]]
    grids = np.meshgrid(*[np.arange(total + 1)] * len(unknown), indexing="ij")
    candidates = np.stack([g.reshape(-1) for g in grids], axis=1) if unknown else np.zeros((1, 0))
    tables = np.broadcast_to(interior, (len(candidates), *shape)).copy()
    for j, idx in enumerate(unknown):
        tables[(slice(None), *idx)] = candidates[:, j]
    full = tables
    for axis in range(1, interior.ndim + 1):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    flat = full.reshape(len(full), -1)
    pub = ~suppressed.reshape(-1)
    ok = (flat[:, pub] == full_true.reshape(-1)[pub]).all(axis=1)
    ok &= (flat[:, ~pub] >= floor).all(axis=1)
    feasible = flat[ok]
    return feasible[:, ~pub].min(axis=0), feasible[:, ~pub].max(axis=0)


def random_case(rng, shape):
    interior = rng.integers(0, 9, size=shape)
    full_shape = tuple(n + 1 for n in shape)
    suppressed = rng.random(full_shape) < 0.35
    suppressed[(-1,) * len(shape)] = False  # grand total published: everything bounded
    # at most 3 unknown interior cells keeps the enumeration small
    inner = [i for i in itertools.product(*map(range, shape)) if suppressed[i]]
    for idx in inner[3:]:
        suppressed[idx] = False
    full = interior
    for axis in range(len(shape)):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    zero_cells = full == 0
    suppressed &= ~zero_cells  # published zeros, as suppress() does by default
    if not suppressed.any():  # always attack something
        suppressed[np.unravel_index(np.argmax(interior), shape)] = True
    return interior, suppressed


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("shape", [(2, 3), (3, 3), (2, 2, 2)])
def test_intervals_equal_brute_force(shape, seed):
    rng = np.random.default_rng(1000 * len(shape) + seed)
    interior, suppressed = random_case(rng, shape)
    table = tidy(interior, suppressed)
    result = disclosure.audit(table, threshold=5)
    lo, hi = brute_force(interior, suppressed, floor=1)
    assert result["lower"].tolist() == lo.tolist()
    assert result["upper"].tolist() == hi.tolist()
    assert (result["protected"] == (result["upper"] >= 5)).all()


def test_zeros_not_published_lowers_the_floor():
    interior = np.array([[3, 4], [5, 6]])
    suppressed = np.zeros((3, 3), dtype=bool)
    suppressed[0, 0] = suppressed[0, 1] = suppressed[1, 0] = suppressed[1, 1] = True
    table = tidy(interior, suppressed)
    strict = disclosure.audit(table, 5, zeros_published=True)
    loose = disclosure.audit(table, 5, zeros_published=False)
    assert strict["lower"].tolist() == brute_force(interior, suppressed, 1)[0].tolist()
    assert loose["lower"].tolist() == brute_force(interior, suppressed, 0)[0].tolist()
    assert loose["lower"].min() == 0 and strict["lower"].min() == 1


def test_primary_suppression_alone_is_undone():
    interior = np.array([[4, 25], [30, 40]])
    only_primary = np.zeros((3, 3), dtype=bool)
    only_primary[0, 0] = True
    attacked = disclosure.audit(tidy(interior, only_primary), 11)
    assert attacked["lower"].tolist() == [4] and attacked["upper"].tolist() == [4]
    assert not attacked["protected"].any()
    df = pd.DataFrame({"d0": ["c0"] * 29 + ["c1"] * 70,
                       "d1": ["c0"] * 4 + ["c1"] * 25 + ["c0"] * 30 + ["c1"] * 40})
    protected = disclosure.suppress(df, by=["d0", "d1"], threshold=11)
    assert protected["suppressed"].sum() == 4
    assert disclosure.audit(protected, 11)["protected"].all()


def test_unbounded_cells_have_infinite_upper_ends():
    interior = np.array([[2, 3], [4, 5]])
    suppressed = np.ones((3, 3), dtype=bool)  # nothing published at all
    result = disclosure.audit(tidy(interior, suppressed), 11)
    assert np.isinf(result["upper"]).all()
    # every suppressed cell is >= 1 (zeros are published), so a margin is >= its child count
    assert result["lower"].tolist() == [1, 1, 2, 1, 1, 2, 2, 2, 4]
    assert result["protected"].all()


def test_inconsistent_tables_are_reported():
    interior = np.array([[20, 30], [40, 50]])
    table = tidy(interior, np.zeros((3, 3), dtype=bool))
    table.loc[0, "suppressed"] = True
    table.loc[0, "count"] = pd.NA
    table.loc[8, "count"] = 500  # grand total disagrees with its rows
    with pytest.raises(DataError, match="inconsistent"):
        disclosure.audit(table, 11)
    other = table.copy()
    other.loc[1, "count"] = 31
    with pytest.raises(DataError, match="publishes a cell as"):
        disclosure.audit([table, other], 11)


def test_bad_tables_are_named():
    interior = np.array([[20, 30], [40, 50]])
    table = tidy(interior, np.zeros((3, 3), dtype=bool))
    with pytest.raises(DataError, match="table 0 has no 'suppressed'"):
        disclosure.audit(table.drop(columns="suppressed"), 11)
    with pytest.raises(DataError, match="no tables"):
        disclosure.audit([], 11)
    with pytest.raises(ValueError, match="threshold"):
        disclosure.audit(table, -3)
    with pytest.raises(DataError, match="table 1 lists a cell twice"):
        disclosure.audit([table, pd.concat([table, table.iloc[:1]])], 11)
