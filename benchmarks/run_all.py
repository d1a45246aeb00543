#!/usr/bin/env python3
"""Run every benchmark in benchmarks/ and write one Markdown summary: pprl next to its peers.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...] [--report-only]
                                           [--update-docs]

The scripts run one after the other, each in its own process group (they time themselves; running
them side by side would spoil each other's numbers). Each run's output is saved in
``benchmarks/results/run_all/MODE/NAME.json``; the headline numbers are read from it into one table
(pprl against clkhash, anonlink and blocklib: records/s, pairs/s, ratio, memory, F1, suppression
and extract quality), followed by each script's own output. ``--only`` re-runs some benchmarks and
takes the others from their last saved run of the same sizes; ``--report-only`` runs nothing. The
summary goes to ``benchmarks/results/summary.md``; ``--update-docs`` also replaces the generated
part of ``docs/performance.md`` (between its ``benchmarks:begin``/``benchmarks:end`` markers).

Sizes (records per side): ``--quick`` for a smoke run of a few minutes; the default is the
medium size the documentation quotes. Neither runs the million-record benchmarks (``bench_block.py
all --n 1000000``, ``bench_encode.py memory --rows 10000000``, ``bench_compare.py memory --left
1000000``): those take an hour or more and are run by hand.

Exit code 0 when every benchmark ran and its numbers were read, 1 otherwise (the summary is
written either way and names what failed).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SUMMARY = RESULTS / "summary.md"
SAVED = RESULTS / "run_all"
DOCS_PAGE = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"
PEER_PYTHON = HERE / ".peer-venv" / "bin" / "python"

QUICK = {"disclosure_quick": True, "encode_rows": 20_000, "encode_memory_rows": 100_000,
         "compare_n": 3_000, "compare_left": 50_000, "compare_right": 10_000, "block_n": 20_000,
         "solve_n": 2_000, "extract_population": 20_000, "job_records": 5_000,
         "attacks_n": 2_000}
MEDIUM = {"disclosure_quick": False, "encode_rows": 100_000, "encode_memory_rows": 500_000,
          "compare_n": 10_000, "compare_left": 200_000, "compare_right": 50_000, "block_n": 100_000,
          "solve_n": 10_000, "extract_population": 100_000, "job_records": 50_000,
          "attacks_n": 10_000}
SIZES = {"quick": QUICK, "medium": MEDIUM}


class SummaryError(ValueError):
    """A benchmark's output does not hold the numbers the summary reads from it."""


@dataclass
class Row:
    """One line of the headline table: pprl's number next to a peer's (or a baseline's)."""

    stage: str
    measure: str
    pprl: str
    peer: str = "–"
    peer_value: str = "–"
    ratio: str = "–"
    note: str = ""

    def cells(self) -> list[str]:
        return [self.stage, self.measure, self.pprl, self.peer, self.peer_value, self.ratio,
                self.note]


@dataclass
class Run:
    """One benchmark invocation: what ran, when, on which sizes, and its raw output.

    Saved as ``results/run_all/<name>.json``, so that the summary can be rebuilt (and one benchmark
    re-run) without running the others again; the numbers are read from the output when the
    summary is written.
    """

    name: str
    mode: str
    args: list[str]
    started: str = ""
    seconds: float = 0.0
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    load: tuple[float, float] = (0.0, 0.0)
    failure: str | None = None  # did not finish: exit code, timeout

    @property
    def command(self) -> str:
        return " ".join(str(a) for a in self.args)

    def save(self, folder: Path) -> None:
        from pprl.io import atomic_path

        folder.mkdir(parents=True, exist_ok=True)
        record = {**self.__dict__, "stderr": "\n".join(self.stderr.splitlines()[-50:])}
        with atomic_path(folder / f"{self.name}.json") as tmp:
            tmp.write_text(json.dumps(record, indent=1), "utf-8")

    @classmethod
    def load_saved(cls, folder: Path, name: str) -> Run | None:
        path = folder / f"{name}.json"
        if not path.exists():
            return None
        record = json.loads(path.read_text("utf-8"))
        record["load"] = tuple(record["load"])
        return cls(**record)


