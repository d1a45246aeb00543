#!/usr/bin/env python3
"""Blocking at scale: pprl.block on 1M x 1M generated records, next to blocklib's P-Sig and lambda-fold.

    .venv/bin/python benchmarks/bench_block.py all [--n 1000000] [--threshold 0.8]
    .venv/bin/python benchmarks/bench_block.py prepare --n 1000000
    .venv/bin/python benchmarks/bench_block.py link --n 1000000 --keys no [--blocking auto]
    .venv/bin/python benchmarks/bench_block.py peer --n 1000000 --method psig
    .venv/bin/python benchmarks/bench_block.py density --n 100000
    .venv/bin/python benchmarks/bench_block.py calibrate --n 1000000

``prepare`` generates two extracts with :func:`pprl.datasets.extracts` (50 % overlap, moderate
corruption), encodes them with the default schema (1024-bit CLKs, field filters, four keyed
blocking keys) and writes them as Parquet twice: with the blocking keys and without them (what a
schema without ``blocking`` gives; the CLKs are the same). ``link`` is the link step of
``pprl link`` in a fresh process: read both Parquet files in row groups, block and compare
(:func:`pprl.block.candidates_from_files`, ``blocking="auto"`` unless told), solve one-to-one
(:func:`pprl.solve.greedy`) and write the links; it reports wall time, CPU time, peak RSS and the
recall of the true pairs whose exact Dice is >= the threshold (every true pair is scored with
:func:`pprl.compare.score_pairs`). ``peer`` runs blocklib (in its own virtualenv,
``benchmarks/.peer-venv``) on the same records and scores its blocks with the same kernel.
``density`` shows where CLK-only LSH pays: the same records encoded with more bits per token
(filter densities ~0.36 to ~0.7), LSH planned and run at the threshold against all pairs.
``calibrate`` measures the unit costs of the LSH cost model on this machine.

Results go to ``benchmarks/results/block-*.json`` and a table on stdout. The machine is shared:
every result carries the load average and the process's CPU time next to its wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
PEER_VENV = HERE / ".peer-venv"
PEER_SCRIPT = HERE / "blocklib_peer.py"
SECRET = b"bench_block secret: generated data only"
COLUMNS = ["first_name", "last_name", "dob", "sex", "address", "city", "zip"]
CHUNK = 100_000


def data_dir(n: int) -> Path:
    return CACHE / f"block-{n}"


def peak_rss_gib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 2**20


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# -- prepare ------------------------------------------------------------------------------------
def prepare(n: int, *, overlap: float = 0.5, seed: int = 2026, nbits_scale: float = 1.0,
            out: Path | None = None, peer_csv: bool = True) -> Path:
    """Generate, encode and write the two extracts (skipped when already there)."""
    import pprl
    from pprl.encodings import EncodingsWriter

    out = out or data_dir(n)
    if (out / "meta.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    df_a, df_b, truth = pprl.datasets.extracts(n, n, overlap=overlap, corruption="moderate",
                                               seed=seed)
    truth.to_parquet(out / "truth.parquet")
    schema = scaled_schema(nbits_scale)
    secret = pprl.Secret(SECRET)
    encode_seconds = {}
    for name, df in (("a", df_a), ("b", df_b)):
        t0 = time.perf_counter()
        with EncodingsWriter(out / f"{name}.parquet") as keyed, \
                EncodingsWriter(out / f"{name}-nokeys.parquet") as plain:
            clks = []
            for s in range(0, len(df), CHUNK):
                enc = pprl.encode.clks(df.iloc[s:s + CHUNK], schema, secret, id_column="record_id")
                keyed.write(enc)
                plain.write(pprl.Encodings(enc.bits, enc.ids, enc.nbits,
                                           fingerprint=enc.fingerprint, fields=enc.fields))
                if peer_csv:
                    clks.extend(enc.to_clkhash())
        encode_seconds[name] = time.perf_counter() - t0
        if peer_csv:
            frame = df[COLUMNS].fillna("").assign(clk=clks)
            frame.to_csv(out / f"{name}.csv", index=False)
    meta = {"n": n, "overlap": overlap, "seed": seed, "corruption": "moderate",
            "nbits_scale": nbits_scale, "true_pairs": len(truth), "encode_seconds": encode_seconds,
            "seconds": time.perf_counter() - start}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return out


def scaled_schema(scale: float):
    """The default schema with ``bits_per_token`` of every feature multiplied by ``scale``."""
    import pprl

    schema = pprl.encode.default_schema()
    if scale == 1.0:
        return schema
    doc = schema.to_dict()
    for feature in doc["features"]:
        if "bits_per_token" in feature:
            feature["bits_per_token"] = max(1, round(feature["bits_per_token"] * scale))
    return pprl.Schema.from_dict(doc)


# -- link ---------------------------------------------------------------------------------------
def link(n: int, keys: bool, threshold: float, blocking: str, workers: int | None) -> dict:
    """The link step in a fresh process (peak RSS of that process alone)."""
    cmd = [sys.executable, __file__, "link-child", "--n", str(n), "--keys", "yes" if keys else "no",
           "--threshold", str(threshold), "--blocking", blocking]
    if workers:
        cmd += ["--workers", str(workers)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"link child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def link_child(args: argparse.Namespace) -> None:
    import pprl
    from pprl import block
    from pprl.io import write_frame

    d = data_dir(args.n)
    suffix = "" if args.keys == "yes" else "-nokeys"
    paths = d / f"a{suffix}.parquet", d / f"b{suffix}.parquet"
    load_start, cpu0, t0 = load(), cpu_seconds(), time.perf_counter()
    cands, report = block.candidates_from_files(*paths, threshold=args.threshold,
                                                blocking=args.blocking, workers=args.workers)
    t1 = time.perf_counter()
    links = pprl.solve.greedy(cands)
    write_frame(links, d / f"links{suffix}.csv")
    t2 = time.perf_counter()
    rss, cpu = peak_rss_gib(), cpu_seconds() - cpu0
    a, _ = block.read_side(paths[0], fields=False)
    b, _ = block.read_side(paths[1], fields=False)
    truth = pd.read_parquet(d / "truth.parquet")
    ev = block.evaluate(cands, truth, a=a, b=b, report=report)
    out = {"n": args.n, "keys": args.keys == "yes", "threshold": args.threshold,
           "blocking": args.blocking, "method": report.method, "summary": str(report),
           "seconds_candidates": t1 - t0, "seconds_link": t2 - t0, "cpu_seconds": cpu,
           "peak_rss_gib": rss, "links": len(links), "load_start": load_start, "load_end": load(),
           "recall": ev.pair_completeness, "true_pairs": ev.true_pairs,
           "true_pairs_above": ev.true_pairs_above, "found": ev.found,
           "comparisons": report.comparisons, "reduction_ratio": report.reduction_ratio,
           "candidates": len(cands), "report": report.to_dict()}
    print(json.dumps(out))


# -- blocklib peer ------------------------------------------------------------------------------
def peer_python() -> Path:
    """blocklib's virtualenv (created on first use; blocklib pins numpy<2)."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["python3", "-m", "venv", str(PEER_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import blocklib"], capture_output=True, check=False)
    if probe.returncode:
        # blocklib imports bitarray without declaring it.
        subprocess.run([str(python), "-m", "pip", "install", "-q", "blocklib", "bitarray"],
                       check=True)
    return python


