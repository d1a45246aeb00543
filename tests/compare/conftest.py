"""Shared helpers of the compare tests: real clkhash encodings and random filters."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import pprl
from pprl.encodings import pack_rows

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2] / "shared" / "data"


def from_bool(bits: np.ndarray, **kwargs) -> pprl.Encodings:
    """Encodings from a boolean (n, nbits) matrix."""
    nbits = bits.shape[1]
    return pprl.Encodings(pack_rows(np.packbits(bits, axis=1), nbits), nbits=nbits, **kwargs)


def random_encodings(rng: np.random.Generator, n: int, nbits: int,
                     density: float | tuple[float, float] = 0.3, **kwargs) -> pprl.Encodings:
    """Random filters; a (low, high) density draws each row's density from that range."""
    low, high = density if isinstance(density, tuple) else (density, density)
    return from_bool(rng.random((n, nbits)) < rng.uniform(low, high, size=(n, 1)), **kwargs)


def as_tuple(c: pprl.Candidates) -> tuple[list, list, list]:
    return c.left.tolist(), c.right.tolist(), c.score.tolist()


def ref_tuple(ref) -> tuple[list, list, list]:
    return tuple(x.tolist() for x in ref)


@pytest.fixture(scope="session")
def fake_clks() -> pprl.Encodings:
    """clkhash 0.18 CLKs (1024 bits) of the 1,000 records of splink's fake_1000 data set."""
    import clkhash.clk
    import clkhash.schema
    from clkhash.serialization import serialize_bitarray

    schema = clkhash.schema.from_json_dict(json.loads((HERE / "fake_1000_schema.json").read_text()))
    with open(DATA / "splink_datasets" / "fake_1000.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    clks = clkhash.clk.generate_clks(rows, schema, "compare tests", max_workers=1)
    return pprl.Encodings.from_clkhash([serialize_bitarray(c) for c in clks],
                                       ids=[f"r{r[0]}" for r in rows])
