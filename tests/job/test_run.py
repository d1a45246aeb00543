"""The job end to end on generated agencies: entity table, quality, report, skipping, stable ids."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

import pprl
from pprl import job
from pprl.job._manifest import job_lock

from .conftest import AGENCIES, RECORDS, digest, write_spec


@pytest.fixture(scope="module")
def first(years, tmp_path_factory):
    """One complete run on this year's data (histograms on), shared by the read-only tests."""
    y0, _ = years
    folder = tmp_path_factory.mktemp("first")
    spec = write_spec(folder / "job.toml", y0.files, "linkage-2026",
                      tables={"report": {"title": "Test linkage"}})
    return spec, job.run(spec)


def test_entity_table(first, years):
    _, result = first
    entities = pd.read_parquet(result.entities)
    assert list(entities.columns) == ["entity_id", "agency", "record_id"]
    assert len(entities) == len(AGENCIES) * RECORDS
    assert not entities.duplicated(["agency", "record_id"]).any()  # every record exactly once
    assert not entities.duplicated(["entity_id", "agency"]).any()  # one per agency per entity
    assert entities["entity_id"].str.fullmatch(r"E\d{9}").all()
    keys = entities.assign(k=entities["entity_id"] + entities["agency"] + entities["record_id"])
    assert keys["k"].is_monotonic_increasing  # sorted: the same inputs give the same bytes
    assert entities.attrs["pprl_next_entity_id"] == entities["entity_id"].nunique() + 1
    quality = pprl.solve.evaluate(entities, years[0].truth)
    assert quality.f1 > 0.9, quality


