#!/usr/bin/env python3
"""pprl.compare.dice against anonlink's find_candidate_pairs: pairs/s, 1 thread and all threads.

    .venv/bin/python benchmarks/bench_compare.py speed [--n 10000] [--threshold 0.8] [--repeat 5]
    .venv/bin/python benchmarks/bench_compare.py memory --left 1000000 --right 100000

``speed`` times both libraries on the same arrays in the same run (medians of ``--repeat`` runs,
warm-up excluded) on two data sets: random 1024-bit filters (density 0.4) and clkhash CLKs of the
ESSnet census / CIS files (real names with errors, 24k true pairs), and checks that both return the
same pairs. anonlink's candidate generation is single-threaded; pprl is timed with 1 and all threads.

``memory`` runs one large comparison in a fresh process and reports its peak RSS next to the RSS
of the inputs alone, i.e. what the comparison itself adds (no n x m matrix is ever built).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import numba
import numpy as np

import pprl
from pprl.compare import dice

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "essnet_di"
SALT = "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA=="
COLUMNS = ["pername1", "pername2", "sex", "dob_day", "dob_mon", "dob_year", "enumcap", "enumpc"]


def _feature(name: str, n: int, bits: int, positional: bool = False) -> dict:
    return {
        "identifier": name,
        "format": {"type": "string", "encoding": "utf-8", "case": "mixed"},
        "hashing": {"comparison": {"type": "ngram", "n": n, "positional": positional},
                    "strategy": {"bitsPerToken": bits}, "hash": {"type": "doubleHash"}},
    }


SCHEMA = {
    "version": 3,
    "clkConfig": {"l": 1024, "kdf": {"type": "HKDF", "hash": "SHA256", "salt": SALT,
                                     "info": "YmVuY2g=", "keySize": 64}},
    "features": [_feature("pername1", 2, 20), _feature("pername2", 2, 20),
                 _feature("sex", 1, 10), _feature("dob_day", 1, 10, True),
                 _feature("dob_mon", 1, 10, True), _feature("dob_year", 1, 10, True),
                 _feature("enumcap", 2, 8), _feature("enumpc", 2, 10)],
}


def essnet(n: int) -> tuple[pprl.Encodings, pprl.Encodings]:
    """clkhash CLKs of the first ``n`` census and CIS records."""
    import clkhash.clk
    import clkhash.schema
    from clkhash.serialization import serialize_bitarray

    schema = clkhash.schema.from_json_dict(SCHEMA)
    out = []
    for name in ("census.csv", "cis.csv"):
        with open(DATA / name, newline="", encoding="utf-8") as fh:
            rows = [[r[c] for c in COLUMNS] for r in islice(csv.DictReader(fh), n)]
        clks = clkhash.clk.generate_clks(rows, schema, "benchmark secret", validate=False)
        out.append(pprl.Encodings.from_clkhash([serialize_bitarray(c) for c in clks]))
    return out[0], out[1]


def random_filters(n: int, nbits: int, rng: np.random.Generator,
                   density: tuple[float, float] = (0.4, 0.4), batch: int = 20_000) -> pprl.Encodings:
    """``n`` random filters, each with its own density drawn from ``density``."""
    rows = np.empty((n, nbits // 64), dtype=np.uint64)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        dens = rng.uniform(*density, size=(stop - start, 1)).astype(np.float32)
        bits = rng.random((stop - start, nbits), dtype=np.float32) < dens
        rows[start:stop] = np.packbits(bits, axis=1).view(np.uint64)
    return pprl.Encodings(rows)


def with_copies(a: pprl.Encodings, b: pprl.Encodings, share: float, flips: int,
                rng: np.random.Generator) -> pprl.Encodings:
    """``b`` with a ``share`` of its rows replaced by rows of ``a`` with ``flips`` bits cleared."""
    rows = b.bits.copy()
    k = int(len(rows) * share)
    src = rng.choice(len(a), size=k, replace=False)
    dst = rng.choice(len(b), size=k, replace=False)
    rows[dst] = a.bits[src]
    words = rng.integers(0, rows.shape[1], size=(k, flips))
    masks = ~(np.uint64(1) << rng.integers(0, 64, size=(k, flips)).astype(np.uint64))
    for f in range(flips):
        rows[dst, words[:, f]] &= masks[:, f]
    return pprl.Encodings(rows, nbits=b.nbits)


def median_time(fn, repeat: int, clock=time.thread_time) -> tuple[float, float, object]:
    """Median wall and CPU seconds (``clock``) of ``repeat`` runs after one untimed warm-up.

    CPU time is the fairer measure on a shared machine (it excludes time spent waiting for a
    core): the calling thread's for single-threaded runs, the whole process's (every thread) for
    multi-threaded ones, where wall / CPU shows how many cores the run actually got.
    """
    result = fn()  # warm-up (compilation, caches), not timed
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), clock()
        result = fn()
        cpus.append(clock() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus), result


def anonlink_pairs(a: pprl.Encodings, b: pprl.Encodings, threshold: float):
    import anonlink

    clks = [a.to_bitarrays(), b.to_bitarrays()]

    def run():
        return anonlink.candidate_generation.find_candidate_pairs(
            clks, anonlink.similarities.dice_coefficient_accelerated, threshold)

    return run


def same_pairs(result, cands: pprl.Candidates) -> bool:
    score, _, (r0, r1) = result
    score, r0, r1 = np.asarray(score), np.asarray(r0, np.int64), np.asarray(r1, np.int64)
    order = np.lexsort((r1, r0, -score))
    return (np.array_equal(r0[order], cands.left) and np.array_equal(r1[order], cands.right)
            and np.array_equal(score[order], cands.score))


def speed(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    cores = numba.get_num_threads()
    print(f"threshold {args.threshold}, median of {args.repeat} runs, {cores} cores; "
          f"pairs/s = comparisons / second")
    sets = {"random 1024-bit, density 0.4": (random_filters(args.n, 1024, rng),
                                             random_filters(args.n, 1024, rng))}
    if DATA.exists():
        sets["clkhash ESSnet census x CIS"] = essnet(args.n)
    for name, (a, b) in sets.items():
        comparisons = len(a) * len(b)
        wall, cpu, res = median_time(anonlink_pairs(a, b, args.threshold), args.repeat)
        rows = [("anonlink 0.15 (1 thread)", wall, cpu, True)]
        for workers in sorted({1, cores}):
            clock = time.thread_time if workers == 1 else time.process_time
            w_wall, w_cpu, cands = median_time(
                lambda a=a, b=b, w=workers: dice(a, b, threshold=args.threshold, workers=w),
                args.repeat, clock)
            rows.append((f"pprl ({workers} thread{'s' * (workers > 1)})", w_wall, w_cpu,
                         same_pairs(res, cands)))
        print(f"\n{name}: {len(a):,} x {len(b):,}, {len(res[0]):,} pairs >= {args.threshold}")
        print(f"  {'':26s} {'wall ms':>9s} {'M pairs/s':>10s} {'vs anonlink':>11s}   "
              f"{'cpu ms':>8s} {'M pairs/s':>10s} {'vs anonlink':>11s} {'cores used':>10s}")
        for label, w_wall, w_cpu, same in rows:
            print(f"  {label:26s} {w_wall * 1e3:9.1f} {comparisons / w_wall / 1e6:10.1f} "
                  f"{wall / w_wall:10.2f}x   {w_cpu * 1e3:8.1f} {comparisons / w_cpu / 1e6:10.1f} "
                  f"{cpu / w_cpu:10.2f}x {w_cpu / w_wall:10.2f}"
                  + ("   same pairs" if same else "   DIFFERENT PAIRS"))
    print("\ncpu = CPU time of the calling thread (1 thread) or of the whole process (all "
          "threads);\ncores used = cpu / wall: below the thread count, the machine was busy.")


def memory(args: argparse.Namespace) -> None:
    if not args.child:
        cmd = [sys.executable, __file__, "memory", "--child", "--left", str(args.left),
               "--right", str(args.right), "--threshold", str(args.threshold)]
        subprocess.run(cmd, check=True)
        return
    rng = np.random.default_rng(args.seed)
    # CLK-like popcount spread (clkhash CLKs of names span ~0.15..0.6 density).
    a = random_filters(args.left, 1024, rng, density=(0.15, 0.6))
    b = with_copies(a, random_filters(args.right, 1024, rng, density=(0.15, 0.6)), 0.5, 20, rng)
    _ = a.popcounts, b.popcounts
    dice(a.take(np.arange(64)), b.take(np.arange(64)), threshold=args.threshold)  # warm-up
    before = _rss_gib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    start, cpu = time.perf_counter(), time.process_time()
    cands = dice(a, b, threshold=args.threshold)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _rss_gib("VmHWM")
    inputs = (a.bits.nbytes + b.bits.nbytes) / 2**30
    print(f"{len(a):,} x {len(b):,} at threshold {args.threshold}: {len(cands):,} pairs in "
          f"{seconds:.1f} s wall, {cpu:.1f} s CPU ({len(a) * len(b) / seconds / 1e6:.0f} M pairs/s "
          f"on {numba.get_num_threads()} threads)")
    print(f"  inputs {inputs:.3f} GiB; RSS {before:.3f} GiB before dice, peak {peak:.3f} GiB during "
          f"it (+{peak - before:.3f} GiB for the comparison)")


def _rss_gib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError(f"{field} not in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--n", type=int, default=10_000)
    s.add_argument("--threshold", type=float, default=0.8)
    s.add_argument("--repeat", type=int, default=5)
    s.add_argument("--seed", type=int, default=1)
    m = sub.add_parser("memory")
    m.add_argument("--left", type=int, default=1_000_000)
    m.add_argument("--right", type=int, default=100_000)
    m.add_argument("--threshold", type=float, default=0.9)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    {"speed": speed, "memory": memory}[args.command](args)


if __name__ == "__main__":
    main()
