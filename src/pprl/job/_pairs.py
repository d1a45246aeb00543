"""Candidates of one agency pair: the unit of work that runs locally or as Dask tasks.

The left agency is cut into partitions of ``partition_rows`` rows; each partition is blocked and
compared against the whole right agency by :func:`pprl.block.candidates` (the same numba kernels
everywhere). The local run and the Dask run compute exactly the same partitions with the same
function and merge them into Candidates order, so their results are identical.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..candidates import Candidates
from ..encodings import Encodings
from ..io import atomic_path

PAIR_SEPARATOR = "__"


@dataclass(frozen=True)
class PairParams:
    """What decides an agency pair's candidates (see :class:`pprl.job.spec.JobSpec`)."""

    candidate_threshold: float
    top_k: int | None
    blocking: str
    recall: float
    seed: int
    partition_rows: int


@dataclass(frozen=True)
class PartResult:
    """The candidates of left rows ``start:stop`` against the whole right side (left rows are
    indexes into the whole left agency)."""

    start: int
    left: np.ndarray
    right: np.ndarray
    score: np.ndarray
    method: str
    comparisons: int
    report: str
    seconds: float


def pair_name(left: str, right: str) -> str:
    return f"{left}{PAIR_SEPARATOR}{right}"


def partitions(n: int, rows: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``0..n`` in pieces of at most ``rows``."""
    return [(s, min(s + rows, n)) for s in range(0, max(n, 1), rows)]


def load_encodings(path: str | Path) -> Encodings:
    """An agency's CLKs, ids and blocking keys (no per-field filters: the job links on CLK Dice)."""
    from ..block import read_side

    enc, keys = read_side(path, fields=False)
    return Encodings(enc.bits, enc.ids, enc.nbits, fingerprint=enc.fingerprint,
                     block_keys={k: col.to_numpy(zero_copy_only=False) for k, col in keys.items()})


def partition_candidates(left: Encodings, right: Encodings, start: int, stop: int,
                         params: PairParams, workers: int | None = None) -> PartResult:
    """Block and compare left rows ``start:stop`` against ``right``."""
    from ..block import candidates

    t0 = time.perf_counter()
    part = left if (start, stop) == (0, len(left)) else left.take(np.arange(start, stop))
    cands, report = candidates(part, right, threshold=params.candidate_threshold,
                               blocking=params.blocking, top_k=params.top_k,
                               recall=params.recall, seed=params.seed, workers=workers)
    return PartResult(start, cands.left + start, cands.right, cands.score, report.method,
                      int(report.comparisons), str(report), time.perf_counter() - t0)


def merge(parts: list[PartResult], threshold: float) -> tuple[Candidates, dict]:
    """The partitions' candidates in Candidates order (whatever order they finished in), and
    what the blocking did."""
    parts = sorted(parts, key=lambda p: p.start)
    cands = Candidates(np.concatenate([p.left for p in parts]),
                       np.concatenate([p.right for p in parts]),
                       np.concatenate([p.score for p in parts]), threshold=threshold)
    stats = {"candidates": len(cands), "partitions": len(parts),
             "comparisons": sum(p.comparisons for p in parts),
             "methods": sorted({p.method for p in parts}),
             "blocking": [p.report for p in parts],
             "compute_seconds": round(sum(p.seconds for p in parts), 3)}
    return cands, stats


def compute_local(left: Encodings, right: Encodings, params: PairParams,
                  workers: int | None) -> tuple[Candidates, dict]:
    """All partitions of one pair, one after the other (each on ``workers`` threads)."""
    parts = [partition_candidates(left, right, s, e, params, workers)
             for s, e in partitions(len(left), params.partition_rows)]
    return merge(parts, params.candidate_threshold)


def write_pair(path: Path, cands: Candidates) -> None:
    """``left, right, score`` (row indexes into the two agencies' files) as Parquet, atomically."""
    table = pa.table({"left": pa.array(cands.left, pa.int64()),
                      "right": pa.array(cands.right, pa.int64()),
                      "score": pa.array(cands.score, pa.float64())})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_pair(path: Path, threshold: float) -> Candidates:
    """A pair file back as Candidates (already in Candidates order)."""
    t = pq.read_table(path)
    return Candidates(t.column("left").to_numpy(), t.column("right").to_numpy(),
                      t.column("score").to_numpy(), threshold=threshold, presorted=True)
