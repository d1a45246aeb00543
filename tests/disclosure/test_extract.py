"""disclosure.extract: k-anonymity of every output (property tests on random and real-looking data),
project pseudonyms, dropped columns, untouched columns, determinism, the report, and bad input."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pprl
from pprl import disclosure
from pprl.disclosure.extract_core import (
    as_codes,
    as_text,
    extract_with_report,
    key_id,
    pseudonymise,
)
from pprl.disclosure.extract_hmac import hmac_sha256_hex, hmac_sha256_hex_ref
from pprl.disclosure.hierarchies import DateHierarchy
from pprl.errors import DataError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
HISTORICAL = SHARED / "splink_datasets" / "historical_figures_with_errors_50k.parquet"
SECRET = pprl.Secret(b"project-42-secret-key-0123456789")
OTHER_SECRET = pprl.Secret(b"project-43-secret-key-0123456789")


def people(n: int, seed: int) -> pd.DataFrame:
    """Real-looking linked records: skewed ages, few zips, rare sexes and jobs, repeat entities."""
    rng = np.random.default_rng(seed)
    years = np.clip(rng.normal(1975, 20, n).astype(int), 1920, 2024)
    dob = [f"{y}-{m:02d}-{d:02d}" for y, m, d in
           zip(years, rng.integers(1, 13, n), rng.integers(1, 29, n), strict=True)]
    jobs = [f"job{i}" for i in range(40)]
    return pd.DataFrame({
        "entity_id": rng.integers(0, n // 2 + 1, n),
        "first_name": rng.choice(["ANA", "BEN", "CARL", "DORA"], n),
        "last_name": rng.choice(["SMITH", "JONES", "LEE"], n),
        "dob": dob,
        "sex": rng.choice(["F", "M", "X"], n, p=[0.49, 0.49, 0.02]),
        "zipcode": rng.choice([f"{z:05d}" for z in rng.integers(0, 99999, 30)], n),
        "job": rng.choice(jobs, n, p=np.arange(40, 0, -1) / 820),
        "income": np.round(rng.lognormal(10.5, 0.6, n)).astype(np.int64),
        "diagnosis": rng.choice(["A", "B", "C", "D", None], n),
    })


def class_sizes(out: pd.DataFrame, qis: list[str]) -> pd.Series:
    return out[qis].fillna("<missing>").groupby(qis).size()


def assert_is_extract_of(df, out, report, qis, k, drop, id_column, max_suppression):
    """Everything the contract promises about ``out``."""
    assert list(out.columns) == [c for c in df.columns if c not in drop]
    if len(out):
        assert class_sizes(out, qis).min() >= k
    assert len(df) - len(out) <= np.floor(max_suppression * len(df) + 1e-9)
    assert report.records_out == len(out) and report.records_in == len(df)
    kept = df.loc[out.index]
    for col in out.columns:
        if col not in qis and col != id_column:
            pd.testing.assert_series_equal(out[col], kept[col])  # untouched
    assert (out[id_column] == pseudonymise(as_text(kept[id_column])[0], SECRET)).all()
    for q in qis:  # global recoding: each input value becomes exactly one output value
        pairs = pd.DataFrame({"a": as_text(kept[q])[0], "b": out[q].to_numpy()}).astype(str)
        assert pairs.groupby("a")["b"].nunique().max() <= 1, q


frames = st.builds(people, n=st.integers(20, 300), seed=st.integers(0, 10**6))


@settings(max_examples=30, deadline=None)
@given(df=frames, k=st.integers(2, 8), qis=st.sampled_from([
    ["dob", "sex", "zipcode"], ["dob", "job"], ["income", "sex", "zipcode", "job"], ["zipcode"]]),
    max_suppression=st.sampled_from([0.0, 0.05, 0.3]))
def test_property_every_output_is_k_anonymous(df, k, qis, max_suppression):
    drop = ["first_name", "last_name"]
    if len(df) < k:
        with pytest.raises(DataError, match=f"fewer than k={k}"):
            disclosure.extract(df, "entity_id", qis, k, SECRET, drop)
        return
    result = extract_with_report(df, "entity_id", qis, k, SECRET, drop,
                                 max_suppression=max_suppression)
    assert_is_extract_of(df, result.data, result.report, qis, k, drop, "entity_id", max_suppression)
    assert result.report.after.smallest_class >= k or result.report.records_out == 0


@settings(max_examples=15, deadline=None)
@given(df=frames, k=st.integers(2, 5), l_div=st.integers(2, 3))
def test_property_l_diversity_is_enforced(df, k, l_div):
    result = extract_with_report(df, "entity_id", ["dob", "sex"], k, SECRET, max_suppression=0.2,
                                 sensitive="diagnosis", l_diversity=l_div)
    out = result.data
    if len(out):
        distinct = out.fillna({"dob": "<m>", "sex": "<m>"}).groupby(["dob", "sex"])["diagnosis"]
        assert distinct.nunique().min() >= l_div  # nunique ignores missing values, as pprl does
        assert result.report.after.distinct_l >= l_div


def test_contract_example():
    df = people(2000, 1)
    x = disclosure.extract(df, id_column="entity_id", quasi_identifiers=["dob", "sex", "zipcode"],
                           k=5, project_secret=SECRET, drop=["first_name", "last_name"])
    assert isinstance(x, pd.DataFrame)
    assert "first_name" not in x.columns and "last_name" not in x.columns
    assert class_sizes(x, ["dob", "sex", "zipcode"]).min() >= 5
    for q in ("dob", "sex", "zipcode"):
        assert x[q].dtype == "str"  # generalised in place, as text
    assert x["entity_id"].str.fullmatch(r"[0-9a-f]{20}").all()


def test_pseudonym_known_answer():
    key = SECRET.derive(b"pprl/extract/pseudonym")
    expected = hmac.new(key, b"12345", hashlib.sha256).hexdigest()[:20]
    assert list(pseudonymise([12345, "12345"], SECRET)) == [expected, expected]
    assert pseudonymise(["x"], SECRET, length=64)[0] == hmac.new(key, b"x", hashlib.sha256).hexdigest()
    with pytest.raises(DataError, match="between 8 and 64"):
        pseudonymise(["x"], SECRET, length=4)
    with pytest.raises(TypeError, match=r"pprl\.Secret"):
        pseudonymise(["x"], b"raw bytes")


@settings(max_examples=60, deadline=None)
@given(key=st.binary(max_size=130), messages=st.lists(st.text(max_size=150), max_size=40),
       length=st.integers(1, 64))
def test_batch_hmac_equals_the_standard_library(key, messages, length):
    assert hmac_sha256_hex(key, messages, length) == hmac_sha256_hex_ref(key, messages, length)


def test_batch_hmac_rfc4231_vector():
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    assert hmac_sha256_hex(b"Jefe", ["what do ya want for nothing?"]) == [
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"]


def test_ids_are_text_like_everywhere():
    assert len(set(pseudonymise([12345, 12345.0, "12345"], SECRET))) == 1
    with pytest.raises(DataError, match="the id at position 1 is missing"):
        pseudonymise(["a", None], SECRET)
    codes, values = as_codes(pd.Series([1, "1", "", None, "b", 2.0], dtype=object))
    assert list(codes) == [0, 0, -1, -1, 1, 2] and list(values) == ["1", "b", "2"]


def test_pseudonyms_stable_within_a_project_and_disjoint_across_projects():
    df = people(1500, 2)
    a = disclosure.extract(df, "entity_id", ["sex"], 2, SECRET)
    b = disclosure.extract(df.sample(frac=1, random_state=0), "entity_id", ["sex"], 2, SECRET)
    c = disclosure.extract(df, "entity_id", ["sex"], 2, OTHER_SECRET)
    # same entity -> same pseudonym, in any extract of the project
    pd.testing.assert_series_equal(a["entity_id"], b.loc[a.index, "entity_id"])
    per_entity = pd.DataFrame({"id": df.loc[a.index, "entity_id"], "p": a["entity_id"]})
    assert (per_entity.groupby("id")["p"].nunique() == 1).all()
    assert per_entity["p"].nunique() == per_entity["id"].nunique()
    assert not set(a["entity_id"]) & set(c["entity_id"])  # unlinkable across projects


def test_secret_never_in_output_or_report():
    df = people(500, 3)
    result = extract_with_report(df, "entity_id", ["dob", "sex"], 3, SECRET, ["first_name"])
    text = result.data.to_csv() + result.report.to_json() + result.report.to_markdown()
    for needle in (SECRET.expose().decode(), SECRET.expose().hex(),
                   SECRET.derive(b"pprl/extract/pseudonym").hex()):
        assert needle not in text
    assert key_id(SECRET) not in text  # the key id belongs in the manifest only


def test_determinism_and_row_order_independence():
    df = people(3000, 4)
    args = ("entity_id", ["dob", "sex", "zipcode", "job"], 4, SECRET, ["first_name"])
    first, second = extract_with_report(df, *args), extract_with_report(df, *args)
    pd.testing.assert_frame_equal(first.data, second.data)
    assert first.report.to_dict() | {"search_seconds": 0} == second.report.to_dict() | {
        "search_seconds": 0}
    shuffled = extract_with_report(df.sample(frac=1, random_state=1), *args)
    pd.testing.assert_frame_equal(shuffled.data.sort_index(), first.data)


def test_max_suppression_zero_keeps_every_record():
    df = people(800, 5)
    out = disclosure.extract(df, "entity_id", ["dob", "zipcode", "job"], 5, SECRET,
                             max_suppression=0)
    assert len(out) == len(df)
    assert class_sizes(out, ["dob", "zipcode", "job"]).min() >= 5


def test_declared_hierarchy_is_used():
    df = people(3000, 6)
    result = extract_with_report(
        df, "entity_id", ["dob", "income"], 5, SECRET,
        hierarchies={"dob": {"type": "date", "bands": [10], "age_at": 2026, "month": False},
                     "income": {"type": "intervals", "levels": [[0, 20000, 50000, 10**7]]}})
    out = result.data
    assert set(out["income"]) <= {"0-19999", "20000-49999", "50000-10000000", "*"}
    assert out["dob"].str.fullmatch(r"\d{4}|age \d+-\d+|\*").all()
    dob = result.report.quasi_identifiers[0]
    assert not dob.inferred and dob.levels == ["value", "year", "10-year age band", "*"]


def test_datetime_and_numeric_columns_become_text():
    df = pd.DataFrame({"id": range(60), "when": pd.date_range("2000-01-01", periods=60, freq="7D"),
                       "score": np.arange(60) * 1.5})
    out = disclosure.extract(df, "id", ["when", "score"], 3, SECRET)
    assert out["when"].dtype == "str" and out["score"].dtype == "str"
    assert class_sizes(out, ["when", "score"]).min() >= 3
    text, missing = as_text(df["when"])
    assert text[0] == "2000-01-01" and not missing.any()


def test_missing_values_form_their_own_class():
    df = pd.DataFrame({"id": range(12), "sex": ["F"] * 5 + ["M"] * 5 + [None, ""]})
    out = disclosure.extract(df, "id", ["sex"], 2, SECRET, max_suppression=0)
    assert out["sex"].isna().sum() == 2  # None and "" are both missing, kept as missing
    assert list(out["sex"].dropna()) == ["F"] * 5 + ["M"] * 5


def test_report_numbers_match_pandas():
    df = people(2500, 7)
    qis = ["dob", "sex", "zipcode"]
    result = extract_with_report(df, "entity_id", qis, 5, SECRET, sensitive="diagnosis")
    rep = result.report
    before = df[qis].groupby(qis).size()
    assert rep.before.classes == len(before)
    assert rep.before.sample_uniques == int((before == 1).sum())
    assert rep.before.smallest_class == before.min()
    assert rep.before.records_below_k == int(before[before < 5].sum())
    after = class_sizes(result.data, qis)
    assert (rep.after.classes, rep.after.smallest_class, rep.after.sample_uniques) == (
        len(after), after.min(), 0)
    assert rep.records_suppressed == len(df) - len(result.data)
    per_class = result.data.groupby(qis)["diagnosis"]
    assert rep.after.distinct_l == per_class.nunique().min()
    probs = result.data.dropna(subset=["diagnosis"]).groupby(qis)["diagnosis"].value_counts(
        normalize=True)
    entropy = (-probs * np.log(probs)).groupby(level=list(range(len(qis)))).sum()
    assert rep.after.entropy_l == pytest.approx(np.exp(entropy.min()))
    for col in rep.quasi_identifiers:
        assert col.distinct_before == df[col.name].nunique()
        assert col.distinct_after == result.data[col.name].nunique()
        assert 0 <= col.information_loss <= 1
    md = rep.to_markdown()
    assert f"{rep.records_suppressed:,} suppressed" in md and "| smallest class | 1 | " in md


def test_real_data_historical_figures():
    df = pd.read_parquet(HISTORICAL).iloc[:20000]
    qis = ["dob", "gender", "postcode_fake", "occupation"]
    drop = ["full_name", "first_and_surname", "first_name", "surname"]
    result = extract_with_report(df, "cluster", qis, 5, SECRET, drop)
    assert_is_extract_of(df, result.data, result.report, qis, 5, drop, "cluster", 0.05)
    rep = result.report
    assert rep.before.sample_uniques > 5000 and rep.after.sample_uniques == 0
    kinds = {c.name: c.hierarchy.split("(")[0] for c in rep.quasi_identifiers}
    assert kinds == {"dob": "date", "gender": "categories", "postcode_fake": "uk_postcode",
                     "occupation": "categories"}


def test_real_data_synthetic_population():
    df = pprl.datasets.population(5000, seed=11)
    qis = ["dob", "sex", "zip"]
    result = extract_with_report(df, "entity_id", qis, 5, SECRET, ["first_name", "last_name",
                                                                   "address"])
    assert_is_extract_of(df, result.data, result.report, qis, 5,
                         ["first_name", "last_name", "address"], "entity_id", 0.05)
    assert result.report.suppressed_share <= 0.05


@pytest.mark.parametrize("kwargs, message", [
    ({"quasi_identifiers": ["dob", "nope"]}, r"unknown column 'nope' \(quasi_identifiers\)"),
    ({"drop": ["ghost"]}, r"unknown column 'ghost' \(drop\)"),
    ({"id_column": "pid"}, r"unknown column 'pid' \(id_column\)"),
    ({"sensitive": "what"}, r"unknown column 'what' \(sensitive\)"),
    ({"k": 1}, r"k must be an integer >= 2 \(got 1\)"),
    ({"k": True}, r"k must be an integer >= 2"),
    ({"k": 2.5}, r"k must be an integer >= 2"),
    ({"max_suppression": 1.0}, r"max_suppression must be a share in \[0, 1\)"),
    ({"quasi_identifiers": []}, "quasi_identifiers is empty"),
    ({"quasi_identifiers": ["dob", "dob"]}, "names a column twice"),
    ({"drop": ["dob"]}, "'dob' is both a quasi-identifier and drop"),
    ({"drop": ["entity_id"]}, "'entity_id' is both id_column and in drop"),
    ({"l_diversity": 2}, r"needs a sensitive column"),
    ({"sensitive": "diagnosis", "l_diversity": 1}, r"l_diversity must be an integer >= 2"),
    ({"hierarchies": {"job": {"type": "categories"}}}, "'job', which is not a quasi-identifier"),
    ({"hierarchies": {"dob": {"type": "intervals", "levels": [[0, 10]]}}},
     r"column 'dob': value '\d{4}-\d\d-\d\d' is not covered by its hierarchy \(not a number\)"),
    ({"hierarchies": {"sex": {"F": ["any"], "M": ["any"]}}},
     r"column 'sex': value 'X' is not covered by its hierarchy"),
])
def test_bad_input(kwargs, message):
    df = people(200, 8)
    args = {"id_column": "entity_id", "quasi_identifiers": ["dob", "sex"], "k": 3,
            "project_secret": SECRET} | kwargs
    with pytest.raises(DataError, match=message):
        disclosure.extract(df, **args)


def test_impossible_l_diversity_is_refused():
    df = people(100, 12).assign(diagnosis="A")
    with pytest.raises(DataError, match="fewer than l_diversity distinct sensitive values"):
        disclosure.extract(df, "entity_id", ["sex"], 2, SECRET, sensitive="diagnosis", l_diversity=2)


def test_missing_id_names_the_row():
    df = people(50, 9)
    df["entity_id"] = df["entity_id"].astype(object)
    df.loc[17, "entity_id"] = None
    with pytest.raises(DataError, match=r"column 'entity_id', row 17: the id is missing"):
        disclosure.extract(df, "entity_id", ["sex"], 2, SECRET)


def test_type_errors():
    with pytest.raises(TypeError, match="DataFrame"):
        disclosure.extract([1, 2], "id", ["x"], 2, SECRET)
    with pytest.raises(TypeError, match=r"pprl\.Secret"):
        disclosure.extract(people(20, 1), "entity_id", ["sex"], 2, "secret")


def test_hierarchy_objects_are_accepted():
    df = people(400, 10)
    out = disclosure.extract(df, "entity_id", ["dob"], 3, SECRET,
                             hierarchies={"dob": DateHierarchy(bands=(10,), month=False)})
    assert out["dob"].str.fullmatch(r"\d{4}|\d{4}-\d{4}|\*").all()