def peer(n: int, method: str, threshold: float, lam: int, k: int,
         workers: int | None) -> dict:
    """blocklib's blocks of the same records, scored by pprl's kernel against the same truth."""
    from pprl import block
    from pprl.compare import Blocks, dice_blocks

    d = data_dir(n)
    tag = method if method == "psig" else f"{method}-{lam}x{k}"
    out, side = d / f"peer-{tag}.npz", d / f"peer-{tag}.json"
    if not side.exists():  # blocklib is slow (pure Python): its blocks are kept and reused
        cmd = [str(peer_python()), str(PEER_SCRIPT), method, str(d / "a.csv"), str(d / "b.csv"),
               str(out), "--lambda", str(lam), "--k", str(k)]
        load_start, t0 = load(), time.perf_counter()
        subprocess.run(cmd, check=True)
        side.write_text(json.dumps({"seconds_peer_process": time.perf_counter() - t0,
                                    "peak_rss_gib_peer": peak_rss_gib(resource.RUSAGE_CHILDREN),
                                    "load_start": load_start, "load_end": load()}))
    run = json.loads(side.read_text())
    got = np.load(out)
    a, _ = block.read_side(d / "a.parquet", fields=False)
    b, _ = block.read_side(d / "b.parquet", fields=False)
    k_blocks = int(max(got["a_block"].max(initial=-1), got["b_block"].max(initial=-1))) + 1
    blocks = Blocks(*csr(got["a_block"], got["a_row"], k_blocks),
                    *csr(got["b_block"], got["b_row"], k_blocks))
    t1 = time.perf_counter()
    cands = dice_blocks(a, b, blocks, threshold=threshold, workers=workers, fields=False)
    compare_seconds = time.perf_counter() - t1
    truth = pd.read_parquet(d / "truth.parquet")
    ev = block.evaluate(cands, truth, a=a, b=b)
    comparisons = blocks.comparisons()
    return {"n": n, "method": f"blocklib {tag}", "config": str(got["config"]),
            "seconds_blocklib": float(got["seconds"]), "seconds_compare": compare_seconds,
            "blocks": k_blocks, "comparisons": comparisons,
            "reduction_ratio": 1 - comparisons / (len(a) * len(b)), "candidates": len(cands),
            "recall": ev.pair_completeness, "true_pairs_above": ev.true_pairs_above,
            "found": ev.found, **run}


