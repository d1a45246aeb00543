"""CLK-only blocking: locality-sensitive hashing over the bits of the encodings.

Two LSH families, each exact in its collision probability for a fixed pair:

- **MinHash** over the set bits: under a uniformly random permutation of the bit positions, two
  filters share their first set bit with probability ``J = |a & b| / |a | b|``, and ``J = d / (2 - d)``
  for Dice ``d``, whatever the popcounts.
- **Hamming bit sampling**: one uniformly sampled position agrees with probability
  ``1 - H / U`` with ``H = (|a| + |b|)(1 - d)`` the Hamming distance and ``U`` the number of
  positions; at a given Dice, denser pairs agree less.

A band is ``r`` such hashes; a pair whose per-hash probability is ``p`` collides in a band with
probability ``p**r`` and in at least one of ``L`` independent bands with ``1 - (1 - p**r)**L``.
:func:`plan_lsh` chooses the family, ``r`` and ``L`` so that a pair *at* the threshold is found with
probability >= ``recall`` (pairs above it more often) at the lowest estimated cost, estimating the
non-match collisions from a random sample of pairs of the data; :func:`lsh_pairs` runs the bands.
The bands are drawn from ``seed`` alone: the same inputs give the same pairs.

**Where it pays** (1M x 1M generated records, 1024-bit CLKs, 2 cores; ``benchmarks/bench_block.py``).
The default schema's CLKs have a bit density of about 0.4: at Dice 0.8 the planner takes 264 bands
of 10 MinHashes and compares 1.6e9 pairs (0.16 % of all) in about three minutes of CPU, finding
99.99 % of the true pairs above the threshold; all pairs would take about half an hour. The cost
model's projections for 1M x 1M (seconds, LSH vs all pairs ~1.9e3):

| density | Dice 0.9 | Dice 0.8 | Dice 0.7 |
|---------|----------|----------|----------|
| 0.41    | 32       | 245      | 1.9e3    |
| 0.57    | 58       | 1.0e3    | 3.4e4    |
| 0.70    | 232      | 2.3e4    | 2.0e5    |

Dense filters agree on many bits by chance, so the non-matches collide nearly as often as the
matches: at density 0.7 LSH pays only at Dice 0.9, and below Dice ~0.75 it never beats all pairs
on this data; ``blocking="auto"`` then compares all pairs (or uses keyed signatures).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from tqdm import tqdm

from .._log import logger
from ..encodings import Encodings
from . import _kernels

FAMILIES = ("minhash", "hamming")
DEFAULT_SEED = 0x5EED_B10C
MAX_BANDS = 2048
MAX_HASHES = {"minhash": 24, "hamming": 64}
SAMPLE_PAIRS = 1_000_000
SAMPLE_CHUNK = 200_000
HAMMING_QUANTILE = 0.9  # Hamming guarantees are stated for pairs up to this popcount quantile
# MinHash's guarantee holds for every pair whatever its popcounts; Hamming is chosen only when it is
# estimated this much cheaper.
HAMMING_PREMIUM = 1.25

# Cost model: seconds per unit on one core, fitted to whole-band runs of three configurations
# (MinHash 10 x 264, 11 x 397, Hamming 24 x 503) on 1M x 1M default-schema CLKs on the 2-core
# reference machine (benchmarks/bench_block.py; measured under a load average of ~6 and halved).
# Only their ratios matter: they choose r and L, and LSH against all pairs.
COST_PROBE = 1.65e-8  # one bit probe of a MinHash scan
COST_BIT = 1.8e-8  # one sampled bit of a Hamming key
COST_MEMBER = 7.5e-8  # bucket sort and merge of one membership in one band
COST_COLLISION = 1.2e-7  # one pair with equal keys: popcount bound and Dice of two random rows
COST_EXHAUSTIVE = 3.9e-9  # one pair of an all-pairs comparison (within the popcount bounds)


@dataclass(frozen=True)
class LshParams:
    """One LSH configuration: ``bands`` bands of ``hashes`` MinHashes (or sampled bits) each."""

    family: str
    hashes: int
    bands: int
    seed: int = DEFAULT_SEED

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"LSH family must be one of {FAMILIES}, got {self.family!r}")
        for name, limit in (("hashes", MAX_HASHES[self.family]), ("bands", MAX_BANDS)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or not 1 <= value <= limit:
                raise ValueError(f"LSH {name} must be an integer in 1..{limit}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, Integral) or self.seed < 0:
            raise ValueError(f"LSH seed must be a non-negative integer, got {self.seed!r}")

    def __str__(self) -> str:
        what = "MinHashes" if self.family == "minhash" else "sampled bits"
        return f"{self.family} LSH, {self.bands} bands of {self.hashes} {what}"

    def hash_probability(self, dice, pop_sum, universe: int) -> np.ndarray:
        """Probability that one hash agrees, for pairs of Dice ``dice`` and popcount sum ``pop_sum``."""
        d = np.clip(np.asarray(dice, dtype=np.float64), 0.0, 1.0)
        if self.family == "minhash":
            return d / (2.0 - d)
        return np.clip(1.0 - np.asarray(pop_sum, np.float64) * (1.0 - d) / universe, 0.0, 1.0)

    def find_probability(self, dice, pop_sum, universe: int) -> np.ndarray:
        """Probability that a pair collides in at least one band."""
        band = self.hash_probability(dice, pop_sum, universe) ** self.hashes
        return -np.expm1(self.bands * np.log1p(-np.minimum(band, 1.0 - 1e-16)))


@dataclass(frozen=True)
class LshPlan:
    """The chosen parameters and what they promise.

    ``guaranteed_recall``: probability that a pair with Dice exactly ``threshold`` is found (for
    Hamming, when both popcounts are at most ``reference_popcount``); pairs above the threshold are
    found more often. ``est_collisions`` and the seconds are cost-model estimates.
    """

    params: LshParams
    threshold: float
    recall: float
    universe: int
    reference_popcount: int
    guaranteed_recall: float
    est_collisions: float
    est_seconds: float
    exhaustive_seconds: float
    candidates: dict = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        scope = ("" if self.params.family == "minhash"
                 else f" for popcounts <= {self.reference_popcount}")
        return (f"{self.params}: a pair at Dice {self.threshold:g} is found with probability "
                f"{self.guaranteed_recall:.3f}{scope}")


@dataclass
class LshRun:
    """What :func:`lsh_pairs` found: unique pairs with Dice >= threshold (row indexes) and counts."""

    left: np.ndarray
    right: np.ndarray
    collisions: int = 0
    scored: int = 0
    survivors: int = 0
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(_kernels.HIST_BINS, np.int64))
    largest: list = field(default_factory=list)  # (band, left size, right size), by pairs


def check_recall(recall: float) -> float:
    if isinstance(recall, bool) or not isinstance(recall, Real) or not 0.0 < recall < 1.0:
        raise ValueError(f"recall must be a number in (0, 1), got {recall!r}")
    return float(recall)


def universe_of(enc: Encodings) -> int:
    """Bit positions an LSH hash draws from: every bit of the uint64 words."""
    return 64 * enc.bits.shape[1]


def total_pairs(n_left: int, n_right: int | None) -> int:
    """Pairs an all-pairs comparison looks at (``n_right=None``: within one set)."""
    return n_left * (n_left - 1) // 2 if n_right is None else n_left * n_right


def sample_pairs(a: Encodings, b: Encodings | None, size: int, seed: int):
    """Dice and popcount sums of ``size`` uniformly random pairs (distinct rows when ``b`` is None)."""
    rng = np.random.default_rng([seed, 1])
    other = a if b is None else b
    if len(a) < 2 - (b is not None) or len(other) == 0:
        return np.empty(0), np.empty(0, np.int64)
    dice, pop_sums = [], []
    for start in range(0, size, SAMPLE_CHUNK):
        m = min(SAMPLE_CHUNK, size - start)
        i = rng.integers(0, len(a), m)
        j = rng.integers(0, len(other), m)
        if b is None:
            keep = i != j
            i, j = i[keep], j[keep]
        common = np.bitwise_count(a.bits[i] & other.bits[j]).sum(axis=1, dtype=np.int64)
        pop_sum = a.popcounts[i].astype(np.int64) + other.popcounts[j]
        dice.append(np.where(pop_sum > 0, 2.0 * common / np.maximum(pop_sum, 1), 0.0))
        pop_sums.append(pop_sum)
    return np.concatenate(dice), np.concatenate(pop_sums)


def bands_for(p_band: float, recall: float) -> int:
    """Fewest bands with ``1 - (1 - p_band)**L >= recall``."""
    if p_band >= 1.0:
        return 1
    if p_band <= 0.0:
        return MAX_BANDS + 1
    return max(1, math.ceil(math.log1p(-recall) / math.log1p(-p_band) - 1e-12))


def exhaustive_seconds(a: Encodings, b: Encodings | None, threshold: float, workers: int) -> float:
    """Estimated seconds of the all-pairs comparison (pairs outside the popcount bounds skipped)."""
    return _bounded_pairs(a, b, threshold) * COST_EXHAUSTIVE / workers


def _bounded_pairs(a: Encodings, b: Encodings | None, threshold: float) -> float:
    """Pairs whose popcounts allow Dice >= threshold (what all-pairs actually scores)."""
    nb = a.bits.shape[1] * 64
    ha = np.bincount(a.popcounts, minlength=nb + 1).astype(np.float64)
    hb = ha if b is None else np.bincount(b.popcounts, minlength=nb + 1).astype(np.float64)
    p = np.arange(nb + 1, dtype=np.float64)
    # Partners q of popcount p must satisfy q >= p t / (2 - t) and q <= p (2 - t) / t.
    lo = np.ceil(p * threshold / (2.0 - threshold) - 1e-9) if threshold < 2 else p
    hi = np.floor(p * (2.0 - threshold) / threshold + 1e-9) if threshold > 0 else p * 0 + nb
    cum = np.concatenate([[0.0], np.cumsum(hb)])
    lo_i = np.clip(lo, 0, nb + 1).astype(np.int64)
    hi_i = np.clip(hi + 1, 0, nb + 1).astype(np.int64)
    pairs = float(np.sum(ha * np.maximum(cum[hi_i] - cum[lo_i], 0.0)))
    return pairs / 2 if b is None else pairs


def plan_lsh(a: Encodings, b: Encodings | None = None, *, threshold: float, recall: float = 0.99,
             family: str = "auto", seed: int = DEFAULT_SEED, workers: int = 1) -> LshPlan:
    """Choose the LSH family, hashes per band and bands for ``threshold`` on these encodings.

    Every (family, r) is costed: ``L`` is the fewest bands that find a pair at the threshold with
    probability >= ``recall`` (Hamming: for pairs whose popcounts are at most the 90th percentile),
    and the cost adds the hashing of every record in every band to the expected collisions,
    estimated from a random sample of pairs of these encodings. The cheapest wins (Hamming only
    when ``HAMMING_PREMIUM`` times cheaper than MinHash, whose guarantee needs no popcount caveat).
    """
    recall = check_recall(recall)
    families = FAMILIES if family == "auto" else (family,)
    if family != "auto" and family not in FAMILIES:
        raise ValueError(f"family must be 'auto' or one of {FAMILIES}, got {family!r}")
    universe = universe_of(a)
    n_left, n_right = len(a), (None if b is None else len(b))
    n_pairs = total_pairs(n_left, n_right)
    members = n_left + (0 if b is None else n_right)
    sample = int(min(SAMPLE_PAIRS, max(SAMPLE_CHUNK, n_pairs // 100)))
    dice, pop_sum = sample_pairs(a, b, sample, seed)
    # Rare pairs above the threshold (true matches, mostly) are counted apart, below: the few a
    # sample happens to hold would swing the estimate of the non-match collisions.
    above = dice >= threshold
    if above.sum() < 0.01 * len(above):
        dice, pop_sum = dice[~above], pop_sum[~above]
    pops = a.popcounts if b is None else np.concatenate([a.popcounts, b.popcounts])
    ref_pop = int(np.quantile(pops, HAMMING_QUANTILE)) if len(pops) else 0
    mean_pop = max(float(pops.mean()) if len(pops) else 1.0, 1.0)
    n_matches = min(n_left, n_right or n_left)
    options = {}
    for fam in families:
        unit = LshParams(fam, 1, 1, seed)
        p_sample = unit.hash_probability(dice, pop_sum, universe)
        p_t = float(unit.hash_probability(threshold, 2 * ref_pop, universe))
        # Pairs above the threshold are too rare to sample: count one per record of the smaller
        # side, colliding as a pair midway between the threshold and 1 does.
        p_match = float(unit.hash_probability((1 + threshold) / 2, 2 * mean_pop, universe))
        p_r = np.ones_like(p_sample)
        for r in range(1, MAX_HASHES[fam] + 1):
            p_r *= p_sample
            bands = bands_for(p_t**r, recall)
            if bands > MAX_BANDS:
                continue
            per_band = n_pairs * float(p_r.mean()) if len(p_r) else 0.0
            collisions = bands * (per_band + n_matches * p_match**r)
            key_cost = r * (universe / mean_pop * COST_PROBE if fam == "minhash" else COST_BIT)
            seconds = (bands * members * (key_cost + COST_MEMBER)
                       + collisions * COST_COLLISION) / workers
            options[(fam, r)] = (seconds, bands, collisions)
    premium = {"minhash": 1.0, "hamming": HAMMING_PREMIUM}
    if not options:
        raise ValueError(f"no LSH configuration of at most {MAX_BANDS} bands reaches recall "
                         f"{recall} at threshold {threshold}")
    (fam, r), (seconds, bands, collisions) = min(options.items(),
                                                 key=lambda kv: kv[1][0] * premium[kv[0][0]])
    params = LshParams(fam, r, bands, seed)
    guaranteed = float(params.find_probability(threshold, 2 * ref_pop, universe))
    plan = LshPlan(params, float(threshold), recall, universe, ref_pop, guaranteed, collisions,
                   seconds, exhaustive_seconds(a, b, threshold, workers), options)
    logger.debug("block.plan_lsh: %s; est. %.3g collisions, %.1f s (all pairs %.1f s)",
                 plan.describe(), collisions, seconds, plan.exhaustive_seconds)
    return plan


def _band_spec(params: LshParams, band: int, universe: int) -> tuple[np.ndarray, np.uint64]:
    """The permutations (MinHash) or positions (Hamming) of one band, and its seed."""
    rng = np.random.default_rng([params.seed, 2, band])
    seed = np.uint64(rng.integers(0, 2**63, dtype=np.int64))
    if params.family == "minhash":
        spec = np.argsort(rng.random((params.hashes, universe)), axis=1).astype(np.int32)
    else:
        spec = rng.integers(0, universe, params.hashes).astype(np.int64)
    return spec, seed


def band_keys(params: LshParams, band: int, bits: np.ndarray, rows: np.ndarray,
              salts: np.ndarray) -> np.ndarray:
    """uint64 key of each membership ``(rows[m], salts[m])`` in ``band``."""
    spec, seed = _band_spec(params, band, 64 * bits.shape[1])
    out = np.empty(len(rows), dtype=np.uint64)
    kernel = _kernels.minhash_keys if params.family == "minhash" else _kernels.hamming_keys
    kernel(bits, rows, salts, spec, seed, out)
    return out


@dataclass(frozen=True)
class Members:
    """The memberships of one side: row ``rows[m]`` under block salt ``salts[m]``."""

    rows: np.ndarray
    salts: np.ndarray

    @classmethod
    def all_rows(cls, enc: Encodings) -> Members:
        """Every row that can score above 0 (empty filters never reach a positive threshold)."""
        rows = np.flatnonzero(enc.popcounts > 0).astype(np.int64)
        return cls(rows, np.zeros(len(rows), dtype=np.uint64))

    def __len__(self) -> int:
        return len(self.rows)


def _shift(members: int) -> int:
    """Right shift of a key to its bucket: about two memberships per bucket."""
    bits = max(1, min(30, math.ceil(math.log2(max(members, 2))) - 1))
    return 64 - bits


def lsh_pairs(a: Encodings, b: Encodings | None, params: LshParams, threshold: float, *,
              left: Members | None = None, right: Members | None = None, workers: int = 1,
              progress: bool = False) -> LshRun:
    """Every pair that shares a band key and has Dice >= ``threshold``, each once.

    ``b=None`` deduplicates within ``a`` (pairs as ``left < right``). ``left``/``right`` restrict
    the memberships (default: every non-empty row, one membership each). Bands run on ``workers``
    threads; each band scores its colliding pairs at once and keeps only the survivors.
    """
    dedup = b is None
    left = Members.all_rows(a) if left is None else left
    right = left if dedup else (Members.all_rows(b) if right is None else right)
    other = a if dedup else b
    shift = _shift(max(len(left), len(right)))
    width = len(other)
    run = LshRun(np.empty(0, np.int64), np.empty(0, np.int64))
    if len(left) == 0 or len(right) == 0:
        return run
    if max(len(left), len(right)) >= 2**31 or a.nbits >= 2**_kernels.POP_BITS:
        raise ValueError("LSH blocking handles fewer than 2**31 records per side and filters "
                         f"shorter than 2**{_kernels.POP_BITS} bits")
    known = np.full(len(a), -1, dtype=np.int64)

    def band(k: int):
        hist = np.zeros(_kernels.HIST_BINS, np.int64)
        ka = band_keys(params, k, a.bits, left.rows, left.salts)
        kb = ka if dedup else band_keys(params, k, other.bits, right.rows, right.salts)
        li, rj, stats = _kernels.band_join(ka, left.rows, a.bits, a.popcounts, kb, right.rows,
                                           other.bits, other.popcounts, float(threshold), dedup,
                                           shift, known, hist)
        return k, li * width + rj, stats, hist

    found = np.empty(0, np.int64)
    pending: list[np.ndarray] = []
    largest = []
    for k, codes, stats, hist in _run_bands(band, params.bands, workers, progress):
        run.collisions += int(stats[0])
        run.scored += int(stats[1])
        run.survivors += int(stats[2])
        run.histogram += hist
        largest.append((int(stats[3]) * int(stats[4]), k, int(stats[3]), int(stats[4])))
        pending.append(codes)
        if sum(len(p) for p in pending) > max(1 << 20, len(found)):
            found = np.unique(np.concatenate([found, *pending]))
            pending = []
    found = np.unique(np.concatenate([found, *pending]))
    run.left, run.right = found // width, found % width
    run.largest = [x[1:] for x in sorted(largest, reverse=True)[:10] if x[0] > 0]
    return run


def _run_bands(band, bands: int, workers: int, progress: bool) -> Iterator[tuple]:
    """Results of ``band(k)`` for every band, in band order, on ``workers`` threads."""
    bar = tqdm(total=bands, desc="lsh bands", unit="band", file=sys.stderr, disable=not progress)
    try:
        if workers == 1 or bands == 1:
            for k in range(bands):
                yield band(k)
                bar.update()
            return
        with ThreadPoolExecutor(max_workers=min(workers, bands)) as pool:
            # At most 2 bands in flight per worker: results are consumed as they come.
            pending = []
            for k in range(bands):
                pending.append(pool.submit(band, k))
                if len(pending) >= 2 * workers:
                    yield pending.pop(0).result()
                    bar.update()
            for fut in pending:
                yield fut.result()
                bar.update()
    finally:
        bar.close()