@dataclass
class Outcome:
    """A run with its headline rows, or why there are none."""

    run: Run
    rows: list[Row] = field(default_factory=list)
    error: str | None = None


# -- number formats ------------------------------------------------------------------------------
def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _times(ours: float, theirs: float, higher_is_better: bool = True) -> str:
    """'12.3x' (how many times better pprl is); '0.8x' when it is worse."""
    if theirs == 0 or ours == 0:
        return "–"
    ratio = ours / theirs if higher_is_better else theirs / ours
    if ratio >= 1.95:
        return f"{ratio:.1f}x"
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def _need(match: re.Match | None, what: str) -> re.Match:
    if match is None:
        raise SummaryError(f"no {what} in the output")
    return match


# -- parsers: one per benchmark output -----------------------------------------------------------
def parse_encode_speed(out: str) -> list[Row]:
    """bench_encode.py speed: records/s of clkhash and pprl on the same schema and rows."""
    head = _need(re.search(r"^records: ([\d,]+)", out, re.M), "'records:' line")
    line = r"^{}.*?\s([\d,]+)\s+([\d.]+)\s+([\d.]+)\s*$"
    ch = _need(re.search(line.format("clkhash"), out, re.M), "clkhash line")
    ours = _need(re.search(line.format(r"pprl\.encode\.clks"), out, re.M), "pprl line")
    same = _need(re.search(r"identical CLKs: (\w+)", out), "'identical CLKs'").group(1)
    native = _need(re.search(r"native default schema.*?: ([\d,]+) records/s", out), "native line")
    n = head.group(1)
    rec_ch, rec_ours = _num(ch.group(1)), _num(ours.group(1))
    cpu_ch, cpu_ours = float(ch.group(3)), float(ours.group(3))
    note = f"{n} records, clkhash v3 schema; identical CLKs: {same}"
    return [
        Row("encode", "records/s (wall)", _fmt(rec_ours), "clkhash 0.18.3", _fmt(rec_ch),
            _times(rec_ours, rec_ch), note + "; clkhash uses one process per core"),
        Row("encode", "CPU seconds", f"{cpu_ours:.2f}", "clkhash 0.18.3", f"{cpu_ch:.2f}",
            _times(cpu_ours, cpu_ch, higher_is_better=False), "all processes' CPU time"),
        Row("encode", "records/s, native default schema", _fmt(_num(native.group(1))),
            note="CLK + 7 field filters + 4 keyed blocking keys; no clkhash equivalent"),
    ]


def parse_encode_memory(out: str) -> list[Row]:
    """bench_encode.py memory: peak RSS while streaming records through the encoder."""
    lines = re.findall(r"^\s*([\d,]+) records\s+peak RSS\s+([\d,]+) MiB\s+encode\s+([\d,]+) "
                       r"records/s", out, re.M)
    if not lines:
        raise SummaryError("no 'records  peak RSS' line in the output")
    n, rss, rate = lines[-1]
    return [Row("encode", "peak memory, streaming", f"{_fmt(_num(rss))} MiB",
                note=f"{n} records in frames, default schema, {_fmt(_num(rate))} records/s")]


_COMPARE_SET = re.compile(r"^(.+?): ([\d,]+) x ([\d,]+), ([\d,]+) pairs >= ([\d.]+)\s*$", re.M)
_COMPARE_ROW = re.compile(
    r"^\s+(anonlink.*?\(1 thread\)|pprl \((\d+) threads?\))\s+([\d.]+)\s+([\d.]+)\s+"
    r"([\d.]+)x(?:\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x)?(?:\s+[\d.]+)?\s+(same pairs|DIFFERENT PAIRS)\s*$",
    re.M)


