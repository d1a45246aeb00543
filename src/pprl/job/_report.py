"""The linkage report: tables (CSV), numbers (JSON), similarity histograms (PNG) and a short
Markdown page a program officer can read.

Everything here is aggregate counts and scores: no record ids, no encodings.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from .._log import logger
from ._pairs import pair_name, read_pair
from .spec import JobSpec

CHANGE_EVENTS = ("kept", "merged", "split", "new", "removed")


@dataclass
class ReportInputs:
    """What the report is made of (all computed by earlier stages)."""

    spec: JobSpec
    inputs: dict  # the validate stage's summary
    pairs: list[tuple[str, str]]
    pair_stats: dict  # pair name -> the pair stage's stats
    thresholds: dict  # pair name -> the threshold stage's choice
    entities: pd.DataFrame
    changes: pd.DataFrame
    stage_seconds: dict


def _clean(value):
    """JSON-safe: NaN -> None, numpy -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def agency_table(r: ReportInputs) -> pd.DataFrame:
    """Records per agency and how many are linked to another agency."""
    e = r.entities
    size = e.groupby("entity_id")["agency"].transform("size")
    linked = e.assign(linked=size.to_numpy() > 1).groupby("agency")["linked"].sum()
    rows = []
    for a in r.inputs["agencies"]:
        n_linked = int(linked.get(a["name"], 0))
        rows.append({"agency": a["name"], "records": a["rows"], "linked_records": n_linked,
                     "linked_share": n_linked / a["rows"] if a["rows"] else math.nan,
                     "file": Path(a["file"]).name, "sha256": a.get("sha256", "")[:12]})
    return pd.DataFrame(rows)


def entity_sizes(r: ReportInputs) -> pd.DataFrame:
    """Entities (and their records) by the number of agencies holding them."""
    k = r.entities.groupby("entity_id").size()
    counts = k.value_counts().reindex(range(1, len(r.spec.agencies) + 1), fill_value=0)
    return pd.DataFrame({"agencies": counts.index, "entities": counts.to_numpy(),
                         "records": counts.index * counts.to_numpy()})


def pair_matches(r: ReportInputs) -> pd.Series:
    """Entities holding a record of both agencies, per agency pair (spec order)."""
    rank = {n: i for i, n in enumerate(r.spec.names)}
    e = pd.DataFrame({"e": r.entities["entity_id"].to_numpy(),
                      "a": r.entities["agency"].map(rank).to_numpy(np.int64)})
    multi = e[e.groupby("e")["a"].transform("size").to_numpy() > 1]
    m = multi.merge(multi, on="e")
    m = m[m["a_x"] < m["a_y"]]
    counts = m.groupby(["a_x", "a_y"]).size()
    return pd.Series({pair_name(a, b): int(counts.get((rank[a], rank[b]), 0)) for a, b in r.pairs})


def pair_table(r: ReportInputs, matched: pd.Series) -> pd.DataFrame:
    rows = []
    for a, b in r.pairs:
        name = pair_name(a, b)
        st, th = r.pair_stats[name], r.thresholds[name]
        rows.append({"left": a, "right": b, "candidates": st["candidates"],
                     "comparisons": st["comparisons"], "blocking": "+".join(st["methods"]),
                     "threshold": th["threshold"], "threshold_method": th["method"],
                     "pairs_above_threshold": th["pairs_above"],
                     "estimated_precision": th["estimated_precision"],
                     "estimated_recall": th["estimated_recall"],
                     "estimated_f1": th["estimated_f1"], "linked_in_entities": int(matched[name])})
    return pd.DataFrame(rows)


