"""Similarity-graph matching attack (after Vidanage, Ranbaduge, Christen and Schnell 2020).

Dice similarities between encodings follow the similarities between the plaintext values they
encode, so the similarity graph of the encodings and the similarity graph of the attacker's
plaintext values look alike where the two overlap. Nodes are the distinct encodings (the
``max_nodes`` most frequent) and the distinct reference values (likewise); edges carry Dice of
bits and Dice of token sets. The encoded similarities are mapped onto the plaintext scale by
matching quantiles (Bloom-filter Dice runs higher than q-gram Dice). Every node gets features
that do not depend on the encoding: its frequency, its number of set bits / tokens, degrees at
several thresholds, its strongest similarities and its neighbours' degrees, each turned into a
rank within its graph. A minimum-cost one-to-one matching of the features gives a first
alignment; its most confident pairs (mutual best matches) become anchors, and nodes are then
matched again on their similarities to the anchors (mean absolute difference), a few rounds. A
node whose final match is mutual-best is a 1-1 guess; otherwise the candidates within ``margin``
of its best cost are a 1-m guess.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from ..encode.schema import Schema
from ..encodings import Encodings
from ._data import Plain, Reference, attacker_view, attributes, source_name
from ._data import truth_values as _truth_values
from ._result import MAX_MANY, AttackResult, guesses_from_groups

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MAX_ANCHORS = 400


def graph_matching(encodings: Encodings, reference: Reference | pd.DataFrame | str, *,
                   field: str | None = None, target: list[str] | None = None,
                   schema: Schema | None = None, truth: pd.DataFrame | None = None,
                   max_nodes: int = 2000, rounds: int = 3, margin: float = 0.05,
                   max_many: int = MAX_MANY,
                   undo: bool = True) -> AttackResult:
    """Graph-matching attack on the record filters (``field=None``) or one field's filters.

    The attacked filters must encode exactly the ``target`` attributes (default ``[field]``,
    else every reference attribute): the plaintext graph is built from them.

    Args:
        encodings: the attacked encodings.
        reference: the attacker's plaintext population.
        field: attack ``encodings.fields[field]``.
        target: the attributes the attacked filters encode.
        schema: the public schema, if known (tokens exactly as encoded).
        truth: true values of the target attributes, rows aligned with the encodings.
        max_nodes: nodes per graph (the most frequent encodings and values).
        rounds: anchor refinement rounds.
        margin: relative cost margin of 1-to-many candidates.
        max_many: most candidates of a 1-to-many guess.
        undo: undo the hardening steps that can be undone (balancing; Rule 90 when the schema
            says so) before attacking (:func:`attacker_view`).
    """
    t0 = time.perf_counter()
    ref = Reference.coerce(reference)
    names = list(target) if target else ([field] if field else list(ref.attributes))
    attrs = attributes(names, schema, field)
    bits, undone = attacker_view(encodings, field, schema, undo)
    plain = Plain.of(ref, attrs)
    n = bits.shape[0]
    enc = _encoded_nodes(bits, max_nodes)
    pln = _plain_nodes(plain, names, max_nodes)
    sim_e = _dice_matrix(enc["matrix"])
    sim_p = _dice_matrix(pln["matrix"])
    sim_e = _calibrate(sim_e, sim_p)
    feat_e = _features(sim_e, enc["counts"], enc["sizes"])
    feat_p = _features(sim_p, pln["counts"], pln["sizes"])
    cost = _feature_cost(feat_e, feat_p)
    for _ in range(rounds):
        anchors = _anchors(cost)
        if len(anchors) < 5:
            break
        cost = _anchor_cost(sim_e, sim_p, anchors)
    cands = _decide(cost, margin, max_many)
    node_values = [None if c is None else tuple(pln["values"][j] for j in c) for c in cands]
    group_to_node = np.full(enc["groups"], -1, dtype=np.int64)
    group_to_node[enc["nodes"]] = np.arange(len(enc["nodes"]))
    record_node = group_to_node[enc["group_of"]]
    guesses, too_many = guesses_from_groups(record_node, node_values, max_many)
    result = AttackResult("graph_matching", source_name(field), tuple(names), guesses, too_many,
                          max_many, details={"undone": "+".join(undone) or "-",
                                             "encoded_nodes": len(enc["nodes"]),
                                             "plain_nodes": len(pln["values"])},
                          seconds=time.perf_counter() - t0)
    return result.evaluate(_truth_values(truth, names, attrs, n))


def _encoded_nodes(bits: np.ndarray, max_nodes: int) -> dict:
    """The distinct non-empty encodings, most frequent first (ties by first occurrence)."""
    packed = np.packbits(bits, axis=1)
    view = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, inverse, counts = np.unique(view, return_index=True, return_inverse=True,
                                          return_counts=True)
    sizes = bits[first].sum(axis=1)
    order = np.lexsort((first, -counts))
    order = order[sizes[order] > 0][:max_nodes]
    return {"nodes": order, "groups": len(counts), "group_of": inverse.reshape(-1),
            "counts": counts[order].astype(float), "sizes": sizes[order].astype(float),
            "matrix": bits[first[order]].astype(np.float32)}


def _plain_nodes(plain: Plain, names: list[str], max_nodes: int) -> dict:
    """The distinct joint reference values, most frequent first, as token incidence rows."""
    values, weights = plain.joint_values(names)
    values, weights = values[:max_nodes], weights[:max_nodes]
    index = {v: i for i, v in enumerate(values.tolist())}
    token_ids: dict[str, int] = {}
    rows, cols = [], []
    seen = set()
    for r in range(len(plain.weights)):
        key = tuple(plain.canon[nm][r] for nm in names)
        i = index.get(key)
        if i is None or i in seen:
            continue
        seen.add(i)
        for a, nm in enumerate(names):
            for tok in plain.tokens[nm][r]:
                rows.append(i)
                cols.append(token_ids.setdefault(f"{a}\x1f{tok}", len(token_ids)))
    matrix = np.zeros((len(values), max(len(token_ids), 1)), dtype=np.float32)
    matrix[rows, cols] = 1.0
    return {"values": values, "counts": weights, "sizes": matrix.sum(axis=1), "matrix": matrix}


def _dice_matrix(m: np.ndarray) -> np.ndarray:
    inter = m @ m.T
    size = m.sum(axis=1)
    denom = size[:, None] + size[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(denom > 0, 2 * inter / denom, 0.0).astype(np.float32)
    np.fill_diagonal(d, 0.0)
    return d


def _calibrate(sim_e: np.ndarray, sim_p: np.ndarray) -> np.ndarray:
    """Encoded similarities mapped to the plaintext scale by matching quantiles (on a grid)."""
    iu_e = np.triu_indices(sim_e.shape[0], 1)
    iu_p = np.triu_indices(sim_p.shape[0], 1)
    if iu_e[0].size == 0 or iu_p[0].size == 0:
        return sim_e
    grid = np.linspace(0.0, 1.0, 2001)
    src = np.quantile(sim_e[iu_e], grid)
    dst = np.quantile(sim_p[iu_p], grid)
    src, first = np.unique(src, return_index=True)
    out = np.interp(sim_e, src, dst[first]).astype(np.float32)
    np.fill_diagonal(out, 0.0)
    return out


def _features(sim: np.ndarray, counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    top = -np.sort(-sim, axis=1)[:, :10]
    deg = np.stack([(sim >= t).sum(axis=1) for t in THRESHOLDS], axis=1).astype(float)
    strong = sim >= 0.5
    nb_deg = (strong @ deg[:, 2]) / np.maximum(strong.sum(axis=1), 1)
    cols = [np.log(counts), sizes, *deg.T, *top[:, :5].T, top.mean(axis=1), nb_deg]
    return np.stack(cols, axis=1)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Each column as ranks in [0, 1] (ties averaged)."""
    out = np.empty_like(x, dtype=float)
    for j in range(x.shape[1]):
        out[:, j] = pd.Series(x[:, j]).rank(method="average").to_numpy() / max(len(x), 1)
    return out


