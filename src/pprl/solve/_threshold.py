"""Automatic threshold: chosen from the candidates alone, without any ground truth.

Two parties (one-to-one). Greedy one-to-one links taken down to a low score are a mix of true
matches and *false links*: records without a partner on the other side that got their best free
record. A false link above ``t`` needs a non-partner candidate above ``t`` whose other end is also
without a partner. Records that are confidently linked show how often a record has such candidates:
their non-partner candidates are known non-matches. If a fraction ``rho`` of the right side has no
partner (a random subset), a record whose non-partner candidates are ranked ``r = 0, 1, ...`` has a
free one above ``t`` with probability ``1 - (1 - rho)^(count above t)``. Averaged over confident
records and multiplied by the number of left records without a partner, this estimates the false
links above every ``t``; the true links are the rest. The number of true matches ``M`` (which sets
both the number of records without a partner and the recall) is the estimated true links where they
are reliable plus the matches' extrapolated tail below (a normal model of ``sqrt(1 - score)``).
Threshold, ``M`` and the confident set are iterated to a fixed point; the threshold maximises the
estimated F1.

Deduplication (one file). When duplicates come mostly in pairs, a fixed random half of the records
against the other half is a two-party problem with the same scores, and the one-to-one estimate
applies. When entities have many records, one-to-one fails; pair scores are then modelled directly
by a two-component beta mixture (EM) above their histogram's mode. The mixture's own threshold
tells the cases apart: are most records it links linked more than once?

Neither estimate needs labels; both need candidates well below the final threshold (the bulk of the
non-matches): compare at about 0.5, with ``top_k`` to bound memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from .._log import logger
from ..candidates import Candidates
from ._common import check_candidates, n_sides

#: Candidate threshold and per-record top-k that ``threshold="auto"`` needs from compare.
AUTO_CANDIDATE_THRESHOLD = 0.5
AUTO_TOP_K = 10

_SAFE_FDR = 0.05  # true links are trusted where estimated false links are below this share
_MAX_ITER = 30
_CURVE_POINTS = 201
_POSTERIOR_BINS = 40
_MODE_BINS = 50
_MULTI_LINK_SHARE = 0.3
_CLUSTER_GRID = 41
_SPLIT_SEED = 20260101
_GUARD_SHARE = 0.02


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and the linkage quality it is expected to give (estimated without truth).

    ``precision``/``recall``/``f1`` are estimates; ``matches`` the estimated number of true
    matches (pairs); ``method`` how the threshold was set; ``diagnostics``
    holds the estimated curves (``thresholds``, ``precision``, ``recall``, ``f1``, ``links``)
    and the quantities behind them.
    """

    threshold: float
    precision: float
    recall: float
    f1: float
    method: str
    matches: float = math.nan
    diagnostics: dict = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self) -> dict:
        """Plain numbers (no curves), for reports and logs."""
        keys = ("threshold", "precision", "recall", "f1", "method", "matches")
        return {k: getattr(self, k) for k in keys}


def is_dedup(candidates: Candidates) -> bool:
    """True when the candidates are pairs within one dataset (``compare.dice(a)`` output)."""
    c = candidates
    if c.left_dataset is not None and c.right_dataset is not None and len(c):
        return bool(np.all(c.left_dataset == c.right_dataset))
    if c.left_ids is None or c.right_ids is None:
        return False
    same = c.left_ids is c.right_ids or (
        len(c.left_ids) == len(c.right_ids) and np.array_equal(c.left_ids, c.right_ids))
    return bool(same and np.all(c.left < c.right))


def choose_threshold(candidates: Candidates, *, dedup: bool | None = None,
                     matches: float | None = None) -> ThresholdChoice:
    """The threshold with the best estimated F1, with estimated precision and recall.

    ``candidates`` must reach well below the final threshold (see :data:`AUTO_CANDIDATE_THRESHOLD`
    and :data:`AUTO_TOP_K`). ``dedup`` (default: detected) selects the one-file method.
    ``matches`` fixes the number of true matches instead of estimating it (e.g. when re-scoring
    the same candidates). Scores may be any similarity where larger means more alike.
    """
    check_candidates(candidates)
    dedup = is_dedup(candidates) if dedup is None else bool(dedup)
    if len(candidates) == 0:
        return ThresholdChoice(max(candidates.threshold, 0.0), math.nan, math.nan, math.nan,
                               "no-candidates", 0.0)
    if matches is not None and not (math.isfinite(matches) and matches >= 0):
        raise ValueError(f"matches must be a non-negative number, got {matches!r}")
    if dedup:
        fit, method = _fit_dedup(candidates, matches)
        choice = fit.choice(method)
    else:
        choice = _fit_two_party(candidates, matches).choice("one-to-one-tail")
    logger.debug("auto threshold %.4f (estimated precision %.4f, recall %.4f, F1 %.4f, %s)",
                choice.threshold, choice.precision, choice.recall, choice.f1, choice.method)
    return choice