def overall_estimate(thresholds: dict) -> dict:
    """Pairwise precision/recall over all agency pairs (before clustering), from each pair's
    estimated matches ``m``, precision ``p`` and recall ``r``: true links ``r m``, links
    ``r m / p``."""
    true = links = matches = 0.0
    for th in thresholds.values():
        p, r, m = (th["estimated_precision"], th["estimated_recall"], th["estimated_matches"])
        if p is None or r is None or m is None:
            return {"precision": None, "recall": None}
        true += r * m
        links += r * m / p if p > 0 else 0.0
        matches += m
    return {"precision": true / links if links else None,
            "recall": true / matches if matches else None}


def change_counts(changes: pd.DataFrame) -> dict:
    return {e: int((changes["event"] == e).sum()) for e in CHANGE_EVENTS}


def histograms(r: ReportInputs, folder: Path) -> list[str]:
    """One PNG per agency pair: candidate scores, log scale, the threshold as a line."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        logger.warning("job report: matplotlib is not installed, no histogram PNGs "
                       "(pip install 'pprl[plot]')")
        return []
    from ..solve import histogram

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    work = r.spec.output / "work" / "pairs"
    for a, b in r.pairs:
        name = pair_name(a, b)
        cands = read_pair(work / f"{name}.parquet", r.spec.candidate_threshold)
        fig = histogram(cands, bins=60)
        ax = fig.axes[0]
        t = r.thresholds[name]["threshold"]
        ax.axvline(t, color="tab:red", linestyle="--", label=f"threshold {t:.3f}")
        ax.set_title(f"{a} – {b}: similarity of candidate pairs")
        ax.set_xlabel("Dice similarity")
        ax.set_ylabel("pairs (log scale)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=80, metadata={"Software": None})
        files.append(f"histograms/{name}.png")
    return files


def write_report(r: ReportInputs, folder: Path) -> dict:
    """Write every report file into ``folder`` (a fresh folder); returns report.json's content."""
    folder.mkdir(parents=True, exist_ok=True)
    agencies = agency_table(r)
    sizes = entity_sizes(r)
    matched = pair_matches(r)
    pairs = pair_table(r, matched)
    changes = change_counts(r.changes) if r.spec.previous is not None else None
    pngs = histograms(r, folder / "histograms") if r.spec.histograms else []
    agencies.to_csv(folder / "agencies.csv", index=False)
    sizes.to_csv(folder / "entity_sizes.csv", index=False)
    pairs.to_csv(folder / "pairs.csv", index=False)
    r.changes.to_csv(folder / "changes.csv", index=False)
    doc = {
        "title": title(r.spec), "pprl_version": __version__,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "spec": str(r.spec.path), "output": str(r.spec.output),
        "settings": {"threshold": r.spec.threshold, "solver": r.spec.solver,
                     **r.spec.pair_params(), "previous": _str(r.spec.previous)},
        "records": len(r.entities), "entities": int(r.entities["entity_id"].nunique()),
        "agencies": agencies.to_dict("records"), "entity_sizes": sizes.to_dict("records"),
        "pairs": pairs.to_dict("records"), "estimated_pairwise": overall_estimate(r.thresholds),
        "changes": changes, "previous": r.inputs.get("previous"),
        "histograms": pngs, "stage_seconds": r.stage_seconds,
    }
    doc = _clean(doc)
    (folder / "report.json").write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    (folder / "report.md").write_text(markdown(doc, r.spec.names), "utf-8")
    return doc


def title(spec: JobSpec) -> str:
    return spec.title or f"Linkage {spec.output.name}"


def _str(p) -> str | None:
    return None if p is None else str(p)


# ---------------------------------------------------------------------------------- Markdown


