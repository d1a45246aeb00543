"""`Encodings`: a batch of Bloom-filter encodings (CLKs) with their record ids.

Layout: ``bits`` is ``uint64`` of shape ``(n, ceil(nbits / 64))``, C-contiguous. The bytes of one row are
exactly clkhash's serialized CLK (bitarray big-endian bit order within each byte), zero-padded to a whole
number of 64-bit words, so clkhash/anonlink interop is a byte view plus base64. Popcount and Dice do not
depend on bit order, so the comparison kernels never convert.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DataError, IncompatibleEncodingsError
from .io import atomic_path, check_input_file

FORMAT_VERSION = 1
META_KEY = b"pprl"
CLK_COLUMN = "clk"
ID_COLUMN = "id"
FIELD_PREFIX = "field:"
BLOCK_PREFIX = "block:"


def words_for(nbits: int) -> int:
    """Number of uint64 words that hold ``nbits`` bits."""
    return (nbits + 63) // 64


def pack_rows(rows: np.ndarray, nbits: int) -> np.ndarray:
    """uint8 rows of ``ceil(nbits/8)`` bytes -> zero-padded C-contiguous uint64 words."""
    n = rows.shape[0]
    out = np.zeros((n, words_for(nbits) * 8), dtype=np.uint8)
    out[:, : rows.shape[1]] = rows
    return out.view(np.uint64)


class Encodings:
    """CLKs of ``n`` records plus their ids.

    Optional extras written by the encode stage: ``fields`` (name -> per-field Bloom filters, uint64
    rows) for field-level scoring, and ``block_keys`` (name -> keyed blocking keys, object array of str
    with None where missing). ``fingerprint`` identifies the schema (never the secret).
    """

    def __init__(
        self,
        bits: np.ndarray,
        ids: Sequence | np.ndarray | None = None,
        nbits: int | None = None,
        *,
        fingerprint: str | None = None,
        fields: Mapping[str, np.ndarray] | None = None,
        block_keys: Mapping[str, np.ndarray] | None = None,
    ):
        bits = np.asarray(bits)
        if bits.ndim != 2 or bits.dtype != np.uint64:
            raise TypeError(f"bits must be a 2-d uint64 array, got {bits.dtype} with shape {bits.shape}")
        n, nwords = bits.shape
        nbits = nwords * 64 if nbits is None else int(nbits)
        if nbits <= 0 or words_for(nbits) != nwords:
            raise ValueError(f"nbits={nbits} does not fit bits of {nwords} uint64 words per row")
        self.bits = np.ascontiguousarray(bits)
        self.nbits = nbits
        self.ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids)
        if self.ids.ndim != 1 or len(self.ids) != n:
            raise ValueError(f"{len(self.ids)} ids for {n} encodings")
        self.fingerprint = fingerprint
        self.fields = {k: _check_rows(v, n, f"field {k!r}") for k, v in (fields or {}).items()}
        self.block_keys = {k: _check_keys(v, n, k) for k, v in (block_keys or {}).items()}
        self._popcounts: np.ndarray | None = None
        self._check_padding()

    # -- basics -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.bits.shape[0]

    def __repr__(self) -> str:
        extras = ""
        if self.fields:
            extras += f", fields={sorted(self.fields)}"
        if self.block_keys:
            extras += f", block_keys={sorted(self.block_keys)}"
        return f"Encodings(n={len(self)}, nbits={self.nbits}{extras})"

    @property
    def nbytes_clk(self) -> int:
        """Bytes of one serialized CLK: ceil(nbits / 8)."""
        return (self.nbits + 7) // 8

    @property
    def popcounts(self) -> np.ndarray:
        """Set bits per row (int32), computed once."""
        if self._popcounts is None:
            self._popcounts = np.bitwise_count(self.bits).sum(axis=1, dtype=np.int32)
        return self._popcounts

    def take(self, index: np.ndarray | Sequence[int]) -> Encodings:
        """The encodings at row positions ``index``, as a new object."""
        index = np.asarray(index)
        return Encodings(
            self.bits[index],
            self.ids[index],
            self.nbits,
            fingerprint=self.fingerprint,
            fields={k: v[index] for k, v in self.fields.items()},
            block_keys={k: v[index] for k, v in self.block_keys.items()},
        )

    @classmethod
    def concat(cls, parts: Sequence[Encodings]) -> Encodings:
        """Rows of several compatible batches, in order."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for p in parts[1:]:
            first.check_compatible(p)
        return cls(
            np.concatenate([p.bits for p in parts]),
            np.concatenate([p.ids for p in parts]),
            first.nbits,
            fingerprint=first.fingerprint,
            fields={k: np.concatenate([p.fields[k] for p in parts]) for k in first.fields},
            block_keys={k: np.concatenate([p.block_keys[k] for p in parts]) for k in first.block_keys},
        )

    def check_compatible(self, other: Encodings, names: tuple[str, str] = ("a", "b")) -> None:
        """Raise IncompatibleEncodingsError unless both sides have the same length and schema."""
        if self.nbits != other.nbits:
            raise IncompatibleEncodingsError(
                f"encodings have different lengths: {names[0]} has {self.nbits} bits, "
                f"{names[1]} has {other.nbits} bits"
            )
        if self.fingerprint and other.fingerprint and self.fingerprint != other.fingerprint:
            raise IncompatibleEncodingsError(
                f"encodings were made with different schemas: {names[0]} has fingerprint "
                f"{self.fingerprint[:12]}…, {names[1]} has {other.fingerprint[:12]}…"
            )

    # -- clkhash / anonlink interop ------------------------------------------------------------------
    def clk_bytes(self) -> np.ndarray:
        """uint8 view ``(n, ceil(nbits/8))``: each row is clkhash's serialized CLK."""
        return self.bits.view(np.uint8)[:, : self.nbytes_clk]

    def to_clkhash(self) -> list[str]:
        """Base64 strings, one per record, exactly as clkhash serializes CLKs."""
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in self.clk_bytes()]

    @classmethod
    def from_clkhash(
        cls, strings: Iterable[str], ids: Sequence | None = None, nbits: int | None = None
    ) -> Encodings:
        """Decode clkhash/anonlink base64 CLKs. ``nbits`` defaults to 8 × the decoded length."""
        decoded = []
        for i, s in enumerate(strings):
            try:
                decoded.append(base64.b64decode(s, validate=True))
            except (binascii.Error, ValueError, TypeError):
                raise DataError(f"CLK {i} is not valid base64") from None
        if not decoded:
            raise DataError("no CLKs given")
        lengths = {len(d) for d in decoded}
        if len(lengths) != 1:
            raise IncompatibleEncodingsError(
                f"CLKs have different lengths: {sorted(8 * x for x in lengths)} bits"
            )
        nbytes = lengths.pop()
        nbits = nbytes * 8 if nbits is None else nbits
        if (nbits + 7) // 8 != nbytes:
            raise DataError(f"nbits={nbits} does not match CLKs of {nbytes} bytes")
        rows = np.frombuffer(b"".join(decoded), dtype=np.uint8).reshape(len(decoded), nbytes)
        return cls(pack_rows(rows, nbits), ids, nbits)

    def to_bitarrays(self) -> list:
        """One ``bitarray`` per record (anonlink's input type)."""
        from bitarray import bitarray

        out = []
        for row in self.clk_bytes():
            ba = bitarray(endian="big")
            ba.frombytes(row.tobytes())
            out.append(ba[: self.nbits])
        return out

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write clkhash's JSON format ``{"clks": [base64, ...]}`` atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"clks": self.to_clkhash()}))
        return Path(path)

    @classmethod
    def read_json(cls, path: str | os.PathLike, ids: Sequence | None = None) -> Encodings:
        """Read clkhash's JSON format ``{"clks": [...]}``."""
        p = check_input_file(path)
        try:
            doc = json.loads(p.read_text("utf-8"))
        except UnicodeDecodeError:
            raise DataError(f"{p}: input is not UTF-8 text") from None
        except json.JSONDecodeError as err:
            raise DataError(f"{p}: not valid JSON ({err})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("clks"), list):
            raise DataError(f'{p}: expected a JSON object {{"clks": [...]}}')
        return cls.from_clkhash(doc["clks"], ids)

    # -- Parquet ----------------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """An Arrow table: ``id``, ``clk`` (fixed-size binary), ``field:*``, ``block:*`` + metadata."""
        cols = {ID_COLUMN: pa.array(self.ids), CLK_COLUMN: _binary_column(self.bits)}
        for name, rows in self.fields.items():
            cols[FIELD_PREFIX + name] = _binary_column(rows)
        for name, keys in self.block_keys.items():
            cols[BLOCK_PREFIX + name] = pa.array(keys, type=pa.string())
        meta = {
            "format": FORMAT_VERSION,
            "nbits": self.nbits,
            "fingerprint": self.fingerprint,
            "pprl_version": _version(),
        }
        return pa.table(cols).replace_schema_metadata({META_KEY: json.dumps(meta).encode()})

    def write(self, path: str | os.PathLike, row_group_size: int = 262_144) -> Path:
        """Write Parquet atomically (ids, CLKs, field filters, blocking keys, schema fingerprint)."""
        with atomic_path(path) as tmp:
            pq.write_table(self.to_arrow(), tmp, row_group_size=row_group_size, compression="zstd")
        return Path(path)

    @classmethod
    def read(cls, path: str | os.PathLike) -> Encodings:
        """Read an encodings Parquet file written by :meth:`write`."""
        p = check_input_file(path)
        meta = read_metadata(p)
        try:
            table = pq.read_table(p)
        except (pa.ArrowInvalid, OSError) as err:
            raise DataError(f"{p}: not a readable Parquet file ({err})") from None
        return cls.from_arrow(table, meta, source=str(p))

    @classmethod
    def iter_read(cls, path: str | os.PathLike, batch_rows: int = 262_144) -> Iterator[Encodings]:
        """Stream an encodings Parquet file in batches of at most ``batch_rows`` rows."""
        p = check_input_file(path)
        meta = read_metadata(p)
        pf = pq.ParquetFile(p)
        for batch in pf.iter_batches(batch_size=batch_rows):
            yield cls.from_arrow(pa.Table.from_batches([batch]), meta, source=str(p))

    @classmethod
    def from_arrow(cls, table: pa.Table, meta: dict, source: str = "table") -> Encodings:
        nbits = int(meta["nbits"])
        names = table.column_names
        if CLK_COLUMN not in names or ID_COLUMN not in names:
            raise DataError(f"{source}: missing the {ID_COLUMN!r} or {CLK_COLUMN!r} column")
        n = table.num_rows
        bits = _rows_from_binary(table.column(CLK_COLUMN), n, words_for(nbits), source)
        fields = {
            c[len(FIELD_PREFIX) :]: _rows_from_binary(table.column(c), n, None, source)
            for c in names
            if c.startswith(FIELD_PREFIX)
        }
        blocks = {
            c[len(BLOCK_PREFIX) :]: np.asarray(table.column(c).to_pylist(), dtype=object)
            for c in names
            if c.startswith(BLOCK_PREFIX)
        }
        ids = table.column(ID_COLUMN).to_numpy(zero_copy_only=False)
        return cls(bits, ids, nbits, fingerprint=meta.get("fingerprint"), fields=fields,
                   block_keys=blocks)

    # -- internals --------------------------------------------------------------------------------
    def _check_padding(self) -> None:
        spare = self.bits.shape[1] * 64 - self.nbits
        if spare == 0 or len(self) == 0:
            return
        tail = self.bits.view(np.uint8)[:, self.nbits // 8 :]
        mask = np.full(tail.shape[1], 0xFF, dtype=np.uint8)
        mask[0] = 0xFF >> (self.nbits % 8) if self.nbits % 8 else 0xFF
        if np.any(tail & mask):
            raise ValueError(f"bits beyond nbits={self.nbits} must be zero")


class EncodingsWriter:
    """Append batches of encodings to one Parquet file; it appears at ``path`` only on success.

    >>> with EncodingsWriter("out.parquet") as w:   # doctest: +SKIP
    ...     for batch in batches:
    ...         w.write(batch)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.rows = 0
        self._atomic = atomic_path(self.path)
        self._writer: pq.ParquetWriter | None = None
        self._first: Encodings | None = None

    def __enter__(self) -> EncodingsWriter:
        self._tmp = self._atomic.__enter__()
        return self

    def write(self, batch: Encodings) -> None:
        if self._first is None:
            self._first = batch
            table = batch.to_arrow()
            self._writer = pq.ParquetWriter(self._tmp, table.schema, compression="zstd")
        else:
            self._first.check_compatible(batch)
            table = batch.to_arrow().cast(self._writer.schema)
        self._writer.write_table(table)
        self.rows += len(batch)

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._writer is not None:
            self._writer.close()
        if exc_type is None and self._first is None:
            err = DataError(f"no encodings to write to {self.path}")
            self._atomic.__exit__(DataError, err, None)  # removes the temporary file
            raise err
        return bool(self._atomic.__exit__(exc_type, exc, tb))


def read_metadata(path: str | os.PathLike) -> dict:
    """The pprl metadata of an encodings Parquet file (nbits, fingerprint, version)."""
    p = Path(path)
    try:
        schema = pq.read_schema(p)
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{p}: not a readable Parquet file ({err})") from None
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise DataError(f"{p}: not a pprl encodings file (no pprl metadata); use `pprl encode`")
    return json.loads(raw)


def _check_rows(rows: np.ndarray, n: int, what: str) -> np.ndarray:
    rows = np.ascontiguousarray(rows)
    if rows.ndim != 2 or rows.dtype != np.uint64 or rows.shape[0] != n:
        raise ValueError(f"{what}: expected uint64 rows of shape ({n}, k), got {rows.shape}")
    return rows


def _check_keys(keys: np.ndarray, n: int, name: str) -> np.ndarray:
    keys = np.asarray(keys, dtype=object)
    if keys.shape != (n,):
        raise ValueError(f"block keys {name!r}: expected {n} keys, got shape {keys.shape}")
    return keys


def _binary_column(rows: np.ndarray) -> pa.Array:
    width = rows.shape[1] * 8
    buf = pa.py_buffer(np.ascontiguousarray(rows).view(np.uint8).tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), rows.shape[0], [None, buf])


def _rows_from_binary(col: pa.ChunkedArray, n: int, nwords: int | None, source: str) -> np.ndarray:
    if not pa.types.is_fixed_size_binary(col.type) or col.type.byte_width % 8:
        raise DataError(f"{source}: encodings column has type {col.type}, expected fixed binary")
    width = col.type.byte_width
    if nwords is not None and width != nwords * 8:
        raise DataError(f"{source}: CLK width {width} bytes does not match the metadata")
    if col.null_count:
        raise DataError(f"{source}: {col.null_count} encodings are null")
    out = np.empty((n, width // 8), dtype=np.uint64)
    flat = out.view(np.uint8).reshape(-1)
    pos = 0
    for chunk in col.chunks:
        m = len(chunk)
        data = np.frombuffer(chunk.buffers()[1], dtype=np.uint8)
        start = chunk.offset * width
        flat[pos * width : (pos + m) * width] = data[start : start + m * width]
        pos += m
    return out


def _version() -> str:
    from . import __version__

    return __version__