def parse_compare_speed(out: str) -> list[Row]:
    """bench_compare.py speed: M pairs/s of anonlink and pprl (1 and all threads) per data set."""
    rows: list[Row] = []
    sets = list(_COMPARE_SET.finditer(out))
    if not sets:
        raise SummaryError("no data set header ('name: n x m, k pairs >= t') in the output")
    for i, s in enumerate(sets):
        block = out[s.end(): sets[i + 1].start() if i + 1 < len(sets) else len(out)]
        found = {}
        for m in _COMPARE_ROW.finditer(block):
            key = "anonlink" if m.group(1).startswith("anonlink") else int(m.group(2))
            found[key] = m
        if "anonlink" not in found or 1 not in found:
            raise SummaryError(f"data set {s.group(1)!r}: no anonlink or pprl (1 thread) row")
        threads = max(k for k in found if k != "anonlink")
        peer, one, many = found["anonlink"], found[1], found[threads]
        same = all(m.group(9) == "same pairs" for m in found.values())
        note = (f"{s.group(1)}, {s.group(2)} x {s.group(3)} at Dice >= {s.group(5)}; "
                f"same pairs as anonlink: {same}")
        rows.append(Row("compare", f"M pairs/s, wall, pprl on {threads} threads",
                        many.group(4), "anonlink 0.15 (1 thread)", peer.group(4),
                        _times(float(many.group(4)), float(peer.group(4))), note))
        rows.append(Row("compare", "M pairs/s per CPU second, 1 thread", one.group(7),
                        "anonlink 0.15 (1 thread)", peer.group(7),
                        _times(float(one.group(7)), float(peer.group(7))),
                        f"{s.group(1)}; CPU time of the calling thread, fair on a shared "
                        "machine"))
    return rows


def parse_compare_memory(out: str) -> list[Row]:
    """bench_compare.py memory: RSS added by one large comparison."""
    head = _need(re.search(r"^([\d,]+) x ([\d,]+) at threshold ([\d.]+): ([\d,]+) pairs in "
                           r"([\d.]+) s wall, ([\d.]+) s CPU \(([\d,]+) M pairs/s", out, re.M),
                 "comparison summary line")
    mem = _need(re.search(r"inputs ([\d.]+) GiB; RSS ([\d.]+) GiB before dice, peak ([\d.]+) GiB "
                          r"during it \(\+([\d.]+) GiB", out), "RSS line")
    return [Row("compare", "memory added by one comparison", f"+{mem.group(4)} GiB",
                note=f"{head.group(1)} x {head.group(2)} encodings ({mem.group(1)} GiB of "
                     f"inputs), {head.group(4)} pairs >= {head.group(3)}, "
                     f"{head.group(7)} M pairs/s; no n x m matrix")]


def parse_block(out: str, n: int) -> list[Row]:
    """bench_block.py all: the JSON rows it writes to results/block-N.json."""
    path = RESULTS / f"block-{n}.json"
    if not path.exists():
        raise SummaryError(f"{path.relative_to(ROOT)} was not written")
    runs = {r["run"]: r for r in json.loads(path.read_text())}
    ours = runs.get("pprl, with blocking keys")
    peer = runs.get("blocklib psig")
    if ours is None or peer is None:
        raise SummaryError(f"{path.name} lacks the pprl (with keys) or blocklib psig run")
    size = f"{n:,} x {n:,} records"
    peer_s = peer["seconds_blocklib"] + peer["seconds_compare"]
    rows = [
        Row("block", "link step, seconds (wall)", f"{ours['seconds_link']:.1f}",
            "blocklib P-Sig + pprl Dice", f"{peer_s:.1f}",
            _times(ours["seconds_link"], peer_s, higher_is_better=False),
            f"{size}; pprl chose blocking={ours['method']}; pprl's time includes reading "
            "Parquet and solving, blocklib's its blocking and pprl's Dice on its blocks"),
        Row("block", "recall of true pairs with Dice >= threshold", f"{ours['recall']:.4f}",
            "blocklib P-Sig", f"{peer['recall']:.4f}", "–", size),
        Row("block", "comparisons", f"{ours['comparisons']:.3g}", "blocklib P-Sig",
            f"{peer['comparisons']:.3g}",
            _times(ours["comparisons"], peer["comparisons"], higher_is_better=False), size),
        # bench_block's peer RSS is RUSAGE_CHILDREN: the largest of all its child processes so far
        # (the pprl link runs included), so it is no measure of blocklib alone: not compared.
        Row("block", "peak memory of the link step", f"{ours['peak_rss_gib']:.2f} GiB",
            note=f"{size}; the whole link process (read, block, compare, solve)"),
    ]
    plain = runs.get("pprl, without blocking keys")
    if plain is not None:
        rows.append(Row("block", "link step without keys, seconds", f"{plain['seconds_link']:.1f}",
                        note=f"{size}; blocking={plain['method']}, recall {plain['recall']:.4f}"))
    return rows