def _num(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.{digits}f}"
    return f"{int(x):,}"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def md_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(doc: dict, names: Sequence[str]) -> str:
    """The report page."""
    s = doc["settings"]
    multi = sum(x["entities"] for x in doc["entity_sizes"] if x["agencies"] > 1)
    est = doc["estimated_pairwise"]
    thr = ("chosen automatically for each pair of agencies" if s["threshold"] == "auto"
           else f"fixed at {s['threshold']}")
    out = [f"# {doc['title']}", "",
           f"Generated {doc['generated']} by pprl {doc['pprl_version']} from `{doc['spec']}`.", "",
           "## Summary", "",
           f"- **{doc['records']:,} records** from **{len(doc['agencies'])} agencies** form "
           f"**{doc['entities']:,} entities** (people); **{multi:,}** of them appear in more than "
           "one agency.",
           f"- Similarity threshold {thr}; an entity holds at most one record per agency.",
           f"- Estimated quality of the pairwise links (no ground truth used): precision "
           f"{_pct(est['precision'])}, recall {_pct(est['recall'])}."]
    ch = doc["changes"]
    if ch is not None:
        out.append(f"- Since last year's table: {ch['kept']:,} entities kept their id, "
                   f"{ch['merged']:,} merged into another, {ch['split']:,} split off, "
                   f"{ch['new']:,} are new and {ch['removed']:,} no longer appear.")
    else:
        out.append("- No previous entity table was given: every entity id is new.")
    out += ["", "## Agencies", "",
            md_table(["agency", "records", "linked to another agency", "share", "file"],
                     [(a["agency"], _num(a["records"]), _num(a["linked_records"]),
                       _pct(a["linked_share"]), f"`{a['file']}`") for a in doc["agencies"]]),
            "", "## Entities by number of agencies", "",
            md_table(["agencies holding the entity", "entities", "records"],
                     [(x["agencies"], _num(x["entities"]), _num(x["records"]))
                      for x in doc["entity_sizes"]]),
            "", "## People found in both agencies", "",
            "Entities holding a record of both agencies (row agency, column agency):", "",
            _matrix(doc["pairs"], names), "",
            "## Agency pairs", "",
            md_table(["pair", "candidate pairs", "blocking", "threshold", "est. precision",
                      "est. recall", "linked"],
                     [(f"{p['left']} – {p['right']}", _num(p["candidates"]), p["blocking"],
                       f"{p['threshold']:.3f}", _pct(p["estimated_precision"]),
                       _pct(p["estimated_recall"]), _num(p["linked_in_entities"]))
                      for p in doc["pairs"]])]
    if ch is not None:
        out += ["", "## Changes since last year", "",
                md_table(["change", "entities", "meaning"],
                         [(e, _num(ch[e]), _MEANING[e]) for e in CHANGE_EVENTS]),
                "", "Every change is listed in `changes.csv`."]
    if doc["histograms"]:
        out += ["", "## Similarity of candidate pairs", "",
                "Each chart shows how similar the compared record pairs are; true matches gather "
                "near 1, unrelated records on the left. The dashed line is the threshold.", ""]
        out += [f"![{Path(p).stem}]({p})" for p in doc["histograms"]]
    out += ["", "## Notes", "",
            "- Precision is the share of linked pairs that are the same person; recall the share "
            "of people present in both agencies that were linked. Both are estimated from the "
            "distribution of similarity scores, without any ground truth.",
            "- The entity table is `entities.parquet` (`entity_id`, `agency`, `record_id`); the "
            "tables behind this page are `agencies.csv`, `entity_sizes.csv`, `pairs.csv` and "
            "`changes.csv`, all numbers in `report.json`.",
            "- This page holds counts only: no names, no record ids, no encodings.", ""]
    return "\n".join(out)


_MEANING = {"kept": "same id as last year", "merged": "last year's entity joined another one",
            "split": "records moved away from last year's entity",
            "new": "no record was in last year's table", "removed": "no record is left this year"}


def _matrix(pairs: list[dict], names: Sequence[str]) -> str:
    cell = {(p["left"], p["right"]): p["linked_in_entities"] for p in pairs}
    rows = []
    for i, a in enumerate(names):
        rows.append([f"**{a}**"] + [_num(cell[(a, b)]) if j > i else ("–" if j == i else "")
                                    for j, b in enumerate(names)])
    return md_table(["", *list(names)], rows)
