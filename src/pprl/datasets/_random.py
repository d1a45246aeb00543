"""Randomness for the generator: seeded numpy Generators and counter-based per-record uniforms.

Bulk draws (the population, sampling) use ``numpy.random.Generator`` streams derived from the seed
and a tag, so each purpose has its own independent stream. Corruption and year-to-year evolution use
*keyed* uniforms: ``uniform(key, ids, stream)`` is a pure function of the key, the record's id and
the stream number (a SplitMix64 hash). A person's errors in one agency therefore do not depend on
who else is sampled, and the same record comes out the same next year unless something changes it.
"""

from __future__ import annotations

import hashlib
import operator

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def non_negative_int(value: object, name: str) -> int:
    """``value`` as a non-negative int, or a TypeError/ValueError naming ``name``."""
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be a non-negative integer, got {type(value).__name__}") from None
    if n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n}")
    return n


def check_seed(seed: object) -> int:
    """``seed`` as a non-negative int, or a ValueError/TypeError naming the parameter."""
    return non_negative_int(seed, "seed")


def key(*parts: object) -> int:
    """A stable 64-bit key for ``parts`` (ints and strings), the same on every machine and run."""
    text = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def rng(*parts: object) -> np.random.Generator:
    """An independent numpy Generator for the purpose named by ``parts`` (seed first)."""
    return np.random.default_rng(key(*parts))


def _mix(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform(k: int, ids: np.ndarray, stream: int) -> np.ndarray:
    """Uniform floats in [0, 1), one per id: a pure function of (key, id, stream)."""
    salt = np.uint64(key(k, stream))
    z = _mix(_mix(np.asarray(ids).astype(np.uint64) ^ salt) + salt)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def combine(ids: np.ndarray, version: np.ndarray) -> np.ndarray:
    """One uint64 id per (id, version) pair, for records that are re-drawn when edited."""
    return _mix(np.asarray(ids).astype(np.uint64)) ^ (np.asarray(version).astype(np.uint64) * _GOLDEN)


def pick(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: the index of the category each uniform falls in."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def cdf_of(weights) -> np.ndarray:
    """The cumulative distribution (last value exactly 1) of non-negative ``weights``."""
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w)
    c /= c[-1]
    c[-1] = 1.0
    return c