_CELL_F1 = re.compile(r"\*\*([\d.]+)\*\* \(([\d.]+)/([\d.]+)\)")


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in ``text`` as rows of cells (header first, separator dropped)."""
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def parse_solve(out: str) -> list[Row]:
    """bench_solve.py: F1 of pprl's automatic linkage against the oracle-tuned clkhash+anonlink."""
    tables = [t for t in markdown_tables(out) if t and t[0][0] == "data set"]
    if not tables:
        raise SummaryError("no '| data set |' table in the output")
    head, *body = tables[-1]
    try:
        base_col, auto_col = head.index("clkhash+anonlink oracle"), head.index("link auto")
    except ValueError:
        raise SummaryError(f"unexpected columns {head}") from None
    rows = []
    for cells in body:
        base, auto = _CELL_F1.search(cells[base_col]), _CELL_F1.search(cells[auto_col])
        if base is None or auto is None:
            raise SummaryError(f"row {cells[0]!r}: no '**F1** (p/r)' cell")
        est = re.search(r"est ([\d.]+)/([\d.]+)", cells[auto_col])
        note = f"{cells[0]}; pprl precision/recall {auto.group(2)}/{auto.group(3)}"
        if est:
            note += f" (estimated without truth {est.group(1)}/{est.group(2)})"
        rows.append(Row("solve", "F1, pprl link auto (no truth used)", auto.group(1),
                        "clkhash+anonlink, threshold tuned on the truth", base.group(1),
                        f"{float(auto.group(1)) - float(base.group(1)):+.4f}", note))
    return rows


def parse_disclosure(out: str) -> list[Row]:
    """bench_disclosure.py: suppression by pprl against the hypercube method and primary only."""
    records = [ast.literal_eval(line) for line in out.splitlines() if line.startswith("{'table'")]
    if not records:
        raise SummaryError("no result rows ({'table': ...}) in the output")
    totals: dict[str, dict[str, float]] = {}
    for r in records:
        t = totals.setdefault(r["method"], {"complementary": 0, "people hidden": 0,
                                            "unprotected": 0, "seconds": 0.0, "tables": 0})
        for key in ("complementary", "people hidden", "seconds"):
            t[key] += r[key]
        t["unprotected"] += r.get("unprotected", 0)
        t["tables"] += 1
    ours, cube, primary = (totals.get(k) for k in ("pprl", "hypercube", "primary only"))
    if ours is None or cube is None:
        raise SummaryError("no 'pprl' or 'hypercube' rows in the output")
    tables = int(ours["tables"])
    rows = [
        Row("disclosure", "people hidden in complementary cells", _fmt(ours["people hidden"]),
            "hypercube (tau-ARGUS method)", _fmt(cube["people hidden"]),
            _times(ours["people hidden"], cube["people hidden"], higher_is_better=False),
            f"sum over {tables} tables; less is better (information loss)"),
        Row("disclosure", "complementary cells", _fmt(ours["complementary"]), "hypercube",
            _fmt(cube["complementary"]),
            _times(ours["complementary"], cube["complementary"], higher_is_better=False),
            f"sum over {tables} tables"),
        Row("disclosure", "cells an integer-programming attacker proves < 11",
            _fmt(ours["unprotected"]), "primary suppression only",
            _fmt(primary["unprotected"]) if primary else "–", "–",
            "disclosure.audit on every table; hypercube: " + _fmt(cube["unprotected"])),
    ]
    together = re.search(r"attacked together: (\d+) unprotected", out)
    joint = [r for r in records if r["method"] == "pprl" and str(r["table"]).startswith("linked")]
    if together and joint:
        rows.append(Row("disclosure", "linked tables: cells proven < 11 when attacked together",
                        f"{joint[0].get('unprotected', 0)} (protected together)",
                        "each table protected on its own", together.group(1), "–",
                        joint[0]["table"]))
    return rows