def test_report(first):
    _spec_path, result = first
    folder = result.report.parent
    entities = pd.read_parquet(result.entities)
    agencies = pd.read_csv(folder / "agencies.csv")
    assert agencies["agency"].tolist() == list(AGENCIES)
    assert agencies["records"].tolist() == [RECORDS] * 3
    sizes = pd.read_csv(folder / "entity_sizes.csv")
    assert sizes["agencies"].tolist() == [1, 2, 3]
    assert sizes["entities"].sum() == entities["entity_id"].nunique()
    assert sizes["records"].sum() == len(entities)
    pairs = pd.read_csv(folder / "pairs.csv")
    by_entity = entities.groupby("entity_id")["agency"].apply(frozenset)
    for row in pairs.itertuples():
        both = sum(1 for s in by_entity if {row.left, row.right} <= s)
        assert row.linked_in_entities == both
        assert 0.5 <= row.threshold <= 1.0
        assert 0.8 < row.estimated_precision <= 1.0 and 0.8 < row.estimated_recall <= 1.0
    assert len(pairs) == 3
    doc = json.loads((folder / "report.json").read_text())
    assert doc["entities"] == entities["entity_id"].nunique() and doc["changes"] is None
    assert 0.8 < doc["estimated_pairwise"]["precision"] <= 1.0
    assert 0.8 < doc["estimated_pairwise"]["recall"] <= 1.0
    md = result.report.read_text()
    assert md.startswith("# Test linkage")
    for section in ("## Summary", "## Agencies", "## Entities by number of agencies",
                    "## People found in both agencies", "## Agency pairs",
                    "## Similarity of candidate pairs"):
        assert section in md
    assert f"**{len(entities):,} records** from **3 agencies**" in md
    pngs = sorted(p.name for p in (folder / "histograms").glob("*.png"))
    assert pngs == ["colleges__employment.png", "education__colleges.png",
                    "education__employment.png"]
    assert all((folder / "histograms" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "EDUCATION-" not in md and "EDUCATION-" not in (folder / "report.json").read_text()


def test_rerun_skips_everything_and_status(first):
    spec_path, result = first
    before = digest(result.entities)
    again = job.run(spec_path)
    assert again.ran == []
    assert len(again.stages) == 8  # validate, 3 pairs, thresholds, clusters, entities, report
    assert digest(again.entities) == before
    st = job.status(spec_path)
    assert st.complete
    assert [s.state for s in st.stages] == ["done"] * 6
    text = str(st)
    assert "complete: 900 records in" in text and "3/3 agency pairs done" in text


def test_status_before_running(years, tmp_path):
    spec = write_spec(tmp_path / "job.toml", years[0].files)
    st = job.status(spec)
    assert not st.complete
    assert [(s.name, s.state) for s in st.stages] == [
        ("validate", "pending"), ("pairs", "pending"), ("thresholds", "waiting"),
        ("clusters", "waiting"), ("entities", "waiting"), ("report", "waiting")]
    assert "0/3 agency pairs done; to do: education__colleges" in str(st)
    assert "incomplete" in str(st).splitlines()[0]


def test_changes_rerun_only_what_depends_on_them(years, tmp_path):
    y0, _ = years
    files = {k: tmp_path / f"{k}.parquet" for k in AGENCIES}
    for k in AGENCIES:
        shutil.copy(y0.files[k], files[k])
    spec = write_spec(tmp_path / "job.toml", files, tables={"report": {"histograms": False}})
    job.run(spec)
    # a fixed threshold: candidates are kept, everything after them is redone
    spec = write_spec(tmp_path / "job.toml", files, threshold=0.8,
                      tables={"report": {"histograms": False}})
    fixed = job.run(spec)
    assert fixed.ran == ["thresholds", "clusters", "entities", "report"]
    thresholds = json.loads((tmp_path / "out/work/thresholds.json").read_text())
    assert {v["threshold"] for v in thresholds.values()} == {0.8}
    assert all(v["method"] == "fixed" and 0.5 < v["estimated_precision"] <= 1
               for v in thresholds.values())
    # one agency's file changes: its two pairs are compared again, the third pair is kept
    enc = pprl.Encodings.read(files["colleges"])
    enc.take(np.arange(len(enc) - 1)).write(files["colleges"])
    changed = job.run(spec)
    assert [s for s in changed.ran if s.startswith("pairs/")] == [
        "pairs/education__colleges", "pairs/colleges__employment"]
    assert "validate" in changed.ran
    assert len(pd.read_parquet(changed.entities)) == 3 * RECORDS - 1
    # a tampered output is noticed and rewritten identically
    good = digest(changed.entities)
    changed.entities.write_bytes(b"not the entity table")
    st = job.status(spec)
    assert not st.complete
    assert ("entities", "stale", "output entities.parquet was modified") in [
        (s.name, s.state, s.detail) for s in st.stages]
    repaired = job.run(spec)
    assert repaired.ran == ["entities"]  # the same bytes again: the report stays valid
    assert digest(repaired.entities) == good


def test_next_year_keeps_ids(years, first, tmp_path):
    y0, y1 = years
    last = first[1].entities
    spec = write_spec(tmp_path / "job.toml", y1.files, previous=last,
                      tables={"report": {"histograms": False}})
    result = job.run(spec)
    prev, cur = pd.read_parquet(last), pd.read_parquet(result.entities)
    # an entity whose records are exactly last year's keeps last year's id

    def groups(t):
        t = t.assign(key=t["agency"] + ":" + t["record_id"])
        return t.groupby("entity_id")["key"].apply(frozenset)

    before = {v: k for k, v in groups(prev).items()}
    same = [(before[v], k) for k, v in groups(cur).items() if v in before]
    assert all(a == b for a, b in same)
    # about as many as the truth has people whose records did not change
    truth0, truth1 = (t.assign(entity_id=t["entity_id"].astype(str)) for t in (y0.truth, y1.truth))
    unchanged = len(set(groups(truth0)) & set(groups(truth1)))
    assert 0.9 * unchanged < len(same) <= 1.1 * unchanged
    # new ids continue the counter: never an id issued before
    issued = prev.attrs["pprl_next_entity_id"]
    new = set(cur["entity_id"]) - set(prev["entity_id"])
    assert new and min(int(x[1:]) for x in new) >= issued
    doc = json.loads(result.report.with_name("report.json").read_text())
    changes = pd.read_csv(result.report.with_name("changes.csv"))
    assert doc["changes"] == {e: int((changes["event"] == e).sum())
                              for e in ("kept", "merged", "split", "new", "removed")}
    assert doc["changes"]["kept"] >= len(same)
    # fresh ids go to new entities and to records split off an entity
    by_event = changes.groupby("event")["entity_id"].apply(set)
    assert by_event["new"] <= new <= by_event["new"] | by_event.get("split", set())
    assert "## Changes since last year" in result.report.read_text()
    assert pprl.solve.evaluate(cur, y1.truth).f1 > 0.9


def test_optimal_solver(years, tmp_path, first):
    spec = write_spec(tmp_path / "job.toml", years[0].files, solver="optimal",
                      tables={"report": {"histograms": False}})
    entities = pd.read_parquet(job.run(spec).entities)
    assert not entities.duplicated(["entity_id", "agency"]).any()
    greedy = pd.read_parquet(first[1].entities)
    f_opt = pprl.solve.evaluate(entities, years[0].truth).f1
    f_greedy = pprl.solve.evaluate(greedy, years[0].truth).f1
    assert f_opt > 0.9 and abs(f_opt - f_greedy) < 0.03


def test_no_matplotlib_no_pngs(years, tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    spec = write_spec(tmp_path / "job.toml", years[0].files)
    with caplog.at_level("WARNING", logger="pprl"):
        result = job.run(spec)
    assert "matplotlib is not installed" in caplog.text
    assert not (result.report.parent / "histograms").exists()
    assert "## Similarity of candidate pairs" not in result.report.read_text()


def test_one_run_at_a_time(years, tmp_path):
    spec = write_spec(tmp_path / "job.toml", years[0].files)
    with job_lock(tmp_path / "out"), pytest.raises(pprl.DataError,
                                                   match=r"another pprl job is running"):
        job.run(spec)


def test_dropping_an_agency_reuses_the_other_pairs(years, tmp_path):
    files = dict(years[0].files)
    spec = write_spec(tmp_path / "job.toml", files, tables={"report": {"histograms": False}})
    job.run(spec)
    del files["employment"]
    spec = write_spec(tmp_path / "job.toml", files, tables={"report": {"histograms": False}})
    fewer = job.run(spec)
    assert [s.name for s in fewer.stages if s.name.startswith("pairs/")] == [
        "pairs/education__colleges"]
    assert "pairs/education__colleges" not in fewer.ran
    pairs = sorted(p.name for p in (tmp_path / "out" / "work" / "pairs").iterdir())
    assert pairs == ["education__colleges.json", "education__colleges.parquet"]
    entities = pd.read_parquet(fewer.entities)
    assert sorted(entities["agency"].unique()) == ["colleges", "education"]
    assert len(entities) == 2 * RECORDS
