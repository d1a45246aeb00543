"""Generalisation hierarchies for quasi-identifiers (used by :func:`pprl.disclosure.extract`).

A hierarchy turns the distinct text values of one column into coarser labels, one array per level
above the original values (level 0). The top level, where every value becomes ``"*"``, is added by the
extract engine, so a hierarchy only lists the levels in between. Each level must be a coarsening of
the one below it (a tree); the engine checks that and drops levels that merge nothing.

Declared hierarchies come from a spec mapping (``{"type": "date", ...}``, see
:func:`hierarchy_from_spec`) or a plain mapping ``value -> [parent at level 1, parent at level 2, ...]``.
A value that a declared hierarchy does not cover raises a :class:`~pprl.errors.DataError` that names
the column and the value. Missing values (None, NaN, empty text) are never passed to a hierarchy.
"""

from __future__ import annotations

import itertools
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError

TOP = "*"
OTHER = "Other"

_DATE_RE = r"^(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})(?:[ T].*)?$"
_ZIP5_RE = re.compile(r"^\d{5}$")
_ZIP9_RE = re.compile(r"^\d{5}-\d{4}$")
# UK-style postcodes, loosely (outward code of 2-4 characters, inward code of 3), so typos still fit
_UK_POSTCODE_RE = re.compile(r"^[A-Za-z][A-Za-z\d]{1,3} ?[A-Za-z\d]{3}$")
_POSTAL_NAME_RE = re.compile(r"zip|post(al)?_?code|postcode|postal", re.IGNORECASE)
MAX_CATEGORY_LEVELS = 12  # numbers with at most this many distinct values are treated as categories
INFER_SHARE = 0.99  # share of distinct values that must fit a kind for inference to pick it


class Hierarchy(ABC):
    """Maps the distinct values of a column to coarser labels, level by level."""

    @abstractmethod
    def levels(self, values: np.ndarray, counts: np.ndarray, *, column: str,
               k: int) -> list[tuple[str, np.ndarray]]:
        """``(level name, labels)`` for each level between the original values and ``"*"``.

        ``values`` are the distinct non-missing text values of ``column`` and ``counts`` how many
        records hold each; every labels array is aligned with ``values``.
        """

    @abstractmethod
    def to_spec(self) -> dict:
        """A JSON/TOML-serialisable spec that :func:`hierarchy_from_spec` turns back into this."""

    def describe(self) -> str:
        """One line for the report."""
        spec = self.to_spec()
        kind = spec.pop("type")
        if kind == "map":
            return f"map (declared, {len(spec['map'])} values)"
        args = ", ".join(f"{key}={value}" for key, value in spec.items())
        return f"{kind}({args})"


def _uncovered(column: str, value: str, why: str) -> DataError:
    return DataError(f"column {column!r}: value {value!r} is not covered by its hierarchy ({why})")


def _parse_dates(values: np.ndarray) -> pd.DataFrame:
    """Year, month and day of YYYY-MM-DD / YYYY/MM/DD text (a time part is ignored); NaN if the text
    has another shape. Months and days are not range-checked: a mistyped ``1856-86-18`` still
    generalises to its recorded year."""
    text = pa.array([str(v) for v in values], type=pa.string())
    found = pc.extract_regex(text, _DATE_RE)
    return pd.DataFrame({
        part: pc.struct_field(found, part).cast(pa.float64()).to_numpy(zero_copy_only=False)
        for part in ("year", "month", "day")
    })


def _parse_numbers(values: np.ndarray) -> np.ndarray:
    """Float values of numeric text (NaN where the text is not a number)."""
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