# ------------------------------------------------------------------------------ the estimate


@dataclass
class _Fit:
    """Estimated curves over the distinct link scores ``ts`` (ascending)."""

    ts: np.ndarray
    links: np.ndarray  # links with score >= ts
    false: np.ndarray  # estimated false links with score >= ts
    matches: float
    extra: dict

    @property
    def true(self) -> np.ndarray:
        """Estimated true links with score >= ts (never fewer with more links)."""
        true = np.clip(self.links - self.false, 0.0, None)
        return np.maximum.accumulate(true[::-1])[::-1]

    def link_probability(self, scores: np.ndarray, bins: int = _POSTERIOR_BINS) -> np.ndarray:
        """P(true match) of a link with each score: the share of true links among the links of its
        score band (about ``bins`` bands of equal link counts), made non-decreasing in the score."""
        ts, links = self.ts, self.links
        below = links[0] - links
        cuts = np.searchsorted(below, np.linspace(0.0, links[0], bins + 1)[1:-1])
        starts = np.unique(np.r_[0, cuts[cuts < len(ts)]])
        ends = np.r_[starts[1:], len(ts)]
        total = np.r_[links, 0.0]
        true = np.r_[self.true, 0.0]
        n = total[starts] - total[ends]
        share = np.where(n > 0, (true[starts] - true[ends]) / np.maximum(n, 1e-12), 0.0)
        share = _isotonic(np.clip(share, 0.0, 1.0), n)
        band = np.searchsorted(ts[starts], np.asarray(scores, dtype=float), side="right") - 1
        return share[np.clip(band, 0, len(share) - 1)]

    def choice(self, method: str) -> ThresholdChoice:
        true = self.true
        m = max(self.matches, float(true.max()), 1e-9)
        f1 = 2.0 * true / (self.links + m)
        k = int(np.argmax(f1))
        precision = true / np.maximum(self.links, 1)
        recall = true / m
        pick = np.unique(np.linspace(0, len(self.ts) - 1, _CURVE_POINTS).round().astype(int))
        diag = {"thresholds": self.ts[pick], "precision": precision[pick],
                "recall": recall[pick], "f1": f1[pick], "links": self.links[pick], **self.extra}
        return ThresholdChoice(float(self.ts[k]), float(precision[k]), float(recall[k]),
                               float(f1[k]), method, float(m), diag)


