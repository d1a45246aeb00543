"""What a schema feature does to the values of its column: validate and format them (clkhash
semantics or native normalisation), split them into tokens, and decide how often each token is
inserted into a filter.

Everything here works on a batch of *distinct* values: the encoder calls it once per new value.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _kernels
from .normalize import Normalizer

_MAX_SHOWN = 10


@dataclass
class Prepared:
    """Formatted values (``None``: sets no bits), the problems found by batch index, and how many
    invalid values were let through as missing (``on_invalid="missing"``)."""

    formatted: list[str | None]
    errors: dict[int, str]
    dropped: int = 0


@dataclass
class Batch:
    """A batch of distinct values made ready: formatted, tokenised, with their problems."""

    formatted: list[str | None]
    tokens: Tokens
    errors: dict[int, str]
    dropped: int = 0


@dataclass
class Tokens:
    """Tokens of a batch of values: value ``v`` has ``occ_tok[val_off[v]:val_off[v + 1]]``
    (ids into ``strings``), in clkhash's order."""

    val_off: np.ndarray
    occ_tok: np.ndarray
    strings: list[str]


def _show(values) -> str:
    items = sorted(values)
    shown = ", ".join(repr(v) for v in items[:_MAX_SHOWN])
    return shown + (f", … ({len(items)} values)" if len(items) > _MAX_SHOWN else "")


# == value formats: clkhash semantics ===============================================================
class ClkFormat:
    """clkhash's FieldSpec: a missing-value sentinel is replaced and never validated; every other
    value must encode in the feature's encoding and pass the type's checks (``format`` raises
    ValueError with the problem)."""

    def __init__(self, encoding: str = "utf-8", sentinel: str | None = None,
                 replace_with: str | None = None):
        self.encoding = encoding
        self.sentinel = sentinel
        self.replace_with = sentinel if replace_with is None else replace_with

    def prepare(self, values: list[str]) -> Prepared:
        sentinel, enc = self.sentinel, self.encoding
        idx = None if sentinel is None else [i for i, v in enumerate(values) if v != sentinel]
        vals = values if idx is None else [values[i] for i in idx]
        formatted = self.bulk(vals) if _encodes(vals, enc) else [None] * len(vals)
        errors: dict[int, str] = {}
        for j in [j for j, f in enumerate(formatted) if f is None]:
            v = vals[j]
            try:
                if not _encodes([v], enc):
                    raise ValueError(f"cannot be encoded as {enc}")
                formatted[j] = self.format(v)
            except ValueError as err:
                errors[j if idx is None else idx[j]] = f"{v!r} {err}"
        if idx is None:
            return Prepared(formatted, errors)
        out: list[str | None] = [self.replace_with] * len(values)
        for j, i in enumerate(idx):
            out[i] = formatted[j]
        return Prepared(out, errors)

    def bulk(self, values: list[str]) -> list[str | None]:
        """Formatted values known valid at once (all of them encode); None: check one by one."""
        return [None] * len(values)

    def format(self, value: str) -> str:
        return value


def _encodes(values: list[str], encoding: str) -> bool:
    try:
        "\x00".join(values).encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


class ClkString(ClkFormat):
    def __init__(self, pattern: str | None = None, case: str = "mixed", min_length: int | None = None,
                 max_length: int | None = None, **kw):
        super().__init__(**kw)
        self.pattern = pattern
        self.regex = re.compile(pattern) if pattern is not None else None
        self.case, self.min_length, self.max_length = case, min_length, max_length
        self.unconstrained = pattern is None and case == "mixed" and min_length is None \
            and max_length is None

    def bulk(self, values: list[str]) -> list[str | None]:
        return list(values) if self.unconstrained else [None] * len(values)

    def identity_for(self, values: pa.Array) -> bool:
        """True when every value is valid and formats to itself (then it never needs Python)."""
        if not self.unconstrained or self.sentinel != self.replace_with:
            return False
        # Arrow strings are valid UTF-8, so they encode in any Unicode encoding; ascii is checked
        return self.encoding != "ascii" or bool(pc.all(pc.string_is_ascii(values)).as_py() in
                                                (True, None))

    def format(self, v: str) -> str:
        if self.regex is not None:
            if not self.regex.fullmatch(v):
                raise ValueError(f"does not match the pattern {self.pattern!r}")
            return v
        if self.min_length is not None and len(v) < self.min_length:
            raise ValueError(f"is shorter than {self.min_length} characters")
        if self.max_length is not None and len(v) > self.max_length:
            raise ValueError(f"is longer than {self.max_length} characters")
        if self.case == "upper" and v.upper() != v:
            raise ValueError("is not upper case")
        if self.case == "lower" and v.lower() != v:
            raise ValueError("is not lower case")
        return v


