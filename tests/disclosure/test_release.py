"""Release files (CSV, Parquet, JSON with metadata) and spec-driven releases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pprl
from pprl import disclosure
from pprl.errors import DataError

SPEC = """
data = "linked.parquet"
output = "out"

[budget]
epsilon = 1.0
path = "budget.json"

[suppression]
threshold = 11

[[tables]]
name = "race_gender"
method = "suppress"
dimensions = ["race", "gender"]

[[tables]]
name = "race_year"
method = "suppress"
dimensions = ["race", "year"]

[[tables]]
name = "grad_rate"
method = "dp"
measure = "mean"
value = "graduated"
bounds = [0, 1]
dimensions = ["race", "year"]
epsilon = 0.4
margins = true
privacy_unit = "entity_id"
categories = { race = ["A", "B", "C", "D"], year = [2024, 2025] }

[[tables]]
name = "counts"
method = "dp"
dimensions = ["race"]
epsilon = 0.2
categories = { race = ["A", "B", "C", "D"] }
"""


@pytest.fixture
def linked(tmp_path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({
        "entity_id": rng.integers(0, 500, n),
        "race": rng.choice(list("ABCD"), n, p=[0.6, 0.3, 0.07, 0.03]),
        "gender": rng.choice(["F", "M"], n),
        "year": rng.choice([2024, 2025], n),
        "graduated": rng.integers(0, 2, n),
    })
    df.to_parquet(tmp_path / "linked.parquet")
    (tmp_path / "spec.toml").write_text(SPEC)
    return df


def test_write_release_writes_three_formats_with_metadata(tmp_path):
    table = pd.DataFrame({"year": [2024, 2025, disclosure.TOTAL],
                          "count": pd.array([12, pd.NA, 30], dtype="Int64"),
                          "suppressed": [False, True, False]})
    paths = disclosure.write_release(table, tmp_path / "pub" / "by_year.csv",
                                     {"method": "suppress", "threshold": 11})
    assert {k: p.name for k, p in paths.items()} == {
        "csv": "by_year.csv", "parquet": "by_year.parquet", "json": "by_year.json"}
    csv = pd.read_csv(paths["csv"], dtype=str, keep_default_na=False)
    assert csv.to_dict("list") == {"year": ["2024", "2025", "Total"], "count": ["12", "", "30"],
                                   "suppressed": ["False", "True", "False"]}
    pq_table = pq.read_table(paths["parquet"])
    meta = json.loads(pq_table.schema.metadata[b"pprl"])
    assert meta["threshold"] == 11 and meta["pprl_version"] == pprl.__version__
    assert "created" in meta
    assert pq_table.to_pandas()["count"].tolist()[0] == 12
    doc = json.loads(paths["json"].read_text())
    assert doc["metadata"] == meta
    assert doc["data"][1] == {"year": "2025", "count": None, "suppressed": True}
    assert not list((tmp_path / "pub").glob("*.tmp"))
    only_csv = disclosure.write_release(table, tmp_path / "x", formats=["csv"])
    assert list(only_csv) == ["csv"]
    with pytest.raises(ValueError, match="formats"):
        disclosure.write_release(table, tmp_path / "x", formats=["xlsx"])


def test_release_spec_writes_protected_and_dp_tables(tmp_path, linked):
    written = disclosure.release(tmp_path / "spec.toml")
    assert set(written) == {"race_gender", "race_year", "grad_rate", "counts"}
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.{f}" for n in written for f in ("csv", "parquet", "json"))
    # the suppressed tables are protected together and do not say which cells are small
    suppressed = [pd.read_parquet(out / f"{n}.parquet") for n in ("race_gender", "race_year")]
    assert all("reason" not in t.columns for t in suppressed)
    assert any(t["suppressed"].any() for t in suppressed)
    audited = disclosure.audit(suppressed, 11)
    assert all(a["protected"].all() for a in audited)
    for t, by in zip(suppressed, (["race", "gender"], ["race", "year"]), strict=True):
        truth = linked.groupby(by).size()
        for _, row in t[~t["suppressed"]].iterrows():
            if disclosure.TOTAL not in (str(row[by[0]]), str(row[by[1]])):
                key = (row[by[0]], int(row[by[1]]) if by[1] == "year" else row[by[1]])
                assert row["count"] == truth.get(key, 0)
    meta = json.loads((out / "race_year.json").read_text())["metadata"]
    assert meta["method"] == "suppress" and meta["threshold"] == 11
    assert meta["protected_with"] == ["race_gender"]
    assert meta["spec"]["dimensions"] == ["race", "year"]
    dp_meta = json.loads((out / "grad_rate.json").read_text())["metadata"]
    assert dp_meta["epsilon"] == pytest.approx(0.4)
    assert dp_meta["mechanism"] == "discrete_laplace" and dp_meta["privacy_unit"] == "entity_id"
    assert dp_meta["budget"]["total"] == 1.0
    ledger = disclosure.Budget.load(tmp_path / "budget.json")
    assert ledger.spent == pytest.approx(0.6)


def test_overspending_release_writes_nothing(tmp_path, linked):
    disclosure.release(tmp_path / "spec.toml")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    with pytest.raises(disclosure.BudgetExceeded, match=r"needs epsilon=0\.6"):
        disclosure.release(tmp_path / "spec.toml")  # 0.6 spent, 0.6 more needed
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert before == after
    assert disclosure.Budget.load(tmp_path / "budget.json").spent == pytest.approx(0.6)


def test_release_from_a_dict_and_a_frame(tmp_path):
    df = pd.DataFrame({"g": ["a"] * 30 + ["b"] * 4, "h": ["x"] * 17 + ["y"] * 17})
    spec = {"data": "unused.csv", "output": "o", "formats": ["json"],
            "tables": [{"name": "gh", "method": "suppress", "dimensions": ["g", "h"]}]}
    written = disclosure.release(spec, data=df, base_dir=tmp_path)
    doc = json.loads(written["gh"]["json"].read_text())
    assert doc["metadata"]["suppressed_cells"] >= 2
    assert len(doc["data"]) == 9


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.replace('method = "dp"\ndimensions = ["race"]', 'method = "dp"\n'
                         'dimensions = ["race"]\ncolour = 1'), r"tables\[3\]: unknown keys"),
    (lambda s: s.replace('categories = { race = ["A", "B", "C", "D"] }', ""),
     r"tables\[3\] \(counts\): a dp table needs public 'categories'"),
    (lambda s: s.replace('method = "suppress"\ndimensions = ["race", "year"]',
                         'method = "magic"\ndimensions = ["race", "year"]'),
     r"tables\[1\] \(race_year\): 'method'"),
    (lambda s: s.replace("[budget]\nepsilon = 1.0", "[budget]"), r"\[budget\]"),
    (lambda s: s.replace('value = "graduated"\n', ""), "needs 'value' and 'bounds'"),
    (lambda s: s.replace('name = "counts"', 'name = "race_gender"'), "unique"),
    (lambda s: s + "\n[[tables]\n", "not valid TOML"),
])
def test_spec_errors_name_the_file_and_table(tmp_path, linked, edit, message):
    path = tmp_path / "spec.toml"
    path.write_text(edit(SPEC))
    with pytest.raises(DataError, match=message) as err:
        disclosure.release(path)
    assert "spec.toml" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_missing_spec_file(tmp_path):
    with pytest.raises(DataError, match="release spec not found"):
        disclosure.release(tmp_path / "nope.toml")


def test_csv_data_matches_numeric_spec_categories(tmp_path, linked):
    linked.to_csv(tmp_path / "linked.csv", index=False)  # read back as text: "2024"
    spec = {"data": "linked.csv", "output": "o", "formats": ["csv"],
            "budget": {"epsilon": 100.0},
            "tables": [{"name": "by_year", "method": "dp", "dimensions": ["year"],
                        "epsilon": 100.0, "categories": {"year": [2024, 2025]}}]}
    written = disclosure.release(spec, base_dir=tmp_path)
    got = pd.read_csv(written["by_year"]["csv"])
    truth = linked["year"].value_counts()
    # scale 1/100: the noise is almost surely 0, at most 1
    assert got["year"].tolist() == [2024, 2025]
    assert (abs(got["count"] - [truth[2024], truth[2025]]) <= 1).all()
