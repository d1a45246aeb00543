"""Pattern-mining attack (Christen, Vidanage, Ranbaduge and Schnell 2017/2018): the bit positions
of a q-gram are set together in every encoding of a value that contains it, so a long set of
co-occurring positions whose support matches a q-gram's frequency identifies that q-gram.

Mining works on partitions, largest first, starting from all encodings and all reference rows.
In a partition the attacker takes the most frequent token of the reference rows (tokens are
tagged with their attribute: every feature is hashed with a key of its own) that is frequent
enough, not nearly everywhere, and apart from its neighbours in frequency (``stop_gap``). If it is
already identified the partition is just split on it; otherwise a greedy search for the longest
set of positions that co-occur in about as many encodings as the token's frequency predicts runs
from several seed positions (the numba kernel :func:`._kernels.greedy_pattern`). A set of a
plausible length (around the bits per token when the attacker knows the schema) is then assigned
to the not yet identified token whose reference count and co-occurrence with the tokens
identified so far best explain the encodings that have it (usually the token looked for; no
assignment when two tokens explain it about equally), and that token is identified everywhere.
The partition is split in encodings with / without the token (and reference rows with / without
it) and both halves are queued; partitions where nothing could be done are retried once more
tokens are known.

Re-identification ("set_inter" in Christen et al.): an encoding contains an identified token when
(nearly) all its positions are set; the candidates for an attribute are the reference values that
contain exactly the identified tokens the encoding contains (must-have and cannot-have q-grams).
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..encode.schema import Schema
from ..encodings import Encodings
from . import _kernels as K
from ._data import Plain, Reference, attacker_view, attributes, source_name
from ._data import truth_values as _truth_values
from ._result import MAX_MANY, AttackResult

SEP = "\x1f"
MIN_K = 5  # bits per token below which a token is not mined (when the attacker knows them)
SYSTEMATIC = (0.04, 0.02)  # relative reference/encoded frequency differences tried, in order
ENOUGH_TOKENS = 5  # a run identifying fewer tokens is retried with the next assumption


@dataclass
class Mined:
    """Identified tokens: per token its positions and the membership threshold."""

    positions: dict[int, np.ndarray] = field(default_factory=dict)
    threshold: dict[int, int] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    nodes: int = 0
    failed: int = 0


class PatternMiner:
    """The mining state of one attack: encodings as 0/1 rows, the reference tokens, and what has
    been identified so far (see the module docstring)."""

    def __init__(self, bits: np.ndarray, plain: Plain, *, min_partition: int, stop_gap: float,
                 tolerance: float, min_positions: int | None, seeds: int, tries: int,
                 noise_tolerant: bool | None = None, noise: float = 0.0,
                 systematic: float = SYSTEMATIC[0]):
        self.bits = np.ascontiguousarray(bits, dtype=np.uint8)
        self.n, self.l = self.bits.shape
        self.plain = plain
        self.names = list(plain.attrs)
        self.min_partition = min_partition
        self.stop_gap, self.tolerance = stop_gap, tolerance
        self.seeds, self.tries = seeds, tries
        self.noise_tolerant = noise > 0 if noise_tolerant is None else bool(noise_tolerant)
        self.noise = noise
        self.systematic = systematic
        sizes = np.arange(self.l + 2)
        slack = np.ceil(noise * sizes + 2.0 * np.sqrt(sizes * noise * (1 - noise))).astype(np.int64)
        self.slack = np.minimum(slack, np.maximum(sizes - 1, 0)) if noise > 0 else 0 * sizes
        self._tokens()
        self.min_len = np.full(len(self.token_attr), min_positions or 3, dtype=np.int64)
        self.mined = Mined()
        self._lengths: list[int] = []
        self._members: list[np.ndarray] = []
        self._pairs: list[np.ndarray] = []
        self._claimed = np.zeros(self.l, dtype=bool)
        w = plain.weights
        self.share = np.asarray(self.incidence.T @ w).reshape(-1) / max(w.sum(), 1e-300)
        self._identified = np.zeros(len(self.share), dtype=bool)
        # tokens known to set fewer than MIN_K bits cannot be told from chance co-occurrences
        ks = [plain.attrs[self.names[a]].k for a in self.token_attr]
        self._minable = np.array([k is None or k >= MIN_K for k in ks], dtype=bool)

    def _tokens(self) -> None:
        ids: dict[str, int] = {}
        attr_of: list[int] = []
        rows, cols = [], []
        for a, name in enumerate(self.names):
            for r, toks in enumerate(self.plain.tokens[name]):
                for t in toks:
                    key = f"{a}{SEP}{t}"
                    j = ids.get(key)
                    if j is None:
                        j = ids[key] = len(ids)
                        attr_of.append(a)
                    rows.append(r)
                    cols.append(j)
        m = len(self.plain.weights)
        self.token_names = list(ids)
        self.token_attr = np.array(attr_of, dtype=np.int64)
        self.incidence = sp.csr_matrix((np.ones(len(rows), np.float64), (rows, cols)),
                                       shape=(m, len(ids)))
        self.incidence.sum_duplicates()
        self.incidence.data[:] = 1.0

    # -- mining -------------------------------------------------------------------------------
    def mine(self, max_nodes: int = 5000) -> Mined:
        """Process partitions, largest first; a partition where nothing could be split is tried
        again once more tokens have been identified elsewhere."""
        m = len(self.plain.weights)
        queue = [(-self.n, 0, np.arange(self.n), np.arange(m), frozenset())]
        counter = 1
        stuck: list[tuple] = []
        known = 0
        while self.mined.nodes < max_nodes:
            if not queue:
                if len(self.mined.order) == known or not stuck:
                    break
                known = len(self.mined.order)
                queue, stuck = stuck, []
                heapq.heapify(queue)
            item = heapq.heappop(queue)
            _, _, enc_rows, ref_rows, path = item
            self.mined.nodes += 1
            split = self._node(enc_rows, ref_rows, path)
            if split is None:
                stuck.append(item)
                continue
            t, has_enc, has_ref = split
            for e, r in ((enc_rows[has_enc], ref_rows[has_ref]),
                         (enc_rows[~has_enc], ref_rows[~has_ref])):
                if len(e) >= self.min_partition and len(r):
                    heapq.heappush(queue, (-len(e), counter, e, r, path | {t}))
                    counter += 1
        return self.mined

    def _node(self, enc_rows, ref_rows, path):
        n_r = len(enc_rows)
        w = self.plain.weights[ref_rows]
        total = w.sum()
        if total <= 0:
            return None
        freq = np.asarray(self.incidence[ref_rows].T @ w).reshape(-1) / total
        expected = freq * n_r
        usable = (freq < 0.98) & (expected >= max(10.0, 0.01 * n_r)) & self._minable
        if path:
            usable[list(path)] = False
        order = np.flatnonzero(usable)
        order = order[np.argsort(-freq[order], kind="stable")]
        if order.size == 0:
            return None
        cols = None
        for i in range(min(self.tries, order.size)):
            t = int(order[i])
            if t not in self.mined.positions:
                f = freq[t]
                higher = freq[order[i - 1]] if i > 0 else 1.0
                lower = freq[order[i + 1]] if i + 1 < order.size else 0.0
                if not self._separated(f, lower, higher, n_r):
                    continue
                if cols is None:
                    cols = K.pack_columns(self.bits[enc_rows])
                u = self._identify(t, cols, n_r, f)
                if u is None or u in path:
                    self.mined.failed += u is None
                    continue
                t = u
            has_enc = self.contains(t, enc_rows)
            has_ref = np.asarray(self.incidence[ref_rows][:, t].todense()).reshape(-1) > 0
            return t, has_enc, has_ref
        return None

    def _separated(self, f: float, lower: float, higher: float, n_r: int) -> bool:
        """Whether a token's count in the partition can be told from its neighbours' (in the
        reference frequency order): a relative gap of ``stop_gap`` and a standard deviation
        of the count on either side."""
        gap = min(f - lower, higher - f)
        sd = math.sqrt(f * (1 - f) / n_r)
        return gap >= self.stop_gap * f and gap >= sd

    def _identify(self, t: int, cols: np.ndarray, n_r: int, f: float) -> int | None:
        """Look for the positions of token ``t`` in one partition: the token they are assigned
        to (:meth:`_assign`, usually ``t``), recorded, or None."""
        sup = K.supports(cols, K.full_mask(n_r))
        e = f * n_r
        spread = max(3.0 * math.sqrt(e * (1 - f)), self.tolerance * e)
        lo, hi = e - spread, e + spread
        eligible = (sup < 0.98 * n_r) & (sup >= lo)
        if not eligible.any():
            return None
        share = sup / n_r
        bg = float(np.median(share))
        s_exp = e + (n_r - e) * bg
        cand = np.flatnonzero(eligible & ~self._claimed)
        seeds = cand[np.argsort(np.abs(sup[cand] - s_exp), kind="stable")[: self.seeds]]
        min_len, max_len = self._length_range(t)
        k = self.plain.attrs[self.names[self.token_attr[t]]].k
        covered = np.zeros(self.l, dtype=bool)
        best = None
        for seed in seeds.tolist():
            if covered[seed]:
                continue
            if self.noise > 0:
                chosen, mask = K.greedy_pattern_noisy(cols, share, seed, eligible, lo,
                                                      self.slack, min(max_len, self.l))
            else:
                chosen, mask = K.greedy_pattern(cols, share, seed, eligible, lo)
            covered |= chosen
            support = int(np.bitwise_count(mask).sum())
            length = int(chosen.sum())
            if not (lo <= support <= hi and min_len <= length <= max_len):
                continue
            positions = np.flatnonzero(chosen)
            if self._claimed[positions].mean() > 0.5:
                continue  # mostly another token's positions
            # exact filters: the longest pattern (closest to k); noisy ones grow to max_len anyway
            fit = 0 if self.noise > 0 else (-abs(length - k) if k else length)
            score = (fit, -abs(support - e))
            if best is None or score > best[0]:
                best = (score, positions)
        if best is None:
            return None
        positions = best[1]
        threshold = self._threshold(positions)
        member = self.bits[:, positions].sum(axis=1) >= threshold
        u = self._assign(member, len(positions))
        if u is None:
            return None
        self.mined.positions[u] = positions
        self.mined.threshold[u] = threshold
        self.mined.order.append(u)
        self._identified[u] = True
        self._members.append(member)
        w = self.plain.weights
        col = np.asarray(self.incidence[:, u].todense()).reshape(-1) * w
        self._pairs.append(np.asarray(self.incidence.T @ col).reshape(-1) / w.sum())
        self._claimed[positions] = True
        self._lengths.append(len(positions))
        return u

    def _assign(self, member: np.ndarray, length: int) -> int | None:
        """The token a pattern belongs to: among the tokens not identified yet whose pattern
        length fits, the one whose reference count and co-occurrence with every token identified
        so far best explain the encodings having the pattern (chi-square per degree of
        freedom, with :func:`_variance`); None when no token fits or two fit about equally."""
        count = float(member.sum())
        exp = self.share * self.n
        cand = np.flatnonzero((np.abs(count - exp) <= np.maximum(0.25 * exp, 3 * np.sqrt(exp)))
                              & ~self._identified & self._minable)
        cand = np.array([u for u in cand.tolist()
                         if self._length_range(u)[0] <= length <= self._length_range(u)[1]],
                        dtype=np.int64)
        if cand.size == 0:
            return None
        score = (count - exp[cand]) ** 2 / _variance(exp[cand], self.systematic)
        dof = np.ones(cand.size)
        if self._members:
            got = np.stack(self._members, axis=1)[member].sum(axis=0).astype(float)
            want = np.stack(self._pairs, axis=1)[cand] * self.n
            used = (np.maximum(want, got[None, :]) >= 5).astype(float)
            var = _variance(want, self.systematic)
            score = score + ((got[None, :] - want) ** 2 / var * used).sum(axis=1)
            dof = dof + used.sum(axis=1)
        red = score / dof
        order = np.argsort(red, kind="stable")
        best = red[order[0]]
        if best > 4.0:
            return None
        if order.size > 1 and red[order[1]] < 2.0 * best + 1.0:
            return None
        return int(cand[order[0]])

    def _length_range(self, t: int) -> tuple[int, int]:
        """Shortest and longest pattern accepted for a token: around the bits per token when the
        attacker knows them, else around the lengths found so far."""
        k = self.plain.attrs[self.names[self.token_attr[t]]].k
        if k is not None:
            return max(3, math.ceil(0.5 * k)), math.ceil(1.25 * k) + 1
        base = int(self.min_len[t])
        if len(self._lengths) >= 5:
            med = float(np.median(self._lengths))
            return max(base, int(0.5 * med)), max(base, math.ceil(1.5 * med) + 1)
        return base, self.l

    def _threshold(self, positions: np.ndarray) -> int:
        """Set positions needed to count a token as present: all of them, or with
        ``noise_tolerant`` Otsu's split of the per-encoding counts (at least 70 %)."""
        size = len(positions)
        if not self.noise_tolerant:
            return size
        counts = self.bits[:, positions].sum(axis=1)
        return max(math.ceil(0.7 * size), _otsu(counts, size))

    def contains(self, t: int, rows: np.ndarray | None = None) -> np.ndarray:
        bits = self.bits if rows is None else self.bits[rows]
        return bits[:, self.mined.positions[t]].sum(axis=1) >= self.mined.threshold[t]

    # -- re-identification --------------------------------------------------------------------
    def reidentify(self, name: str, max_many: int) -> tuple[list[tuple | None], np.ndarray]:
        """Per encoding, the candidate values of attribute ``name`` (None: no guess), and which
        encodings had too many."""
        a = self.names.index(name)
        toks = [t for t in self.mined.order if self.token_attr[t] == a]
        plain = self.plain
        values, first = np.unique(plain.canon[name].astype(str), return_index=True)
        weight = pd.Series(plain.weights).groupby(plain.canon[name].astype(str)).sum()
        if toks:
            sig_ref = np.asarray(self.incidence[first][:, toks].todense()) > 0
            sig_enc = np.stack([self.contains(t) for t in toks], axis=1)
        else:
            sig_ref = np.zeros((len(values), 0), dtype=bool)
            sig_enc = np.zeros((self.n, 0), dtype=bool)
        by_sig: dict[bytes, list[str]] = {}
        for v, row in zip(values.tolist(), np.packbits(sig_ref, axis=1), strict=True):
            by_sig.setdefault(row.tobytes(), []).append(v)
        for vs in by_sig.values():
            vs.sort(key=lambda v: -weight[v])
        guesses: list[tuple | None] = []
        too_many = np.zeros(self.n, dtype=bool)
        packed = np.packbits(sig_enc, axis=1)
        for i in range(self.n):
            vs = by_sig.get(packed[i].tobytes())
            if not vs:
                guesses.append(None)
            elif len(vs) > max_many:
                guesses.append(None)
                too_many[i] = True
            else:
                guesses.append(tuple((v,) for v in vs))
        return guesses, too_many


