"""Helpers for the encode tests: run the real clkhash and pprl on the same rows."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pandas as pd
import pytest
from clkhash import clk as ch_clk
from clkhash import schema as ch_schema
from clkhash.serialization import serialize_bitarray

import pprl

SECRET = "correct horse battery staple"


def clkhash_clks(doc: dict, rows: list[list[str]], secret: str = SECRET) -> list[str]:
    """clkhash 0.18's serialized CLKs for ``rows`` (one entry per schema feature, in order)."""
    sch = ch_schema.from_json_dict(copy.deepcopy(doc))
    return [serialize_bitarray(b) for b in ch_clk.generate_clks(rows, sch, secret, max_workers=1)]


def frame(doc: dict, rows: list[list], dtype=object) -> pd.DataFrame:
    """The rows as a DataFrame whose columns are the non-ignored features' identifiers."""
    cols = {}
    for i, f in enumerate(doc["features"]):
        if not (f.get("ignored") and "format" not in f):
            cols[f["identifier"]] = [r[i] for r in rows]
    return pd.DataFrame(cols, dtype=dtype, index=pd.RangeIndex(len(rows)))


def pprl_clks(doc: dict, rows: list[list], secret: str = SECRET, **kw) -> list[str]:
    df = frame(doc, rows)
    return pprl.encode.clks(df, pprl.Schema.from_dict(doc), pprl.Secret(secret), **kw).to_clkhash()


@pytest.fixture(scope="session")
def clk():
    """``clk.reference(doc, rows)``, ``clk.ours(doc, rows)``, ``clk.frame(doc, rows)``."""
    return SimpleNamespace(reference=clkhash_clks, ours=pprl_clks, frame=frame, secret=SECRET)


def feature(identifier: str, fmt: dict, comparison: dict, strategy: dict, hash_: dict | None = None,
            missing: dict | None = None) -> dict:
    hashing = {"comparison": comparison, "strategy": strategy}
    if hash_ is not None:
        hashing["hash"] = hash_
    if missing is not None:
        hashing["missingValue"] = missing
    return {"identifier": identifier, "format": fmt, "hashing": hashing}


def clkhash_doc(features: list[dict], l: int = 1024, **cfg) -> dict:  # noqa: E741
    kdf = {"type": "HKDF", **cfg.pop("kdf", {})}
    return {"version": 3, "clkConfig": {"l": l, "kdf": kdf, **cfg}, "features": features}


@pytest.fixture(scope="session")
def make_doc():
    return SimpleNamespace(feature=feature, doc=clkhash_doc)