class ClkInteger(ClkFormat):
    def __init__(self, minimum: int | None = None, maximum: int | None = None, **kw):
        super().__init__(**kw)
        self.minimum, self.maximum = minimum, maximum

    def format(self, v: str) -> str:
        return str(_integer(v, self.minimum, self.maximum))


def _integer(v: str, minimum: int | None, maximum: int | None) -> int:
    try:
        x = int(v, 10)
    except ValueError:
        raise ValueError("is not an integer") from None
    if minimum is not None and x < minimum:
        raise ValueError(f"is less than the minimum {minimum}")
    if maximum is not None and x > maximum:
        raise ValueError(f"is greater than the maximum {maximum}")
    return x


class ClkDate(ClkFormat):
    OUTPUT_FORMAT = "%Y%m%d"

    def __init__(self, date_format: str, **kw):
        super().__init__(**kw)
        self.date_format = date_format
        self.plan = DatePlan.of(date_format)

    def bulk(self, values: list[str]) -> list[str | None]:
        return self.plan.parse(values) if self.plan else [None] * len(values)

    def format(self, v: str) -> str:
        return datetime.strftime(_date(v, self.date_format), self.OUTPUT_FORMAT)


class DatePlan:
    """A vectorised reader for strptime formats made of %Y, %m, %d and literal separators.

    It accepts only canonical values (ASCII digits, zero-padded, the exact separators, a real
    calendar date, year >= 1000), for which ``datetime.strptime`` certainly agrees and
    ``strftime("%Y%m%d")`` is just the digits; anything else is left to strptime.
    """

    _WIDTH: ClassVar[dict[str, int]] = {"Y": 4, "m": 2, "d": 2}
    _DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])

    def __init__(self, length: int, fields: dict[str, int], literals: list[tuple[int, int]]):
        self.length, self.fields, self.literals = length, fields, literals

    @classmethod
    def of(cls, date_format: str) -> DatePlan | None:
        fields: dict[str, int] = {}
        literals: list[tuple[int, int]] = []
        pos = i = 0
        while i < len(date_format):
            c = date_format[i]
            if c == "%":
                d = date_format[i + 1 : i + 2]
                if d not in cls._WIDTH or d in fields:
                    return None
                fields[d] = pos
                pos += cls._WIDTH[d]
                i += 2
                continue
            if c.isspace() or c.isdigit() or not c.isascii():
                return None
            literals.append((pos, ord(c)))
            pos += 1
            i += 1
        return cls(pos, fields, literals) if len(fields) == 3 else None

    def parse(self, values: list[str]) -> list[str | None]:
        lengths = np.fromiter(map(len, values), np.int64, len(values))
        idx = np.flatnonzero(lengths == self.length)
        if idx.size == 0:
            return [None] * len(values)
        cps = np.array([values[i] for i in idx.tolist()], dtype=f"<U{self.length}")
        cps = cps.view(np.uint32).reshape(idx.size, self.length)
        ok = np.ones(idx.size, dtype=bool)
        for p, code in self.literals:
            ok &= cps[:, p] == code
        cols = {d: cps[:, p : p + self._WIDTH[d]] for d, p in self.fields.items()}
        num = {}
        for d, block in cols.items():
            ok &= ((block >= 48) & (block <= 57)).all(axis=1)
            num[d] = ((block.astype(np.int64) - 48) * 10 ** np.arange(block.shape[1] - 1, -1, -1)
                      ).sum(axis=1)
        y, m, d = num["Y"], num["m"], num["d"]
        ok &= (y >= 1000) & (m >= 1) & (m <= 12) & (d >= 1)
        leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
        ok &= d <= self._DAYS[np.clip(m, 1, 12) - 1] + (leap & (m == 2))
        digits = np.ascontiguousarray(np.concatenate([cols["Y"], cols["m"], cols["d"]], axis=1))
        text = digits.view("<U8").reshape(-1).astype(object)
        if ok.all() and idx.size == len(values):
            return text.tolist()
        result = np.full(len(values), None, dtype=object)
        result[idx[ok]] = text[ok]
        return result.tolist()