def _variance(expected: np.ndarray, systematic: float) -> np.ndarray:
    """Variance of a count around its reference expectation: Poisson sampling plus a systematic
    relative difference (the reference is another population than the encoded one)."""
    return np.maximum(expected, 5.0) + (systematic * expected) ** 2


def _otsu(counts: np.ndarray, size: int) -> int:
    """The threshold (in 1..size) that best separates the histogram of ``counts`` in two."""
    hist = np.bincount(counts, minlength=size + 1).astype(float)
    total = hist.sum()
    levels = np.arange(size + 1)
    best_t, best_var = size, -1.0
    for t in range(1, size + 1):
        w0, w1 = hist[:t].sum(), hist[t:].sum()
        if w0 == 0 or w1 == 0:
            continue
        m0 = (hist[:t] * levels[:t]).sum() / w0
        m1 = (hist[t:] * levels[t:]).sum() / w1
        var = w0 * w1 * (m0 - m1) ** 2 / total**2
        if var > best_var:
            best_t, best_var = t, var
    return best_t


def pattern_mining(encodings: Encodings, reference: Reference | pd.DataFrame | str, *,
                   field: str | None = None, target: list[str] | None = None,
                   schema: Schema | None = None, truth: pd.DataFrame | None = None,
                   min_partition: int | None = None, stop_gap: float = 0.05,
                   tolerance: float = 0.15, min_positions: int | None = None, seeds: int = 48,
                   tries: int = 10, noise_tolerant: bool | None = None,
                   noise: float | None = None, systematic: float | None = None,
                   max_nodes: int = 5000, max_many: int = MAX_MANY,
                   undo: bool = True) -> AttackResult:
    """Pattern-mining attack on the record filters (``field=None``) or one field's filters.

    Args:
        encodings: the attacked encodings.
        reference: the attacker's plaintext population (every attribute column helps mining).
        field: attack ``encodings.fields[field]`` instead of the record filters.
        target: the attributes to re-identify (default: ``[field]``, else every reference
            attribute); the result is their joint re-identification, each attribute's own result
            is in ``result.parts``.
        schema: the public schema, if the attacker knows it (tokens as encoded, bits per token).
        truth: true values of the target attributes, rows aligned with the encodings.
        min_partition: smallest partition mined (default ``max(30, n / 400)``).
        stop_gap: a token is mined only when its frequency is this much (relative) apart from
            the next more and less frequent tokens.
        tolerance: relative slack of a pattern's support around the token's expected count.
        min_positions: shortest pattern accepted without schema knowledge (default 3, later half
            the median length found).
        seeds: greedy searches per token.
        tries: tokens tried per partition.
        noise_tolerant: count a token present when most (Otsu, >= 70 %) of its positions are set
            (default: when there is noise), else only when all are.
        noise: the BLIP flip probability the attacker assumes (default: the schema's, 0 without
            a schema); with noise, patterns are grown allowing that share of missing bits.
        systematic: relative difference between the reference's and the encodings' frequencies
            the attacker allows when assigning patterns to tokens (default: 4 %, then 2 % when
            the first run identifies fewer than 5 tokens; the run with more tokens is kept).
        max_nodes: partitions processed at most.
        max_many: most candidates of a 1-to-many guess.
        undo: undo the hardening steps that can be undone (balancing; Rule 90 when the schema
            says so) before attacking (:func:`attacker_view`).
    """
    t0 = time.perf_counter()
    ref = Reference.coerce(reference)
    mined_names = [field] if field else list(ref.attributes)
    names = list(target) if target else list(mined_names)
    for name in names:
        if name not in mined_names:
            mined_names.append(name)
    attrs = attributes(mined_names, schema, field)
    bits, undone = attacker_view(encodings, field, schema, undo)
    plain = Plain.of(ref, attrs)
    n = bits.shape[0]
    miner = None
    for assumed in SYSTEMATIC if systematic is None else (float(systematic),):
        run = PatternMiner(bits, plain, min_partition=min_partition or max(30, n // 400),
                           stop_gap=stop_gap, tolerance=tolerance, min_positions=min_positions,
                           seeds=seeds, tries=tries, noise_tolerant=noise_tolerant,
                           noise=_noise(schema, field) if noise is None else float(noise),
                           systematic=assumed)
        run.mine(max_nodes)
        if miner is None or len(run.mined.order) > len(miner.mined.order):
            miner = run
        if len(miner.mined.order) >= ENOUGH_TOKENS:
            break
    mined = miner.mined
    parts = []
    per_attr = {}
    for name in names:
        g, many = miner.reidentify(name, max_many)
        guesses = np.empty(n, dtype=object)
        guesses[:] = g
        res = AttackResult("pattern_mining", source_name(field), (name,), guesses, many, max_many)
        parts.append(res.evaluate(_truth_values(truth, [name], attrs, n)))
        per_attr[name] = g
    guesses, too_many = _joint([per_attr[nm] for nm in names], n, max_many)
    identified = {nm: int(sum(miner.token_attr[t] == a for t in mined.order))
                  for a, nm in enumerate(miner.names)}
    details = {"undone": "+".join(undone) or "-", "systematic": miner.systematic,
               "tokens_identified": len(mined.order),
               "partitions": mined.nodes,
               "failed_minings": mined.failed,
               **{f"tokens_{nm}": c for nm, c in identified.items()}}
    result = AttackResult("pattern_mining", source_name(field), tuple(names), guesses, too_many,
                          max_many, details=details, seconds=time.perf_counter() - t0,
                          parts=parts if len(names) > 1 else [])
    result.miner = miner
    return result.evaluate(_truth_values(truth, names, attrs, n))


def _noise(schema: Schema | None, field: str | None) -> float:
    """The flip probability of the attacked filters, as the public schema states it."""
    if schema is None:
        return 0.0
    h = schema.hardening
    return h.flip_probability if field is None or h.field_filters == "harden" else 0.0


def _joint(per_attr: list[list[tuple | None]], n: int, max_many: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Joint candidates: the product of every attribute's candidates (when not too many)."""
    guesses = np.full(n, None, dtype=object)
    too_many = np.zeros(n, dtype=bool)
    for i in range(n):
        sets = [g[i] for g in per_attr]
        if any(s is None for s in sets):
            continue
        size = math.prod(len(s) for s in sets)
        if size > max_many:
            too_many[i] = True
            continue
        combos = [()]
        for s in sets:
            combos = [c + v for c in combos for v in s]
        guesses[i] = tuple(combos)
    return guesses, too_many