def _isotonic(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Non-decreasing least-squares fit of ``y`` with weights ``w`` (pool adjacent violators)."""
    level: list[float] = []
    weight: list[float] = []
    count: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        level.append(yi)
        weight.append(wi)
        count.append(1)
        while len(level) > 1 and level[-2] > level[-1]:
            w2, w1 = weight.pop(), weight[-1]
            y2, c2 = level.pop(), count.pop()
            total = w1 + w2
            level[-1] = (level[-1] * w1 + y2 * w2) / total if total > 0 else (level[-1] + y2) / 2
            weight[-1] = total
            count[-1] += c2
    return np.repeat(level, count)


class _TailRates:
    """The non-match candidates of every record, ranked by score within the record once, so that
    each iteration only re-weights them.

    ``rate(confident, ts, rho)``: averaged over the ``confident`` records, the probability that a
    record has a usable non-match candidate >= t, for each ``ts``; a candidate ranked ``r`` (0 =
    best) within its record adds ``rho (1 - rho)^r`` (usable, and no better one is).
    """

    def __init__(self, rec: np.ndarray, score: np.ndarray, eligible: np.ndarray):
        idx = np.flatnonzero(eligible)
        order = idx[np.lexsort((-score[idx], rec[idx]))]
        self.rec, self.score = rec[order], score[order]
        start = np.r_[True, self.rec[1:] != self.rec[:-1]][: len(self.rec)]
        self.rank = np.arange(len(self.rec)) - np.maximum.accumulate(
            np.where(start, np.arange(len(self.rec)), 0))
        self.by_score = np.argsort(self.score, kind="stable")
        self.sorted_scores = self.score[self.by_score]

    def rate(self, confident: np.ndarray, ts: np.ndarray, rho: float) -> np.ndarray:
        n_conf = int(confident.sum())
        if len(self.rec) == 0 or n_conf == 0:
            return np.zeros(len(ts))
        inc = rho * (1.0 - rho) ** self.rank if rho < 1.0 else (self.rank == 0).astype(float)
        inc = np.where(confident[self.rec], inc, 0.0)[self.by_score]
        tail = np.r_[np.cumsum(inc[::-1])[::-1], 0.0]
        return tail[np.searchsorted(self.sorted_scores, ts, side="left")] / n_conf


def _missed_below(ts: np.ndarray, true: np.ndarray, links: np.ndarray, t_safe: float,
                  low: float) -> float:
    """Estimated true matches scoring below ``t_safe``: a normal model of ``sqrt(1 - score)`` fitted
    to the estimated true links above it (exact agreements, score 1, are left out of the fit).
    Between the lowest candidate score ``low`` and ``t_safe`` there cannot be more matches than
    links; below ``low`` the candidates show nothing, so the model's mass counts in full."""
    if ts[0] < 0.0 or ts[-1] > 1.0:
        return 0.0  # not a [0, 1] similarity: no extrapolation
    k0 = int(np.searchsorted(ts, t_safe))
    counts = np.clip(-np.diff(np.r_[true, 0.0]), 0.0, None)[k0:]
    level = ts[k0:]
    inexact = level < 1.0 - 1e-9
    y, w = np.sqrt(1.0 - level[inexact]), counts[inexact]
    y_cut = math.sqrt(max(1.0 - t_safe, 0.0))
    if w.sum() < 20 or y_cut <= 0.0 or np.ptp(y) == 0.0:
        return 0.0
    mu0 = float(np.average(y, weights=w))
    sd0 = float(np.sqrt(np.average((y - mu0) ** 2, weights=w))) + 1e-3

    def mass(mu, sd, lo, hi):
        return float(special.ndtr((hi - mu) / sd) - special.ndtr((lo - mu) / sd))

    def nll(p):
        mu, sd = p[0], math.exp(p[1])
        inside = mass(mu, sd, 0.0, y_cut) + 1e-300
        log_pdf = -0.5 * ((y - mu) / sd) ** 2 - math.log(sd)  # up to a constant
        return -float(np.dot(w, log_pdf)) + float(w.sum()) * math.log(inside)

    res = optimize.minimize(nll, [mu0, math.log(sd0)], method="Nelder-Mead",
                            options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 400})
    mu, sd = float(res.x[0]), math.exp(float(res.x[1]))
    scale = float(w.sum()) / max(mass(mu, sd, 0.0, y_cut), 1e-9)
    y_low = math.sqrt(max(1.0 - max(low, 0.0), 0.0))
    band = scale * mass(mu, sd, y_cut, y_low)  # matches in [low, t_safe)
    under = scale * mass(mu, sd, y_low, math.inf)  # matches below every candidate
    return min(band, float(links[0] - links[k0])) + under


def _iterate(ts, links, false_fn, t0: float, m0: float, fixed_m: float | None, low: float):
    """Fixed point of (threshold, matches): false links depend on both; both on the estimate."""
    t, m = t0, (m0 if fixed_m is None else fixed_m)
    false = np.zeros(len(ts))
    for _ in range(_MAX_ITER):
        false = false_fn(t, m)
        true = np.maximum.accumulate(np.clip(links - false, 0.0, None)[::-1])[::-1]
        if fixed_m is None:
            safe = false <= _SAFE_FDR * links
            k_safe = int(np.argmax(safe)) if safe.any() else len(ts) - 1
            missed = _missed_below(ts, true, links, float(ts[k_safe]), low)
            new_m = max(float(true[k_safe]) + missed, 1.0)
        else:
            new_m = fixed_m
        f1 = 2.0 * true / (links + max(new_m, float(true.max())))
        new_t = float(ts[int(np.argmax(f1))])
        if abs(new_m - m) < 0.5 and new_t == t:
            break
        m, t = (0.5 * (m + new_m) if fixed_m is None else new_m), new_t
    return false, m


