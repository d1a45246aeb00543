"""Blocking straight from encodings Parquet files, read in row groups.

:func:`candidates_from_files` reads each file batch by batch into preallocated arrays (CLKs, ids,
field filters) and keeps the blocking-key columns as Arrow strings, so no intermediate table and
no Python string per key is ever held: for 1M records of the default schema that is about 330 MB
per side (128 MB of CLKs, 200 MB of field filters) plus 36 MB per blocking key. The CLKs of both
sides stay in memory because blocks and bands draw their rows from anywhere in the files; every
block or band is then scored in place, without copying rows.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..candidates import Candidates
from ..encodings import (
    BLOCK_PREFIX,
    FIELD_PREFIX,
    Encodings,
    read_metadata,
    words_for,
)
from ..errors import DataError
from ..io import check_input_file
from ._api import EXACT_PAIRS, run_blocking
from .lsh import DEFAULT_SEED
from .report import BlockingReport

BATCH_ROWS = 262_144


def read_side(path: str | os.PathLike, *, batch_rows: int = BATCH_ROWS,
              fields: bool = True) -> tuple[Encodings, dict[str, pa.ChunkedArray]]:
    """The encodings of a Parquet file without blocking keys, and the keys as Arrow columns."""
    p = check_input_file(path)
    meta = read_metadata(p)
    try:
        pf = pq.ParquetFile(p)
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{p}: not a readable Parquet file ({err})") from None
    names = pf.schema_arrow.names
    key_cols = [c for c in names if c.startswith(BLOCK_PREFIX)]
    cols = [c for c in names if not c.startswith(BLOCK_PREFIX)
            and (fields or not c.startswith(FIELD_PREFIX))]
    n, nbits = pf.metadata.num_rows, int(meta["nbits"])
    bits = np.zeros((n, words_for(nbits)), dtype=np.uint64)
    extra: dict[str, np.ndarray] = {}
    ids, pos = [], 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
        part = Encodings.from_arrow(pa.Table.from_batches([batch]), meta, source=str(p))
        m = len(part)
        bits[pos:pos + m] = part.bits
        for name, rows in part.fields.items():
            if name not in extra:
                extra[name] = np.zeros((n, rows.shape[1]), dtype=np.uint64)
            extra[name][pos:pos + m] = rows
        ids.append(part.ids)
        pos += m
    keys = {c[len(BLOCK_PREFIX):]: pf.read(columns=[c]).column(c) for c in key_cols}
    enc = Encodings(bits, np.concatenate(ids) if ids else np.empty(0, np.int64), nbits,
                    fingerprint=meta.get("fingerprint"), fields=extra)
    return enc, keys


def candidates_from_files(path_a: str | os.PathLike, path_b: str | os.PathLike | None = None, *,
                          threshold: float, blocking: str | None = "auto",
                          workers: int | None = None, progress: bool = False,
                          top_k: int | None = None, batch_rows: int = BATCH_ROWS,
                          fields: bool = True, recall: float = 0.99,
                          max_block_pairs: int | None = None, oversized: str = "split",
                          exact_pairs: int = EXACT_PAIRS,
                          seed: int = DEFAULT_SEED) -> tuple[Candidates, BlockingReport]:
    """:func:`pprl.block.candidates` on two encodings Parquet files (``path_b=None``: dedup).

    The files are read in row groups of ``batch_rows`` (see the module docstring for what stays in
    memory); ``fields=False`` skips the per-field filters (no ``field_scores`` then). Same return
    value as :func:`pprl.block.candidates` on the files' encodings.
    """
    a, keys_a = read_side(path_a, batch_rows=batch_rows, fields=fields)
    b, keys_b = (None, None) if path_b is None else read_side(path_b, batch_rows=batch_rows,
                                                              fields=fields)
    if b is not None:
        a.check_compatible(b, names=(str(path_a), str(path_b)))
    return run_blocking(a, b, keys_a, keys_b, threshold=threshold, blocking=blocking,
                        workers=workers, progress=progress, top_k=top_k, recall=recall,
                        max_block_pairs=max_block_pairs, oversized=oversized,
                        exact_pairs=exact_pairs, seed=seed)
