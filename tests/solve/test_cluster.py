"""Multi-party greedy clustering (anonlink's greedy_solve semantics) and deduplication."""

from __future__ import annotations

import anonlink
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl
from pprl.solve._cluster import greedy_labels

from .conftest import SECRET


def anonlink_groups(score, d0, d1, r0, r1) -> set[frozenset]:
    order = np.lexsort((r1, r0, d1, d0, -score))
    problem = (score[order], (d0[order].astype(np.uint32), d1[order].astype(np.uint32)),
               (r0[order].astype(np.uint32), r1[order].astype(np.uint32)))
    return {frozenset(g) for g in anonlink.solving.greedy_solve(problem)}


def our_groups(labels: np.ndarray, sizes: list[int]) -> set[frozenset]:
    offset = np.r_[0, np.cumsum(sizes)]
    node = [(d, r) for d, n in enumerate(sizes) for r in range(n)]
    assert len(node) == offset[-1]
    groups: dict[int, set] = {}
    for i, g in enumerate(labels.tolist()):
        groups.setdefault(g, set()).add(node[i])
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def multiparty_candidates(rng, sizes, n_pairs, levels):
    """Random candidate pairs between every pair of datasets, one Candidates per dataset pair."""
    parts = []
    for i in range(len(sizes)):
        for j in range(i + 1, len(sizes)):
            m = min(n_pairs, sizes[i] * sizes[j])
            flat = rng.choice(sizes[i] * sizes[j], size=m, replace=False)
            c = pprl.Candidates(flat // sizes[j], flat % sizes[j],
                                rng.integers(1, levels + 1, size=m) / levels,
                                left_dataset=np.full(m, i), right_dataset=np.full(m, j))
            parts.append(c)
    return parts


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 8), min_size=2, max_size=5), st.integers(0, 40), st.integers(2, 10),
       st.integers(0, 2**32 - 1))
def test_multiparty_equals_anonlink(sizes, n_pairs, levels, seed):
    parts = multiparty_candidates(np.random.default_rng(seed), sizes, n_pairs, levels)
    labels = pprl.solve.multiparty_labels(parts, sizes)
    cat = lambda f: np.concatenate([np.asarray(f(c)) for c in parts])  # noqa: E731
    expected = anonlink_groups(cat(lambda c: c.score), cat(lambda c: c.left_dataset),
                               cat(lambda c: c.right_dataset), cat(lambda c: c.left),
                               cat(lambda c: c.right))
    assert our_groups(labels, sizes) == expected
    # at most one record per dataset in each entity
    dataset = np.repeat(np.arange(len(sizes)), sizes)
    frame = pd.DataFrame({"e": labels, "d": dataset})
    assert not frame.duplicated().any()


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 25), st.integers(0, 80), st.integers(2, 8), st.integers(0, 2**32 - 1))
def test_dedup_equals_anonlink(n, n_pairs, levels, seed):
    rng = np.random.default_rng(seed)
    iu, ju = np.triu_indices(n, 1)
    pick = rng.choice(len(iu), size=min(n_pairs, len(iu)), replace=False)
    score = rng.integers(1, levels + 1, size=len(pick)) / levels
    c = pprl.Candidates(iu[pick], ju[pick], score, left_ids=np.arange(n), right_ids=np.arange(n))
    groups = pprl.solve.deduplicate(c, threshold=None)
    zero = np.zeros(len(c), dtype=np.int64)
    expected = anonlink_groups(c.score, zero, zero, c.left, c.right)
    ours = {frozenset((0, r) for r in g["record_id"]) for _, g in groups.groupby("entity_id")
            if len(g) > 1}
    assert ours == expected
    assert sorted(groups["record_id"]) == list(range(n))


def test_complete_linkage_semantics():
    # 0-1 and 1-2 are candidates but 0-2 is not: 2 cannot join {0, 1}
    c = pprl.Candidates([0, 1], [1, 2], [0.9, 0.8], left_ids=np.arange(3), right_ids=np.arange(3))
    groups = pprl.solve.deduplicate(c, threshold=None)
    assert groups.groupby("entity_id")["record_id"].apply(sorted).tolist() == [[0, 1], [2]]
    # with 0-2 as well (lower), the triangle closes when its last pair arrives
    c = pprl.Candidates([0, 1, 0], [1, 2, 2], [0.9, 0.8, 0.7], left_ids=np.arange(3),
                        right_ids=np.arange(3))
    assert pprl.solve.deduplicate(c, threshold=None)["entity_id"].nunique() == 1


def test_greedy_labels_ignores_self_pairs():
    labels = greedy_labels(np.array([0, 1]), np.array([0, 2]), 3)
    assert labels[0] == -1 and labels[1] == labels[2] >= 0


def test_deduplicate_rejects_two_party_candidates():
    c = pprl.Candidates([0], [0], [0.9], left_ids=np.array(["a"]), right_ids=np.array(["b"]))
    with pytest.raises(pprl.DataError, match="deduplicate needs pairs within one dataset"):
        pprl.solve.deduplicate(c, threshold=0.5)


def agency_encodings(k=3, size=400, seed=5):
    frames, truth = pprl.datasets.agencies(k, size, corruption="low", seed=seed)
    schema = pprl.encode.default_schema()
    encs = [pprl.encode.clks(frames[name], schema, SECRET, id_column="record_id")
            for name in frames]
    return list(frames), encs, truth


def test_clusters_of_agencies():
    names, encs, truth = agency_encodings()
    for threshold in (0.8, "auto"):
        groups = pprl.solve.clusters(encs, threshold=threshold)
        assert list(groups.columns) == ["entity_id", "dataset", "record_id"]
        assert len(groups) == sum(len(e) for e in encs)
        assert not groups.duplicated(["entity_id", "dataset"]).any()
        assert set(groups["dataset"]) == set(range(len(encs)))
        # quality against the truth: pairs of records in a common entity
        true = truth.assign(dataset=truth["agency"].map({n: i for i, n in enumerate(names)}))
        ev = pprl.solve.evaluate(groups, true[["entity_id", "dataset", "record_id"]])
        assert ev.f1 > 0.9, (threshold, ev)


def test_clusters_deterministic_and_bad_input():
    _, encs, _ = agency_encodings(k=2, size=200, seed=6)
    pd.testing.assert_frame_equal(pprl.solve.clusters(encs, threshold=0.8),
                                  pprl.solve.clusters(encs, threshold=0.8))
    with pytest.raises(ValueError, match="clusters needs at least 2 datasets, got 1"):
        pprl.solve.clusters(encs[:1], threshold=0.8)
    with pytest.raises(TypeError, match=r"encodings\[1\] must be pprl.Encodings, got str"):
        pprl.solve.clusters([encs[0], "b.parquet"], threshold=0.8)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 15), st.integers(0, 40), st.integers(0, 2**32 - 1), st.data())
def test_snapshots_are_greedy_on_prefixes(n, n_pairs, seed, data):
    from pprl.solve._cluster import greedy_snapshots

    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, n_pairs)
    v = rng.integers(0, n, n_pairs)
    stops = data.draw(st.lists(st.integers(0, n_pairs), max_size=5))
    for k, labels in zip(stops, greedy_snapshots(u, v, n, stops), strict=True):
        np.testing.assert_array_equal(labels, greedy_labels(u[:k], v[:k], n))
