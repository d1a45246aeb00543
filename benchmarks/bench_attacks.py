#!/usr/bin/env python3
"""Hardening against the attack lab: re-identification by each attack and linkage F1, for
unhardened CLKs and for each hardening option, on the same data.

    .venv/bin/python benchmarks/bench_attacks.py [--n 20000] [--rows none,recommended,...]
                                                 [--graph-nodes 2000] [--out FILE.json]

Data: two extracts of :func:`pprl.datasets.extracts` (``--n`` records each, half of the smaller in
both, moderate corruption). Both are encoded with the shipped default schema
(``pprl.encode.default_schema()``: 7 features, 1024-bit CLK, field filters, blocking keys) plus the
row's hardening, with the same secret.

Linkage quality: ``F1 best`` is CLK Dice (``pprl.compare.dice`` at 0.5) + ``pprl.solve.greedy`` cut
at the oracle-best threshold (``pprl.solve.evaluate(...).best``): it measures the encodings, not a
threshold choice. ``F1 auto`` is ``pprl.solve.link(a, b, threshold="auto")`` (no labels; it uses
field-level Fellegi-Sunter scoring when field filters are shipped). ``dF1`` is ``F1 best`` minus
that of the unhardened row, in points.

Attacks (on extract B's encodings, the attacker never has the secret but knows the schema,
including its hardening, and undoes what can be undone: balancing, Rule 90):

* ``ff:*`` - on the first-name field filters, with a public first-name frequency list
  (``pprl.datasets.reference_names("first")``): frequency, graph matching, pattern mining;
  "-" when the row ships no field filters.
* ``clk:pattern`` - pattern mining on the record CLKs with a voter-register-like reference: another
  population sample (``pprl.datasets.population(50000, seed=99)``) with all 7 attributes;
  re-identified: first and last names (the larger of the two is shown).
* ``blk:frequency`` - the frequency attack on each keyed blocking key (the worst key is shown),
  with the same population sample; re-identified: the values the key is made of.
* ``names:*`` - the literature's setting (Christen et al.): a CLK of first and last name only
  (1000 bits, 15 bits per bigram) of the same records with the same hardening; pattern mining
  with the population's names, frequency and graph matching on the (first, last) pairs.

Each cell is ``correct 1-1 % / correct 1-1 or 1-m %`` of the attacked encodings. For rows with
Rule 90 the pattern miner runs on the undone and on the raw filters and the better is shown. The
target: the recommended profile keeps every cell's correct 1-1 <= 1 % at <= 1 F1 point lost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import pprl
from pprl.attack import block_key_frequency, frequency, graph_matching, pattern_mining
from pprl.datasets import extracts, population, reference_names
from pprl.io import atomic_path

SECRET = pprl.Secret(b"bench_attacks: a 32-byte secret.")
ROWS: dict[str, object] = {
    "none": "none",
    "xor_fold": {"xor_folds": 1},
    "rule90": {"rule90": True},
    "blip_eps3": {"blip": {"epsilon": 3.0}},
    "blip_eps2": {"blip": {"epsilon": 2.0}},
    "balance": {"balance": True},
    "salt_yob": {"salt": {"feature": "dob", "transform": "year", "on_missing": "empty"}},
    "random_hashing": {"random_hashing": True},
    "record_level": {"record_level": True},
    "drop_field_filters": {"field_filters": "drop"},
    "rule90_blip_eps4": {"rule90": True, "blip": {"epsilon": 4.0}, "field_filters": "drop"},
    "harden_field_filters": {"rule90": True, "blip": {"epsilon": 3.0}, "field_filters": "harden"},
    "recommended": "recommended",
}
NAMES_SCHEMA = {
    "format": "pprl-linkage-schema", "version": 1, "name": "first and last name",
    "encoding": {"nbits": 1000},
    "features": [
        {"name": "first_name", "normalize": "name", "bits_per_token": 15,
         "field_filter": {"nbits": 256, "bits_per_token": 8}},
        {"name": "last_name", "normalize": "name", "bits_per_token": 15,
         "field_filter": {"nbits": 256, "bits_per_token": 8}},
        {"name": "dob", "type": "date", "weight": 0},
    ],
}
NAMES = ["first_name", "last_name"]


def _cell(res) -> dict:
    """Correct 1-1 and 1-1-or-1-m rates of the worst target of a result (joint or per name)."""
    rows = [res, *res.parts]
    worst = max(rows, key=lambda r: (r.rate("correct_one_to_one"),
                                     r.rate("correct_one_to_many")))
    return {"c11": worst.rate("correct_one_to_one"),
            "c1m": worst.rate("correct_one_to_one") + worst.rate("correct_one_to_many"),
            "target": "+".join(worst.target), "seconds": round(res.seconds, 1),
            "undone": res.details.get("undone", "-")}


def _pattern(enc, ref, schema, truth, field=None, target=None) -> dict:
    best = _cell(pattern_mining(enc, ref, field=field, target=target, schema=schema, truth=truth))
    if schema.hardening.rule90:
        raw = _cell(pattern_mining(enc, ref, field=field, target=target, schema=schema,
                                   truth=truth, undo=False))
        if (raw["c11"], raw["c1m"]) > (best["c11"], best["c1m"]):
            best = raw
    return best


def _linkage(ea, eb, truth) -> dict:
    cands = pprl.compare.dice(ea, eb, threshold=0.5)
    best = pprl.solve.evaluate(pprl.solve.greedy(cands), truth).best
    auto = pprl.solve.evaluate(pprl.solve.link(ea, eb, threshold="auto"), truth)
    return {"f1_best": float(best["f1"]), "threshold_best": float(best["threshold"]),
            "f1_auto": float(auto.f1)}


def run_row(name: str, hardening, data: dict, graph_nodes: int) -> dict:
    a, b, truth = data["a"], data["b"], data["truth"]
    schema = pprl.encode.default_schema().with_hardening(hardening)
    t0 = time.perf_counter()
    ea = pprl.encode.clks(a, schema, SECRET, id_column="record_id")
    eb = pprl.encode.clks(b, schema, SECRET, id_column="record_id")
    out = {"row": name, "hardening": schema.to_dict()["hardening"], "nbits": schema.nbits,
           "encode_seconds": round(time.perf_counter() - t0, 1), **_linkage(ea, eb, truth)}
    attacks: dict[str, dict | None] = {}
    names_list = data["names_list"]
    if "first_name" in eb.fields:
        attacks["ff:frequency"] = _cell(frequency(eb, names_list, field="first_name",
                                                  schema=schema, truth=b))
        attacks["ff:graph"] = _cell(graph_matching(eb, names_list, field="first_name",
                                                   schema=schema, truth=b,
                                                   max_nodes=graph_nodes))
        attacks["ff:pattern"] = _pattern(eb, names_list, schema, b, field="first_name")
    else:
        attacks["ff:frequency"] = attacks["ff:graph"] = attacks["ff:pattern"] = None
    attacks["clk:pattern"] = _pattern(eb, data["voters"], schema, b, target=NAMES)
    keys = [_cell(block_key_frequency(eb, data["voters"], k, schema=schema, truth=b))
            for k in eb.block_keys]
    attacks["blk:frequency"] = max(keys, key=lambda c: (c["c11"], c["c1m"])) if keys else None
    names_schema = pprl.Schema.from_dict(NAMES_SCHEMA).with_hardening(hardening)
    nb = pprl.encode.clks(b, names_schema, SECRET, id_column="record_id")
    voter_names = data["voters"][NAMES]
    attacks["names:pattern"] = _pattern(nb, voter_names, names_schema, b, target=NAMES)
    attacks["names:frequency"] = _cell(frequency(nb, voter_names, target=NAMES,
                                                 schema=names_schema, truth=b))
    attacks["names:graph"] = _cell(graph_matching(nb, voter_names, target=NAMES,
                                                  schema=names_schema, truth=b,
                                                  max_nodes=graph_nodes))
    out["attacks"] = attacks
    ran = [v for v in attacks.values() if v]
    out["max_c11"] = max(v["c11"] for v in ran)
    out["max_c1m"] = max(v["c1m"] for v in ran)
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def table(rows: list[dict]) -> str:
    base = next((r["f1_best"] for r in rows if r["row"] == "none"), rows[0]["f1_best"])
    keys = list(rows[0]["attacks"])
    head = ["hardening", "bits", "F1 best", "dF1", "F1 auto", *keys, "max 1-1"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["row"], str(r["nbits"]), f"{r['f1_best']:.4f}",
                 f"{100 * (r['f1_best'] - base):+.2f}", f"{r['f1_auto']:.4f}"]
        for k in keys:
            v = r["attacks"][k]
            cells.append("-" if v is None else f"{_pct(v['c11'])} / {_pct(v['c1m'])}")
        cells.append(_pct(r["max_c11"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="records per extract")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows to run")
    parser.add_argument("--graph-nodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default "
                        "benchmarks/results/attacks-N.json)")
    args = parser.parse_args(argv)
    chosen = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in chosen if r not in ROWS]
    if unknown:
        parser.error(f"unknown row {unknown[0]!r}; rows: {', '.join(ROWS)}")
    a, b, truth = extracts(args.n, args.n, overlap=0.5, corruption="moderate", seed=args.seed)
    data = {"a": a, "b": b, "truth": truth,
            "names_list": reference_names("first").rename(columns={"name": "first_name"}),
            "voters": population(50000, seed=99).drop(columns=["entity_id", "household_id"])}
    print(f"# bench_attacks: n={args.n} per extract, {len(truth)} true pairs, numpy "
          f"{np.__version__}, pprl {pprl.__version__}", flush=True)
    results = []
    for name in chosen:
        t0 = time.perf_counter()
        row = run_row(name, ROWS[name], data, args.graph_nodes)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        results.append(row)
        cells = ", ".join(f"{k} {'-' if v is None else _pct(v['c11'])}"
                          for k, v in row["attacks"].items())
        print(f"{name}: F1 best {row['f1_best']:.4f}, auto {row['f1_auto']:.4f}; correct 1-1 %: "
              f"{cells} ({row['seconds']} s)", flush=True)
    print()
    print(table(results))
    out = args.out or Path(__file__).resolve().parent / "results" / f"attacks-{args.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps({"n": args.n, "seed": args.seed, "rows": results}, indent=1),
                       "utf-8")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