_EXTRACT_LINE = re.compile(
    r"^(.+?), k=(\d+): pprl keeps ([+-][\d,]+) records vs naive \(([\d.]+) % vs ([\d.]+) %\), "
    r"information loss ([\d.]+) vs ([\d.]+) \(textbook ([\d.]+), ([\d.]+) % kept\)", re.M)


def parse_extract(out: str) -> list[Row]:
    """bench_extract.py: records and detail kept by pprl's k-anonymous extract vs naive ways."""
    rows = []
    for m in _EXTRACT_LINE.finditer(out):
        name, k = m.group(1), m.group(2)
        rows.append(Row("extract", f"records kept, k={k}", f"{m.group(4)} %",
                        "suppress small classes", f"{m.group(5)} %", "–",
                        f"{name}; textbook recoding keeps {m.group(9)} %"))
        rows.append(Row("extract", f"information loss, k={k}", m.group(6),
                        "suppress small classes", m.group(7), "–",
                        f"{name}; 0 = the input, 1 = nothing left; textbook {m.group(8)}"))
    if not rows:
        raise SummaryError("no 'NAME, k=K: pprl keeps ...' line in the output")
    return rows


_JOB_HEAD = re.compile(r"^## pprl job: (\d+) agencies x ([\d,]+) records", re.M)
_JOB_YEAR = re.compile(r"^### (year \d+)(.*)$", re.M)


def parse_job(out: str) -> list[Row]:
    """bench_job.py: the annual job's wall time, memory, quality and id stability, per year."""
    head = _need(_JOB_HEAD.search(out), "'## pprl job: K agencies x N records' header")
    size = f"{head.group(1)} agencies x {head.group(2)} records"
    rows = []
    years = list(_JOB_YEAR.finditer(out))
    for i, y in enumerate(years):
        if y.group(2).strip() and "previous" not in y.group(2):
            continue  # the Dask and kill-and-resume variants: same table, other timing
        block = out[y.end(): years[i + 1].start() if i + 1 < len(years) else len(out)]
        wall = _need(re.search(r"\*\*total \(wall, fresh process\)\*\* \| \*\*([\d.]+)\*\*",
                               block), f"{y.group(1)}: total wall time")
        rss = _need(re.search(r"peak RSS ([\d.]+) GiB; ([\d,]+) records in ([\d,]+) entities",
                              block), f"{y.group(1)}: peak RSS line")
        f1 = _need(re.search(r"F1 ([\d.]+) \(precision ([\d.]+), recall ([\d.]+)\)", block),
                   f"{y.group(1)}: F1 line")
        year = y.group(1)
        rows += [
            Row("job", f"{year}: wall seconds, all stages", wall.group(1),
                note=f"{size}; {rss.group(2)} records into {rss.group(3)} entities"),
            Row("job", f"{year}: peak memory", f"{rss.group(1)} GiB", note=size),
            Row("job", f"{year}: F1 of the entity table", f1.group(1),
                note=f"{size}; precision {f1.group(2)}, recall {f1.group(3)}, over pairs of "
                     "records in one entity"),
        ]
    kept = re.search(r"stable ids: ([\d,]+) of the ([\d,]+) people .*?\(([\d.]+) %\)", out)
    if kept:
        rows.append(Row("job", "people whose records did not change and kept their id",
                        f"{kept.group(3)} %", note=f"{size}; {kept.group(1)} of {kept.group(2)}"))
    if not rows:
        raise SummaryError("no '### year N' section in the output")
    return rows


