#!/usr/bin/env python3
"""disclosure.suppress against the classic hypercube method and primary-only suppression.

    .venv/bin/python benchmarks/bench_disclosure.py [--quick] [--no-audit]

Tables: random skewed cross-tabs of 2-4 dimensions (up to 10x5x3x2 with every partial margin,
sparse to dense), a real one (Splink's historical figures, one row per person: gender x
occupation x birth decade [x birth place]), and linked tables released from the same data. For
each table three ways of suppressing are compared:

* primary only: suppress counts 1..10 and nothing else;
* hypercube: pprl's protection loop with only the hypercube step (the classic method of
  Repsilber, as in tau-ARGUS's GHMITER: for each small cell the cheapest 2^d-corner cube whose
  corners can absorb the change);
* pprl: ``disclosure.suppress`` (LP-guided patterns verified by an integer program, hypercube and
  last-resort pattern as fallbacks).

Reported: primary / complementary cells, the people hidden in complementary cells (information
loss), the time, and the integer-programming audit (``disclosure.audit``): suppressed cells whose
upper bound the attacker pushes below 11 ("unprotected").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pprl import disclosure
from pprl.disclosure._suppress import Problem

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
T = 11


def random_frame(shape: tuple[int, ...], n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    for i, k in enumerate(shape):
        p = rng.dirichlet(np.full(k, 1.5))
        cols[f"d{i}"] = rng.choice([f"c{j}" for j in range(k)], size=n, p=p)
    return pd.DataFrame(cols)


def historical() -> pd.DataFrame:
    df = pd.read_parquet(DATA / "splink_datasets" / "historical_figures_with_errors_50k.parquet",
                         columns=["cluster", "gender", "occupation", "dob", "birth_place"])
    people = df.drop_duplicates("cluster").copy()
    people["gender"] = people["gender"].where(people["gender"].isin(["male", "female"]), "other")
    top = people["occupation"].value_counts().index[:10]
    people["occupation"] = people["occupation"].where(people["occupation"].isin(top), "other")
    decade = pd.to_numeric(people["dob"].str[:3], errors="coerce")
    people["decade"] = np.where(decade.between(178, 186), decade.fillna(0).astype(int).astype(str)
                                + "0s", "other")
    places = people["birth_place"].value_counts().index[:4]
    people["place"] = people["birth_place"].where(people["birth_place"].isin(places), "other")
    return people[["gender", "occupation", "decade", "place"]].fillna("other")


def primary_only(df: pd.DataFrame, by) -> list[pd.DataFrame]:
    tables = disclosure.suppress(df, by=by, threshold=1)
    tables = tables if isinstance(tables, list) else [tables]
    out = []
    for t in tables:
        t = t.copy()
        small = (t["count"] > 0) & (t["count"] < T)
        t["suppressed"] = small.to_numpy(dtype=bool)
        t["reason"] = np.where(t["suppressed"], "primary", None)
        t.loc[t["suppressed"], "count"] = pd.NA
        out.append(t)
    return out


def run(name: str, df: pd.DataFrame, by, method: str, audit: bool) -> dict:
    started = time.perf_counter()
    if method == "primary only":
        tables = primary_only(df, by)
    else:
        saved = Problem._relaxed
        if method == "hypercube":
            Problem._relaxed = lambda self, *a: None
        try:
            tables = disclosure.suppress(df, by=by, threshold=T)
        finally:
            Problem._relaxed = saved
        tables = tables if isinstance(tables, list) else [tables]
    seconds = time.perf_counter() - started
    truth = [disclosure.suppress(df, by=b, threshold=1) for b in
             (by if isinstance(by[0], list) else [by])]
    comp = [(t["reason"] == "complementary").to_numpy() for t in tables]
    hidden = sum(int(tr.loc[c, "count"].sum()) for tr, c in zip(truth, comp, strict=True))
    row = {
        "table": name, "method": method,
        "cells": sum(len(t) for t in tables),
        "primary": sum(int((t["reason"] == "primary").sum()) for t in tables),
        "complementary": sum(int(c.sum()) for c in comp),
        "people hidden": hidden,
        "seconds": round(seconds, 2),
    }
    if audit:
        started = time.perf_counter()
        result = disclosure.audit(tables, T)
        row["unprotected"] = sum(int((~r["protected"]).sum()) for r in result)
        row["audit s"] = round(time.perf_counter() - started, 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small tables only")
    parser.add_argument("--no-audit", action="store_true", help="skip the (slow) audit")
    args = parser.parse_args()
    cases = [
        ("10x5 n=300", random_frame((10, 5), 300, 1), ["d0", "d1"]),
        ("10x5x3 n=600", random_frame((10, 5, 3), 600, 2), ["d0", "d1", "d2"]),
        ("6x4x3x2 n=500", random_frame((6, 4, 3, 2), 500, 3), ["d0", "d1", "d2", "d3"]),
    ]
    if not args.quick:
        cols4 = ["d0", "d1", "d2", "d3"]
        cases += [
            ("10x5x3x2 n=1500", random_frame((10, 5, 3, 2), 1500, 4), cols4),
            ("10x5x3x2 n=6000", random_frame((10, 5, 3, 2), 6000, 5), cols4),
        ]
        if DATA.exists():
            hf = historical()
            cases += [
                ("historical gender x occupation x decade", hf, ["gender", "occupation", "decade"]),
                ("historical 4-D (+ birth place)", hf, ["gender", "occupation", "decade", "place"]),
            ]
    linked = random_frame((6, 4, 3, 5), 700, 6)
    cases.append(("linked: 3 tables over 4 columns", linked,
                  [["d0", "d1"], ["d0", "d2", "d3"], ["d1", "d3"]]))
    rows = []
    for name, df, by in cases:
        for method in ("primary only", "hypercube", "pprl"):
            rows.append(run(name, df, by, method, audit=not args.no_audit))
            print(rows[-1], flush=True)
    # linked tables protected one at a time, then attacked together
    separate = [disclosure.suppress(linked, by=b, threshold=T)
                for b in [["d0", "d1"], ["d0", "d2", "d3"], ["d1", "d3"]]]
    if not args.no_audit:
        bad = sum(int((~r["protected"]).sum()) for r in disclosure.audit(separate, T))
        print(f"linked tables protected separately, attacked together: {bad} unprotected cells")
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
