"""Greedy clustering with anonlink's semantics: multi-party linkage and deduplication.

Pairs are taken by decreasing score. Two groups merge when *every* pair of records across them has
been seen as a candidate (anonlink's ``greedy_solve``: ``merge_threshold=1``); so a group is a set of
records that are pairwise candidates. With candidates only between different datasets, a group holds
at most one record per dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..candidates import Candidates
from ..errors import DataError
from ._common import check_candidates


def greedy_labels(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Group label of each of ``n`` nodes after greedy merging of pairs ``(u[k], v[k])`` in order.

    Nodes in no pair get -1. Exactly anonlink's ``greedy_solve`` groups, labelled by group creation.
    """
    return greedy_snapshots(u, v, n, [len(u)])[0]


def greedy_snapshots(u: np.ndarray, v: np.ndarray, n: int, stops) -> list[np.ndarray]:
    """:func:`greedy_labels` after the first ``k`` pairs, for every ``k`` in ``stops`` (in order).

    Greedy never revisits a pair, so its groups after a prefix of the pairs are its answer for the
    threshold at which that prefix ends: one pass gives the answers for many thresholds.
    """
    label = [-1] * n
    members: dict[int, list[int]] = {}
    seen: dict[int, dict[int, int]] = {}  # group -> other group -> candidate pairs between them
    next_id = 0
    wanted = [int(k) for k in stops]
    stops = sorted(set(wanted))
    out: list[np.ndarray] = []
    for k, (x, y) in enumerate(zip(np.asarray(u).tolist(), np.asarray(v).tolist(), strict=True)):
        while stops and stops[0] <= k:
            out.append(np.asarray(label, dtype=np.int64))
            stops.pop(0)
        if x == y:
            continue
        gx, gy = label[x], label[y]
        if gx >= 0 and gy >= 0:
            if gx == gy:
                continue
            between = seen.get(gx, {}).get(gy, 0) + 1
            if between >= len(members[gx]) * len(members[gy]):
                _merge(gx, gy, label, members, seen)
            else:
                seen.setdefault(gx, {})[gy] = between
                seen.setdefault(gy, {})[gx] = between
        elif gx >= 0 or gy >= 0:
            if gx < 0:
                x, y, gx = y, x, gy
            if len(members[gx]) == 1:
                members[gx].append(y)
                label[y] = gx
            else:
                members[next_id] = [y]
                label[y] = next_id
                seen.setdefault(next_id, {})[gx] = 1
                seen.setdefault(gx, {})[next_id] = 1
                next_id += 1
        else:
            members[next_id] = [x, y]
            label[x] = label[y] = next_id
            next_id += 1
    out.extend(np.asarray(label, dtype=np.int64) for _ in stops)
    at = {k: i for i, k in enumerate(sorted(set(wanted)))}
    return [out[at[k]] for k in wanted]


def _merge(gx: int, gy: int, label: list[int], members: dict[int, list[int]],
           seen: dict[int, dict[int, int]]) -> None:
    """Merge the smaller group into the larger (gx on ties) and add up their pair counts."""
    if len(members[gx]) < len(members[gy]):
        gx, gy = gy, gx
    moved = members.pop(gy)
    members[gx].extend(moved)
    for node in moved:
        label[node] = gx
    mine = seen.setdefault(gx, {})
    mine.pop(gy, None)
    for other, count in seen.pop(gy, {}).items():
        if other == gx:
            continue
        theirs = seen[other]
        del theirs[gy]
        mine[other] = mine.get(other, 0) + count
        theirs[gx] = theirs.get(gx, 0) + count
    if not mine:
        del seen[gx]


def greedy_groups_one(candidates: Candidates, n: int | None = None) -> np.ndarray:
    """Group label per record of one dataset (pairs within it); singletons get their own labels."""
    n = max(n or 0, int(max(candidates.left.max(initial=-1), candidates.right.max(initial=-1))) + 1)
    return _relabel(greedy_labels(candidates.left, candidates.right, n))


def _relabel(label: np.ndarray) -> np.ndarray:
    """Labels 0..k-1 ordered by each group's smallest node; nodes labelled -1 become singletons."""
    label = label.copy()
    alone = label < 0
    label[alone] = label.max(initial=-1) + 1 + np.arange(alone.sum())
    first = np.full(label.max(initial=-1) + 1, len(label), dtype=np.int64)
    np.minimum.at(first, label, np.arange(len(label)))
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[label]