def parse_attacks(out: str) -> list[Row]:
    """bench_attacks.py: the attack lab's worst re-identification and linkage F1, unhardened vs
    the recommended hardening profile."""
    tables = [t for t in markdown_tables(out) if t and t[0][0] == "hardening"]
    if not tables:
        raise SummaryError("no '| hardening |' table in the output")
    head, *body = tables[-1]
    rows_by_name = {cells[0]: dict(zip(head, cells, strict=False)) for cells in body}
    base, hard = rows_by_name.get("none"), rows_by_name.get("recommended")
    if base is None or hard is None or "max 1-1" not in head or "F1 best" not in head:
        raise SummaryError("the table lacks the 'none' or 'recommended' row, or its "
                           "'F1 best' / 'max 1-1' column")
    n = re.search(r"n=(\d+) per extract", out)
    size = f"{int(n.group(1)):,} records per extract" if n else "generated extracts"
    return [
        Row("attack", "worst re-identification (correct 1-to-1, %)", hard["max 1-1"],
            "the same encodings unhardened", base["max 1-1"], "–",
            f"{size}; recommended hardening vs none, every attack of the lab"),
        Row("attack", "linkage F1 (best threshold)", hard["F1 best"],
            "the same encodings unhardened", base["F1 best"],
            f"{float(hard['F1 best']) - float(base['F1 best']):+.4f}",
            f"{size}; what the hardening costs in quality"),
    ]


# -- the benchmarks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    args: Callable[[dict], list[str]]
    parse: Callable[[str, dict], list[Row]]
    timeout: int = 3600


