#!/usr/bin/env python3
"""pprl.solve linkage quality against the oracle-tuned clkhash + anonlink greedy baseline.

    .venv/bin/python benchmarks/bench_solve.py [--only NAME ...] [--n 20000] [--out FILE.md]

For every data set (``../shared/data`` and :func:`pprl.datasets.extracts` at several corruption
levels) it reports F1 (precision/recall) of:

* **clkhash+anonlink oracle** — the baseline a user would get at best: clkhash 0.18 CLKs from a
  clkhash v3 schema (``benchmarks/schemas/<name>.json``), anonlink 0.15's ``greedy_solve`` on all
  pairs above a low threshold, and the threshold tuned *with the truth* (which no user has).
* **pprl greedy oracle** — pprl's encoding (native schema with field filters,
  ``benchmarks/schemas/<name>.pprl.json`` or the shipped default for generated data), CLK Dice,
  ``pprl.solve.greedy``, threshold tuned with the truth (for reference only).
* **greedy auto** / **optimal auto** — ``pprl.solve.greedy`` / ``optimal`` with
  ``threshold="auto"`` on CLK Dice (no truth used).
* **link auto** / **link auto optimal** — ``pprl.solve.link(candidates)``: the automatic threshold
  plus field-aware Fellegi–Sunter scoring where it is expected to beat Dice (no truth used); the
  estimated precision/recall it reports are shown next to the true ones.

Deduplication data sets (one file) use ``pprl.solve.deduplicate`` against anonlink's
``greedy_solve`` on pairs within the file; quality is over all pairs of records in a common entity.

pprl's candidates are what the CLI computes: ``compare.dice(a, b, threshold=0.5, top_k=10)``.
The pprl schemas of the public data sets use the clkhash baseline schemas' bits per token.

Last run (2026-11-22, default arguments: generated extracts of 20,000 + 20,000 records, overlap
0.5 unless noted; F = Fellegi–Sunter scoring chosen by ``link``; "link est." is the precision and
recall ``link`` estimated without truth, with the true ones in brackets)::

    data set (F1)          baseline  pprl      greedy  optimal  link    link     link est.
                           oracle    oracle    auto    auto     auto    auto opt P / R (true)
    datasets low           0.9702    0.9912    0.9911  0.9911   0.9911  0.9911   .995/.992 (.994/.988)
    datasets moderate      0.9293    0.9784    0.9782  0.9776   0.9782  0.9776   .989/.986 (.987/.970)
    datasets high          0.8465    0.9496    0.9494  0.9485   0.9528F 0.9530F  .957/.977 (.955/.950)
    datasets high, ov. 0.2 0.8081    0.9304    0.9293  0.9293   0.9293  0.9293   .947/.935 (.955/.905)
    essnet_di              0.9977    0.9975    0.9975  0.9785   0.9995F 0.9992F  1.00/1.00 (1.00/.999)
    fake_1000 (dedup)      0.7929    0.8249    -       -        0.8056  -        .923/.691 (.959/.695)
    foreigners (dedup)     0.3246    0.3263    -       -        0.3042  -        .778/.301 (.210/.553)
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import pprl
from pprl import compare, solve

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
SECRET = b"bench_solve secret: 32 bytes!!!!"
BASELINE_LOW = 0.65  # two-party baseline: every pair above this (the oracle lands far above)
DEDUP_LOW, DEDUP_TOP_K = 0.5, 20  # deduplication baseline: anonlink-style candidates with k


# ------------------------------------------------------------------------------------ data sets


@dataclass
class Linkage:
    name: str
    a: pd.DataFrame
    b: pd.DataFrame | None  # None: deduplicate a
    truth: pd.DataFrame  # left_id, right_id (two files) or entity_id, record_id (one file)
    clkhash_schema: Path
    pprl_schema: pprl.Schema


def generated(level: str, n: int, overlap: float = 0.5, seed: int = 11) -> Linkage:
    a, b, truth = pprl.datasets.extracts(n, n, overlap=overlap, corruption=level, seed=seed)
    a, b = a.set_index("record_id"), b.set_index("record_id")
    return Linkage(f"datasets {level} ({n}+{n}, overlap {overlap})", a, b, truth,
                   SCHEMAS / "pprl_datasets.json", pprl.encode.default_schema())


def essnet() -> Linkage:
    read = lambda f: pprl.io.read_table(DATA / "essnet_di" / f)  # noqa: E731
    a, b = read("census.csv"), read("cis.csv")
    a, b = a.set_index("census_id"), b.set_index("cis_id")
    pos = pd.Series(b.index, index=b["person_id"])
    both = a["person_id"].isin(pos.index)
    truth = pd.DataFrame({"left_id": a.index[both],
                          "right_id": pos.loc[a["person_id"][both]].to_numpy()})
    return Linkage("essnet_di census vs cis", a, b, truth, SCHEMAS / "essnet_di.json",
                   pprl.Schema.load(SCHEMAS / "essnet_di.pprl.json"))


def fake_1000() -> Linkage:
    a = pprl.io.read_table(DATA / "splink_datasets" / "fake_1000.csv").set_index("unique_id")
    truth = pd.DataFrame({"entity_id": a["cluster"].to_numpy(), "record_id": a.index})
    return Linkage("splink fake_1000 (dedup)", a, None, truth, SCHEMAS / "fake_1000.json",
                   pprl.Schema.load(SCHEMAS / "fake_1000.pprl.json"))


def foreigners() -> Linkage:
    a = pprl.io.read_table(DATA / "foreigners_pl" / "foreigners.csv")
    a.index = pd.Index([f"r{i}" for i in range(len(a))], name="row")
    truth = pd.DataFrame({"entity_id": a["true_id"].to_numpy(), "record_id": a.index})
    return Linkage("foreigners_pl (dedup)", a, None, truth, SCHEMAS / "foreigners.json",
                   pprl.Schema.load(SCHEMAS / "foreigners.pprl.json"))


# ------------------------------------------------------------------------------------ baseline


def clkhash_encodings(df: pd.DataFrame, schema_path: Path) -> pprl.Encodings:
    """clkhash 0.18's CLKs (its own generate_clks) as pprl.Encodings with the frame's ids."""
    from clkhash.clk import generate_clks
    from clkhash.schema import from_json_dict

    doc = json.loads(schema_path.read_text())
    schema = from_json_dict(doc)
    frame = df.reset_index()
    names = [f["identifier"] for f in doc["features"]]  # clkhash reads rows positionally
    text = pd.DataFrame({n: frame[n] if n in frame.columns else "" for n in names})
    rows = text.fillna("").astype(str).to_numpy(dtype=object).tolist()
    clks = generate_clks(rows, schema, SECRET.decode(), validate=False, max_workers=1)
    strings = [base64.b64encode(c.tobytes()).decode() for c in clks]
    return pprl.Encodings.from_clkhash(strings, ids=df.index.to_numpy())


def anonlink_greedy(cands: pprl.Candidates, dedup: bool) -> np.ndarray:
    """anonlink's greedy_solve on the candidates (anonlink's format); returns groups as pairs."""
    import anonlink

    d1 = np.zeros(len(cands), np.uint32) if dedup else np.ones(len(cands), np.uint32)
    problem = (cands.score.astype(np.float64), (np.zeros(len(cands), np.uint32), d1),
               (cands.left.astype(np.uint32), cands.right.astype(np.uint32)))
    return anonlink.solving.greedy_solve(problem)


def baseline_two_party(lk: Linkage) -> dict:
    ka = clkhash_encodings(lk.a, lk.clkhash_schema)
    kb = clkhash_encodings(lk.b, lk.clkhash_schema)
    cands = compare.dice(ka, kb, threshold=BASELINE_LOW, fields=False)
    groups = anonlink_greedy(cands, dedup=False)
    pairs = np.array([sorted(g) for g in groups], dtype=np.int64).reshape(-1, 2, 2)
    left, right = pairs[:, 0, 1], pairs[:, 1, 1]
    score = pprl.compare.score_pairs(ka, kb, left, right)
    links = pd.DataFrame({"left_id": ka.ids[left], "right_id": kb.ids[right], "score": score})
    best = solve.evaluate(links, lk.truth).best  # greedy at t = links with score >= t
    return {"f1": best["f1"], "precision": best["precision"], "recall": best["recall"],
            "threshold": best["threshold"]}


def baseline_dedup(lk: Linkage) -> dict:
    ka = clkhash_encodings(lk.a, lk.clkhash_schema)
    cands = compare.dice(ka, None, threshold=DEDUP_LOW, top_k=DEDUP_TOP_K, fields=False)
    best = {"f1": -1.0}
    for t in np.round(np.arange(DEDUP_LOW, 0.99, 0.01), 2):
        cut = cands.select(cands.score >= t)
        label = np.full(len(ka), -1, dtype=np.int64)
        for g, group in enumerate(anonlink_greedy(cut, dedup=True)):
            for _, rec in group:
                label[rec] = g
        alone = label < 0
        label[alone] = label.max(initial=-1) + 1 + np.arange(alone.sum())
        ev = solve.evaluate(pd.DataFrame({"entity_id": label, "record_id": ka.ids}), lk.truth)
        if ev.f1 > best["f1"]:
            best = {"f1": ev.f1, "precision": ev.precision, "recall": ev.recall, "threshold": t}
    return best


# ------------------------------------------------------------------------------------ pprl


def pprl_two_party(lk: Linkage) -> dict:
    secret = pprl.Secret(SECRET)
    ea = pprl.encode.clks(lk.a, lk.pprl_schema, secret)
    eb = pprl.encode.clks(lk.b, lk.pprl_schema, secret)
    t0 = time.perf_counter()
    cands = compare.dice(ea, eb, threshold=solve.AUTO_CANDIDATE_THRESHOLD, top_k=solve.AUTO_TOP_K)
    out = {"candidates": len(cands), "compare_s": time.perf_counter() - t0}
    best = solve.evaluate(solve.greedy(cands), lk.truth).best
    out["greedy oracle"] = {"f1": best["f1"], "precision": best["precision"],
                            "recall": best["recall"], "threshold": best["threshold"]}
    for name, fn in (("greedy auto", solve.greedy), ("optimal auto", solve.optimal)):
        t0 = time.perf_counter()
        links = fn(cands, threshold="auto")
        out[name] = _quality(links, lk.truth, time.perf_counter() - t0)
        out[name]["threshold"] = float(links["score"].min()) if len(links) else float("nan")
    for name, solver in (("link auto", "greedy"), ("link auto optimal", "optimal")):
        t0 = time.perf_counter()
        links = solve.link(cands, solver=solver)
        q = _quality(links, lk.truth, time.perf_counter() - t0)
        info = links.attrs["threshold"]
        q.update(threshold=info["threshold"], scoring=info["scoring"],
                 est_precision=info["precision"], est_recall=info["recall"])
        out[name] = q
    return out


def pprl_dedup(lk: Linkage) -> dict:
    ea = pprl.encode.clks(lk.a, lk.pprl_schema, pprl.Secret(SECRET))
    cands = compare.dice(ea, None, threshold=solve.AUTO_CANDIDATE_THRESHOLD, top_k=solve.AUTO_TOP_K)
    out = {"candidates": len(cands)}
    best = {"f1": -1.0}
    for t in np.round(np.arange(DEDUP_LOW, 0.99, 0.01), 2):
        ev = solve.evaluate(solve.deduplicate(cands, threshold=t), lk.truth)
        if ev.f1 > best["f1"]:
            best = {"f1": ev.f1, "precision": ev.precision, "recall": ev.recall, "threshold": t}
    out["greedy oracle"] = best
    t0 = time.perf_counter()
    choice = solve.choose_threshold(cands)
    groups = solve.deduplicate(cands, threshold=choice.threshold)
    q = _quality(groups, lk.truth, time.perf_counter() - t0)
    q.update(threshold=choice.threshold, scoring="dice", est_precision=choice.precision,
             est_recall=choice.recall)
    out["link auto"] = q
    return out


def _quality(links: pd.DataFrame, truth: pd.DataFrame, seconds: float) -> dict:
    ev = solve.evaluate(links, truth)
    return {"f1": ev.f1, "precision": ev.precision, "recall": ev.recall, "seconds": seconds}


# ------------------------------------------------------------------------------------ report


def cell(q: dict | None) -> str:
    if not q:
        return "–"
    s = f"**{q['f1']:.4f}** ({q['precision']:.3f}/{q['recall']:.3f})"
    if "threshold" in q:
        s += f" t={q['threshold']:.3f}"
    if "est_precision" in q:
        s += f"; est {q['est_precision']:.3f}/{q['est_recall']:.3f}"
    if q.get("scoring") == "fellegi-sunter":
        s += "; FS"
    return s


def run(lk: Linkage) -> dict:
    dedup = lk.b is None
    t0 = time.perf_counter()
    base = baseline_dedup(lk) if dedup else baseline_two_party(lk)
    ours = pprl_dedup(lk) if dedup else pprl_two_party(lk)
    row = {"name": lk.name, "baseline": base, **ours}
    print(f"{table([row]).splitlines()[-1]}  ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
          flush=True)
    return row


def table(rows: list[dict]) -> str:
    cols = ["baseline", "greedy oracle", "greedy auto", "optimal auto", "link auto",
            "link auto optimal"]
    head = ["data set", "clkhash+anonlink oracle", "pprl greedy oracle", "greedy auto",
            "optimal auto", "link auto", "link auto optimal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([r["name"], *(cell(r.get(c)) for c in cols)]) + " |")
    return "\n".join(lines)


SETS = {
    "low": lambda n: generated("low", n),
    "moderate": lambda n: generated("moderate", n),
    "high": lambda n: generated("high", n),
    "high-small-overlap": lambda n: generated("high", n, overlap=0.2, seed=12),
    "essnet": lambda n: essnet(),
    "fake_1000": lambda n: fake_1000(),
    "foreigners": lambda n: foreigners(),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=list(SETS), default=list(SETS))
    ap.add_argument("--n", type=int, default=20000, help="records per generated file")
    ap.add_argument("--out", type=Path, help="also write the table (Markdown) here")
    args = ap.parse_args(argv)
    rows = [run(SETS[name](args.n)) for name in args.only]
    text = ("F1 (precision/recall), threshold t; est = precision/recall pprl estimated without "
            "truth; FS = Fellegi–Sunter scoring chosen\n\n" + table(rows))
    print(text)
    if args.out:
        with pprl.io.atomic_path(args.out) as tmp:
            tmp.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
