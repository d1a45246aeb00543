"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pprl

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def random_encodings(rng: np.random.Generator, n: int, nbits: int, density: float = 0.3,
                     ids=None) -> pprl.Encodings:
    """Random CLKs with about ``density`` of the bits set (padding bits zero)."""
    bools = rng.random((n, nbits)) < density
    rows = np.packbits(bools, axis=1, bitorder="big")
    return pprl.Encodings.from_clkhash(
        [__import__("base64").b64encode(r.tobytes()).decode() for r in rows], ids=ids, nbits=nbits
    )