def _feature_cost(fe: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Euclidean distances between rank-normalised features; columns constant on either side
    dropped."""
    keep = (np.ptp(fe, axis=0) > 0) & (np.ptp(fp, axis=0) > 0)
    return cdist(_ranks(fe[:, keep]), _ranks(fp[:, keep]))


def _anchors(cost: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of the optimal matching that are each other's cheapest (the surer half of them, at
    most MAX_ANCHORS)."""
    rows, cols = linear_sum_assignment(cost)
    best_col = cost.argmin(axis=1)
    best_row = cost.argmin(axis=0)
    pairs = [(i, j) for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
             if best_col[i] == j and best_row[j] == i]
    pairs.sort(key=lambda p: cost[p])
    return pairs[: max(5, min(MAX_ANCHORS, len(pairs) // 2))]


def _anchor_cost(sim_e: np.ndarray, sim_p: np.ndarray, anchors: list[tuple[int, int]]
                 ) -> np.ndarray:
    """Mean absolute difference of the similarities to the anchors."""
    pe = sim_e[:, [a for a, _ in anchors]].astype(np.float64)
    pp = sim_p[:, [b for _, b in anchors]].astype(np.float64)
    cost = cdist(pe, pp, "cityblock") / len(anchors)
    for a, b in anchors:  # an anchor matches its partner
        cost[a, :] += 1.0
        cost[a, b] = 0.0
    return cost


def _decide(cost: np.ndarray, margin: float, max_many: int) -> list[list[int] | None]:
    rows, cols = linear_sum_assignment(cost)
    best_row = cost.argmin(axis=0)
    out: list[list[int] | None] = [None] * cost.shape[0]
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        row = cost[i]
        if row.argmin() == j and best_row[j] == i:
            out[i] = [j]
            continue
        close = np.flatnonzero(row <= row.min() * (1 + margin) + 1e-12)
        close = close[np.argsort(row[close], kind="stable")]
        out[i] = close.tolist() if len(close) <= max_many else list(range(max_many + 1))
    return out
