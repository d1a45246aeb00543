"""Helpers for the solve tests: small candidate sets, anonlink's format, generated linkages."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

import pprl

SECRET = pprl.Secret(b"solve tests secret: 32 bytes!!!!")


def to_anonlink(cands: pprl.Candidates, datasets: tuple[int, int] = (0, 1)):
    """Candidates in anonlink's (sims, (dset0, dset1), (rec0, rec1)) form, in the same order."""
    n = len(cands)
    d0 = np.asarray(cands.left_dataset if cands.left_dataset is not None
                    else np.full(n, datasets[0]), dtype=np.uint32)
    d1 = np.asarray(cands.right_dataset if cands.right_dataset is not None
                    else np.full(n, datasets[1]), dtype=np.uint32)
    return (cands.score.astype(np.float64), (d0, d1),
            (cands.left.astype(np.uint32), cands.right.astype(np.uint32)))


def random_candidates(rng: np.random.Generator, n_left: int, n_right: int, n_pairs: int,
                      levels: int = 20, ids: bool = True) -> pprl.Candidates:
    """Distinct random pairs with scores on a coarse grid (so ties are common)."""
    n_pairs = min(n_pairs, n_left * n_right)
    flat = rng.choice(n_left * n_right, size=n_pairs, replace=False)
    score = rng.integers(1, levels + 1, size=n_pairs) / levels
    kw = {}
    if ids:
        kw = {"left_ids": np.array([f"L{i}" for i in range(n_left)], dtype=object),
              "right_ids": np.array([f"R{j}" for j in range(n_right)], dtype=object)}
    return pprl.Candidates(flat // n_right, flat % n_right, score, **kw)


@functools.cache
def generated_linkage(level: str = "moderate", n: int = 1500, overlap: float = 0.5,
                      seed: int = 3):
    """Encodings of two generated extracts (default schema, with field filters) and the truth."""
    a, b, truth = pprl.datasets.extracts(n, n, overlap=overlap, corruption=level, seed=seed)
    schema = pprl.encode.default_schema()
    ea = pprl.encode.clks(a, schema, SECRET, id_column="record_id")
    eb = pprl.encode.clks(b, schema, SECRET, id_column="record_id")
    return ea, eb, truth


@functools.cache
def generated_candidates(level: str = "moderate", n: int = 1500, overlap: float = 0.5,
                         seed: int = 3):
    ea, eb, truth = generated_linkage(level, n, overlap, seed)
    cands = pprl.compare.dice(ea, eb, threshold=pprl.solve.AUTO_CANDIDATE_THRESHOLD,
                              top_k=pprl.solve.AUTO_TOP_K)
    return cands, truth


def f1_of(links: pd.DataFrame, truth: pd.DataFrame) -> float:
    return pprl.solve.evaluate(links, truth).f1
