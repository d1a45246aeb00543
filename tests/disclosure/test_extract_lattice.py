"""The k-anonymity engine against a pure-pandas reference: grouping, node evaluation (suppression
and information loss) and the optimality of the pruned best-first search over the whole lattice."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.disclosure.extract_core import prepare_quasi_identifier
from pprl.disclosure.extract_lattice import Lattice, group


def random_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    years = rng.integers(1940, 2010, n)
    dob = [f"{y}-{m:02d}-{d:02d}" for y, m, d in
           zip(years, rng.integers(1, 13, n), rng.integers(1, 29, n), strict=True)]
    return pd.DataFrame({
        "dob": np.where(rng.random(n) < 0.05, None, np.array(dob, dtype=object)),
        "sex": rng.choice(["F", "M", "X"], n, p=[0.49, 0.49, 0.02]).astype(object),
        "zip": rng.choice([f"{z:05d}" for z in rng.integers(0, 3000, 40)], n).astype(object),
        "age": rng.integers(0, 90, n),
        "job": rng.choice([f"job{i}" for i in range(25)], n, p=np.arange(25, 0, -1) / 325).astype(object),
    })


def reference_rows(qis, node) -> pd.DataFrame:
    """Generalised labels of every record at ``node``."""
    return pd.DataFrame({q.name: q.labels[lv][q.level_codes[lv][q.row_codes]]
                         for q, lv in zip(qis, node, strict=True)})


def reference_evaluate(qis, node, k, raw: pd.DataFrame):
    """(suppressed records, objective) from labels with pandas only."""
    labels = reference_rows(qis, node)
    keys = labels.fillna("<missing>")  # missing is a value of its own
    small = (keys.groupby(list(keys.columns))[keys.columns[0]].transform("size") < k).to_numpy()
    total = 0.0
    for q in qis:
        orig = raw[q.name]
        lab = labels[q.name]
        distinct = orig.dropna().nunique()
        covered = pd.DataFrame({"o": orig, "l": lab}).dropna().groupby("l")["o"].nunique()
        loss = lab.map(lambda v, c=covered: 0 if pd.isna(v) else c[v] - 1).astype(float)
        loss = loss / max(distinct - 1, 1)
        loss[small] = 1.0
        total += loss.mean()
    return int(small.sum()), total / len(qis)


def build(df: pd.DataFrame, names, k, max_share=0.05):
    qis = [prepare_quasi_identifier(df[c], c, None, k) for c in names]
    raw = pd.DataFrame({c: [None if pd.isna(v) or v == "" else str(v) for v in df[c]] for c in names})
    return qis, raw, Lattice(qis, k, int(np.floor(max_share * len(df) + 1e-9)))


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 4)), min_size=1,
                max_size=200))
def test_group_matches_pandas(rows):
    cols = [np.array(c, dtype=np.int64) for c in zip(*rows, strict=True)]
    ids, g = group(cols, [4, 3, 5])
    ref = pd.DataFrame(rows).groupby([0, 1, 2], sort=False).ngroup().to_numpy()
    assert g == len(set(rows))
    # the same partition: ids and reference ids determine each other
    assert len(set(zip(ids.tolist(), ref.tolist(), strict=True))) == g


def test_group_wide_keys_take_the_hashing_path():
    rng = np.random.default_rng(3)
    cols = [rng.integers(0, 2**40, 500), rng.integers(0, 2**40, 500) % 7]
    ids, g = group(cols, [2**40, 7])
    assert g == len(set(zip(*[c.tolist() for c in cols], strict=True)))
    assert len(set(zip(ids.tolist(), zip(*[c.tolist() for c in cols], strict=True), strict=True))) == g


@pytest.mark.parametrize("seed, k", [(1, 3), (2, 5)])
def test_every_node_matches_the_reference(seed, k):
    df = random_frame(np.random.default_rng(seed), 400)
    qis, raw, lattice = build(df, ["dob", "sex", "zip"], k)
    for node in itertools.product(*[range(q.height) for q in qis]):
        result = lattice.evaluate(node)
        suppressed, objective = reference_evaluate(qis, node, k, raw)
        assert result.suppressed == suppressed, node
        assert result.objective == pytest.approx(objective, abs=1e-12), node
        assert result.feasible == (suppressed <= lattice.max_suppressed)


@pytest.mark.parametrize("seed, names, k, share", [
    (1, ["dob", "sex", "zip"], 3, 0.05),
    (2, ["dob", "sex", "zip", "age"], 5, 0.02),
    (3, ["age", "job", "sex", "zip"], 4, 0.1),
    (4, ["dob", "zip", "job", "age", "sex"], 2, 0.0),
])
def test_search_finds_the_brute_force_optimum(seed, names, k, share):
    df = random_frame(np.random.default_rng(seed), 600)
    qis, _, lattice = build(df, names, k, share)
    found = lattice.search()
    brute = Lattice(qis, k, lattice.max_suppressed)
    results = [brute.evaluate(node) for node in itertools.product(*[range(q.height) for q in qis])]
    feasible = [r for r in results if r.feasible]
    best = min(feasible, key=lambda r: (r.objective, sum(r.node), r.node))
    assert found.best.node == best.node
    assert found.best.objective == best.objective
    assert found.evaluated <= found.lattice_size


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6), share=st.sampled_from([0.0, 0.03, 0.1]),
       n=st.integers(20, 150))
def test_search_is_optimal_on_random_data(seed, k, share, n):
    df = random_frame(np.random.default_rng(seed), n)
    qis, _, lattice = build(df, ["dob", "sex", "age"], k, share)
    found = lattice.search()
    brute = Lattice(qis, k, lattice.max_suppressed)
    feasible = [r for r in (brute.evaluate(nd) for nd in
                            itertools.product(*[range(q.height) for q in qis])) if r.feasible]
    assert found.best.objective == min(r.objective for r in feasible)


def test_l_diversity_counts_distinct_sensitive_values_per_class():
    df = pd.DataFrame({"a": ["x"] * 4 + ["y"] * 4, "s": ["p", "p", "p", "p", "p", "q", "r", None]})
    qis = [prepare_quasi_identifier(df["a"], "a", None, 2)]
    sens = np.array([0, 0, 0, 0, 0, 1, 2, 3])  # 3 = missing
    lat = Lattice(qis, 2, 8, sensitive=sens, sens_missing=3, l_diversity=2)
    # class x has one distinct value (suppressed), y has p, q, r (kept); missing does not count
    assert lat.evaluate((0,)).suppressed == 4
    assert lat.evaluate((1,)).suppressed == 0
