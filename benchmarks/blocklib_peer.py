#!/usr/bin/env python3
"""The blocklib peer of bench_block.py: P-Sig and lambda-fold blocks of the same records.

Runs inside its own virtualenv (blocklib pins numpy<2, so it never enters pprl's .venv);
bench_block.py creates that venv and calls this script. It reads the two CSV files bench_block.py
wrote (raw PII columns and each record's CLK as base64), builds blocklib's candidate blocks for
both parties, keeps the blocks both share (``generate_blocks(K=2)``) and writes their memberships
to an .npz file (``a_block``, ``a_row``, ``b_block``, ``b_row``: block index and row number per
membership, block indexes shared by both sides) with blocklib's own wall-clock seconds.

    python blocklib_peer.py psig A.csv B.csv OUT.npz
    python blocklib_peer.py lambdafold A.csv B.csv OUT.npz --lambda 5 --k 40

The P-Sig signatures mirror pprl's default schema passes as far as blocklib's strategies allow
(metaphone for Soundex, characters-at for initials and the year of birth); the filter and blocking
Bloom filter are those of blocklib's tutorial. Lambda-fold runs on the CLKs (``input-clks``).
"""

from __future__ import annotations

import argparse
import csv
import json
import time

import numpy as np

COLUMNS = ["first_name", "last_name", "dob", "sex", "address", "city", "zip"]
YEAR = {"type": "characters-at", "config": {"pos": ["0:4"]}, "feature": "dob"}

PSIG = {
    "type": "p-sig",
    "version": 1,
    "config": {
        "blocking-features": COLUMNS,
        "filter": {"type": "ratio", "max": 0.02, "min": 0.0},
        "blocking-filter": {"type": "bloom filter", "number-hash-functions": 20, "bf-len": 2048},
        "signatureSpecs": [
            [{"type": "metaphone", "feature": "last_name"}, YEAR],
            [{"type": "characters-at", "config": {"pos": [0]}, "feature": "first_name"},
             {"type": "feature-value", "feature": "dob"}],
            [{"type": "feature-value", "feature": "zip"}, YEAR],
            [{"type": "metaphone", "feature": "first_name"},
             {"type": "metaphone", "feature": "last_name"}],
        ],
    },
}


def lambda_fold(lam: int, k: int, nbits: int) -> dict:
    return {"type": "lambda-fold", "version": 1,
            "config": {"blocking-features": [0], "Lambda": lam, "bf-len": nbits,
                       "num-hash-funcs": 1, "K": k, "input-clks": True, "random_state": 0}}


def read(path: str) -> tuple[list[list[str]], list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [[r[c] for c in COLUMNS] for r in rows], [r["clk"] for r in rows]


def shared_blocks(a: dict, b: dict) -> tuple[dict, dict]:
    """What ``generate_blocks(K=2)`` returns for lambda-fold (blocks whose key both parties hold).

    blocklib 0.1.11 looks every key up in a list there, quadratic in the number of blocks (hours
    at 1M records); a set gives the same blocks.
    """
    common = set(a) & set(b)
    return {k: v for k, v in a.items() if k in common}, {k: v for k, v in b.items() if k in common}


def memberships(blocks: dict, index: dict) -> tuple[np.ndarray, np.ndarray]:
    block, row = [], []
    for key, recs in blocks.items():
        block.extend([index[key]] * len(recs))
        row.extend(recs)
    return np.asarray(block, dtype=np.int64), np.asarray(row, dtype=np.int64)


def main() -> None:
    from blocklib import generate_blocks, generate_candidate_blocks

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("method", choices=["psig", "lambdafold"])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("out")
    p.add_argument("--lambda", dest="lam", type=int, default=5)
    p.add_argument("--k", type=int, default=40)
    p.add_argument("--nbits", type=int, default=1024)
    args = p.parse_args()
    (pii_a, clk_a), (pii_b, clk_b) = read(args.a), read(args.b)
    start = time.perf_counter()
    if args.method == "psig":
        config = PSIG
        cand_a = generate_candidate_blocks(pii_a, config, header=COLUMNS)
        cand_b = generate_candidate_blocks(pii_b, config, header=COLUMNS)
    else:
        config = lambda_fold(args.lam, args.k, args.nbits)
        cand_a = generate_candidate_blocks(clk_a, config)
        cand_b = generate_candidate_blocks(clk_b, config)
    if args.method == "psig":
        final_a, final_b = generate_blocks([cand_a, cand_b], K=2)
    else:
        final_a, final_b = shared_blocks(cand_a.blocks, cand_b.blocks)
    seconds = time.perf_counter() - start
    index = {key: k for k, key in enumerate(final_a)}
    a_block, a_row = memberships(final_a, index)
    b_block, b_row = memberships(final_b, index)
    np.savez(args.out, a_block=a_block, a_row=a_row, b_block=b_block, b_row=b_row,
             seconds=seconds, config=json.dumps(config))


if __name__ == "__main__":
    main()
