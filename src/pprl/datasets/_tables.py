"""The shipped frequency tables (``tables.json``), loaded once as numpy arrays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ._random import cdf_of

TABLES_PATH = Path(__file__).with_name("tables.json")


@dataclass(frozen=True)
class Table:
    """Names (object array of str), their counts and the sampling CDF."""

    names: np.ndarray
    counts: np.ndarray
    cdf: np.ndarray


@dataclass(frozen=True)
class Tables:
    first: dict[str, Table]          # "F" / "M"
    last: Table
    nicknames: dict[str, tuple[str, ...]]
    streets: Table
    suffixes: Table
    cities: Table
    city_zips: tuple[np.ndarray, ...]   # zips (object array of str) of each city


def _table(names, counts) -> Table:
    arr = np.empty(len(names), dtype=object)
    arr[:] = names
    c = np.asarray(counts, dtype=np.int64)
    return Table(arr, c, cdf_of(c))


@cache
def tables() -> Tables:
    """The tables, parsed on first use."""
    raw = json.loads(TABLES_PATH.read_text(encoding="utf-8"))
    first = {s: _table(t["name"], t["count"]) for s, t in raw["first_names"].items()}
    cities = raw["cities"]
    zips = tuple(np.array(z, dtype=object) for z in cities["zips"])
    return Tables(
        first=first,
        last=_table(raw["last_names"]["name"], raw["last_names"]["count"]),
        nicknames={k: tuple(v) for k, v in raw["nicknames"].items()},
        streets=_table(raw["streets"]["name"], raw["streets"]["weight"]),
        suffixes=_table(raw["street_suffixes"]["name"], raw["street_suffixes"]["weight"]),
        cities=_table(cities["name"], cities["weight"]),
        city_zips=zips,
    )
