"""`pprl demo`: the whole flow on generated data, no files needed.

Two synthetic agency extracts with known truth -> each encoded with a fresh secret -> linked with an
automatic threshold -> precision/recall/F1 against the truth -> one suppressed and one DP table.
"""

from __future__ import annotations

import secrets
import time

import numpy as np
import pandas as pd

from ._log import logger

RACES = ["Asian", "Black", "Hispanic", "Native American", "Pacific Islander", "Two or more", "White"]
RACE_WEIGHTS = [0.06, 0.13, 0.26, 0.01, 0.004, 0.046, 0.49]
SECTORS = ["Education", "Health", "Manufacturing", "Retail", "Services"]


def run_demo(records: int = 5000, seed: int = 2026, progress: bool = False) -> dict:
    """Run the demo and log what it did; returns the numbers it printed (for tests)."""
    from . import block, datasets, disclosure, encode, solve
    from .cli import describe_links
    from .secret import Secret

    rng = np.random.default_rng(seed)
    df_a, df_b, truth = datasets.extracts(records, records, overlap=0.5, corruption="moderate",
                                          seed=seed)
    logger.info("Generated two agency extracts with known truth: education (%d records) and "
                "workforce (%d records); %d people appear in both, with typos, nicknames and missing "
                "values in the workforce copy.", len(df_a), len(df_b), len(truth))

    schema = encode.default_schema()
    secret = Secret(secrets.token_bytes(32))
    a = encode.clks(df_a, schema, secret, id_column="record_id")
    b = encode.clks(df_b, schema, secret, id_column="record_id")
    logger.info("Each agency encoded its extract into %d-bit CLKs with a shared random secret; "
                "from here on nobody sees a name or a birth date.", a.nbits)

    t0 = time.perf_counter()
    cands, report = block.candidates(a, b, threshold=solve.AUTO_CANDIDATE_THRESHOLD,
                                     top_k=solve.AUTO_TOP_K, progress=progress)
    links = solve.link(cands, threshold="auto")
    t_link = time.perf_counter() - t0
    logger.info("The managing entity compared the encodings (%s) and linked them one-to-one in "
                "%.1f s: %s.", report, t_link, describe_links(links))

    quality = solve.evaluate(links, truth)
    logger.info("Against the truth: precision %.3f, recall %.3f, F1 %.3f.", quality.precision,
                quality.recall, quality.f1)

    linked = _analytic_table(df_a, df_b, links, rng)
    table = disclosure.suppress(linked, by=["race", "sector"], threshold=11)
    n_sup = int(table["suppressed"].sum())
    logger.info("\nEducation records found in workforce data, by race and sector, with small cells "
                "suppressed (threshold 11, %d cells suppressed, audited against an IP attacker):\n%s",
                n_sup, _pivot(table, "race", "sector"))

    budget = disclosure.Budget(epsilon=1.0)
    dp = disclosure.dp_counts(linked, by=["sector"], categories={"sector": SECTORS}, epsilon=0.5,
                              budget=budget)
    logger.info("\nThe same people by sector with differential privacy (epsilon 0.5 of a 1.0 "
                "budget; 95%% margin of error ±%.0f):\n%s", float(dp["moe"].iloc[0]),
                dp[["sector", "count", "moe"]].to_string(index=False))
    return {"precision": quality.precision, "recall": quality.recall, "f1": quality.f1,
            "links": len(links), "suppressed_cells": n_sup,
            "epsilon_spent": budget.spent}


def _analytic_table(df_a: pd.DataFrame, df_b: pd.DataFrame, links: pd.DataFrame,
                    rng: np.random.Generator) -> pd.DataFrame:
    """The linked analytic data: each agency's own attributes joined on the links, no identifiers."""
    edu = pd.DataFrame({"left_id": df_a["record_id"],
                        "race": rng.choice(RACES, size=len(df_a), p=RACE_WEIGHTS)})
    work = pd.DataFrame({"right_id": df_b["record_id"],
                         "sector": rng.choice(SECTORS, size=len(df_b))})
    return links.merge(edu, on="left_id").merge(work, on="right_id")[["race", "sector"]]


def _pivot(table: pd.DataFrame, rows: str, cols: str) -> str:
    """The table as rows x columns text, suppressed cells as ``*``, totals last."""
    from .disclosure import TOTAL

    cells = ["*" if sup else str(count) for count, sup in zip(table["count"], table["suppressed"],
                                                               strict=True)]
    grid = table.assign(cell=cells).pivot(index=rows, columns=cols, values="cell")

    def totals_last(labels):
        return sorted(labels, key=lambda x: (x == TOTAL, str(x)))

    return grid.loc[totals_last(grid.index), totals_last(grid.columns)].to_string()
