#!/usr/bin/env python3
"""The annual job at scale: 5 generated agencies of 200,000 records, time per stage, peak memory, F1.

    .venv/bin/python benchmarks/bench_job.py [--agencies 5] [--records 200000] [--years 2]
                                             [--dask-workers 2] [--kill-at 0.5] [--out FILE.md]

The agencies sample one shared population (:func:`pprl.datasets.agencies`: each person in about two
agencies, at most once per agency, moderate corruption: typos, OCR and phonetic errors,
nicknames, missing values, swapped day/month, marriage name changes, moves). Each agency is
encoded with the default schema (1024-bit CLKs, keyed blocking keys) into
``benchmarks/.cache/job-<k>x<n>/y<year>/`` (kept between runs). Then ``pprl.job.run`` runs in a
fresh process, so its peak RSS is the job's alone; time per stage comes from the job's result.
Quality is F1 over all pairs of records in a common entity, against the generated truth, next to
the job's own estimate (no truth used).

``--years 2`` runs the next year too (same agencies a year later, ``previous`` = this year's
table) and reports how many people whose records did not change kept their entity id.
``--dask-workers N`` also runs the pair stage on a ``LocalCluster(N workers, 1 thread each)``
and checks that the entity table is byte-identical. ``--kill-at F`` starts another run, SIGKILLs
it after F times the uninterrupted wall time, resumes it and checks the result is byte-identical.

The machine is shared (2 vCPUs, other jobs running): every result carries the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
SECRET = b"bench_job secret: generated data only!"
NAMES = ("education", "colleges", "finaid", "social_services", "employment", "health", "housing",
         "justice")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- data -----------------------------------------------------------------------------------------
def prepare(folder: Path, names: list[str], records: int, year: int, seed: int) -> dict:
    """Generate and encode the agencies of one year (skipped when already there)."""
    meta_path = folder / "meta.json"
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    import pprl

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frames, truth = pprl.datasets.agencies(names, records, year=year, seed=seed)
    generate = time.perf_counter() - t0
    schema, secret = pprl.encode.default_schema(), pprl.Secret(SECRET)
    t0 = time.perf_counter()
    for name, frame in frames.items():
        pprl.encode.clks(frame, schema, secret, id_column="record_id").write(
            folder / f"{name}.parquet")
    meta = {"records": records, "agencies": names, "year": year, "seed": seed,
            "generate_seconds": round(generate, 1),
            "encode_seconds": round(time.perf_counter() - t0, 1), "true_entities": int(
                truth["entity_id"].nunique())}
    truth.to_parquet(folder / "truth.parquet")
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def write_spec(folder: Path, names: list[str], output: Path, previous: Path | None = None,
               scheduler: str | None = None) -> Path:
    lines = [f'output = "{output}"', 'threshold = "auto"']
    if previous is not None:
        lines.append(f'previous = "{previous}"')
    lines += ["[report]", 'title = "Benchmark linkage"']
    for name in names:
        lines += ["[[agencies]]", f'name = "{name}"', f'encodings = "{folder / name}.parquet"']
    spec = output.parent / f"{output.name}.toml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text("\n".join(lines) + "\n")
    return spec


# -- one run in a fresh process -------------------------------------------------------------------
def child(spec: str, dask_workers: int) -> None:
    """``--child``: run the job, print its numbers as JSON (the process's own peak RSS)."""
    import pprl.job

    t0 = time.perf_counter()
    if dask_workers:
        from distributed import LocalCluster

        with LocalCluster(n_workers=dask_workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            started = time.perf_counter() - t0
            result = pprl.job.run(spec, scheduler=cluster.scheduler_address)
    else:
        started = 0.0
        result = pprl.job.run(spec)
    wall = time.perf_counter() - t0
    print(json.dumps({"seconds": result.seconds, "wall": wall, "cluster_start": started,
                      "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                      "summary": result.summary, "entities": str(result.entities)}))


def run_job(spec: Path, dask_workers: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--child", str(spec), "--dask-workers", str(dask_workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def killed_and_resumed(spec: Path, after: float) -> dict:
    """Kill a fresh run after ``after`` seconds, then resume it; the resumed run's numbers."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(spec), "--dask-workers",
                             "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return {"killed": killed, **run_job(spec)}


# -- quality --------------------------------------------------------------------------------------
def quality(entities: Path, truth: Path) -> dict:
    import pandas as pd

    import pprl

    ev = pprl.solve.evaluate(pd.read_parquet(entities), pd.read_parquet(truth))
    return {"precision": ev.precision, "recall": ev.recall, "f1": ev.f1}


def kept_ids(prev_entities: Path, entities: Path, truth0: Path, truth1: Path) -> dict:
    """Of the people whose records did not change (by the truth), how many kept their id."""
    import pandas as pd

    def groups(t: pd.DataFrame, col: str) -> pd.Series:
        key = t["agency"].astype(str) + ":" + t["record_id"].astype(str)
        return t.assign(key=key).groupby(col)["key"].apply(frozenset)

    t0, t1 = groups(pd.read_parquet(truth0), "entity_id"), groups(pd.read_parquet(truth1),
                                                                  "entity_id")
    unchanged = set(t0) & set(t1)
    prev, cur = pd.read_parquet(prev_entities), pd.read_parquet(entities)
    id_of = {}
    for t, tag in ((prev, 0), (cur, 1)):
        key = t["agency"].astype(str) + ":" + t["record_id"].astype(str)
        id_of[tag] = dict(zip(key, t["entity_id"], strict=True))
    kept = sum(1 for g in unchanged
               if {id_of[0].get(k) for k in g} == {id_of[1].get(k) for k in g}
               and len({id_of[1].get(k) for k in g}) == 1)
    return {"unchanged_people": len(unchanged), "kept_their_id": kept,
            "share": kept / len(unchanged) if unchanged else float("nan")}


# -- main -----------------------------------------------------------------------------------------
def show(title: str, r: dict) -> list[str]:
    lines = [f"### {title}", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in r["seconds"].items()]
    lines += [f"| **total (wall, fresh process)** | **{r['wall']:.1f}** |", "",
              f"peak RSS {r['peak_rss_gib']:.2f} GiB; {r['summary']['records']:,} records in "
              f"{r['summary']['entities']:,} entities"]
    est = r["summary"].get("estimated_pairwise") or {}
    if "quality" in r:
        q = r["quality"]
        lines.append(f"F1 {q['f1']:.4f} (precision {q['precision']:.4f}, recall "
                     f"{q['recall']:.4f}) against the truth, over pairs of records in one entity; "
                     f"the job's own estimate of its pairwise links (no truth): precision "
                     f"{est.get('precision') or float('nan'):.4f}, recall "
                     f"{est.get('recall') or float('nan'):.4f}")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agencies", type=int, default=5)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--years", type=int, default=1, choices=(1, 2))
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--dask-workers", type=int, default=0)
    ap.add_argument("--kill-at", type=float, default=None,
                    help="also kill a run after this share of the wall time and resume it")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.dask_workers)
        return
    names = list(NAMES[: args.agencies])
    root = CACHE / f"job-{args.agencies}x{args.records}"
    lines = [f"## pprl job: {args.agencies} agencies x {args.records:,} records", "",
             f"load average at start {load()} on {os.cpu_count()} CPUs (shared machine)", ""]
    previous = None
    for year in range(args.years):
        data = root / f"y{year}"
        meta = prepare(data, names, args.records, year, args.seed)
        print(f"year {year}: data ready (generated in {meta['generate_seconds']} s, encoded in "
              f"{meta['encode_seconds']} s)", file=sys.stderr, flush=True)
        output = root / f"run-y{year}"
        shutil.rmtree(output, ignore_errors=True)
        spec = write_spec(data, names, output, previous)
        r = run_job(spec)
        r["quality"] = quality(output / "entities.parquet", data / "truth.parquet")
        lines += show(f"year {year}" + (" (previous: year 0's table)" if previous else ""), r)
        if previous is not None:
            k = kept_ids(previous, output / "entities.parquet", root / "y0" / "truth.parquet",
                         data / "truth.parquet")
            lines += [f"stable ids: {k['kept_their_id']:,} of the {k['unchanged_people']:,} "
                      f"people whose records did not change kept their entity id "
                      f"({100 * k['share']:.2f} %); changes: {r['summary']['changes']}", ""]
        reference = digest(output / "entities.parquet")
        if args.dask_workers:
            out_dask = root / f"run-y{year}-dask"
            shutil.rmtree(out_dask, ignore_errors=True)
            d = run_job(write_spec(data, names, out_dask, previous), args.dask_workers)
            same = digest(out_dask / "entities.parquet") == reference
            lines += show(f"year {year} on a Dask LocalCluster ({args.dask_workers} workers, "
                          f"cluster start {d['cluster_start']:.1f} s)", d)
            lines += [f"entity table byte-identical to the local run: {same}", ""]
        if args.kill_at is not None:
            out_kill = root / f"run-y{year}-killed"
            shutil.rmtree(out_kill, ignore_errors=True)
            k = killed_and_resumed(write_spec(data, names, out_kill, previous),
                                   args.kill_at * r["wall"])
            same = digest(out_kill / "entities.parquet") == reference
            lines += show(f"year {year}, resumed after SIGKILL at {args.kill_at:.0%} of the wall "
                          f"time (killed mid-run: {k['killed']})", k)
            lines += [f"entity table byte-identical to the uninterrupted run: {same}", ""]
        previous = output / "entities.parquet"
        print("\n".join(lines), file=sys.stderr, flush=True)
    lines.append(f"load average at end {load()}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
