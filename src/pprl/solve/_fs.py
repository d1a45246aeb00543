"""Field-aware scoring: Fellegi–Sunter weights learnt from the per-field similarities, no labels.

Each field's Dice (``Candidates.field_scores``; NaN = missing on either side) is cut into agreement
levels (exact, >= 0.9, >= 0.8, >= 0.7, >= 0.6, below). A pair's match weight is the sum over its
non-missing fields of ``log(m / u)`` for its level, where ``m``/``u`` are the level's frequencies
among matches/non-matches, and its score the posterior log-odds (prior + weight).

The frequencies are learnt without labels from the one-to-one structure: greedy links on the CLK
Dice get a probability of being a match from the threshold model (:mod:`._threshold`); ``m`` is
the probability-weighted level distribution over the links and ``u`` either the
(1 - probability)-weighted one over the links (``u_from="links"``) or the one over the candidates
that are not links (``u_from="non-links"``, all non-matches under one-to-one linkage). Unlike plain
EM on all candidates this cannot converge to "same household" instead of "same person".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..candidates import Candidates
from ..errors import DataError
from ._common import check_candidates

CUTS = (0.999, 0.9, 0.8, 0.7, 0.6)
U_SOURCES = ("links", "non-links")
_PSEUDO = 0.5  # Laplace-style pseudo count per level


def agreement_levels(field_scores: np.ndarray, cuts=CUTS) -> np.ndarray:
    """Level per pair and field: 0 for >= cuts[0] (exact), ..., len(cuts) below all; -1 missing."""
    x = np.asarray(field_scores, dtype=np.float64)
    level = np.full(x.shape, len(cuts), dtype=np.int8)
    for k in range(len(cuts) - 1, -1, -1):
        level[x >= cuts[k]] = k
    level[np.isnan(x)] = -1
    return level


def _level_freq(level: np.ndarray, weight: np.ndarray, n_levels: int) -> np.ndarray:
    """(fields, levels) weighted level frequencies over non-missing values, with pseudo counts."""
    out = np.empty((level.shape[1], n_levels))
    for f in range(level.shape[1]):
        ok = level[:, f] >= 0
        counts = np.bincount(level[ok, f], weights=weight[ok], minlength=n_levels) + _PSEUDO
        out[f] = counts / counts.sum()
    return out


@dataclass(frozen=True)
class FellegiSunter:
    """A fitted Fellegi–Sunter model over ``field_names`` (see the module docstring)."""

    field_names: tuple[str, ...]
    cuts: tuple[float, ...]
    m: np.ndarray
    u: np.ndarray
    prior: float
    u_from: str

    def weights(self, candidates: Candidates) -> np.ndarray:
        """Match weight (natural-log Bayes factor) of every candidate pair."""
        fs = _field_scores(candidates, self.field_names)
        level = agreement_levels(fs, self.cuts)
        ratio = np.log(self.m / self.u)
        total = np.zeros(len(level))
        for f in range(level.shape[1]):
            ok = level[:, f] >= 0
            total[ok] += ratio[f, level[ok, f]]
        return total

    def rescore(self, candidates: Candidates) -> Candidates:
        """The same pairs scored by posterior log-odds (prior + weight), re-sorted."""
        c = candidates
        return Candidates(c.left, c.right, self.prior + self.weights(c), left_ids=c.left_ids,
                          right_ids=c.right_ids, threshold=-math.inf,
                          left_dataset=c.left_dataset, right_dataset=c.right_dataset,
                          field_scores=c.field_scores, field_names=c.field_names)

    def table(self) -> pd.DataFrame:
        """One row per field and level: ``field, level, lower, m, u, weight``."""
        rows = []
        lowers = [*self.cuts, 0.0]
        for f, name in enumerate(self.field_names):
            for k, lower in enumerate(lowers):
                rows.append((name, k, lower, self.m[f, k], self.u[f, k],
                             math.log(self.m[f, k] / self.u[f, k])))
        return pd.DataFrame(rows, columns=["field", "level", "lower", "m", "u", "weight"])


def _field_scores(candidates: Candidates, names: tuple[str, ...] | None = None) -> np.ndarray:
    c = candidates
    if c.field_scores is None or not len(c.field_names):
        raise DataError("these candidates have no per-field scores: encode with a schema that has "
                        "field filters (pprl's native schemas) and compare with fields=True")
    if names is None or tuple(c.field_names) == tuple(names):
        return c.field_scores
    missing = [n for n in names if n not in c.field_names]
    if missing:
        raise DataError(f"candidates have no field score for {missing[0]!r}")
    return c.field_scores[:, [c.field_names.index(n) for n in names]]


def fellegi_sunter(candidates: Candidates, *, probabilities: np.ndarray | None = None,
                   u_from: str = "links", cuts=CUTS) -> FellegiSunter:
    """Fit m/u level frequencies of two-party candidates (see the module docstring).

    ``probabilities`` (one per candidate pair; 0 for pairs that are not links) replaces the
    labels the threshold model gives greedy's Dice links.
    """
    from ._greedy import greedy_mask
    from ._threshold import _fit_two_party

    check_candidates(candidates)
    if u_from not in U_SOURCES:
        raise ValueError(f"u_from must be one of {U_SOURCES}, got {u_from!r}")
    fs = _field_scores(candidates)
    if len(candidates) == 0:
        raise DataError("no candidate pairs to learn Fellegi–Sunter weights from")
    cuts = tuple(float(x) for x in cuts)
    if list(cuts) != sorted(cuts, reverse=True) or len(set(cuts)) != len(cuts):
        raise ValueError(f"cuts must be strictly decreasing, got {cuts}")
    if probabilities is None:
        link = greedy_mask(candidates)
        p = np.zeros(len(candidates))
        p[link] = _fit_two_party(candidates, None).link_probability(candidates.score[link])
    else:
        p = np.asarray(probabilities, dtype=float)
        if p.shape != (len(candidates),) or np.any((p < 0) | (p > 1)) or np.isnan(p).any():
            raise ValueError(f"probabilities must be {len(candidates)} numbers in [0, 1]")
        link = p > 0
    level = agreement_levels(fs, cuts)
    n_levels = len(cuts) + 1
    m = _level_freq(level[link], p[link], n_levels)
    if u_from == "links":
        u = _level_freq(level[link], 1.0 - p[link], n_levels)
    else:
        u = _level_freq(level[~link], np.ones(int((~link).sum())), n_levels)
    matches = float(p[link].sum())
    others = float(link.sum()) - matches
    prior = math.log(max(matches, _PSEUDO) / max(others, _PSEUDO))
    return FellegiSunter(tuple(candidates.field_names), cuts, m, u, prior, u_from)
