"""Pure-NumPy twins of the LSH kernels: obviously correct, slow, for tests and small inputs only."""

from __future__ import annotations

import numpy as np

from .lsh import LshParams, _band_spec

M1, M2, GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(
    0x9E3779B97F4A7C15)


def mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    h = np.asarray(h, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * M1
        h = (h ^ (h >> np.uint64(27))) * M2
    return h ^ (h >> np.uint64(31))


def bit_matrix(bits: np.ndarray) -> np.ndarray:
    """bool (n, 64 * nwords): position ``p`` is bit ``p % 64`` of word ``p // 64``."""
    shifts = np.arange(64, dtype=np.uint64)
    return ((bits[:, :, None] >> shifts) & np.uint64(1)).astype(bool).reshape(len(bits), -1)


def minhashes(bits: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(n, r): the rank of each row's first set bit under each permutation (universe if empty)."""
    dense = bit_matrix(bits)
    universe = dense.shape[1]
    out = np.empty((len(bits), len(order)), dtype=np.int64)
    for j, perm in enumerate(order):
        ranked = dense[:, perm]  # column k = position of rank k
        first = np.argmax(ranked, axis=1)
        out[:, j] = np.where(ranked.any(axis=1), first, universe)
    return out


def band_keys(params: LshParams, band: int, bits: np.ndarray, rows: np.ndarray,
              salts: np.ndarray) -> np.ndarray:
    """The keys :func:`pprl.block.lsh.band_keys` computes, from their definition."""
    spec, seed = _band_spec(params, band, 64 * bits.shape[1])
    sub = bits[rows]
    h = np.full(len(rows), seed, dtype=np.uint64)
    with np.errstate(over="ignore"):
        if params.family == "minhash":
            for value in minhashes(sub, spec).T:
                h = mix64(h + (value.astype(np.uint64) + np.uint64(1)) * GOLDEN)
        else:
            sampled = bit_matrix(sub)[:, spec].astype(np.uint64)
            acc = np.zeros(len(rows), dtype=np.uint64)
            for j in range(params.hashes):
                acc = (acc << np.uint64(1)) | sampled[:, j]
                if j % 64 == 63:
                    h = mix64(h + acc * GOLDEN)
                    acc = np.zeros(len(rows), dtype=np.uint64)
            h = mix64(h + acc * GOLDEN + np.uint64(params.hashes))
    return mix64(h ^ np.asarray(salts, dtype=np.uint64))


def colliding_pairs(params: LshParams, a_bits: np.ndarray, b_bits: np.ndarray | None,
                    threshold: float) -> set[tuple[int, int]]:
    """Every pair sharing a key in some band with Dice >= threshold (rows of non-empty filters)."""
    from ..compare._reference import dice_matrix

    dedup = b_bits is None
    other = a_bits if dedup else b_bits
    scores = dice_matrix(a_bits, other)
    live_a = np.flatnonzero(np.bitwise_count(a_bits).sum(axis=1) > 0)
    live_b = np.flatnonzero(np.bitwise_count(other).sum(axis=1) > 0)
    out = set()
    for k in range(params.bands):
        ka = band_keys(params, k, a_bits, live_a, np.zeros(len(live_a), np.uint64))
        kb = band_keys(params, k, other, live_b, np.zeros(len(live_b), np.uint64))
        same = ka[:, None] == kb[None, :]
        for x, y in zip(*np.nonzero(same), strict=True):
            i, j = int(live_a[x]), int(live_b[y])
            if (dedup and i >= j) or scores[i, j] < threshold:
                continue
            out.add((i, j))
    return out