def _date(v: str, date_format: str) -> datetime:
    try:
        return datetime.strptime(v, date_format)
    except ValueError:
        raise ValueError(f"is not a date in format {date_format}") from None


class ClkEnum(ClkFormat):
    def __init__(self, values: list[str], **kw):
        super().__init__(**kw)
        self.values = frozenset(values)

    def format(self, v: str) -> str:
        if v not in self.values:
            raise ValueError(f"is not one of {_show(self.values)}")
        return v


# == value formats: native ==========================================================================
class NativeFormat:
    """Native semantics: values in ``missing`` (after stripping) and values that normalise to the
    empty string set no bits; an invalid value is an error, or missing with ``on_invalid="missing"``.
    """

    def __init__(self, normalizer: Normalizer, missing: tuple[str, ...] = ("",),
                 on_invalid: str = "error"):
        self.normalizer = normalizer
        self.missing = frozenset(m.strip() for m in missing) | {""}
        self.on_invalid = on_invalid

    def prepare(self, values: list[str]) -> Prepared:
        out: list[str | None] = [None] * len(values)
        errors: dict[int, str] = {}
        dropped = 0
        keep = [i for i, v in enumerate(values) if v.strip() not in self.missing]
        normal = self.normalize([values[i] for i in keep])
        fast = self.bulk(normal)
        for i, v, f in zip(keep, normal, fast, strict=True):
            if f is not None or not v:
                out[i] = f or None
                continue
            try:
                out[i] = self.format(v)
            except ValueError as err:
                if self.on_invalid == "error":
                    errors[i] = f"{values[i]!r} {err}"
                else:
                    dropped += 1
        return Prepared(out, errors, dropped)

    def normalize(self, values: list[str]) -> list[str]:
        return self.normalizer(values)

    def bulk(self, values: list[str]) -> list[str | None]:
        """Formatted values known valid at once; None: check one by one."""
        return [None] * len(values)

    def format(self, v: str) -> str:
        return v


class NativeString(NativeFormat):
    def __init__(self, pattern: str | None = None, min_length: int | None = None,
                 max_length: int | None = None, **kw):
        super().__init__(**kw)
        self.pattern = pattern
        self.regex = re.compile(pattern) if pattern is not None else None
        self.min_length, self.max_length = min_length, max_length
        self.unconstrained = pattern is None and min_length is None and max_length is None

    def bulk(self, values: list[str]) -> list[str | None]:
        return list(values) if self.unconstrained else [None] * len(values)

    def format(self, v: str) -> str:
        if self.regex is not None and not self.regex.fullmatch(v):
            raise ValueError(f"does not match the pattern {self.pattern!r}")
        if self.min_length is not None and len(v) < self.min_length:
            raise ValueError(f"is shorter than {self.min_length} characters")
        if self.max_length is not None and len(v) > self.max_length:
            raise ValueError(f"is longer than {self.max_length} characters")
        return v


class NativeDate(NativeFormat):
    """Dates in ``date_format`` (strptime); the formatted value is always ``YYYYMMDD``."""

    def __init__(self, date_format: str = "%Y-%m-%d", **kw):
        super().__init__(**kw)
        self.date_format = date_format
        self.plan = DatePlan.of(date_format)

    def normalize(self, values: list[str]) -> list[str]:
        return [v.strip() for v in values]

    def bulk(self, values: list[str]) -> list[str | None]:
        return self.plan.parse(values) if self.plan else [None] * len(values)

    def format(self, v: str) -> str:
        d = _date(v, self.date_format)
        return f"{d.year:04d}{d.month:02d}{d.day:02d}"