def csr(block_ids: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(block_ids, kind="stable")
    offsets = np.zeros(k + 1, dtype=np.int64)
    np.cumsum(np.bincount(block_ids, minlength=k), out=offsets[1:])
    return offsets, rows[order]


# -- density sweep ------------------------------------------------------------------------------
def density(n: int, threshold: float, scales: list[float], workers: int | None) -> list[dict]:
    """Where CLK-only LSH pays: LSH against all pairs as the filters get denser.

    For each density the LSH plan is projected to 1M x 1M with the cost model, all pairs are
    timed, and LSH is run and timed too unless the planner expects it to cost more than three
    times all pairs (the row then says so instead of spending that time).
    """
    import pprl
    from pprl import block
    from pprl.compare._engine import resolve_workers

    n_workers = resolve_workers(workers)
    rows = []
    for scale in scales:
        d = prepare(n, nbits_scale=scale, out=CACHE / f"block-{n}-x{scale:g}", peer_csv=False)
        a, _ = block.read_side(d / "a-nokeys.parquet", fields=False)
        b, _ = block.read_side(d / "b-nokeys.parquet", fields=False)
        plan = block.plan_lsh(a, b, threshold=threshold, workers=n_workers)
        grow = 1_000_000 / len(a)
        row = {"scale": scale, "threshold": threshold,
               "density": float(np.concatenate([a.popcounts, b.popcounts]).mean() / a.nbits),
               "lsh": str(plan.params), "guaranteed_recall": plan.guaranteed_recall,
               "est_seconds_lsh": plan.est_seconds, "est_seconds_all_pairs": plan.exhaustive_seconds,
               "projected_seconds_at_1m": project(plan, a, b, grow, n_workers),
               "projected_all_pairs_seconds_at_1m": plan.exhaustive_seconds * grow**2}
        t0 = time.perf_counter()
        exact = pprl.compare.dice(a, b, threshold=threshold, workers=n_workers)
        row["seconds_all_pairs"] = time.perf_counter() - t0
        if plan.est_seconds <= 3 * plan.exhaustive_seconds:
            t0 = time.perf_counter()
            cands, report = block.candidates(a, b, threshold=threshold, blocking="lsh",
                                             workers=n_workers)
            found = np.intersect1d(cands.left * len(b) + cands.right,
                                   exact.left * len(b) + exact.right)
            row |= {"seconds_lsh": time.perf_counter() - t0, "comparisons": report.comparisons,
                    "comparisons_share": report.comparisons / (len(a) * len(b)),
                    "recall_of_exact": len(found) / max(len(exact), 1),
                    "estimated_pair_completeness": report.estimated_pair_completeness}
        else:
            row["seconds_lsh"] = "not run: planned above 3x all pairs"
        row["load"] = load()
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def project(plan, a, b, scale: float, workers: int = 2) -> float:
    """The cost model's seconds of the cheapest LSH plan with ``scale`` times the records a side
    (collisions grow with the pairs, ``scale**2``; hashing with the records, ``scale``)."""
    from pprl.block import lsh

    mean_pop = float(np.concatenate([a.popcounts, b.popcounts]).mean())
    members = len(a) + len(b)
    best = float("inf")
    for (family, r), (_, bands, collisions) in plan.candidates.items():
        key = r * (lsh.universe_of(a) / mean_pop * lsh.COST_PROBE if family == "minhash"
                   else lsh.COST_BIT)
        seconds = (bands * members * scale * (key + lsh.COST_MEMBER)
                   + collisions * scale**2 * lsh.COST_COLLISION) / workers
        best = min(best, seconds)
    return best


# -- cost model calibration ---------------------------------------------------------------------
def calibrate(n: int, workers: int | None) -> dict:
    """Unit costs of pprl.block.lsh's cost model, measured here in one process."""
    import pprl
    from pprl.block import _kernels, lsh
    from pprl.block.stream import read_side

    d = prepare(n)
    a, _ = read_side(d / "a-nokeys.parquet", fields=False)
    b, _ = read_side(d / "b-nokeys.parquet", fields=False)
    rows = min(len(a), max(1000, 2_000_000_000 // max(len(b), 1)))
    small = a.take(np.arange(min(len(a), 2000)))
    pprl.compare.dice(small, small, threshold=0.8, workers=1)  # warm-up: load compiled kernels
    for family in lsh.FAMILIES:
        lsh.lsh_pairs(small, small, lsh.LshParams(family, 4, 1), 0.8)
    t0 = time.perf_counter()
    pprl.compare.dice(a.take(np.arange(rows)), b, threshold=0.8, workers=1)
    exhaustive = (time.perf_counter() - t0) / lsh._bounded_pairs(a.take(np.arange(rows)), b, 0.8)
    ma, mb = lsh.Members.all_rows(a), lsh.Members.all_rows(b)
    shift = lsh._shift(max(len(ma), len(mb)))
    mean_pop = float(np.concatenate([a.popcounts, b.popcounts]).mean())
    out = {"COST_EXHAUSTIVE": exhaustive}
    for family, r in (("minhash", 10), ("hamming", 24)):
        params = lsh.LshParams(family, r, 4)
        t_keys = t_sort = t_join = 0.0
        collisions = 0
        known = np.full(len(a), -1, np.int64)
        for k in range(params.bands):
            t0 = time.perf_counter()
            ka = lsh.band_keys(params, k, a.bits, ma.rows, ma.salts)
            kb = lsh.band_keys(params, k, b.bits, mb.rows, mb.salts)
            t1 = time.perf_counter()
            _kernels.bucket_sort(ka, ma.rows, a.popcounts, shift)
            _kernels.bucket_sort(kb, mb.rows, b.popcounts, shift)
            t2 = time.perf_counter()
            _, _, stats = _kernels.band_join(ka, ma.rows, a.bits, a.popcounts, kb, mb.rows, b.bits,
                                             b.popcounts, 0.8, False, shift, known,
                                             np.zeros(64, np.int64))
            t3 = time.perf_counter()
            t_keys, t_sort, t_join = t_keys + t1 - t0, t_sort + t2 - t1, t_join + t3 - t2
            collisions += int(stats[0])
        members = params.bands * (len(ma) + len(mb))
        if family == "minhash":
            out["COST_PROBE"] = t_keys / (members * r * lsh.universe_of(a) / mean_pop)
        else:
            out["COST_BIT"] = t_keys / (members * r)
        out.setdefault("COST_MEMBER", []).append(t_sort / members)
        out.setdefault("COST_COLLISION", []).append(max(t_join - t_sort, 0.0) / max(collisions, 1))
    out["COST_MEMBER"] = float(np.mean(out["COST_MEMBER"]))
    out["COST_COLLISION"] = float(np.mean(out["COST_COLLISION"]))
    out["load"] = load()
    print(json.dumps(out))
    return out


# -- everything ---------------------------------------------------------------------------------
def table(rows: list[dict]) -> str:
    head = ("| run | method | link s | CPU s | peak RSS GiB | comparisons | reduction ratio | "
            "recall (true pairs >= t) | load |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        secs = r.get("seconds_link", r.get("seconds_blocklib", 0) + r.get("seconds_compare", 0))
        lines.append(
            f"| {r['run']} | {r['method']} | {secs:.0f} | {r.get('cpu_seconds', float('nan')):.0f} | "
            f"{r.get('peak_rss_gib', r.get('peak_rss_gib_peer', float('nan'))):.2f} | "
            f"{r['comparisons']:.3g} | {r['reduction_ratio']:.6f} | {r['recall']:.4f} | "
            f"{r.get('load_start')} |")
    return "\n".join(lines)


def run_all(args: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    prepare(args.n)
    rows = []
    for keys in (True, False):
        r = link(args.n, keys, args.threshold, args.blocking, args.workers)
        r["run"] = f"pprl, {'with' if keys else 'without'} blocking keys"
        rows.append(r)
        print(r["summary"], flush=True)
        print(f"  link step {r['seconds_link']:.0f} s (CPU {r['cpu_seconds']:.0f} s), peak RSS "
              f"{r['peak_rss_gib']:.2f} GiB, recall {r['recall']:.4f} of "
              f"{r['true_pairs_above']} true pairs with Dice >= {args.threshold}", flush=True)
    for method, lam, k in (("psig", 5, 40), ("lambdafold", 5, 40)):
        r = peer(args.n, method, args.threshold, lam, k, args.workers)
        r["run"] = f"blocklib {method}"
        rows.append(r)
        print(json.dumps(r), flush=True)
    (RESULTS / f"block-{args.n}.json").write_text(json.dumps(rows, indent=1, default=str))
    text = table(rows) + "\n\n" + targets(rows[:2], args.threshold)
    (RESULTS / f"block-{args.n}.md").write_text(text + "\n")
    print(text)


def targets(runs: list[dict], threshold: float) -> str:
    """The issue's targets for the link step, checked run by run."""
    lines = []
    for r in runs:
        checks = [("link step <= 600 s", r["seconds_link"] <= 600),
                  ("peak RSS <= 8 GiB", r["peak_rss_gib"] <= 8),
                  (f"recall >= 0.99 of true pairs with Dice >= {threshold:g}", r["recall"] >= 0.99)]
        verdict = "; ".join(f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in checks)
        lines.append(f"{r['run']}: {verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, **defaults):
        p = sub.add_parser(name)
        p.add_argument("--n", type=int, default=defaults.get("n", 1_000_000))
        p.add_argument("--threshold", type=float, default=0.8)
        p.add_argument("--workers", type=int, default=None)
        return p

    add("all").add_argument("--blocking", default="auto")
    add("prepare")
    for name in ("link", "link-child"):
        p = add(name)
        p.add_argument("--keys", choices=["yes", "no"], default="yes")
        p.add_argument("--blocking", default="auto")
    p = add("peer")
    p.add_argument("--method", choices=["psig", "lambdafold"], default="psig")
    p.add_argument("--lambda", dest="lam", type=int, default=5)
    p.add_argument("--k", type=int, default=40)
    p = add("density", n=100_000)
    p.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.6, 2.3])
    add("calibrate")
    args = parser.parse_args()
    if args.command == "all":
        run_all(args)
    elif args.command == "prepare":
        print(prepare(args.n))
    elif args.command == "link":
        r = link(args.n, args.keys == "yes", args.threshold, args.blocking, args.workers)
        print(json.dumps(r, indent=1))
    elif args.command == "link-child":
        link_child(args)
    elif args.command == "peer":
        prepare(args.n)
        print(json.dumps(peer(args.n, args.method, args.threshold, args.lam, args.k, args.workers),
                         indent=1))
    elif args.command == "density":
        rows = density(args.n, args.threshold, args.scales, args.workers)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"block-density-{args.n}.json").write_text(json.dumps(rows, indent=1))
    else:
        calibrate(args.n, args.workers)


if __name__ == "__main__":
    main()
