"""File helpers shared by every stage: tabular input with clear errors, and atomic output."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DataError

PARQUET_SUFFIXES = {".parquet", ".pq"}


def check_input_file(path: str | os.PathLike) -> Path:
    """The path as a Path, or a DataError if it is absent, not a file, or empty."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"input file not found: {p}")
    if not p.is_file():
        raise DataError(f"input is not a file: {p}")
    if p.stat().st_size == 0:
        raise DataError(f"input file is empty: {p}")
    return p


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read CSV (cells verbatim as text: leading zeros and empty strings kept) or Parquet whole."""
    chunks = list(iter_table(path, chunk_rows=1_000_000))
    if not chunks:  # a Parquet file with no rows
        return pq.read_schema(path).empty_table().to_pandas()
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def iter_table(path: str | os.PathLike, chunk_rows: int = 200_000) -> Iterator[pd.DataFrame]:
    """Stream CSV (cells verbatim as text) or Parquet in chunks of at most ``chunk_rows`` rows.

    Memory stays bounded by the chunk size. Raises DataError for absent, empty or non-UTF-8 input.
    """
    p = check_input_file(path)
    if p.suffix.lower() in PARQUET_SUFFIXES:
        try:
            pf = pq.ParquetFile(p)
            for batch in pf.iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
        except (pa.ArrowInvalid, OSError) as err:
            raise DataError(f"{p}: not a readable Parquet file ({err})") from None
        return
    try:
        reader = pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False,
                             encoding="utf-8-sig", chunksize=chunk_rows)
        with reader:
            yield from reader
    except UnicodeDecodeError:
        raise DataError(f"{p}: input is not UTF-8 text") from None
    except pd.errors.ParserError as err:
        raise DataError(f"{p}: malformed CSV ({err})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"input file is empty: {p}") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash leaves no file at ``path`` (or the previous one untouched), never a partial result.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_frame(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame atomically as CSV or Parquet, chosen by the suffix."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in PARQUET_SUFFIXES | {".csv"}:
        raise DataError(f"output {target}: use a .csv or .parquet suffix")
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return target