def _fit_two_party(c: Candidates, fixed_m: float | None) -> _Fit:
    from ._greedy import greedy_mask

    n_left, n_right = n_sides(c)
    keep = greedy_mask(c)
    lscore = c.score[keep]
    ts = np.unique(lscore)
    links = len(lscore) - np.searchsorted(np.sort(lscore), ts, side="left")
    partner = np.full(n_left, -1, dtype=np.int64)
    partner[c.left[keep]] = c.right[keep]
    link_score = np.full(n_left, -np.inf)
    link_score[c.left[keep]] = lscore
    tails = _TailRates(c.left, c.score, c.right != partner[c.left])

    def false_fn(t: float, m: float) -> np.ndarray:
        rho = min(max(n_right - m, 0.0) / max(n_right, 1), 1.0)
        return max(n_left - m, 0.0) * tails.rate(link_score >= t, ts, rho)

    extra = {"left_records": n_left, "right_records": n_right, "candidates": len(c),
             "candidate_threshold": c.threshold}
    false, m = _iterate(ts, links, false_fn, float(np.median(lscore)), 0.0, fixed_m,
                        c.threshold)
    if fixed_m is None:
        # With (almost) no true matches, the best non-matches pass for confident links and the
        # estimate can settle on "everything matches". An estimate that does not lean on the
        # links guards against that: the spacing test of each record's best candidate.
        rough = _spacing_matches(c, n_left)
        extra["spacing_matches"] = rough
        if m > 2.0 * rough + _GUARD_SHARE * min(n_left, n_right):
            logger.warning("auto threshold: the tail model found %.0f matches but the spacing "
                           "test only %.0f; using %.0f (very few true matches?)", m, rough, rough)
            false, m = _iterate(ts, links, false_fn, float(np.median(lscore)), rough, rough,
                                c.threshold)
            extra["guard"] = True
    return _Fit(ts, links.astype(float), false, m, extra)


def _spacing_matches(c: Candidates, n_left: int) -> float:
    """Rough number of left records whose best candidate is a true match, from score spacings.

    The top scores of a record's non-matches behave like the top order statistics of a
    light-tailed sample, whose spacings ``D_j`` (between the j-th and (j+1)-th best) scaled by
    ``j`` are about i.i.d. exponential. So ``T = D_1 / mean(j D_j, j >= 2)`` follows
    ``F(2, 2(k - 2))`` for a record without a partner among its ``k`` candidates, and is large when
    its best candidate stands out (a match). The share of null records comes from the p-values
    above 1/2 (Storey's estimate). Records with fewer than 5 candidates are left out.
    """
    order = np.lexsort((-c.score, c.left))
    rec, score = c.left[order], c.score[order]
    n = len(rec)
    if n == 0:
        return 0.0
    start = np.r_[True, rec[1:] != rec[:-1]]
    starts = np.flatnonzero(start)
    size = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, size)
    spacing = np.r_[score[:-1] - score[1:], 0.0]
    last = np.r_[starts[1:] - 1, n - 1]
    spacing[last] = 0.0  # no spacing after a record's last candidate
    scaled = (rank + 1) * spacing
    total = np.add.reduceat(scaled, starts)
    first = scaled[starts]
    k = size
    ok = (k >= 5) & (total - first > 0)
    if not ok.any():
        return 0.0
    t = first[ok] / ((total - first)[ok] / (k[ok] - 2))
    p = stats.f.sf(t, 2, 2 * (k[ok] - 2))
    null_share = min(1.0, float(np.mean(p > 0.5)) / 0.5)
    return (1.0 - null_share) * n_left


def _fit_dedup(c: Candidates, fixed_m: float | None) -> tuple[_Fit, str]:
    """One file. Mostly pairs of duplicates: a fixed random half of the records against the other
    half is a two-party problem with the same scores, and the one-to-one model applies. Larger
    entities break one-to-one; then a beta mixture of the pair scores decides. Which case holds is
    read off the mixture's own threshold: are most linked records linked more than once?"""
    p = _pair_probabilities(c)
    mixture = _fit_pairs(c, p)
    t = mixture.choice("dedup-mixture").threshold
    cut = c.score >= t
    degree = np.bincount(np.r_[c.left[cut], c.right[cut]])
    linked = degree[degree > 0]
    if len(linked) and np.mean(linked >= 2) >= _MULTI_LINK_SHARE:
        return _fit_clusters(c, p), "dedup-mixture"
    return _fit_split(c, fixed_m), "dedup-split"


def _fit_split(c: Candidates, fixed_m: float | None) -> _Fit:
    """The two-party fit of a fixed random half of the records against the other half."""
    n = max(n_sides(c))
    half = np.random.default_rng(_SPLIT_SEED).random(n) < 0.5
    cross = half[c.left] != half[c.right]
    left = np.where(half[c.left], c.left, c.right)[cross]
    right = np.where(half[c.left], c.right, c.left)[cross]
    rows_left, rows_right = np.flatnonzero(half), np.flatnonzero(~half)
    pos = np.empty(n, dtype=np.int64)
    pos[rows_left] = np.arange(len(rows_left))
    pos[rows_right] = np.arange(len(rows_right))
    two = Candidates(pos[left], pos[right], c.score[cross], left_ids=rows_left,
                     right_ids=rows_right, threshold=c.threshold)
    fit = _fit_two_party(two, None if fixed_m is None else fixed_m / 2.0)
    fit.extra.update(records=n, candidates=len(c), split_candidates=len(two))
    fit.matches *= 2.0  # about half of the duplicate pairs cross the halves
    return fit


