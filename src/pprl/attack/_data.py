"""What an attacker has: encodings (bits, no secret), a plaintext reference population, and the
public encoding settings (the schema, if known: Kerckhoffs' principle)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..encode.features import Feature, Ngram
from ..encode.normalize import Normalizer, expand
from ..encode.schema import Schema
from ..encodings import Encodings
from ..errors import DataError
from ..io import read_table

COUNT_COLUMN = "count"
CLK = "clk"


def source_name(field: str | None) -> str:
    return CLK if field is None else f"field:{field}"


def unpack(words: np.ndarray, nbits: int) -> np.ndarray:
    """Packed uint64 rows -> uint8 matrix ``(n, nbits)`` of 0/1 (the shared bit layout)."""
    raw = np.ascontiguousarray(words).view(np.uint8)
    return np.unpackbits(raw, axis=1, bitorder="big")[:, :nbits]


def filters_of(encodings: Encodings, field: str | None) -> tuple[np.ndarray, int]:
    """The attacked filters as 0/1 rows: the record filters (``field=None``) or one field's."""
    if not isinstance(encodings, Encodings):
        raise TypeError(f"encodings must be pprl.Encodings, got {type(encodings).__name__}")
    if field is None:
        return unpack(encodings.bits, encodings.nbits), encodings.nbits
    if field not in encodings.fields:
        have = ", ".join(map(repr, sorted(encodings.fields))) or "none"
        raise DataError(f"the encodings have no field filter {field!r} (field filters: {have})")
    words = encodings.fields[field]
    return unpack(words, words.shape[1] * 64), words.shape[1] * 64


def attacker_view(encodings: Encodings, field: str | None, schema: Schema | None,
                  undo: bool = True) -> tuple[np.ndarray, list[str]]:
    """The filters as an attacker who knows the public settings sees them after undoing what can
    be undone: balancing (the columns come in complementary pairs, found in the data: keep the
    sparser one of each pair) and Rule 90 (linear: solved exactly, up to its kernel, when the
    schema says it was applied). BLIP noise and XOR folding cannot be undone. ``undo=False``:
    the filters as they are. Returns the 0/1 rows and what was undone."""
    bits, _ = filters_of(encodings, field)
    done: list[str] = []
    if not undo:
        return bits, done
    unbalanced = undo_balance(bits)
    if unbalanced is not None:
        bits = unbalanced
        done.append("balance")
    h = schema.hardening if schema is not None else None
    if h is not None and h.rule90 and (field is None or h.field_filters == "harden"):
        bits = undo_rule90(bits)
        done.append("rule90")
    return bits, done


