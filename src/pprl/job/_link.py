"""Thresholds per agency pair, multi-party clusters, and stable entity ids."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..candidates import Candidates
from ..io import atomic_path
from .spec import THRESHOLD_AUTO

ESTIMATES = ("precision", "recall", "f1")


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def choose(cands: Candidates, threshold: float | str, candidate_threshold: float) -> dict:
    """The threshold of one agency pair and its estimated precision/recall/F1 (no truth used).

    ``"auto"``: the best estimated F1 (:func:`pprl.solve.choose_threshold`). A fixed threshold:
    the same estimated curves read at it, when the candidates reach below it (else no estimate).
    """
    from ..solve import choose_threshold

    choice = choose_threshold(cands, dedup=False)
    out = {"candidates": len(cands), "estimated_matches": _finite(choice.matches)}
    if threshold == THRESHOLD_AUTO:
        t = choice.threshold
        out.update(method=choice.method,
                   **{f"estimated_{k}": _finite(getattr(choice, k)) for k in ESTIMATES})
    else:
        t = float(threshold)
        curves = choice.diagnostics
        usable = candidate_threshold < t and len(curves.get("thresholds", ())) > 1
        out["method"] = "fixed"
        for k in ESTIMATES:
            value = np.interp(t, curves["thresholds"], curves[k]) if usable else math.nan
            out[f"estimated_{k}"] = _finite(value)
    out["threshold"] = float(t)
    out["pairs_above"] = int(np.count_nonzero(cands.score >= t))
    return out


def pair_links(cands: Candidates, threshold: float, solver: str) -> Candidates:
    """The pairs of one agency pair that may join entities: score >= threshold, and for
    ``solver="optimal"`` only a maximum-weight one-to-one matching of them."""
    cut = cands.select(cands.score >= threshold)
    if solver != "optimal" or len(cut) == 0:
        return cut
    from ..solve import optimal

    links = optimal(cut)  # no ids on these candidates: left_id/right_id are row indexes
    return Candidates(links["left_id"].to_numpy(np.int64), links["right_id"].to_numpy(np.int64),
                      links["score"].to_numpy(np.float64), threshold=threshold)


def cluster_labels(links: Sequence[tuple[int, int, Candidates]],
                   sizes: Sequence[int]) -> np.ndarray:
    """Multi-party greedy groups (anonlink's rule: at most one record per agency per entity) from
    ``(left agency index, right agency index, links)``; one label per record of all agencies."""
    from ..solve import multiparty_labels

    parts = []
    for i, j, c in links:
        c.left_dataset = np.full(len(c), i, dtype=np.int64)
        c.right_dataset = np.full(len(c), j, dtype=np.int64)
        parts.append(c)
    return multiparty_labels(parts, sizes)


def clusters_frame(names: Sequence[str], ids: Sequence[np.ndarray], labels: np.ndarray,
                   id_type: str) -> pd.DataFrame:
    """``agency, record_id, cluster`` for every record, agencies in spec order."""
    agency = np.concatenate([np.full(len(x), n, dtype=object) for n, x in zip(names, ids,
                                                                             strict=True)])
    if id_type == "int64":
        record = np.concatenate([np.asarray(x, dtype=np.int64) for x in ids])
    else:
        record = np.concatenate([np.asarray(x).astype(str).astype(object) for x in ids])
    return pd.DataFrame({"agency": pd.array(agency, dtype="string"),
                         "record_id": record if id_type == "int64" else pd.array(record, "string"),
                         "cluster": labels.astype(np.int64)})


def stable_entities(clusters: pd.DataFrame, previous: Path | None, prefix: str,
                    width: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The entity table (``entity_id, agency, record_id``, sorted) and the changes since
    ``previous`` (:func:`pprl.solve.stable_ids`)."""
    from ..solve import stable_ids

    prev = None if previous is None else pd.read_parquet(previous)
    out, report = stable_ids(prev, clusters, cluster_column="cluster", source_column="agency",
                             prefix=prefix, width=width)
    table = out[["entity_id", "agency", "record_id"]].reset_index(drop=True)
    table.attrs = dict(out.attrs)  # the id counter for next year
    events = report.events.astype({"entity_id": "string", "previous_id": "string",
                                   "event": "string"})
    return table, events


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """A DataFrame as Parquet (attrs kept), atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