BENCHMARKS = [
    Benchmark("encode", "Encoding: pprl.encode against clkhash",
              lambda s: ["bench_encode.py", "speed", "--rows", str(s["encode_rows"]),
                         "--repeat", "2"],
              lambda out, s: parse_encode_speed(out)),
    Benchmark("encode-memory", "Encoding memory: a stream of records",
              lambda s: ["bench_encode.py", "memory", "--rows", str(s["encode_memory_rows"]),
                         "--frame-rows", str(min(250_000, s["encode_memory_rows"] // 4))],
              lambda out, s: parse_encode_memory(out)),
    Benchmark("compare", "Comparison: pprl.compare.dice against anonlink",
              lambda s: ["bench_compare.py", "speed", "--n", str(s["compare_n"]), "--repeat", "3"],
              lambda out, s: parse_compare_speed(out)),
    Benchmark("compare-memory", "Comparison memory: one large comparison",
              lambda s: ["bench_compare.py", "memory", "--left", str(s["compare_left"]),
                         "--right", str(s["compare_right"])],
              lambda out, s: parse_compare_memory(out)),
    Benchmark("block", "Blocking: pprl.block against blocklib",
              lambda s: ["bench_block.py", "all", "--n", str(s["block_n"])],
              lambda out, s: parse_block(out, s["block_n"]), timeout=7200),
    Benchmark("job", "The annual multi-agency job (pprl.job)",
              lambda s: ["bench_job.py", "--agencies", "3", "--records", str(s["job_records"]),
                         "--years", "2"],
              lambda out, s: parse_job(out)),
    Benchmark("attacks", "Hardening against the attack lab (pprl.attack)",
              lambda s: ["bench_attacks.py", "--n", str(s["attacks_n"]), "--rows",
                         "none,recommended"],
              lambda out, s: parse_attacks(out)),
    Benchmark("solve", "Linkage quality: pprl.solve against clkhash + anonlink",
              lambda s: ["bench_solve.py", "--n", str(s["solve_n"])],
              lambda out, s: parse_solve(out)),
    Benchmark("disclosure", "Suppression: pprl.disclosure.suppress against the hypercube method",
              lambda s: ["bench_disclosure.py", *(["--quick"] if s["disclosure_quick"] else [])],
              lambda out, s: parse_disclosure(out)),
    Benchmark("extract", "Research extracts: pprl.disclosure.extract against naive k-anonymity",
              lambda s: ["bench_extract.py", "--k", "5", "--population",
                         str(s["extract_population"])],
              lambda out, s: parse_extract(out)),
]


def run(bench: Benchmark, mode: str) -> Run:
    """Run one benchmark script in its own process (and process group) and keep its output."""
    args = [sys.executable, *bench.args(SIZES[mode])]
    args[1] = str(HERE / args[1])
    result = Run(bench.name, mode, ["python", f"benchmarks/{Path(args[1]).name}", *args[2:]],
                 started=datetime.now(UTC).isoformat(timespec="seconds"))
    load0, start = os.getloadavg()[0], time.perf_counter()
    print(f"[run_all] {bench.name}: {result.command}", file=sys.stderr, flush=True)
    with subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as proc:
        try:
            result.stdout, result.stderr = proc.communicate(timeout=bench.timeout)
            result.returncode = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the script and any process it started
            result.stdout, result.stderr = proc.communicate()
            result.failure = f"timed out after {bench.timeout} s"
    result.seconds = time.perf_counter() - start
    result.load = (load0, os.getloadavg()[0])
    if result.failure is None and result.returncode != 0:
        result.failure = f"exit code {result.returncode}"
    result.save(SAVED / mode)
    status = "ok" if result.failure is None else f"FAILED ({result.failure})"
    print(f"[run_all] {bench.name}: {status} in {result.seconds:.0f} s", file=sys.stderr,
          flush=True)
    return result


def outcome(bench: Benchmark, result: Run) -> Outcome:
    """The run's headline rows, read from its output."""
    if result.failure is not None:
        return Outcome(result, error=result.failure)
    try:
        return Outcome(result, rows=bench.parse(result.stdout, SIZES[result.mode]))
    except SummaryError as err:
        return Outcome(result, error=f"could not read its numbers: {err}")


# -- the report ----------------------------------------------------------------------------------
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _peer_version(dist: str) -> str:
    if not PEER_PYTHON.exists():
        return "not installed"
    done = subprocess.run([str(PEER_PYTHON), "-c", f"import importlib.metadata as m; "
                           f"print(m.version({dist!r}))"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else "not installed"


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    info = {"cpus": str(os.cpu_count()), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.exists():
        model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        if model:
            info["cpu"] = model.group(1).strip()
    if meminfo.exists():
        total = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.M)
        if total:
            info["memory"] = f"{int(total.group(1)) / 2**20:.0f} GiB"
    return info


def table(rows: list[Row]) -> str:
    head = ["stage", "measure", "pprl", "peer or baseline", "peer", "pprl vs peer", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def _output_block(text: str) -> str:
    """A script's output: its Markdown tables as tables, everything else as preformatted text.

    One-line result records (``{...}``: JSON or Python dicts, which the scripts also print as a
    table) are left out, with a note saying how many."""
    records = [line for line in text.splitlines() if line.startswith("{") and line.endswith("}")]
    text = "\n".join(line for line in text.splitlines() if line not in records)
    parts, plain = [], []

    def flush() -> None:
        if any(line.strip() for line in plain):
            parts.append("```text\n" + "\n".join(plain).strip("\n") + "\n```")
        plain.clear()

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            flush()
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            parts.append("\n".join(lines[i:j]))
            i = j
        else:
            plain.append(lines[i])
            i += 1
    flush()
    if records:
        parts.append(f"({len(records)} one-line result records left out; the script's own "
                     "output has them.)")
    return "\n\n".join(parts)


def report(outcomes: list[Outcome]) -> str:
    """The generated Markdown: context, headline table, failures, each script's output."""
    info = machine()
    runs = [o.run for o in outcomes]
    loads = [x for r in runs for x in r.load]
    days = sorted({r.started[:10] for r in runs})
    modes = sorted({r.mode for r in runs})
    versions = ", ".join(f"{d} {_version(d)}" for d in ("pprl", "numpy", "numba", "clkhash",
                                                        "anonlink"))
    quick = " --quick" if modes == ["quick"] else ""
    lines = [
        f"Measured on {' to '.join([days[0], days[-1]] if len(days) > 1 else days)} "
        f"({'/'.join(modes)} sizes) by `benchmarks/run_all.py{quick}`, "
        f"{sum(r.seconds for r in runs) / 60:.0f} minutes of benchmarks.",
        "",
        f"- Machine: {info.get('cpu', 'unknown CPU')}, {info['cpus']} vCPUs, "
        f"{info.get('memory', '? GiB')} RAM, {info['system']}, Python {info['python']}.",
        f"- Load: the machine was shared with other jobs; the 1-minute load average was "
        f"{min(loads, default=0):.1f} to {max(loads, default=0):.1f} during the runs (with "
        f"{info['cpus']} vCPUs, a load above {info['cpus']} means the benchmarks waited for a "
        f"core). Wall times suffer from that; CPU times and ratios measured in the same run "
        f"much less.",
        f"- Versions: {versions}, blocklib {_peer_version('blocklib')} (own virtualenv).",
        "",
    ]
    rows = [row for o in outcomes for row in o.rows]
    if rows:
        lines += [table(rows), ""]
    failed = [o for o in outcomes if o.error]
    if failed:
        lines += ["**Not measured in this run:** "
                  + "; ".join(f"{o.run.name} ({o.error})" for o in failed), ""]
    titles = {b.name: b.title for b in BENCHMARKS}
    for o in outcomes:
        r = o.run
        lines += [f"### {titles[r.name]}", "",
                  f"`{r.command}` — {r.started[:10]}, {r.seconds:.0f} s, load average "
                  f"{r.load[0]:.1f} → {r.load[1]:.1f}", ""]
        if r.stdout.strip():
            lines += [_output_block(r.stdout), ""]
        if o.error:
            tail = "\n".join(r.stderr.strip().splitlines()[-20:])
            lines += [f"Failed: {o.error}.", ""] + (["```text", tail, "```", ""] if tail else [])
    return "\n".join(lines).rstrip() + "\n"


def update_docs(page: Path, generated: str) -> None:
    """Replace the text between the page's markers with ``generated`` (atomically)."""
    from pprl.io import atomic_path

    text = page.read_text("utf-8")
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"{page}: expected one {BEGIN} ... {END} pair")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    with atomic_path(page) as tmp:
        tmp.write_text(f"{head}{BEGIN}\n{generated}{END}{tail}", "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS],
                        help="run only these; the others are taken from their last saved run "
                             "of the same sizes")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: rebuild the summary from the saved runs")
    parser.add_argument("--update-docs", action="store_true",
                        help=f"also write the numbers into {DOCS_PAGE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "medium"
    chosen = set() if args.report_only else {b.name for b in BENCHMARKS
                                             if not args.only or b.name in args.only}
    outcomes = []
    for bench in [b for b in BENCHMARKS if (HERE / b.args(SIZES[mode])[0]).exists()]:
        result = (run(bench, mode) if bench.name in chosen
                  else Run.load_saved(SAVED / mode, bench.name))
        if result is not None and result.mode == mode:
            outcomes.append(outcome(bench, result))
    if not outcomes:
        raise SystemExit(f"no saved runs in {(SAVED / mode).relative_to(ROOT)}: run without "
                         "--report-only first")
    text = report(outcomes)
    from pprl.io import atomic_path

    with atomic_path(SUMMARY) as tmp:
        tmp.write_text("# Benchmark summary\n\n" + text, "utf-8")
    print(f"[run_all] wrote {SUMMARY.relative_to(ROOT)}", file=sys.stderr)
    if args.update_docs:
        update_docs(DOCS_PAGE, text)
        print(f"[run_all] updated {DOCS_PAGE.relative_to(ROOT)}", file=sys.stderr)
    missing = ({b.name for b in BENCHMARKS if (HERE / b.args(SIZES[mode])[0]).exists()}
               - {o.run.name for o in outcomes})
    if missing:
        print(f"[run_all] no {mode} run of: {', '.join(sorted(missing))}", file=sys.stderr)
    return 1 if missing or any(o.error for o in outcomes) else 0

if __name__ == "__main__":
    sys.exit(main())
