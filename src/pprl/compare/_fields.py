"""Dice of explicit pairs, and per-field similarity vectors for candidate pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from .._log import logger
from ..encodings import Encodings
from ..errors import DataError, IncompatibleEncodingsError
from ._engine import execute, resolve_workers
from ._kernels import pair_scores

FieldsOption = bool | Literal["auto"]
PAIRS_PER_CALL = 1 << 20


def row_popcounts(rows: np.ndarray) -> np.ndarray:
    return np.bitwise_count(rows).sum(axis=1, dtype=np.int32)


def check_rows(index, n: int, name: str) -> np.ndarray:
    """``index`` as int64 row numbers in ``0..n-1``; DataError naming ``name`` otherwise."""
    arr = np.asarray(index)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-d array of row indexes, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"{name} must hold integer row indexes, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    bad = np.flatnonzero((arr < 0) | (arr >= n))
    if bad.size:
        raise DataError(f"{name}[{bad[0]}] = {arr[bad[0]]} is not a row index (0..{n - 1})")
    return arr


def pair_dice(left_rows: np.ndarray, right_rows: np.ndarray, li: np.ndarray, rj: np.ndarray, *,
              left_pop: np.ndarray | None = None, right_pop: np.ndarray | None = None,
              missing: bool = False, workers: int = 1) -> np.ndarray:
    """float64 Dice of ``left_rows[li[x]]`` and ``right_rows[rj[x]]`` (indexes already checked)."""
    left_pop = row_popcounts(left_rows) if left_pop is None else left_pop
    right_pop = row_popcounts(right_rows) if right_pop is None else right_pop
    out = np.empty(len(li), dtype=np.float64)
    left_rows = np.ascontiguousarray(left_rows)
    right_rows = np.ascontiguousarray(right_rows)

    def call(s: slice):
        return lambda: pair_scores(left_rows, left_pop, right_rows, right_pop, li[s], rj[s],
                                   out[s], missing)

    slices = [slice(x, x + PAIRS_PER_CALL) for x in range(0, len(li), PAIRS_PER_CALL)]
    execute([call(s) for s in slices], workers, progress=False)
    return out


def score_pairs(a: Encodings, b: Encodings | None, left: Sequence[int] | np.ndarray,
                right: Sequence[int] | np.ndarray, *, workers: int | None = None) -> np.ndarray:
    """Dice of the explicit pairs ``(a[left[x]], b[right[x]])`` as a float64 array.

    ``b=None`` scores pairs within ``a``. Scores are exactly those of :func:`dice` (two empty
    filters score 0.0). ``workers`` as in :func:`dice` (it matters from about a million pairs).
    Raises DataError when an index is out of range or the arrays differ in length,
    IncompatibleEncodingsError when the encodings cannot be compared.
    """
    n_workers = resolve_workers(workers)
    b = a if b is None else b
    a.check_compatible(b)
    li = check_rows(left, len(a), "left")
    rj = check_rows(right, len(b), "right")
    if li.shape != rj.shape:
        raise DataError(f"left and right must have one length, got {len(li)} and {len(rj)}")
    return pair_dice(a.bits, b.bits, li, rj, left_pop=a.popcounts, right_pop=b.popcounts,
                     workers=n_workers)


def field_names_for(a: Encodings, b: Encodings, option: FieldsOption) -> tuple[str, ...]:
    """The fields to score: per ``option`` ("auto", True or False); see :func:`dice`."""
    if option is False:
        return ()
    if option not in (True, "auto"):
        raise ValueError(f"fields must be True, False or 'auto', got {option!r}")
    names = tuple(a.fields)
    same = bool(names) and set(names) == set(b.fields)
    if same:
        widths = {n: (a.fields[n].shape[1], b.fields[n].shape[1]) for n in names}
        wrong = [n for n, (x, y) in widths.items() if x != y]
        if wrong:
            raise IncompatibleEncodingsError(
                f"field {wrong[0]!r} has filters of {widths[wrong[0]][0]} words in a and "
                f"{widths[wrong[0]][1]} in b"
            )
        return names
    if a.fields or b.fields:
        logger.debug("compare: no field scores (a has fields %s, b has %s)", sorted(a.fields),
                     sorted(b.fields))
    if option is True:
        raise DataError(
            f"fields=True needs the same field filters on both sides; a has {sorted(a.fields)}, "
            f"b has {sorted(b.fields)}"
        )
    return ()


def field_matrix(a: Encodings, b: Encodings, names: Sequence[str], li: np.ndarray,
                 rj: np.ndarray, workers: int) -> np.ndarray:
    """float32 (pairs x fields): each field's Dice, NaN where the field is empty on either side."""
    out = np.empty((len(li), len(names)), dtype=np.float32)
    for col, name in enumerate(names):
        out[:, col] = pair_dice(a.fields[name], b.fields[name], li, rj, missing=True,
                                workers=workers)
    return out
