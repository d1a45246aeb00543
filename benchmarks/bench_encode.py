#!/usr/bin/env python3
"""pprl.encode against clkhash 0.18: records/s on the same clkhash v3 schema and the same rows.

    .venv/bin/python benchmarks/bench_encode.py speed [--rows 100000] [--repeat 2]
    .venv/bin/python benchmarks/bench_encode.py memory [--rows 10000000] [--frame-rows 250000]

``speed`` makes one corrupted agency extract with :func:`pprl.datasets.extracts` (names, dates of
birth, sex, addresses, cities and zip codes, ~3 % missing), encodes it with the shipped example
schema ``src/pprl/encode/schemas/clkhash_v3_example.json`` by clkhash's ``generate_clks`` (its
default multiprocessing: one process per core) and by ``pprl.encode.clks`` (its default), checks
that both give the same CLKs string for string, and prints records/s of both and the ratio (best
of ``--repeat`` runs each; pprl's JIT warm-up is done before timing). It also times pprl on the
native default schema (CLK + 7 field filters + 4 keyed blocking keys), which has no clkhash
equivalent.

``memory`` streams ``--rows`` generated records through ``pprl.encode.clks_chunks`` in frames of
``--frame-rows`` and reports throughput and the peak RSS, which stays flat as the row count grows.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import sys
import time
from importlib import resources

import numpy as np
import pandas as pd

import pprl
from pprl.datasets import extracts, population

SECRET = "benchmark secret: 32 bytes long!"
COLUMNS = ["entity_id", "record_id", "first_name", "last_name", "dob", "sex", "address", "city",
           "zip"]


def example_schema() -> pprl.Schema:
    path = resources.files("pprl.encode").joinpath("schemas/clkhash_v3_example.json")
    with resources.as_file(path) as p:
        return pprl.Schema.load(p)


def make_data(rows: int, seed: int) -> tuple[pd.DataFrame, list[list[str]]]:
    """An agency extract as a text DataFrame (None where missing) and as clkhash's rows."""
    _, df, _ = extracts(1000, rows, overlap=0.5, corruption="moderate", seed=seed)
    df = df.assign(entity_id="")
    text = df[COLUMNS].fillna("")
    return df, text.to_numpy(dtype=object).tolist()


def _cpu() -> float:
    """CPU seconds of this process and of its finished child processes (clkhash's workers)."""
    for child in multiprocessing.active_children():  # wait for clkhash's workers to exit, so
        child.join()  # that their CPU time is counted
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_best(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall time, best CPU time (all processes), and the result."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), _cpu()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, _cpu() - c0)
    return best, best_cpu, result


def speed(args: argparse.Namespace) -> None:
    from clkhash import clk as ch_clk
    from clkhash import schema as ch_schema
    from clkhash.serialization import serialize_bitarray

    schema = example_schema()
    df, rows = make_data(args.rows, args.seed)
    n = len(rows)
    secret = pprl.Secret(SECRET)
    ch = ch_schema.from_json_dict(schema.to_dict())
    pprl.encode.clks(df.head(2000), schema, secret)  # JIT warm-up (numba cache)
    pprl.encode.clks(df.head(2000), pprl.encode.default_schema(), secret)

    t_pprl, c_pprl, enc = time_best(lambda: pprl.encode.clks(df, schema, secret), args.repeat)
    t_ch, c_ch, clks = time_best(lambda: ch_clk.generate_clks(rows, ch, SECRET), args.repeat)
    same = enc.to_clkhash() == [serialize_bitarray(c) for c in clks]
    t_native, c_native, _ = time_best(
        lambda: pprl.encode.clks(df, pprl.encode.default_schema(), secret), args.repeat)

    print(f"records: {n:,} (pprl.datasets.extracts, seed {args.seed}); schema: "
          f"clkhash_v3_example.json (1024 bits, 7 features); load average {os.getloadavg()[0]:.1f}"
          f" on {os.cpu_count()} cores")
    print(f"{'':44} {'records/s':>12} {'wall s':>8} {'CPU s':>8}")
    for label, t, c in [("clkhash 0.18.3 generate_clks (1 proc/core)", t_ch, c_ch),
                        ("pprl.encode.clks", t_pprl, c_pprl)]:
        print(f"{label:44} {n / t:12,.0f} {t:8.2f} {c:8.2f}")
    print(f"ratio pprl / clkhash: {t_ch / t_pprl:.1f}x records/s, {c_ch / c_pprl:.1f}x less CPU; "
          f"identical CLKs: {same}")
    print(f"pprl, native default schema (CLK + field filters + blocking keys): "
          f"{n / t_native:,.0f} records/s ({c_native:.2f} CPU s)")
    if not same:
        sys.exit("the CLKs differ")


def memory(args: argparse.Namespace) -> None:
    schema = pprl.encode.default_schema()
    frame_rows = args.frame_rows
    gen_time = [0.0]

    def frames():
        t = time.perf_counter()
        base = population(frame_rows, seed=args.seed).drop(columns=["household_id"])
        gen_time[0] += time.perf_counter() - t
        for i in range(0, args.rows, frame_rows):
            t = time.perf_counter()
            m = min(frame_rows, args.rows - i)
            rng = np.random.default_rng(i)  # new house numbers per frame keep addresses new
            df = base.iloc[rng.permutation(frame_rows)[:m]].reset_index(drop=True)
            street = df["address"].fillna("X").str.split(" ", n=1).str[-1]
            df["address"] = rng.integers(1, 99_999, m).astype(str) + " " + street
            gen_time[0] += time.perf_counter() - t
            yield df

    encoder = pprl.encode.Encoder(schema, pprl.Secret(SECRET))
    encoder.encode(next(frames()).head(2000))  # JIT warm-up
    gen_time[0] = 0.0
    done, report, t0 = 0, 1_000_000, time.perf_counter()
    for batch in encoder.iter_encode(frames()):
        done += len(batch)
        if done >= report or done == args.rows:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            encode_s = time.perf_counter() - t0 - gen_time[0]
            print(f"{done:>12,} records  peak RSS {rss:8,.0f} MiB  "
                  f"encode {done / encode_s:10,.0f} records/s", flush=True)
            report += 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--rows", type=int, default=100_000)
    sp.add_argument("--repeat", type=int, default=2)
    sp.add_argument("--seed", type=int, default=1)
    mp = sub.add_parser("memory")
    mp.add_argument("--rows", type=int, default=10_000_000)
    mp.add_argument("--frame-rows", type=int, default=250_000)
    mp.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    {"speed": speed, "memory": memory}[args.cmd](args)


if __name__ == "__main__":
    main()