class NativeInteger(NativeFormat):
    def __init__(self, minimum: int | None = None, maximum: int | None = None, **kw):
        super().__init__(**kw)
        self.minimum, self.maximum = minimum, maximum

    def normalize(self, values: list[str]) -> list[str]:
        return [v.strip() for v in values]

    def format(self, v: str) -> str:
        return str(_integer(v, self.minimum, self.maximum))


class NativeEnum(NativeFormat):
    """One of ``values``, compared after normalising both sides."""

    def __init__(self, values: list[str], **kw):
        super().__init__(**kw)
        self.values = frozenset(self.normalizer(list(values)))

    def format(self, v: str) -> str:
        if v not in self.values:
            raise ValueError(f"is not one of {_show(self.values)}")
        return v


# == tokenisers =====================================================================================
class Ngram:
    """clkhash's n-gram tokens (padded with n-1 spaces; positional ones prefixed ``"<i> "``)."""

    def __init__(self, n: int, positional: bool = False):
        self.n, self.positional = n, bool(positional)

    def tokenize(self, values: list[str]) -> tuple[Tokens, dict[int, str]]:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        offsets = np.zeros(len(values) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        cps = np.frombuffer("".join(values).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        return self._tokens(cps, offsets), {}

    def tokenize_arrow(self, values: pa.Array) -> Tokens:
        """Tokens of an Arrow string array without nulls, read from its UTF-8 buffers."""
        width = 8 if pa.types.is_large_string(values.type) else 4
        _, offsets_buf, data_buf = values.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int64 if width == 8 else np.int32)
        offsets = offsets[values.offset : values.offset + len(values) + 1].astype(np.int64)
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None \
            else np.zeros(0, np.uint8)
        cps, char_off = _kernels.utf8_code_points(data, offsets)
        return self._tokens(cps, char_off)

    def _tokens(self, cps: np.ndarray, offsets: np.ndarray) -> Tokens:
        val_off, occ_tok, uniq = _kernels.ngram_tokens(cps, offsets, self.n, self.positional)
        if self.positional:
            strings = [f"{-row[0]} " + "".join(map(chr, row[1:])) for row in uniq.tolist()]
        else:
            strings = ["".join(map(chr, row)) for row in uniq.tolist()]
        return Tokens(val_off, occ_tok, strings)


class _PyTokenizer(ABC):
    """Tokens computed per value in Python, then interned."""

    def tokenize(self, values: list[str]) -> tuple[Tokens, dict[int, str]]:
        ids: dict[str, int] = {}
        counts = np.zeros(len(values), np.int64)
        occ: list[int] = []
        errors: dict[int, str] = {}
        for i, v in enumerate(values):
            try:
                toks = self.tokens(v) if v else ()
            except (ValueError, OverflowError) as err:
                errors[i] = f"{v!r} {err}"
                continue
            counts[i] = len(toks)
            occ.extend(ids.setdefault(t, len(ids)) for t in toks)
        val_off = np.zeros(len(values) + 1, np.int64)
        np.cumsum(counts, out=val_off[1:])
        return Tokens(val_off, np.asarray(occ, dtype=np.int32), list(ids)), errors

    @abstractmethod
    def tokens(self, value: str) -> tuple[str, ...]:
        """The tokens of one non-empty formatted value (ValueError if it has none)."""


class Exact(_PyTokenizer):
    """The whole value is one token."""

    def tokens(self, value: str) -> tuple[str, ...]:
        return (value,)


class Numeric(_PyTokenizer):
    """clkhash's NumericComparison (Vatsalan & Christen): overlapping neighbourhoods of a number."""

    def __init__(self, threshold_distance: float, resolution: int, fractional_precision: int = 0):
        self.resolution = resolution
        self.fractional_precision = fractional_precision
        self.distance_interval = round(threshold_distance * pow(10, fractional_precision))

    def tokens(self, word: str) -> tuple[str, ...]:
        fp, di, res = self.fractional_precision, self.distance_interval, self.resolution
        try:
            v = int(word, base=10)
            if fp > 0:
                v *= pow(10, fp)
        except ValueError:
            try:
                v_float = float(word)
            except ValueError:
                raise ValueError("is not a number") from None
            if not math.isfinite(v_float):
                raise ValueError("is not a finite number") from None
            try:
                v = round(v_float * pow(10, fp)) if fp > 0 else int(v_float)
            except OverflowError:
                raise ValueError("is too large a number") from None
        v = v * 2 * res
        residue = v % di
        if residue == 0:
            pass
        elif residue < di / 2:
            v -= residue
        else:
            v += di - residue
        return tuple(str(v + i * di) for i in range(-res, res + 1))


class DateParts(_PyTokenizer):
    """Year, month and day of a ``YYYYMMDD`` value as separate tokens (``y1987``, ``m05``, ``d17``)."""

    SLICES: ClassVar[dict[str, tuple[str, int, int]]] = {
        "year": ("y", 0, 4), "month": ("m", 4, 6), "day": ("d", 6, 8)
    }

    def __init__(self, parts: tuple[str, ...] = ("year", "month", "day")):
        self.parts = tuple(parts)

    def tokens(self, value: str) -> tuple[str, ...]:
        return tuple(p + value[a:b] for p, a, b in (self.SLICES[x] for x in self.parts))


# == insertion strategies ===========================================================================
@dataclass(frozen=True)
class Strategy:
    """``bits_per_token``: every token ``value`` times; ``bits_per_feature``: ``value`` insertions
    spread over the tokens of a value, the first ``value % T`` tokens getting one more (clkhash)."""

    kind: str  # "bits_per_token" | "bits_per_feature"
    value: int

    def ks(self, val_off: np.ndarray) -> np.ndarray:
        """Insertions of each token occurrence."""
        if self.kind == "bits_per_token":
            return np.full(int(val_off[-1]), self.value, np.int32)
        return _kernels.spread_insertions(val_off, self.value)

    def ks_ref(self, val_off: np.ndarray) -> np.ndarray:
        """Reference: clkhash's BitsPerFeatureStrategy.bits_per_token, value by value."""
        out = []
        for t in np.diff(val_off).tolist():
            if self.kind == "bits_per_token":
                out += [self.value] * t
            elif t:
                k, residue = int(self.value / t), self.value % t
                out += [k + 1] * residue + [k] * (t - residue)
        return np.array(out, dtype=np.int32)

    @property
    def kmax(self) -> int:
        """The most insertions one token occurrence can get."""
        return self.value


@dataclass(frozen=True)
class Target:
    """Where a feature's tokens go: a filter of ``nbits`` bits, hash ``scheme``, ``strategy``."""

    strategy: Strategy
    scheme: str
    nbits: int


@dataclass(frozen=True, eq=False)
class Feature:
    """One feature of a schema, ready to encode values (``ignored`` features only have a name)."""

    name: str
    index: int
    ignored: bool = False
    format: ClkFormat | NativeFormat | None = None
    tokenizer: Ngram | Exact | Numeric | DateParts | None = None
    encoding: str = "utf-8"
    clk: Target | None = None
    field_filter: Target | None = None
    weight: float = 1.0

    def prepare(self, values: list[str]) -> Batch:
        """Validate, format and tokenise distinct raw values (batch order kept)."""
        prep = self.format.prepare(values)
        present = [i for i, v in enumerate(prep.formatted) if v is not None]
        tokens, tok_errors = self.tokenizer.tokenize([prep.formatted[i] for i in present])
        errors = dict(prep.errors)
        for j, msg in tok_errors.items():
            errors[present[j]] = msg
        return Batch(prep.formatted, _spread(tokens, present, len(values)), errors, prep.dropped)


def _spread(tokens: Tokens, present: list[int], n: int) -> Tokens:
    """Re-index tokens of the present values onto all ``n`` values (absent ones get none)."""
    if len(present) == n:
        return tokens
    counts = np.zeros(n, np.int64)
    counts[present] = np.diff(tokens.val_off)
    val_off = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=val_off[1:])
    return Tokens(val_off, tokens.occ_tok, tokens.strings)