def _on_valid(values: np.ndarray, counts: np.ndarray, valid: np.ndarray, column: str, strict: bool,
              why: str, build) -> list[tuple[str, np.ndarray]]:
    """Levels built by ``build(valid values, their counts)``; the other values raise (``strict``)
    or become ``"Other"`` at every level."""
    valid = np.asarray(valid, dtype=bool)
    if strict and not valid.all():
        raise _uncovered(column, str(values[np.flatnonzero(~valid)[0]]), why)
    out = []
    for name, labels in build(values[valid], np.asarray(counts)[valid]):
        full = np.full(len(values), OTHER, dtype=object)
        full[valid] = labels
        out.append((name, full))
    return out


def _fmt(x: float) -> str:
    return format(x, ".12g")


@dataclass(frozen=True)
class DateHierarchy(Hierarchy):
    """Dates (YYYY-MM-DD text) -> year-month -> year -> bands of years (or of ages) -> ``"*"``.

    ``bands`` are band widths in years, each a multiple of the one before (default 5 and 10).
    With ``age_at`` (a year), the bands are of age reached in that year (``age_at - birth year``),
    labelled like ``"age 40-44"``, instead of calendar years (``"1980-1984"``).
    ``month=False`` skips the year-month level. With ``strict=False`` (what inference uses),
    text that is not a date becomes ``"Other"`` instead of raising.
    """

    bands: tuple[int, ...] = (5, 10)
    age_at: int | None = None
    month: bool = True
    strict: bool = True

    def __post_init__(self):
        bands = tuple(int(b) for b in self.bands)
        if any(b < 2 for b in bands):
            raise DataError(f"date hierarchy: band widths must be integers >= 2 (got {list(bands)})")
        for lo, hi in itertools.pairwise(bands):
            if hi % lo:
                raise DataError(f"date hierarchy: each band width must be a multiple of the one "
                                f"before (got {list(bands)})")
        object.__setattr__(self, "bands", bands)

    def levels(self, values, counts, *, column, k):
        valid = _parse_dates(values)["year"].notna().to_numpy()
        return _on_valid(values, counts, valid, column, self.strict, "not a date YYYY-MM-DD", self._build)

    def _build(self, values, counts):
        parts = _parse_dates(values)
        year = parts["year"].to_numpy().astype(np.int64)
        month = parts["month"].to_numpy().astype(np.int64)
        out = []
        if self.month:
            out.append(("year-month", _format_distinct(lambda y, m: f"{y:04d}-{m:02d}", year, month)))
        out.append(("year", _format_distinct(lambda y: f"{y:04d}", year)))
        base = year if self.age_at is None else int(self.age_at) - year
        prefix = "" if self.age_at is None else "age "
        kind = "year" if self.age_at is None else "year age"
        for width in self.bands:
            labels = _format_distinct(lambda a, w=width: f"{prefix}{a}-{a + w - 1}",
                                      (base // width) * width)
            out.append((f"{width}-{kind} band", labels))
        return out

    def to_spec(self):
        spec = {"type": "date", "bands": list(self.bands), "month": self.month}
        if self.age_at is not None:
            spec["age_at"] = int(self.age_at)
        if not self.strict:
            spec["strict"] = False
        return spec


@dataclass(frozen=True)
class PrefixHierarchy(Hierarchy):
    """Codes cut to shorter prefixes: ``lengths=(3,)`` turns zip ``"02139"`` into ``"021*"``."""

    lengths: tuple[int, ...] = (3,)

    def __post_init__(self):
        lengths = tuple(int(n) for n in self.lengths)
        if not lengths or any(n < 1 for n in lengths) or list(lengths) != sorted(set(lengths),
                                                                                  reverse=True):
            raise DataError(f"prefix hierarchy: lengths must be positive and strictly decreasing "
                            f"(got {list(self.lengths)})")
        object.__setattr__(self, "lengths", lengths)

    def levels(self, values, counts, *, column, k):
        text = pd.Series(values, dtype=object).astype(str)
        return [(f"first {n} characters", (text.str.slice(0, n) + TOP).to_numpy(dtype=object))
                for n in self.lengths]

    def to_spec(self):
        return {"type": "prefix", "lengths": list(self.lengths)}


@dataclass(frozen=True)
class UKPostcodeHierarchy(Hierarchy):
    """UK postcodes: ``"TQ13 8DF"`` -> sector ``"TQ13 8"`` -> district ``"TQ13"`` -> area ``"TQ"``
    (case and the space are normalised; the inward code is the last three characters). With
    ``strict=False``, text that is not shaped like a postcode becomes ``"Other"``."""

    strict: bool = True

    def levels(self, values, counts, *, column, k):
        valid = pd.Series(values, dtype=object).astype(str).str.fullmatch(_UK_POSTCODE_RE.pattern)
        return _on_valid(values, counts, valid.to_numpy(), column, self.strict, "not a UK postcode",
                         self._build)

    @staticmethod
    def _build(values, counts):
        text = pd.Series(values, dtype=object).astype(str).str.upper().str.replace(" ", "", regex=False)
        outward = text.str.slice(0, -3)
        return [
            ("sector", (outward + " " + text.str.slice(-3, -2)).to_numpy(dtype=object)),
            ("district", outward.to_numpy(dtype=object)),
            ("area", outward.str.extract(r"^([A-Z]+)")[0].to_numpy(dtype=object)),
        ]

    def to_spec(self):
        return {"type": "uk_postcode"} if self.strict else {"type": "uk_postcode", "strict": False}


def _interval_labels(lo: np.ndarray, hi: np.ndarray, closed_last: np.ndarray, integral: bool) -> np.ndarray:
    """``"18-64"`` (integers) or ``"[18.5, 65)"`` per interval, formatted once per distinct interval."""
    if integral:
        def fmt(a, b, c):
            return f"{int(a)}-{int(b) if c else int(b) - 1}"
    else:
        def fmt(a, b, c):
            return f"[{_fmt(a)}, {_fmt(b)}{']' if c else ')'}"
    return _format_distinct(fmt, lo, hi, closed_last)


def _format_distinct(fmt, *columns: np.ndarray) -> np.ndarray:
    """``fmt(*row)`` for each row of the columns, calling ``fmt`` once per distinct row."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        codes, uniq = pd.factorize(np.asarray(col))
        key = key * len(uniq) + codes
        key, _ = pd.factorize(key)
    inverse, uniq = pd.factorize(key)
    first = np.empty(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
    labels = np.array([fmt(*(c[i] for c in columns)) for i in first.tolist()], dtype=object)
    return labels[inverse]


def _numbers_or_error(values: np.ndarray, column: str) -> np.ndarray:
    x = _parse_numbers(values)
    bad = ~np.isfinite(x)
    if bad.any():
        raise _uncovered(column, str(values[np.flatnonzero(bad)[0]]), "not a number")
    return x


@dataclass(frozen=True)
class IntervalHierarchy(Hierarchy):
    """Numbers -> declared intervals. ``levels`` lists the cut points of each level, finest first;
    every level's cuts are a subset of the level before, with the same first and last cut. Intervals
    are ``[lo, hi)``, except the last, which includes its upper cut. Integer cuts on integer data are
    labelled ``"18-64"``, others ``"[18.5, 65)"``."""

    cuts: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self):
        cuts = tuple(tuple(float(c) for c in level) for level in self.cuts)
        if not cuts:
            raise DataError("interval hierarchy: give at least one level of cut points")
        for i, level in enumerate(cuts):
            if len(level) < 2 or any(b <= a for a, b in itertools.pairwise(level)):
                raise DataError(f"interval hierarchy: level {i + 1} needs at least two strictly "
                                f"increasing cut points (got {list(level)})")
            if i and (not set(level) <= set(cuts[i - 1]) or level[0] != cuts[i - 1][0]
                      or level[-1] != cuts[i - 1][-1]):
                raise DataError(f"interval hierarchy: the cuts of level {i + 1} must be a subset of "
                                f"those of level {i}, with the same first and last cut")
        object.__setattr__(self, "cuts", cuts)

    def levels(self, values, counts, *, column, k):
        x = _numbers_or_error(values, column)
        first, last = self.cuts[0][0], self.cuts[0][-1]
        outside = (x < first) | (x > last)
        if outside.any():
            raise _uncovered(column, str(values[np.flatnonzero(outside)[0]]),
                             f"intervals cover {_fmt(first)} to {_fmt(last)}")
        integral = bool(np.all(x == np.round(x))) and all(c == round(c) for c in self.cuts[0])
        out = []
        for level in self.cuts:
            edges = np.asarray(level)
            idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
            closed = idx == len(edges) - 2
            labels = _interval_labels(edges[idx], edges[idx + 1], closed, integral)
            out.append((f"{len(edges) - 1} intervals", labels))
        return out

    def to_spec(self):
        return {"type": "intervals", "levels": [list(level) for level in self.cuts]}


def _nice_width(span: float, target_bins: int = 40) -> float:
    """The smallest 1, 2 or 5 times a power of ten that splits ``span`` in at most ``target_bins``."""
    raw = span / target_bins
    if raw <= 0:
        return 1.0
    exp = math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        width = mult * 10.0 ** exp
        if width >= raw * (1 - 1e-12):
            return width
    return 10.0 ** (exp + 1)


@dataclass(frozen=True)
class NumericHierarchy(Hierarchy):
    """Numbers -> ranges of increasing width aligned on multiples of the width (``"20-24"``,
    ``"20-29"``...). ``widths`` (each a multiple of the one before) default to a 1-2-5 base width
    giving about 40 ranges over the data, doubled three times. With ``strict=False`` (what
    inference uses), text that is not a number becomes ``"Other"`` instead of raising."""

    widths: tuple[float, ...] | None = None
    strict: bool = True

    def __post_init__(self):
        if self.widths is None:
            return
        widths = tuple(float(w) for w in self.widths)
        if not widths or any(w <= 0 for w in widths):
            raise DataError(f"numeric hierarchy: widths must be positive (got {list(self.widths)})")
        for lo, hi in itertools.pairwise(widths):
            ratio = hi / lo
            if ratio <= 1 or abs(ratio - round(ratio)) > 1e-9:
                raise DataError(f"numeric hierarchy: each width must be a multiple (> 1) of the one "
                                f"before (got {list(widths)})")
        object.__setattr__(self, "widths", widths)

    def resolved_widths(self, x: np.ndarray, counts: np.ndarray) -> tuple[float, ...]:
        """The declared widths, or a base width fitting about 40 ranges between the 1st and 99th
        percentiles of the records (so a long tail does not blow up the ranges), doubled 3 times."""
        if self.widths is not None:
            return self.widths
        if len(x) == 0:
            return ()
        order = np.argsort(x, kind="stable")
        cum = np.cumsum(np.asarray(counts)[order])
        lo, hi = (x[order][np.searchsorted(cum, share * cum[-1])] for share in (0.01, 0.99))
        span = float(hi - lo) or float(x.max() - x.min())
        if span == 0:
            return ()
        base = _nice_width(span)
        return tuple(base * 2**i for i in range(4))

    def levels(self, values, counts, *, column, k):
        valid = np.isfinite(_parse_numbers(values))
        return _on_valid(values, counts, valid, column, self.strict, "not a number", self._build)

    def _build(self, values, counts):
        x = _parse_numbers(values)
        widths = self.resolved_widths(x, counts)
        integral = bool(np.all(x == np.round(x))) and all(w == round(w) for w in widths)
        out = []
        for width in widths:
            lo = np.floor(x / width) * width
            labels = _interval_labels(lo, lo + width, np.zeros(len(x), bool), integral)
            out.append((f"ranges of {_fmt(width)}", labels))
        return out

    def to_spec(self):
        spec: dict = {"type": "numeric"}
        if self.widths is not None:
            spec["widths"] = list(self.widths)
        if not self.strict:
            spec["strict"] = False
        return spec


@dataclass(frozen=True)
class CategoryHierarchy(Hierarchy):
    """Categories -> values held by fewer than a threshold of records grouped into ``"Other"``, one
    level per threshold (increasing).

    By default the thresholds are the extract's ``k`` and the counts that keep the most frequent
    quarter, sixteenth, ... of the values (down to 2 values), so a column with many categories has
    several levels between its values and ``"*"``."""

    thresholds: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.thresholds is None:
            return
        ts = tuple(int(t) for t in self.thresholds)
        if not ts or any(t < 2 for t in ts) or list(ts) != sorted(set(ts)):
            raise DataError(f"category hierarchy: thresholds must be increasing integers >= 2 "
                            f"(got {list(self.thresholds)})")
        object.__setattr__(self, "thresholds", ts)

    def default_thresholds(self, counts: np.ndarray, k: int) -> tuple[int, ...]:
        ranked = np.sort(np.asarray(counts))[::-1]
        ts = {int(k)}
        m = len(ranked) // 4
        while m >= 2:
            ts.add(int(ranked[m - 1]))
            m //= 4
        return tuple(sorted(ts))

    def levels(self, values, counts, *, column, k):
        ts = self.thresholds or self.default_thresholds(counts, k)
        out = []
        for t in ts:
            labels = np.where(np.asarray(counts) < t, OTHER, np.asarray(values, dtype=object))
            out.append((f"fewer than {t} records -> {OTHER}", labels.astype(object)))
        return out

    def to_spec(self):
        spec: dict = {"type": "categories"}
        if self.thresholds is not None:
            spec["thresholds"] = list(self.thresholds)
        return spec


@dataclass(frozen=True)
class MapHierarchy(Hierarchy):
    """A declared tree: ``{value: [parent at level 1, parent at level 2, ...]}``, every chain of the
    same length. Each value must appear; the engine checks that equal parents have equal parents."""

    mapping: Mapping[str, Sequence[str]] = field(default_factory=dict)
    level_names: tuple[str, ...] | None = None

    def __post_init__(self):
        if not isinstance(self.mapping, Mapping) or not self.mapping:
            raise DataError("map hierarchy: give a non-empty mapping value -> [parents...]")
        mapping = {}
        depth = None
        for value, chain in self.mapping.items():
            chain = [chain] if isinstance(chain, str) else list(chain)
            if depth is None:
                depth = len(chain)
            if len(chain) != depth or depth == 0:
                raise DataError(f"map hierarchy: value {value!r} has {len(chain)} parent levels, "
                                f"expected {depth} like the others (and at least 1)")
            mapping[str(value)] = tuple(str(p) for p in chain)
        object.__setattr__(self, "mapping", mapping)
        if self.level_names is not None:
            names = tuple(str(n) for n in self.level_names)
            if len(names) != depth:
                raise DataError(f"map hierarchy: {len(names)} level names for {depth} levels")
            object.__setattr__(self, "level_names", names)

    @property
    def depth(self) -> int:
        return len(next(iter(self.mapping.values())))

    def levels(self, values, counts, *, column, k):
        chains = []
        for value in values:
            chain = self.mapping.get(str(value))
            if chain is None:
                raise _uncovered(column, str(value), "the declared map has no entry for it")
            chains.append(chain)
        table = np.array(chains, dtype=object).reshape(len(values), self.depth)
        names = self.level_names or tuple(f"level {i + 1}" for i in range(self.depth))
        return [(names[i], table[:, i].copy()) for i in range(self.depth)]

    def to_spec(self):
        spec: dict = {"type": "map", "map": {v: list(c) for v, c in self.mapping.items()}}
        if self.level_names is not None:
            spec["level_names"] = list(self.level_names)
        return spec


_SPEC_TYPES = {
    "date": (DateHierarchy, {"bands", "age_at", "month", "strict"}),
    "prefix": (PrefixHierarchy, {"lengths"}),
    "uk_postcode": (UKPostcodeHierarchy, {"strict"}),
    "intervals": (IntervalHierarchy, {"levels"}),
    "numeric": (NumericHierarchy, {"widths", "strict"}),
    "categories": (CategoryHierarchy, {"thresholds"}),
    "map": (MapHierarchy, {"map", "level_names"}),
}
_RENAME = {("intervals", "levels"): "cuts", ("map", "map"): "mapping"}


def hierarchy_from_spec(spec: Hierarchy | Mapping, column: str = "?") -> Hierarchy:
    """A :class:`Hierarchy` from itself, a spec mapping with a ``"type"`` key, or a plain mapping
    ``value -> [parents...]`` (a :class:`MapHierarchy`)."""
    if isinstance(spec, Hierarchy):
        return spec
    if not isinstance(spec, Mapping):
        raise DataError(f"hierarchy for column {column!r}: expected a mapping or a Hierarchy, "
                        f"got {type(spec).__name__}")
    if "type" not in spec:
        return _wrap(column, MapHierarchy, {"mapping": dict(spec)})
    kind = spec["type"]
    if kind not in _SPEC_TYPES:
        raise DataError(f"hierarchy for column {column!r}: unknown type {kind!r} "
                        f"(use one of {', '.join(sorted(_SPEC_TYPES))})")
    cls, allowed = _SPEC_TYPES[kind]
    unknown = sorted(set(spec) - allowed - {"type"})
    if unknown:
        raise DataError(f"hierarchy for column {column!r}: unknown key(s) {unknown} for type "
                        f"{kind!r} (allowed: {sorted(allowed)})")
    kwargs = {_RENAME.get((kind, key), key): value for key, value in spec.items() if key != "type"}
    return _wrap(column, cls, kwargs)


def _wrap(column: str, cls, kwargs) -> Hierarchy:
    try:
        return cls(**kwargs)
    except DataError as err:
        raise DataError(f"hierarchy for column {column!r}: {err}") from None
    except (TypeError, ValueError) as err:
        raise DataError(f"hierarchy for column {column!r}: invalid parameters ({err})") from None


def infer_hierarchy(column: str, values: np.ndarray, dtype) -> Hierarchy:
    """The default hierarchy for a column, from its dtype, its distinct text ``values`` and its name.

    Text where at least 99 % of the distinct values look like dates, zip codes, UK postcodes or
    numbers gets that kind's hierarchy, with the odd values (typos) grouped into ``"Other"``;
    anything else is a category."""
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DateHierarchy()
    if pd.api.types.is_bool_dtype(dtype) or len(values) == 0:
        return CategoryHierarchy()
    if pd.api.types.is_numeric_dtype(dtype):
        return NumericHierarchy() if len(values) > MAX_CATEGORY_LEVELS else CategoryHierarchy()
    text = pd.Series(values, dtype=object).astype(str)

    def mostly(mask) -> bool:
        return float(np.mean(np.asarray(mask, dtype=bool))) >= INFER_SHARE

    postal_name = bool(_POSTAL_NAME_RE.search(column))
    if mostly(_parse_dates(values)["year"].notna()):
        return DateHierarchy(strict=False)
    if mostly(text.str.fullmatch(_ZIP5_RE.pattern)) and (postal_name or text.str.startswith("0").any()):
        return PrefixHierarchy((3,))
    if mostly(text.str.fullmatch(_ZIP9_RE.pattern)):
        return PrefixHierarchy((5, 3))
    if postal_name and mostly(text.str.fullmatch(_UK_POSTCODE_RE.pattern)):
        return UKPostcodeHierarchy(strict=False)
    if len(values) > MAX_CATEGORY_LEVELS and mostly(np.isfinite(_parse_numbers(values))):
        return NumericHierarchy(strict=False)
    return CategoryHierarchy()
