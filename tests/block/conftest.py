"""Shared data of the blocking tests: small encoded extracts with truth, and noisy random filters."""

from __future__ import annotations

import numpy as np
import pytest

import pprl
from pprl.encodings import pack_rows

SECRET = pprl.Secret(b"block tests secret, not a real one")


def from_bool(bits: np.ndarray, **kwargs) -> pprl.Encodings:
    """Encodings from a boolean (n, nbits) matrix."""
    nbits = bits.shape[1]
    return pprl.Encodings(pack_rows(np.packbits(bits, axis=1), nbits), nbits=nbits, **kwargs)


def noisy_copies(rng: np.random.Generator, n: int, nbits: int = 256, density: float = 0.35,
                 flip: float = 0.08) -> tuple[pprl.Encodings, pprl.Encodings]:
    """Random filters and copies of them with a share ``flip`` of the bits flipped (pairs i, i)."""
    a = rng.random((n, nbits)) < density
    b = a ^ (rng.random((n, nbits)) < flip)
    return from_bool(a), from_bool(b)


@pytest.fixture(scope="session")
def extracts():
    """(a, b, truth): 1,200 x 1,200 generated records encoded with the default schema."""
    df_a, df_b, truth = pprl.datasets.extracts(1200, 1200, overlap=0.5, corruption="moderate",
                                               seed=7)
    schema = pprl.encode.default_schema()
    a = pprl.encode.clks(df_a, schema, SECRET, id_column="record_id")
    b = pprl.encode.clks(df_b, schema, SECRET, id_column="record_id")
    return a, b, truth


def strip_keys(enc: pprl.Encodings) -> pprl.Encodings:
    """The same encodings without blocking keys (as a schema without `blocking` gives)."""
    return pprl.Encodings(enc.bits, enc.ids, enc.nbits, fingerprint=enc.fingerprint,
                          fields=enc.fields)


def pair_set(c: pprl.Candidates) -> set[tuple[int, int]]:
    return set(zip(c.left.tolist(), c.right.tolist(), strict=True))