def _pair_probabilities(c: Candidates) -> np.ndarray:
    """P(match) of the candidate pairs (in Candidates order) scoring at least their histogram's
    mode, from a two-component beta mixture (below the mode, per-record top-k cuts shape the
    distribution, so those pairs are left out)."""
    counts, edges = np.histogram(c.score, bins=_MODE_BINS)
    s0 = float(edges[int(np.argmax(counts))])
    k = int(np.searchsorted(-c.score, -s0, side="right"))  # scores are sorted descending
    return _beta_mixture(np.clip(c.score[:k], 1e-6, 1.0 - 1e-6))


def _fit_pairs(c: Candidates, p: np.ndarray) -> _Fit:
    """Expected false pairs among the candidate pairs above each threshold."""
    ascending = c.score[: len(p)][::-1]
    not_match = (1.0 - p)[::-1]
    ts, at = np.unique(ascending, return_index=True)
    tail = np.cumsum(not_match[::-1])[::-1]  # expected non-matches from each position up
    return _Fit(ts, (len(ascending) - at).astype(float), tail[at], float(p.sum()),
                {"records": max(n_sides(c)), "candidates": len(c), "fitted_pairs": len(p),
                 "candidate_threshold": c.threshold})


def _fit_clusters(c: Candidates, p: np.ndarray) -> _Fit:
    """Expected quality of the greedy clusters themselves (complete linkage keeps fewer pairs than
    the threshold alone) on a grid of thresholds: pairs inside a cluster, and their expected false
    share under the mixture."""
    from ._cluster import greedy_snapshots

    n = max(n_sides(c))
    kept = c.score[: len(p)]
    grid = np.unique(np.quantile(kept, np.linspace(0.0, 1.0, _CLUSTER_GRID))) if len(p) else kept
    stops = [int(np.searchsorted(-kept, -t, side="right")) for t in grid]
    pairs, false = np.zeros(len(grid)), np.zeros(len(grid))
    for i, (k, label) in enumerate(zip(stops, greedy_snapshots(c.left, c.right, n, stops),
                                       strict=True)):
        inside = (label[c.left[:k]] == label[c.right[:k]]) & (label[c.left[:k]] >= 0)
        pairs[i] = inside.sum()
        false[i] = (1.0 - p[:k])[inside].sum()
    return _Fit(grid, pairs, false, float(p.sum()),
                {"records": n, "candidates": len(c), "fitted_pairs": len(p),
                 "candidate_threshold": c.threshold})


def _beta_mixture(x: np.ndarray, iters: int = 500) -> np.ndarray:
    """P(match) of each score under a two-component beta mixture (EM, moment M-steps)."""
    if len(x) < 10 or np.ptp(x) == 0.0:
        return np.ones(len(x))

    def moments(w):
        w = w + 1e-12
        m = float(np.average(x, weights=w))
        v = float(np.average((x - m) ** 2, weights=w)) + 1e-9
        k = max(m * (1.0 - m) / v - 1.0, 1e-3)
        return max(m * k, 1e-3), max((1.0 - m) * k, 1e-3)

    r = (x > np.quantile(x, 0.9)).astype(float)
    for _ in range(iters):
        (a1, b1), (a0, b0), pi = moments(r), moments(1.0 - r), min(max(r.mean(), 1e-6), 1 - 1e-6)
        l1 = math.log(pi) + stats.beta.logpdf(x, a1, b1)
        l0 = math.log(1.0 - pi) + stats.beta.logpdf(x, a0, b0)
        new = special.expit(l1 - l0)
        if np.abs(new - r).max() < 1e-7:
            return new
        r = new
    return r


def apply_threshold(candidates: Candidates,
                    threshold: float | str | None) -> tuple[Candidates, ThresholdChoice | None]:
    """``candidates`` cut at ``threshold`` (None: uncut; a number; or "auto") and the choice."""
    check_candidates(candidates)
    if threshold is None:
        return candidates, None
    if isinstance(threshold, str):
        if threshold != "auto":
            raise ValueError(f"threshold must be a number, None or 'auto', got {threshold!r}")
        choice = choose_threshold(candidates)
        t = choice.threshold
    else:
        t = _check_number(threshold)
        choice = None
    return candidates.select(candidates.score >= t), choice


def _check_number(threshold) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise TypeError(f"threshold must be a number, None or 'auto', got {threshold!r}") from None
    if not math.isfinite(t):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    return t