def undo_balance(bits: np.ndarray) -> np.ndarray | None:
    """The unbalanced filters when (nearly) every column has a complementary column (a balanced
    filter is a permutation of the filter and its negation); None when the filters are not
    balanced."""
    n, l = bits.shape  # noqa: E741
    if n < 2 or l % 2 or not (bits.sum(axis=1) == l // 2).all():
        return None
    cols = np.packbits(bits.T, axis=1)
    comp = np.packbits(1 - bits.T, axis=1)
    index: dict[bytes, list[int]] = {}
    for j in range(l - 1, -1, -1):
        index.setdefault(cols[j].tobytes(), []).append(j)
    keep, used = [], np.zeros(l, dtype=bool)
    for j in range(l):
        if used[j]:
            continue
        partners = index.get(comp[j].tobytes(), [])
        while partners and used[partners[-1]]:
            partners.pop()
        if not partners:
            continue
        k = partners.pop()
        used[j] = used[k] = True
        keep.append(j if bits[:, j].sum() <= bits[:, k].sum() else k)
    if len(keep) < 0.9 * (l // 2):
        return None
    return np.ascontiguousarray(bits[:, sorted(keep)])


def undo_rule90(bits: np.ndarray) -> np.ndarray:
    """A preimage under cyclic Rule 90 (``y[i] = x[i-1] ^ x[i+1]``), per record the sparsest of
    the preimages (they differ by complementing the even and/or odd positions)."""
    n, l = bits.shape  # noqa: E741
    x = np.zeros_like(bits)
    if l % 2:
        # one cycle through every position in steps of 2: x[i + 2] = x[i] ^ y[i + 1]
        order = (2 * np.arange(l)) % l
        y_next = bits[:, (order + 1) % l]
        run = np.zeros((n, l), dtype=bits.dtype)
        run[:, 1:] = np.bitwise_xor.accumulate(y_next[:, :-1], axis=1)
        x[:, order] = _sparser(run)
        return x
    for start in (0, 1):
        idx = np.arange(start, l, 2)
        y_next = bits[:, (idx + 1) % l]
        run = np.zeros((n, idx.size), dtype=bits.dtype)
        run[:, 1:] = np.bitwise_xor.accumulate(y_next[:, :-1], axis=1)
        x[:, idx] = _sparser(run)
    return x


def _sparser(run: np.ndarray) -> np.ndarray:
    flip = run.sum(axis=1) * 2 > run.shape[1]
    return np.where(flip[:, None], 1 - run, run)


# == the attacker's model of one attribute =========================================================
@dataclass
class Attribute:
    """How one plaintext attribute becomes tokens (as the encoder makes them) and a canonical
    value (to compare guesses with the truth). ``k``: bits per token in the attacked filter,
    when the attacker knows it."""

    name: str
    feature: Feature | None = None
    k: int | None = None

    def prepare(self, values: list[str], tokens: bool = True
                ) -> tuple[list[str | None], list[tuple[str, ...]]]:
        """Canonical values (None: no value) and the distinct tokens of each (empty tuples with
        ``tokens=False``)."""
        if self.feature is not None:
            if not tokens:
                prep = self.feature.format.prepare(values)
                canon = [f if f and i not in prep.errors else None
                         for i, f in enumerate(prep.formatted)]
                return canon, [()] * len(values)
            batch = self.feature.prepare(values)
            t = batch.tokens
            toks = [tuple(dict.fromkeys(t.strings[j] for j in t.occ_tok[t.val_off[i]:
                                                                         t.val_off[i + 1]]))
                    for i in range(len(values))]
            canon = [f if f and not batch.errors.get(i) else None
                     for i, f in enumerate(batch.formatted)]
            return canon, [tk if c is not None else () for c, tk in zip(canon, toks, strict=True)]
        canon = [v or None for v in _DEFAULT_NORMALIZER([str(v) for v in values])]
        if not tokens:
            return canon, [()] * len(values)
        grams = Ngram(2).tokenize([c or "" for c in canon])[0]
        toks = [tuple(dict.fromkeys(grams.strings[j] for j in
                                    grams.occ_tok[grams.val_off[i]:grams.val_off[i + 1]]))
                for i in range(len(values))]
        return canon, toks


_DEFAULT_NORMALIZER = Normalizer.from_options(expand("name", "basic"))


def attributes(names: list[str], schema: Schema | None, field: str | None) -> dict[str, Attribute]:
    """The attacker's model of each attribute: the schema's feature (tokens exactly as encoded,
    bits per token of the attacked filter) or, without a schema, normalised padded bigrams."""
    out = {}
    feats = {f.name: f for f in schema.hashed_features} if schema is not None else {}
    for name in names:
        f = feats.get(name)
        if f is None:
            out[name] = Attribute(name)
            continue
        target = f.field_filter if field is not None else f.clk
        k = None
        if target is not None and target.strategy.kind == "bits_per_token":
            k = target.strategy.value
        out[name] = Attribute(name, f, k)
    return out


# == the reference population ======================================================================
class Reference:
    """A plaintext reference population: one row per person or per value combination, attribute
    columns named like the schema's features, and an optional ``count`` column (how many people
    the row stands for; default 1). Cells are text."""

    def __init__(self, frame: pd.DataFrame, *, source: str = "reference"):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"the reference must be a pandas DataFrame, got {type(frame).__name__}")
        self.source = source
        cols = [c for c in frame.columns if c != COUNT_COLUMN]
        if not cols:
            raise DataError(f"{source}: no attribute columns (expected e.g. first_name, "
                            "last_name and an optional count)")
        if len(frame) == 0:
            raise DataError(f"{source}: the reference has no rows")
        if COUNT_COLUMN in frame.columns:
            counts = pd.to_numeric(frame[COUNT_COLUMN], errors="coerce")
            bad = np.flatnonzero(~np.isfinite(counts.to_numpy(dtype=float)) |
                                 (counts.to_numpy(dtype=float) < 0))
            if bad.size:
                raise DataError(f"{source}: column 'count', row {int(bad[0]) + 1}: "
                                f"{frame[COUNT_COLUMN].iloc[bad[0]]!r} is not a non-negative number")
            weights = counts.to_numpy(dtype=float)
        else:
            weights = np.ones(len(frame))
        self.frame = frame[cols].astype(object).where(frame[cols].notna(), "").astype(str)
        self.weights = weights
        self.attributes = [str(c) for c in cols]

    def __str__(self) -> str:
        return f"{self.source} ({len(self.frame)} rows: {', '.join(self.attributes)})"

    @classmethod
    def read(cls, path: str | os.PathLike) -> Reference:
        """Read a reference CSV or Parquet file (cells verbatim as text)."""
        return cls(read_table(path), source=str(Path(path)))

    @classmethod
    def coerce(cls, reference: Reference | pd.DataFrame | str | os.PathLike) -> Reference:
        if isinstance(reference, Reference):
            return reference
        if isinstance(reference, pd.DataFrame):
            return cls(reference)
        return cls.read(reference)

    def require(self, names: list[str]) -> None:
        missing = [n for n in names if n not in self.attributes]
        if missing:
            raise DataError(f"{self.source}: no column {missing[0]!r} (columns: "
                            f"{', '.join(map(repr, self.attributes))})")


@dataclass
class Plain:
    """The reference prepared for one attack: per attribute the canonical value and tokens of each
    reference row, and the row weights."""

    attrs: dict[str, Attribute]
    canon: dict[str, np.ndarray]
    tokens: dict[str, list[tuple[str, ...]]]
    weights: np.ndarray

    @classmethod
    def of(cls, reference: Reference, attrs: dict[str, Attribute],
           with_tokens: bool = True) -> Plain:
        reference.require(list(attrs))
        canon, tokens = {}, {}
        keep = np.ones(len(reference.frame), dtype=bool)
        for name, attr in attrs.items():
            values = reference.frame[name].tolist()
            uniq, inverse = np.unique(np.asarray(values, dtype=object).astype(str),
                                      return_inverse=True)
            c, t = attr.prepare(uniq.tolist(), with_tokens)
            inv = inverse.reshape(-1)
            canon[name] = np.asarray(c, dtype=object)[inv]
            tokens[name] = [t[i] for i in inv.tolist()]
        for name in attrs:
            keep &= np.array([c is not None for c in canon[name]])
        idx = np.flatnonzero(keep & (reference.weights > 0))
        return cls(attrs, {k: v[idx] for k, v in canon.items()},
                   {k: [v[i] for i in idx.tolist()] for k, v in tokens.items()},
                   reference.weights[idx])

    def joint_values(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Distinct joint canonical values of ``names`` (tuples) and their total weights."""
        keys = pd.Series(list(zip(*(self.canon[n] for n in names), strict=True)))
        totals = pd.Series(self.weights).groupby(keys.values).sum()
        totals = totals.sort_values(ascending=False, kind="stable")
        values = np.empty(len(totals), dtype=object)
        values[:] = list(totals.index)
        return values, totals.to_numpy(dtype=float)


def truth_values(truth: pd.DataFrame | None, names: list[str], attrs: dict[str, Attribute],
                 n: int) -> np.ndarray | None:
    """Canonical true joint values (tuples; None where a value is missing) per encoding."""
    if truth is None:
        return None
    if not isinstance(truth, pd.DataFrame):
        raise TypeError(f"truth must be a pandas DataFrame, got {type(truth).__name__}")
    if len(truth) != n:
        raise DataError(f"truth has {len(truth)} rows for {n} encodings (rows must align)")
    missing = [c for c in names if c not in truth.columns]
    if missing:
        raise DataError(f"truth has no column {missing[0]!r} (columns: {list(truth.columns)})")
    cols = []
    for name in names:
        raw = truth[name].astype(object).where(truth[name].notna(), "").astype(str).tolist()
        uniq, inverse = np.unique(np.asarray(raw, dtype=object).astype(str), return_inverse=True)
        c, _ = attrs[name].prepare(uniq.tolist(), tokens=False)
        cols.append(np.asarray(c, dtype=object)[inverse.reshape(-1)])
    out = np.empty(n, dtype=object)
    out[:] = [None if any(v is None for v in t) else t for t in zip(*cols, strict=True)]
    return out


def align_truth(encodings: Encodings, truth: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """The rows of ``truth`` in the order of the encodings' ids (by ``id_column``)."""
    if id_column not in truth.columns:
        raise DataError(f"truth has no id column {id_column!r} (columns: {list(truth.columns)})")
    index = pd.Index(truth[id_column].astype(str))
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        raise DataError(f"truth: id {dup!r} appears more than once in column {id_column!r}")
    pos = index.get_indexer(pd.Index(encodings.ids.astype(str)))
    if (pos < 0).any():
        lost = encodings.ids[np.flatnonzero(pos < 0)[0]]
        raise DataError(f"truth has no row for encoding id {lost!r}")
    return truth.iloc[pos].reset_index(drop=True)


def expected_popcount(tokens: int, k: int, m: int) -> tuple[float, float]:
    """Mean and standard deviation of the set bits when ``tokens * k`` positions are drawn
    uniformly from ``m`` (occupancy)."""
    n = tokens * k
    q1 = (1 - 1 / m) ** n
    q2 = (1 - 2 / m) ** n
    mean = m * (1 - q1)
    var = m * (m - 1) * q2 + m * q1 - (m * q1) ** 2
    return mean, math.sqrt(max(var, 0.0))