def multiparty_labels(candidates: Sequence[Candidates], sizes: Sequence[int]) -> np.ndarray:
    """Greedy groups over several datasets: one label per record of the concatenated datasets.

    ``candidates`` each carry ``left_dataset``/``right_dataset`` (dataset index per pair); all pairs
    are taken together in anonlink's order: score descending, then datasets, then records.
    """
    offset = np.r_[0, np.cumsum(sizes)]
    parts = [c for c in candidates if len(c)]
    if not parts:
        return _relabel(np.full(int(offset[-1]), -1, dtype=np.int64))
    score = np.concatenate([c.score for c in parts])
    d0 = np.concatenate([np.asarray(c.left_dataset, np.int64) for c in parts])
    d1 = np.concatenate([np.asarray(c.right_dataset, np.int64) for c in parts])
    r0 = np.concatenate([c.left for c in parts])
    r1 = np.concatenate([c.right for c in parts])
    order = np.lexsort((r1, r0, d1, d0, -score))
    u = (offset[d0] + r0)[order]
    v = (offset[d1] + r1)[order]
    return _relabel(greedy_labels(u, v, int(offset[-1])))


def clusters(encodings: Sequence, threshold: float | str = "auto", *,
             candidate_threshold: float | None = None, top_k: int | None = None,
             workers: int | None = None) -> pd.DataFrame:
    """Entities across N datasets: DataFrame ``entity_id, dataset, record_id``, one row per record.

    Every pair of datasets is compared with :func:`pprl.compare.dice`; pairs above ``threshold``
    (a number, or ``"auto"``: chosen per pair of datasets by :func:`choose_threshold`) are merged
    greedily with anonlink's multi-party semantics, so an entity holds at most one record per
    dataset. Records without a link are entities of their own. Entity ids are 0..k-1, numbered by
    each entity's first record (dataset order, then row order): the same inputs give the same ids.
    """
    from .. import compare
    from ..encodings import Encodings
    from ._threshold import AUTO_CANDIDATE_THRESHOLD, AUTO_TOP_K, apply_threshold

    encodings = list(encodings)
    for i, e in enumerate(encodings):
        if not isinstance(e, Encodings):
            raise TypeError(f"encodings[{i}] must be pprl.Encodings, got {type(e).__name__}")
    if len(encodings) < 2:
        raise ValueError(f"clusters needs at least 2 datasets, got {len(encodings)}")
    auto = threshold == "auto"
    low = candidate_threshold if candidate_threshold is not None else (
        AUTO_CANDIDATE_THRESHOLD if auto else threshold)
    k = top_k if top_k is not None else (AUTO_TOP_K if auto else None)
    parts = []
    for i in range(len(encodings)):
        for j in range(i + 1, len(encodings)):
            cands = compare.dice(encodings[i], encodings[j], threshold=low, top_k=k,
                                 workers=workers, fields=False)
            cut, _ = apply_threshold(cands, threshold)
            cut.left_dataset = np.full(len(cut), i, dtype=np.int64)
            cut.right_dataset = np.full(len(cut), j, dtype=np.int64)
            parts.append(cut)
    sizes = [len(e) for e in encodings]
    labels = multiparty_labels(parts, sizes)
    return _clusters_frame(labels, [e.ids for e in encodings])


def _clusters_frame(labels: np.ndarray, ids: Sequence[np.ndarray]) -> pd.DataFrame:
    dataset = np.concatenate([np.full(len(x), i, dtype=np.int64) for i, x in enumerate(ids)])
    record = np.concatenate([np.asarray(x, dtype=object) for x in ids]) if ids else []
    frame = pd.DataFrame({"entity_id": labels, "dataset": dataset, "record_id": record})
    if len(frame) and all(np.issubdtype(np.asarray(x).dtype, np.integer) for x in ids):
        frame["record_id"] = frame["record_id"].astype(np.int64)
    return frame.sort_values(["entity_id", "dataset"], kind="stable").reset_index(drop=True)


def deduplicate(candidates: Candidates, threshold: float | str | None = "auto") -> pd.DataFrame:
    """Entities within one dataset: DataFrame ``entity_id, record_id``, one row per record.

    ``candidates`` are pairs within one dataset (``pprl.compare.dice(a)``). Pairs above
    ``threshold`` (a number, None for all, or ``"auto"``) are merged greedily (anonlink's
    semantics: records of an entity are pairwise candidates). Records without a pair are entities
    of their own; ids are numbered by each entity's first row.
    """
    from ._threshold import apply_threshold, is_dedup

    check_candidates(candidates)
    if len(candidates) and not is_dedup(candidates):
        raise DataError("deduplicate needs pairs within one dataset (pprl.compare.dice(a) with "
                        "b=None); these candidates link two datasets")
    cut, _ = apply_threshold(candidates, threshold)
    ids = candidates.left_ids
    n = len(ids) if ids is not None else None
    labels = greedy_groups_one(cut, n)
    rows = np.arange(len(labels))
    record = rows if ids is None else np.asarray(ids)[rows]
    frame = pd.DataFrame({"entity_id": labels, "record_id": record})
    return frame.sort_values(["entity_id"], kind="stable").reset_index(drop=True)
