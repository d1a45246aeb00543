"""The encode stage: a pandas DataFrame + a schema + the secret -> :class:`pprl.Encodings`.

Names, dates and zip codes repeat, so every distinct value of a column is validated, formatted,
tokenised and hashed once (and remembered across chunks, within a memory budget); each distinct
token is hashed once. The per-value filters are then ORed into the packed rows by numba kernels.
Rows are processed in chunks, so the working memory stays bounded whatever the input size.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from .._log import logger
from ..encodings import Encodings, words_for
from ..errors import DataError
from ..secret import Secret
from . import _kernels, blocking
from . import hardening as H
from .features import ClkString, Feature, Ngram, Target, Tokens
from .hashing import Hasher, clkhash_keys, native_key
from .schema import BlockingPart, Schema

DEFAULT_CHUNK_ROWS = 100_000
VALUE_CACHE_BYTES = 64 << 20  # per feature: filters of the remembered distinct values
MAX_TOKENS = 1 << 20  # per feature and filter: remembered token positions
TRANSIENT_SHARE = 0.3  # a chunk with more distinct values than this share of rows is not cached
_NON_TEXT_KINDS = "biufcmM"


class _TokenStore:
    """Positions of the tokens of one feature in one filter, hashed once each."""

    def __init__(self, hasher: Hasher, encoding: str):
        self.hasher, self.encoding = hasher, encoding
        self.reset()

    def reset(self) -> None:
        self.ids: dict[str, int] = {}
        self.start = np.zeros(0, np.int64)
        self.cap = np.zeros(0, np.int64)
        self.buf = np.zeros(0, np.int64)

    def lookup(self, strings: list[str], kneed: np.ndarray) -> np.ndarray:
        """Global ids of ``strings``, each hashed for at least ``kneed`` insertions."""
        if len(self.ids) > MAX_TOKENS or self.buf.size > 64 * MAX_TOKENS:
            self.reset()
        ids = self.ids
        before = len(ids)
        gids = np.fromiter((ids.setdefault(s, len(ids)) for s in strings), np.int64, len(strings))
        grow = len(ids) - before
        if grow:
            self.start = np.concatenate([self.start, np.zeros(grow, np.int64)])
            self.cap = np.concatenate([self.cap, np.zeros(grow, np.int64)])
        need = np.flatnonzero(self.cap[gids] < kneed)
        if need.size:
            caps = np.array([self.hasher.capacity(int(k)) for k in kneed[need]], np.int64)
            tokens = [strings[i].encode(self.encoding) for i in need]
            pos = self.hasher.positions(tokens, caps)
            self.start[gids[need]] = self.buf.size + np.cumsum(caps) - caps
            self.cap[gids[need]] = caps
            self.buf = np.concatenate([self.buf, pos])
        return gids

    def filters(self, target: Target, tokens: Tokens) -> np.ndarray:
        """One filter (uint64 words) per value of the batch."""
        ks = target.strategy.ks(tokens.val_off)
        kneed = _kernels.max_per_token(tokens.occ_tok, ks, len(tokens.strings))
        gids = self.lookup(tokens.strings, kneed)
        return _kernels.value_filters(tokens.val_off, gids[tokens.occ_tok], ks, self.start,
                                      self.buf, words_for(target.nbits))


@dataclass
class _Staged:
    """One chunk of one column, looked up in the cache; new values prepared, not yet stored."""

    codes: np.ndarray
    slot_of: np.ndarray
    new: np.ndarray
    new_values: list[str]
    formatted: list[str | None]
    tokens: Tokens | None
    errors: dict[int, str]
    dropped: int = 0


class _Column:
    """Everything remembered about one feature: distinct raw value -> slot, and per slot its CLK,
    field and record filters and its blocking-key parts."""

    def __init__(self, feature: Feature, clk: _TokenStore | None, ff: _TokenStore | None,
                 rbf_map: tuple[np.ndarray, np.ndarray] | None, rbf_bits: int,
                 parts: list[blocking.BlockingPart], salted: bool = False):
        self.feature, self.clk, self.ff, self.rbf_map = feature, clk, ff, rbf_map
        self.salted = salted
        self.widths = {}
        if clk is not None:
            self.widths["clk"] = words_for(feature.clk.nbits)
        if ff is not None:
            self.widths["ff"] = words_for(feature.field_filter.nbits)
        if rbf_map is not None:
            self.widths["rbf"] = words_for(rbf_bits)
        self.rbf_bits = rbf_bits
        self.parts = {blocking.part_key(p): p for p in parts}
        per_value = 8 * max(1, sum(self.widths.values())) + 4 * len(self.parts)
        self.max_values = max(DEFAULT_CHUNK_ROWS, VALUE_CACHE_BYTES // per_value)
        self.invalid = 0
        self.transient = False
        self.reset()

    @property
    def name(self) -> str:
        return self.feature.name

    def reset(self) -> None:
        self.slots: dict[str, int] = {}
        self.size = self.capacity = 0
        self.stores = {k: np.zeros((0, w), np.uint64) for k, w in self.widths.items()}
        self.part_ids = {k: np.zeros(0, np.int32) for k in self.parts}
        self.part_texts: dict[tuple, dict[str, int]] = {k: {} for k in self.parts}
        self._part_lists: dict[tuple, list[str]] = {}

    def stage(self, codes: np.ndarray, uniques: list, raw: list[str] | None = None,
              salts: list[str] | None = None) -> _Staged:
        """Look the distinct values up and prepare the new ones. ``uniques`` are the cache keys;
        for a salted column they are (salt, value) pairs, ``raw`` the values and ``salts`` the
        salts of those pairs."""
        # Mostly-distinct columns (addresses) are not worth remembering: their values come once.
        transient = len(uniques) > TRANSIENT_SHARE * max(len(codes), 1)
        if self.transient or transient or self.size + len(uniques) > self.max_values:
            self.reset()
        self.transient = transient
        if transient:
            slot_of = np.full(len(uniques), -1, np.int64)
        else:
            get = self.slots.get
            slot_of = np.fromiter(map(get, uniques, itertools.repeat(-1)), np.int64, len(uniques))
        new = np.flatnonzero(slot_of < 0)
        new_values = [uniques[i] for i in new]
        if not new_values:
            return _Staged(codes, slot_of, new, new_values, [], None, {})
        b = self.feature.prepare(new_values if raw is None else [raw[i] for i in new])
        tokens = b.tokens if salts is None else H.salt_tokens(b.tokens, [salts[i] for i in new])
        return _Staged(codes, slot_of, new, new_values, b.formatted, tokens, b.errors, b.dropped)

    def stage_salted(self, codes: np.ndarray, values: list[str], salt_ids: np.ndarray,
                     salt_texts: list[str]) -> _Staged:
        """Stage the distinct (salt, value) pairs of a chunk: a value is prepared once per salt it
        comes with, and its tokens are hashed with that salt."""
        ns = max(len(salt_texts), 1)
        pair_codes, pairs = pd.factorize(codes.astype(np.int64) * ns + salt_ids)
        pairs = pairs.tolist()
        raw = [values[u // ns] for u in pairs]
        salts = [salt_texts[u % ns] for u in pairs]
        return self.stage(pair_codes, list(zip(salts, raw, strict=True)), raw=raw, salts=salts)

    def arrow_values(self, codes: np.ndarray, uniques) -> pa.Array | None:
        """The distinct values as an Arrow array when this chunk can skip Python strings: a
        mostly-distinct column (addresses) of text that is its own formatted value, cut into
        n-grams and used by no blocking key."""
        fmt = self.feature.format
        if self.salted or not (
                isinstance(self.feature.tokenizer, Ngram) and isinstance(fmt, ClkString)
                and not self.parts and isinstance(getattr(uniques, "dtype", None), pd.StringDtype)
                and len(uniques) > TRANSIENT_SHARE * max(len(codes), 1)):
            return None
        arr = pa.array(uniques.array)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        text = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
        if arr.null_count or not text:
            return None
        return arr if fmt.identity_for(arr) else None

    def stage_arrow(self, codes: np.ndarray, values: pa.Array) -> _Staged:
        """Stage a transient chunk straight from Arrow: every value is new and valid; rows with
        no value (code -1) get slot -1, i.e. no bits, like the empty string."""
        self.reset()
        self.transient = True
        n = len(values)
        tokens = self.feature.tokenizer.tokenize_arrow(values)
        return _Staged(codes, np.full(n + 1, -1, np.int64), np.arange(n), [], [], tokens, {})

    def commit(self, st: _Staged) -> np.ndarray:
        """Store the new values; the slot of every row of the chunk."""
        n_new = st.new.size
        if n_new:
            first = self._grow(n_new)
            rows = slice(first, first + n_new)
            if self.clk is not None:
                self.stores["clk"][rows] = self.clk.filters(self.feature.clk, st.tokens)
            if self.ff is not None:
                ff = self.ff.filters(self.feature.field_filter, st.tokens)
                self.stores["ff"][rows] = ff
                if self.rbf_map is not None:
                    src, dst = self.rbf_map
                    self.stores["rbf"][rows] = _kernels.sample_bits(ff, src, dst, self.rbf_bits)
            for key, part in self.parts.items():
                texts = self.part_texts[key]
                ids = [-1 if not v or not (t := blocking.transform(part, v))
                       else texts.setdefault(t, len(texts)) for v in st.formatted]
                self.part_ids[key][rows] = ids
            if not self.transient:
                self.slots.update(zip(st.new_values, range(first, first + n_new), strict=True))
            self.size += n_new
            st.slot_of[st.new] = np.arange(first, first + n_new)
        return st.slot_of[st.codes]

    def _grow(self, n_new: int) -> int:
        first = self.size
        need = first + n_new
        if need > self.capacity:
            new_cap = self.capacity = max(need, 2 * self.capacity, 1024)
            for k, arr in self.stores.items():
                grown = np.zeros((new_cap, arr.shape[1]), np.uint64)
                grown[:first] = arr[:first]
                self.stores[k] = grown
            for k, arr in self.part_ids.items():
                grown = np.full(new_cap, -1, np.int32)
                grown[:first] = arr[:first]
                self.part_ids[k] = grown
        return first

    def part_lists(self, key: tuple) -> list[str]:
        texts = self.part_texts[key]
        cached = self._part_lists.get(key)
        if cached is None or len(cached) != len(texts):
            cached = self._part_lists[key] = list(texts)
        return cached


class Encoder:
    """Encode DataFrames with one schema and secret, chunk by chunk, remembering distinct values.

    Use :func:`pprl.encode.clks` for one DataFrame; an Encoder is for a stream of DataFrames
    (e.g. ``pandas.read_csv(..., chunksize=...)``) via :meth:`iter_encode`.
    """

    def __init__(self, schema: Schema, secret: Secret, *, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        if not isinstance(schema, Schema):
            raise TypeError(f"schema must be a pprl.Schema, got {type(schema).__name__}")
        if not isinstance(secret, Secret):
            raise TypeError(f"secret must be a pprl.Secret, got {type(secret).__name__}")
        if int(chunk_rows) < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
        self.schema = schema
        self.chunk_rows = int(chunk_rows)
        self.rows_done = 0
        self._columns = self._build(secret)

    # -- setup ------------------------------------------------------------------------------------
    def _build(self, secret: Secret) -> list[_Column]:
        s = self.schema
        h = s.hardening
        raw = secret.expose()
        kdf = s.kdf
        if s.kind == "clkhash":
            keys = clkhash_keys(raw, len(s.features), key_size=kdf.key_size, salt=kdf.salt,
                                info=kdf.info, hash_name=kdf.hash_name)
        block_key = native_key(raw, "block", salt=kdf.salt, info=kdf.info, hash_name=kdf.hash_name)
        shipped = s.blocking if h.blocking == "keep" else ()
        self._keyers = [blocking.BlockKeyer(bk, block_key) for bk in shipped]
        rbf_maps = self._rbf_maps(raw) if s.encoding_type == "rbf" else {}
        parts: dict[str, list] = {}
        for bk in shipped:
            for p in bk.parts:
                parts.setdefault(p.feature, []).append(p)
        salted: set[str] = set()
        self._salt_part = None
        if h.salt is not None:
            self._salt_part = BlockingPart(h.salt.feature, h.salt.transform, h.salt.length)
            parts.setdefault(h.salt.feature, []).append(self._salt_part)
            salted = set(h.salt.features)
        self._hardener = H.Hardener(h, s.clk_nbits, lambda purpose: self._purpose_key(
            raw, f"harden:{purpose}"))
        self._field_hardeners: dict[str, H.Hardener] = {}
        columns = []
        for f in s.hashed_features:
            clk = ff = None
            if s.kind == "clkhash":
                k1, k2 = keys[f.index]
                clk = _TokenStore(Hasher(f.clk.scheme, f.clk.nbits, k1, k2), f.encoding)
            else:
                if f.clk is not None and s.encoding_type == "clk":
                    clk = _TokenStore(Hasher(f.clk.scheme, f.clk.nbits, self._key(raw, "clk", f)),
                                      f.encoding)
                if f.field_filter is not None:
                    ff = _TokenStore(Hasher(f.field_filter.scheme, f.field_filter.nbits,
                                            self._key(raw, "field", f)), f.encoding)
                    if h.field_filters == "harden":
                        self._field_hardeners[f.name] = H.Hardener(
                            h, f.field_filter.nbits, lambda purpose, name=f.name:
                            self._purpose_key(raw, f"harden:{purpose}:field:{name}"))
            columns.append(_Column(f, clk, ff, rbf_maps.get(f.name), s.unfolded_nbits,
                                   parts.get(f.name, []), salted=f.name in salted))
        self._salt_index = next((i for i, c in enumerate(columns)
                                 if h.salt is not None and c.name == h.salt.feature), None)
        return columns

    def _purpose_key(self, raw: bytes, purpose: str) -> bytes:
        kdf = self.schema.kdf
        return native_key(raw, purpose, salt=kdf.salt, info=kdf.info, hash_name=kdf.hash_name)

    def _key(self, raw: bytes, purpose: str, f: Feature) -> bytes:
        kdf = self.schema.kdf
        return native_key(raw, f"{purpose}:{f.name}", salt=kdf.salt, info=kdf.info,
                          hash_name=kdf.hash_name)

    def _rbf_maps(self, raw: bytes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Record-level Bloom filter (Durham et al. 2014): bit ``dst`` of the record filter is
        bit ``src`` of a field filter. Each feature supplies bits in proportion to its weight,
        drawn with replacement; the destinations are a keyed random permutation."""
        s = self.schema
        kdf = s.kdf
        key = native_key(raw, "rbf", salt=kdf.salt, info=kdf.info, hash_name=kdf.hash_name)
        feats = [f for f in s.hashed_features if f.weight > 0]
        total = s.unfolded_nbits
        shares = np.array([f.weight for f in feats]) / sum(f.weight for f in feats) * total
        counts = np.floor(shares).astype(np.int64)
        order = np.argsort(-(shares - counts), kind="stable")
        counts[order[: total - counts.sum()]] += 1
        perm = np.argsort([_keyed_int(key, f"perm\x1f{i}") for i in range(total)], kind="stable")
        maps, pos = {}, 0
        for f, c in zip(feats, counts.tolist(), strict=True):
            m = f.field_filter.nbits
            src = np.array([_keyed_int(key, f"{f.name}\x1f{j}") % m for j in range(c)], np.int64)
            maps[f.name] = (src, perm[pos : pos + c].astype(np.int64))
            pos += c
        return maps

    # -- encoding ---------------------------------------------------------------------------------
    def iter_encode(self, frames: pd.DataFrame | Iterable[pd.DataFrame], *,
                    id_column: str | None = None, progress: bool = False) -> Iterator[Encodings]:
        """Encodings of each chunk of ``frames`` (one DataFrame, or an iterable of them); row
        numbers in error messages count on across the frames."""
        if isinstance(frames, pd.DataFrame):
            frames = [frames]
        bar = _progress(None, progress)
        try:
            for df in frames:
                ids = self._check_frame(df, id_column)
                for a in range(0, len(df), self.chunk_rows):
                    b = min(len(df), a + self.chunk_rows)
                    out = self._empty(b - a)
                    self._encode_into(df.iloc[a:b], out, 0, ids[a:b])
                    bar.update(b - a)
                    yield self._encodings(out, ids[a:b])
                if len(df) == 0:
                    yield self._encodings(self._empty(0), ids)
        finally:
            bar.close()
        self._log_invalid()

    def encode(self, df: pd.DataFrame, *, id_column: str | None = None,
               progress: bool = False) -> Encodings:
        """All rows of ``df``, encoded chunk by chunk into one preallocated result."""
        ids = self._check_frame(df, id_column)
        n = len(df)
        out = self._empty(n)
        t0 = time.perf_counter()
        bar = _progress(n, progress)
        try:
            for a in range(0, n, self.chunk_rows):
                b = min(n, a + self.chunk_rows)
                self._encode_into(df.iloc[a:b], out, a, ids[a:b])
                bar.update(b - a)
        finally:
            bar.close()
        dt = time.perf_counter() - t0
        logger.debug("encoded %d records in %.2f s (%.0f records/s)", n, dt, n / dt if dt else 0.0)
        self._log_invalid()
        return self._encodings(out, ids)

    def _check_frame(self, df: pd.DataFrame, id_column: str | None) -> np.ndarray:
        """The ids of the rows, after checking that every column the schema reads is there."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in self.schema.columns if c not in df.columns]
        if missing:
            raise DataError(
                f"missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(c) for c in missing)} (the schema's features are matched to "
                f"columns by name; the data has {', '.join(repr(str(c)) for c in df.columns)})"
            )
        dup = [c for c in self.schema.columns if list(df.columns).count(c) > 1]
        if dup:
            raise DataError(f"column {dup[0]!r} appears more than once in the data")
        if id_column is None:
            ids = df.index.to_numpy()
        elif id_column not in df.columns:
            raise DataError(f"id column {id_column!r} is not in the data")
        else:
            ids = df[id_column].to_numpy()
        return ids

    def _empty(self, n: int) -> dict:
        s = self.schema
        out = {"bits": np.zeros((n, words_for(s.nbits)), np.uint64), "fields": {}, "blocks": {}}
        if s.hardening.field_filters != "drop":
            for col in self._columns:
                if col.ff is not None:
                    hard = self._field_hardeners.get(col.name)
                    width = words_for(hard.out_nbits) if hard else col.widths["ff"]
                    out["fields"][col.name] = np.zeros((n, width), np.uint64)
        for keyer in self._keyers:
            out["blocks"][keyer.key.name] = np.full(n, None, dtype=object)
        return out

    def _encodings(self, out: dict, ids: np.ndarray) -> Encodings:
        return Encodings(out["bits"], ids, self.schema.nbits, fingerprint=self.schema.fingerprint,
                         fields=out["fields"], block_keys=out["blocks"])

    def _stage(self, col: _Column, chunk: pd.DataFrame, row0: int,
               salts: tuple[np.ndarray, list[str]] | None = None) -> _Staged:
        codes, uniques = _factorize(chunk[col.name], col.name)
        if salts is not None:
            return col.stage_salted(*_texts(codes, uniques, col.name, row0), *salts)
        arrow = col.arrow_values(codes, uniques)
        if arrow is not None:
            return col.stage_arrow(codes, arrow)
        return col.stage(*_texts(codes, uniques, col.name, row0))

    def _stage_all(self, chunk: pd.DataFrame, row0: int) -> tuple[list[_Staged], list]:
        """Stage every column, raising the earliest problem (by row, then column); a salt column is
        committed on the way, as the salted columns need its values (a problem of the salt column
        itself is raised before the salted columns are looked at)."""
        cols = self._columns
        staged: list = [None] * len(cols)
        slots: list = [None] * len(cols)
        problems = []
        for order, col in enumerate(cols):
            if not col.salted:
                staged[order] = st = self._stage(col, chunk, row0)
                if st.errors:
                    problems.append(_first_problem(st, order, col.name, row0))
        si = self._salt_index
        if si is not None and not any(p[1] == si for p in problems):
            slots[si] = cols[si].commit(staged[si])
            salts, problem = self._salts(cols[si], slots[si], row0, si)
            if problem is not None:
                problems.append(problem)
            else:
                for order, col in enumerate(cols):
                    if col.salted:
                        staged[order] = st = self._stage(col, chunk, row0, salts)
                        if st.errors:
                            problems.append(_first_problem(st, order, col.name, row0))
        if problems:
            raise DataError(min(problems)[2])
        for order, col in enumerate(cols):
            if slots[order] is None:
                slots[order] = col.commit(staged[order])
        return staged, slots

    def _salts(self, col: _Column, slots: np.ndarray, row0: int, order: int
               ) -> tuple[tuple[np.ndarray, list[str]], tuple | None]:
        """Per row, the id of its salt text, and the texts; or the problem of a missing salt."""
        key = blocking.part_key(self._salt_part)
        ids = np.where(slots >= 0, col.part_ids[key][np.maximum(slots, 0)], -1).astype(np.int64)
        texts = list(col.part_lists(key))
        missing = np.flatnonzero(ids < 0)
        if missing.size and self.schema.hardening.salt.on_missing == "error":
            row = row0 + int(missing[0]) + 1
            return (ids, texts), (row, order, (
                f"column {col.name!r}, row {row}: no value to salt with (hardening.salt needs "
                f"{col.name!r} on every record; on_missing: 'empty' salts such records with "
                "the empty text)"))
        if missing.size:
            texts.append("")
            ids[missing] = len(texts) - 1
        return (ids, texts), None

    def _encode_into(self, chunk: pd.DataFrame, out: dict, a: int, ids: np.ndarray) -> None:
        row0 = self.rows_done
        staged, slots = self._stage_all(chunk, row0)
        m = len(chunk)
        b = a + m
        self._write_bits(out["bits"][a:b], slots, ids)
        for col, sl in zip(self._columns, slots, strict=True):
            if col.name in out["fields"]:
                dest = out["fields"][col.name][a:b]
                hard = self._field_hardeners.get(col.name)
                if hard is None:
                    _kernels.or_rows(dest, col.stores["ff"], sl)
                else:
                    rows = np.zeros((m, col.widths["ff"]), np.uint64)
                    _kernels.or_rows(rows, col.stores["ff"], sl)
                    dest[:] = hard.apply(rows, ids)
        by_name = {col.name: (col, sl) for col, sl in zip(self._columns, slots, strict=True)}
        for keyer in self._keyers:
            part_ids, texts = [], []
            for p in keyer.key.parts:
                col, sl = by_name[p.feature]
                key = blocking.part_key(p)
                part_ids.append(col.part_ids[key][sl])
                texts.append(col.part_lists(key))
            out["blocks"][keyer.key.name][a:b] = keyer.keys(part_ids, texts)
        for col, st in zip(self._columns, staged, strict=True):
            col.invalid += st.dropped
        self.rows_done += m

    def _write_bits(self, dest: np.ndarray, slots: list[np.ndarray], ids: np.ndarray) -> None:
        s = self.schema
        store = "clk" if s.encoding_type == "clk" else "rbf"
        cols = [(c, sl) for c, sl in zip(self._columns, slots, strict=True) if store in c.stores]
        hard = self._hardener
        if s.xor_folds == 0 and not hard.active:
            for col, sl in cols:
                _kernels.or_rows(dest, col.stores[store], sl)
            return
        rows = np.zeros((dest.shape[0], words_for(s.unfolded_nbits)), np.uint64)
        for col, sl in cols:
            _kernels.or_rows(rows, col.stores[store], sl)
        if s.xor_folds:
            rows = _kernels.fold_rows(rows, s.clk_nbits)
        dest[:] = hard.apply(rows, ids) if hard.active else rows

    def _log_invalid(self) -> None:
        for col in self._columns:
            if col.invalid:
                logger.warning("feature %r: %d distinct invalid values were treated as missing "
                               "(on_invalid: missing)", col.name, col.invalid)


def _keyed_int(key: bytes, label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode("utf-8"), key=key, digest_size=8).digest(),
                          "little")


def _factorize(series: pd.Series, name: str) -> tuple[np.ndarray, pd.Index]:
    """Codes per row (-1: None/NaN) and the distinct values."""
    kind = getattr(series.dtype, "kind", "O")
    if kind in _NON_TEXT_KINDS:
        raise DataError(
            f"column {name!r} holds {series.dtype} values, not text; read files with "
            "pprl.io.read_table (cells verbatim) or convert the column with .astype(str) first"
        )
    return pd.factorize(series, use_na_sentinel=True)


def _texts(codes: np.ndarray, uniques, name: str, row0: int) -> tuple[np.ndarray, list[str]]:
    """The distinct values as Python text, None/NaN turned into the empty string."""
    values = list(uniques.tolist())
    if not isinstance(getattr(uniques, "dtype", None), pd.StringDtype) and values and \
            pd.api.types.infer_dtype(values, skipna=False) != "string":
        bad = next(i for i, v in enumerate(values) if not isinstance(v, str))
        row = int(np.flatnonzero(codes == bad)[0])
        raise DataError(f"column {name!r}, row {row0 + row + 1}: {values[bad]!r} is not text")
    na = codes < 0
    if na.any():
        try:
            idx = values.index("")
        except ValueError:
            values.append("")
            idx = len(values) - 1
        codes = np.where(na, idx, codes)
    return codes, values


def _first_problem(st: _Staged, order: int, name: str, row0: int) -> tuple[int, int, str]:
    """The earliest row holding one of the invalid new values, with its message."""
    bad = np.zeros(len(st.slot_of), dtype=bool)
    bad[st.new[list(st.errors)]] = True
    row = int(np.flatnonzero(bad[st.codes])[0])
    j = int(np.flatnonzero(st.new == st.codes[row])[0])
    return (row0 + row + 1, order, f"column {name!r}, row {row0 + row + 1}: {st.errors[j]}")


def _progress(total: int | None, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="rec", unit_scale=True, desc="encoding", file=sys.stderr,
                disable=not enabled)


def clks(df: pd.DataFrame, schema: Schema | str, secret: Secret | bytes | str, *,
         id_column: str | None = None, progress: bool = False,
         chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Encodings:
    """Encode the rows of ``df`` into Bloom-filter encodings (CLKs) with ``schema`` and ``secret``.

    Schema features are matched to columns by name (ignored features need no column); values are
    text, and None/NaN count as missing like the empty string. Ids come from ``id_column``, else
    from the DataFrame's index. For a clkhash v3 schema the result's ``to_clkhash()`` equals
    clkhash 0.18's output. A native schema can add field filters (``.fields``) and keyed blocking
    keys (``.block_keys``). ``progress`` shows a bar on stderr.
    """
    encoder = Encoder(*_coerce(schema, secret), chunk_rows=chunk_rows)
    return encoder.encode(df, id_column=id_column, progress=progress)


def clks_chunks(frames: pd.DataFrame | Iterable[pd.DataFrame], schema: Schema | str,
                secret: Secret | bytes | str, *, id_column: str | None = None,
                progress: bool = False, chunk_rows: int = DEFAULT_CHUNK_ROWS
                ) -> Iterator[Encodings]:
    """Like :func:`clks` for a stream of DataFrames (e.g. :func:`pprl.io.iter_table`): yields the
    encodings chunk by chunk, so memory stays bounded for any input size. Distinct values are
    remembered across chunks."""
    encoder = Encoder(*_coerce(schema, secret), chunk_rows=chunk_rows)
    yield from encoder.iter_encode(frames, id_column=id_column, progress=progress)


def _coerce(schema: Schema | str, secret: Secret | bytes | str) -> tuple[Schema, Secret]:
    if not isinstance(schema, Schema):
        schema = Schema.load(schema)
    if not isinstance(secret, Secret):
        secret = Secret(secret)
    return schema, secret
