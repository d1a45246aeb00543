"""Stable entity ids across runs: kept, merged, split, new, removed; deterministic; no reuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl
from pprl.solve import stable_ids
from pprl.solve._stable import NEXT_ID_ATTR, format_id


def table(entities: dict[str, list[tuple[str, int]]]) -> pd.DataFrame:
    rows = [(e, a, r) for e, recs in entities.items() for a, r in recs]
    return pd.DataFrame(rows, columns=["entity_id", "agency", "record_id"])


def current_from(groups: list[list[tuple[str, int]]], labels=None) -> pd.DataFrame:
    labels = labels if labels is not None else list(range(len(groups)))
    rows = [(labels[k], a, r) for k, g in enumerate(groups) for a, r in g]
    return pd.DataFrame(rows, columns=["entity_id", "agency", "record_id"])


def id_of(out: pd.DataFrame, record: tuple[str, int]) -> str:
    row = out[(out["agency"] == record[0]) & (out["record_id"] == record[1])]
    assert len(row) == 1
    return row["entity_id"].iloc[0]


def number(entity_id: str) -> int:
    return int(entity_id[1:])


@st.composite
def previous_tables(draw, min_entities=1):
    n = draw(st.integers(min_entities, 12))
    numbers = sorted(draw(st.lists(st.integers(1, 500), min_size=n, max_size=n, unique=True)))
    entities, next_record = {}, 0
    for num in numbers:
        size = draw(st.integers(1, 4))
        agencies = draw(st.lists(st.sampled_from("abc"), min_size=size, max_size=size))
        recs = []
        for a in agencies:
            recs.append((a, next_record))
            next_record += 1
        entities[format_id(num)] = recs
    return entities


@settings(max_examples=25, deadline=None)
@given(previous_tables(), st.randoms(use_true_random=False))
def test_unchanged_keeps_every_id(entities, rnd):
    prev = table(entities)
    groups = list(entities.values())
    labels = rnd.sample(range(10_000), len(groups))  # arbitrary distinct cluster labels
    out, report = stable_ids(prev, current_from(groups, labels))
    for e, recs in entities.items():
        assert {id_of(out, r) for r in recs} == {e}
    assert report.counts == {"kept": len(entities), "merged": 0, "split": 0, "new": 0,
                             "removed": 0}
    assert report.next_id == max(number(e) for e in entities) + 1


@settings(max_examples=25, deadline=None)
@given(previous_tables(min_entities=2), st.data())
def test_merge_keeps_the_smallest_id(entities, data):
    ids = sorted(entities)
    x, y = data.draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
    groups = [entities[x] + entities[y]] + [entities[e] for e in ids if e not in (x, y)]
    out, report = stable_ids(table(entities), current_from(groups))
    keep, gone = min(x, y, key=number), max(x, y, key=number)
    assert {id_of(out, r) for r in groups[0]} == {keep}
    assert gone not in set(out["entity_id"])
    merged = report.events[report.events["event"] == "merged"]
    assert merged[["entity_id", "previous_id"]].values.tolist() == [[keep, gone]]
    assert report.ids("new") == []


@settings(max_examples=25, deadline=None)
@given(previous_tables(), st.data())
def test_split_keeps_the_id_on_the_larger_part(entities, data):
    big = [e for e, recs in entities.items() if len(recs) >= 3]
    if not big:
        entities[format_id(999)] = [("a", 10_000), ("b", 10_001), ("c", 10_002)]
        big = [format_id(999)]
    victim = data.draw(st.sampled_from(sorted(big)))
    recs = entities[victim]
    cut = data.draw(st.integers(1, (len(recs) - 1) // 2))  # the smaller part
    small, large = recs[:cut], recs[cut:]
    groups = [small, large] + [r for e, r in entities.items() if e != victim]
    out, report = stable_ids(table(entities), current_from(groups))
    assert {id_of(out, r) for r in large} == {victim}
    (new_id,) = {id_of(out, r) for r in small}
    assert number(new_id) > max(number(e) for e in entities)
    split = report.events[report.events["event"] == "split"]
    assert split[["entity_id", "previous_id"]].values.tolist() == [[new_id, victim]]


@settings(max_examples=25, deadline=None)
@given(previous_tables(min_entities=2), st.data())
def test_new_and_removed_ids_are_never_reused(entities, data):
    ids = sorted(entities, key=number)
    removed = data.draw(st.sampled_from(ids))
    fresh = [[("a", 50_000 + k)] for k in range(data.draw(st.integers(1, 3)))]
    groups = [entities[e] for e in ids if e != removed] + fresh
    year1, report1 = stable_ids(table(entities), current_from(groups))
    assert report1.ids("removed") == [removed]
    new_ids = report1.ids("new")
    assert len(new_ids) == len(fresh)
    top = max(number(e) for e in entities)
    assert sorted(number(e) for e in new_ids) == list(range(top + 1, top + 1 + len(fresh)))
    # next year: the removed id (even if it was the largest) and this year's ids stay retired
    _, report2 = stable_ids(year1.copy(), current_from([[("z", 1)], *groups]))
    (brand_new,) = report2.ids("new")
    assert number(brand_new) == report1.next_id
    assert brand_new not in set(entities) | set(year1["entity_id"])


@settings(max_examples=25, deadline=None)
@given(previous_tables(), st.data())
def test_deterministic_and_valid_for_any_regrouping(entities, data):
    prev = table(entities)
    records = [r for recs in entities.values() for r in recs]
    keep = data.draw(st.lists(st.booleans(), min_size=len(records), max_size=len(records)))
    kept = [r for r, k in zip(records, keep, strict=True) if k] + [("d", 1), ("d", 2)]
    labels = data.draw(st.lists(st.integers(0, 4), min_size=len(kept), max_size=len(kept)))
    cur = pd.DataFrame([(lab, a, r) for lab, (a, r) in zip(labels, kept, strict=True)],
                       columns=["entity_id", "agency", "record_id"])
    out, report = stable_ids(prev, cur)
    # one id per cluster, different clusters different ids
    pairs = out.assign(label=cur.set_index(["agency", "record_id"]).loc[
        list(zip(out["agency"], out["record_id"], strict=True)), "entity_id"].to_numpy())
    assert (pairs.groupby("label")["entity_id"].nunique() == 1).all()
    assert pairs.groupby("entity_id")["label"].nunique().max() == 1
    # carried ids come from the previous table, new ones from above everything issued
    old = set(entities)
    top = max(number(e) for e in entities)
    for e in set(out["entity_id"]) - old:
        assert number(e) > top
    assert out.attrs[NEXT_ID_ATTR] == report.next_id > max(number(e) for e in out["entity_id"])
    # same inputs in another row order and with other labels: the same ids
    perm = np.random.default_rng(len(kept)).permutation(len(cur))
    shuffled = cur.iloc[perm].assign(entity_id=[f"x{v}" for v in cur["entity_id"].iloc[perm]])
    again, _ = stable_ids(prev.sample(frac=1, random_state=1), shuffled)
    pd.testing.assert_frame_equal(out, again)


def test_first_run_and_counter_from_attrs():
    cur = current_from([[("a", 1), ("b", 1)], [("a", 2)]])
    out, report = stable_ids(None, cur)
    assert sorted(set(out["entity_id"])) == ["E000000001", "E000000002"]
    assert report.counts["new"] == 2 and report.next_id == 3
    prev = out.copy()
    prev.attrs[NEXT_ID_ATTR] = 40  # ids up to 39 were issued in some earlier run
    out2, _ = stable_ids(prev, current_from([[("a", 1), ("b", 1)], [("a", 2)], [("c", 9)]]))
    assert id_of(out2, ("c", 9)) == "E000000040"


def test_parquet_round_trip_keeps_the_counter(tmp_path):
    out, _ = stable_ids(None, current_from([[("a", 1)]]), next_id=77)
    assert set(out["entity_id"]) == {"E000000077"}
    path = tmp_path / "entities.parquet"
    pprl.io.write_frame(out, path)
    back = pd.read_parquet(path)
    assert back.attrs[NEXT_ID_ATTR] == 78


def test_bad_input():
    cur = current_from([[("a", 1)]])
    with pytest.raises(pprl.DataError, match="entity_id 'X12': expected 'E' followed by digits"):
        stable_ids(pd.DataFrame({"entity_id": ["X12"], "agency": ["a"], "record_id": [1]}), cur)
    with pytest.raises(pprl.DataError, match="current needs a column 'agency' or 'dataset'"):
        stable_ids(None, pd.DataFrame({"entity_id": [0], "record_id": [1]}))
    dup = pd.DataFrame({"entity_id": [0, 1], "agency": ["a", "a"], "record_id": [1, 1]})
    with pytest.raises(pprl.DataError, match="current, row 1: record_id '1' of agency 'a' appears twice"):
        stable_ids(None, dup)
    with pytest.raises(pprl.DataError, match="current has no column 'cluster'"):
        stable_ids(None, cur, cluster_column="cluster")
