"""pprl.datasets: synthetic people, extracts, agencies and reference names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl import datasets as ds
from pprl.datasets import _build_tables, _corrupt, _random
from pprl.datasets._people import universe
from pprl.datasets._tables import TABLES_PATH, tables

FIELDS = ["first_name", "last_name", "dob", "sex", "address", "city", "zip"]


def pairs(df_a: pd.DataFrame, df_b: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The true pairs side by side: columns <field>_a and <field>_b."""
    m = truth.merge(df_a, left_on="left_id", right_on="record_id")
    m = m.merge(df_b, left_on="right_id", right_on="record_id", suffixes=("_a", "_b"))
    assert len(m) == len(truth)
    return m


def changed(m: pd.DataFrame, field: str) -> np.ndarray:
    return (m[f"{field}_a"].fillna("<NA>") != m[f"{field}_b"].fillna("<NA>")).to_numpy()


def assert_rate(hits: np.ndarray, p: float) -> None:
    """The share of True in ``hits`` is p within 4.5 binomial standard errors."""
    n = len(hits)
    assert n > 500
    tol = 4.5 * np.sqrt(p * (1 - p) / n) + 1e-9
    assert abs(hits.mean() - p) <= tol, (hits.mean(), p, tol)


# ---------------------------------------------------------------- population


def test_population_columns_and_formats():
    p = ds.population(5000, seed=3)
    assert list(p.columns) == ["entity_id", "first_name", "last_name", "dob", "sex", "address",
                               "city", "zip", "household_id"]
    assert p["entity_id"].tolist() == list(range(5000))
    assert p[FIELDS].notna().all().all()
    dob = pd.to_datetime(p["dob"], format="%Y-%m-%d")
    assert dob.dt.strftime("%Y-%m-%d").tolist() == p["dob"].tolist()
    assert p["zip"].str.fullmatch(r"\d{5}").all()
    assert p["zip"].str.startswith("0").any()  # leading zeros survive as text
    assert set(p["sex"]) == {"M", "F"}
    assert p["address"].str.fullmatch(r"\d{1,4} [0-9A-Z ]+ [A-Z]+( APT \d+)?").all()
    age = (pd.Timestamp("2025-09-01") - dob).dt.days / 365.2425
    assert age.min() >= 0 and age.max() < 100
    assert 0.6 < (age < 40).mean() < 0.95  # a cradle-to-career population: mostly 0-40


def test_population_households_share_address_and_mostly_surname():
    p = ds.population(5000, seed=4)
    g = p.groupby("household_id")
    assert (g[["address", "city", "zip"]].nunique() == 1).all().all()
    sizes = g.size()
    assert sizes.max() >= 4 and (sizes == 1).mean() < 0.5
    multi = p[p["household_id"].map(sizes) > 1]
    same_surname = multi.groupby("household_id")["last_name"].transform(
        lambda s: s == s.iloc[0])
    assert same_surname.mean() > 0.85
    # no two people of a household share first name and date of birth (twins get different names)
    assert not multi.duplicated(["household_id", "first_name", "dob"]).any()
    singles = ds.population(2000, seed=4, households=False)
    assert singles["household_id"].is_unique


def test_population_is_deterministic_by_seed():
    pd.testing.assert_frame_equal(ds.population(3000, seed=11), ds.population(3000, seed=11))
    a, b = ds.population(3000, seed=11), ds.population(3000, seed=12)
    assert (a["first_name"] != b["first_name"]).mean() > 0.9


def test_population_zero_and_tiny():
    assert len(ds.population(0)) == 0
    assert list(ds.population(0).columns) == list(ds.population(1).columns)
    assert len(ds.population(1, seed=2)) == 1


def test_name_frequencies_are_skewed():
    p = ds.population(40000, seed=5)
    for col in ("first_name", "last_name"):
        counts = p[col].value_counts()
        assert counts.iloc[0] > 40 * counts.median()
        assert counts.iloc[:100].sum() > 0.2 * len(p)
        assert len(counts) > 1500  # and a long tail of rarer names
    top_f = p.loc[p["sex"] == "F", "first_name"].value_counts().index[:10]
    top_m = p.loc[p["sex"] == "M", "first_name"].value_counts().index[:10]
    assert "JESSICA" in top_f and "MICHAEL" in top_m
    assert "SMITH" in p["last_name"].value_counts().index[:5]


# ---------------------------------------------------------------- extracts


def test_extracts_shape_ids_and_truth_against_population():
    df_a, df_b, truth = ds.extracts(3000, 2000, overlap=0.4, corruption="none", seed=7)
    assert list(df_a.columns) == ["record_id", *FIELDS] == list(df_b.columns)
    assert len(df_a) == 3000 and len(df_b) == 2000
    assert df_a["record_id"].str.fullmatch(r"A\d{7}").all() and df_a["record_id"].is_unique
    assert df_b["record_id"].str.fullmatch(r"B\d{7}").all() and df_b["record_id"].is_unique
    assert list(truth.columns) == ["left_id", "right_id"]
    assert len(truth) == round(0.4 * 2000)
    assert truth["left_id"].is_unique and truth["right_id"].is_unique
    assert truth["left_id"].is_monotonic_increasing
    # with no corruption every record is its person: recover entity ids from the population
    people = ds.population(3000 + 2000 - 800, seed=7)
    key = people[FIELDS].apply(tuple, axis=1)
    assert key.is_unique
    entity = dict(zip(key, people["entity_id"], strict=True))
    ent_a = df_a[FIELDS].apply(tuple, axis=1).map(entity)
    ent_b = df_b[FIELDS].apply(tuple, axis=1).map(entity)
    assert ent_a.notna().all() and ent_b.notna().all()
    both = pd.DataFrame({"left_id": df_a["record_id"], "e": ent_a}).merge(
        pd.DataFrame({"right_id": df_b["record_id"], "e": ent_b}), on="e")
    assert set(zip(both["left_id"], both["right_id"], strict=True)) == set(
        zip(truth["left_id"], truth["right_id"], strict=True))
    # row order is shuffled: entity ids do not follow record ids
    assert not ent_a.is_monotonic_increasing


@settings(max_examples=25, deadline=None)
@given(n_a=st.integers(0, 60), n_b=st.integers(0, 60), overlap=st.floats(0, 1),
       seed=st.integers(0, 2**32))
def test_extracts_overlap_is_exact(n_a, n_b, overlap, seed):
    df_a, df_b, truth = ds.extracts(n_a, n_b, overlap=overlap, corruption="high", seed=seed)
    assert len(df_a) == n_a and len(df_b) == n_b
    assert len(truth) == round(overlap * min(n_a, n_b))
    assert set(truth["left_id"]) <= set(df_a["record_id"])
    assert set(truth["right_id"]) <= set(df_b["record_id"])
    assert truth["left_id"].is_unique and truth["right_id"].is_unique


def test_extracts_none_gives_identical_true_pairs():
    m = pairs(*ds.extracts(2000, 2000, overlap=0.5, corruption="none", seed=1))
    for f in FIELDS:
        assert not changed(m, f).any(), f


def test_extracts_deterministic_by_seed():
    one = ds.extracts(1500, 1200, overlap=0.3, corruption="high", seed=21)
    two = ds.extracts(1500, 1200, overlap=0.3, corruption="high", seed=21)
    for x, y in zip(one, two, strict=True):
        pd.testing.assert_frame_equal(x, y)
    other = ds.extracts(1500, 1200, overlap=0.3, corruption="high", seed=22)
    assert not one[0]["first_name"].equals(other[0]["first_name"])
    assert not one[2].equals(other[2])


def test_extracts_formats_under_heavy_corruption():
    df_a, df_b, _ = ds.extracts(3000, 3000, corruption="high", seed=2)
    for df in (df_a, df_b):
        dob = df["dob"].dropna()
        assert pd.to_datetime(dob, format="%Y-%m-%d").dt.strftime("%Y-%m-%d").tolist() == \
            dob.tolist()
        assert df["zip"].dropna().str.fullmatch(r"\d{5}").all()
        assert set(df["sex"].dropna()) <= {"M", "F"}
        assert df[FIELDS].isna().any().all()  # some of everything is missing
    assert df_b[FIELDS].isna().mean().mean() > df_a[FIELDS].isna().mean().mean()


def test_presets_are_ordered_and_levels_match_presets():
    rates = []
    for preset in ("none", "low", "moderate", "high"):
        m = pairs(*ds.extracts(3000, 3000, overlap=1.0, corruption=preset, seed=5))
        rates.append(np.mean([changed(m, f).mean() for f in FIELDS]))
    assert rates[0] == 0.0 and rates[0] < rates[1] < rates[2] < rates[3]
    assert ds.Corruption.preset("moderate") == _corrupt.as_corruption(0.5)
    x = ds.extracts(500, 500, corruption=0.5, seed=5)
    y = ds.extracts(500, 500, corruption="moderate", seed=5)
    z = ds.extracts(500, 500, corruption=ds.Corruption.preset("moderate"), seed=5)
    for a, b, c in zip(x, y, z, strict=True):
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, c)


# one extract pair per error type, df_a clean, so df_a holds the truth values
N_RATE = 6000


def _single(error: str, p: float = 0.2) -> pd.DataFrame:
    c = ds.Corruption(**{error: p})
    return pairs(*ds.extracts(N_RATE, N_RATE, overlap=1.0, corruption=c, corruption_a="none",
                              seed=13))


@pytest.mark.parametrize(("error", "fields"), [
    ("typo", ["first_name", "last_name", "address"]),
    ("ocr", ["first_name", "last_name", "address"]),
    ("phonetic", ["first_name", "last_name"]),
    ("missing", FIELDS),
    ("dob_error", ["dob"]),
    ("sex_error", ["sex"]),
    ("zip_error", ["zip"]),
    ("name_swap", ["first_name", "last_name"]),
])
def test_error_rates_match_probabilities(error, fields):
    m = _single(error)
    for f in FIELDS:
        if f in fields:
            assert_rate(changed(m, f), 0.2)
        else:
            assert not changed(m, f).any(), (error, f)


def test_eligible_error_rates():
    m = _single("nickname", 0.3)
    has_nick = m["first_name_a"].isin(list(tables().nicknames)).to_numpy()
    assert_rate(changed(m, "first_name")[has_nick], 0.3)
    assert not changed(m, "first_name")[~has_nick].any()
    nick_pairs = set(zip(m["first_name_a"], m["first_name_b"], strict=True))
    assert ("WILLIAM", "BILL") in nick_pairs or ("ELIZABETH", "LIZ") in nick_pairs

    m = _single("swap_day_month", 0.3)
    dob = pd.to_datetime(m["dob_a"])
    ok = ((dob.dt.day <= 12) & (dob.dt.day != dob.dt.month)).to_numpy()
    assert_rate(changed(m, "dob")[ok], 0.3)
    assert not changed(m, "dob")[~ok].any()
    hit = changed(m, "dob")
    swapped = pd.to_datetime(m["dob_b"][hit])
    assert (swapped.dt.day.to_numpy() == dob[hit].dt.month.to_numpy()).all()
    assert (swapped.dt.month.to_numpy() == dob[hit].dt.day.to_numpy()).all()

    m = _single("last_name_change", 0.3)
    age = (pd.Timestamp("2025-09-01") - pd.to_datetime(m["dob_a"])).dt.days / 365.2425
    women = ((m["sex_a"] == "F") & (age >= 18)).to_numpy()
    assert_rate(changed(m, "last_name")[women], 0.3)
    assert not changed(m, "last_name")[~women].any()
    new = m.loc[changed(m, "last_name"), ["last_name_a", "last_name_b"]]
    hyphen = [b.startswith(a + "-") for a, b in zip(new["last_name_a"], new["last_name_b"],
                                                      strict=True)]
    assert 0.1 < np.mean(hyphen) < 0.45

    m = _single("move", 0.3)
    moved = changed(m, "address")
    assert_rate(moved, 0.3)
    assert 0.3 < (~changed(m, "city")[moved]).mean() < 0.7  # about half move within the city
    assert not changed(m, "first_name").any()


def test_corruption_is_keyed_per_record():
    """A person's errors do not depend on who else is drawn: same seed, other sizes."""
    c = ds.Corruption.preset("high")
    people = universe(50, 1, households=True)
    rows = np.arange(50)
    full = _corrupt.corrupt(people.take(rows), c, 99, rows.astype(np.uint64))
    part = _corrupt.corrupt(people.take(rows[10:20]), c, 99, rows[10:20].astype(np.uint64))
    for f in FIELDS:
        assert list(full[f][10:20]) == list(part[f])
    other = _corrupt.corrupt(people.take(rows), c, 98, rows.astype(np.uint64))
    assert any(list(full[f]) != list(other[f]) for f in FIELDS)  # another source, other errors


# ---------------------------------------------------------------- string edits


UPPER = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -", min_size=1, max_size=14)
U = st.floats(0, 1, exclude_max=True)


def _damerau(a: str, b: str) -> int:
    d = [[max(i, j) if min(i, j) == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


@settings(max_examples=300, deadline=None)
@given(s=UPPER, u1=U, u2=U, u3=U)
def test_typo_is_one_edit(s, u1, u2, u3):
    out = _corrupt.typo(s, u1, u2, u3)
    assert _damerau(s, out) == 1


@settings(max_examples=200, deadline=None)
@given(s=UPPER, u1=U, u2=U)
def test_ocr_and_phonetic_always_change(s, u1, u2):
    assert _corrupt._ocr(s, u1, u2) != s
    assert _corrupt._sound_alike(s, u1) != s


def test_known_edits():
    assert _corrupt._PHONETIC.apply("STEPHEN", 0.0) is not None
    assert {_corrupt._PHONETIC.apply("PHIL", u) for u in np.linspace(0, 0.99, 50)} >= {"FIL"}
    assert _corrupt._PHONETIC.apply("KATIE", 0.0) == "KATY"  # the end rules come first
    assert _corrupt._PHONETIC.apply("QQQ", 0.5) is None
    outs = {_corrupt._OCR.apply("BORN", u) for u in np.linspace(0, 0.99, 80)}
    assert {"B0RN", "8ORN", "BOM"} <= outs
    assert _corrupt._nickname("WILLIAM", 0.0) == "BILL"
    assert _corrupt._nickname("XAVIERA", 0.5) == "XAVIERA"
    assert _corrupt._zip_slip("02139", 0.0, 0.0) == "02149"
    assert _corrupt.typo("AB", 0.99, 0.0, 0.0) != "AB"


def test_date_edits():
    days = np.array([np.datetime64(d, "D").astype(np.int64) for d in
                     ["2001-03-05", "2001-03-15", "2004-07-07", "2000-02-29"]])
    swapped = _corrupt._swap_day_month(days)
    assert list(_corrupt.date_text(swapped)) == ["2001-05-03", "2001-03-15", "2004-07-07",
                                                  "2000-02-29"]
    y, m, d = _corrupt._ymd(days)
    assert list(_corrupt._days(y, m, d)) == list(days)
    assert _corrupt._days(np.array([2001]), np.array([2]), np.array([31]))[0] == \
        np.datetime64("2001-02-28", "D").astype(np.int64)
    g = np.random.default_rng(0)
    many = np.repeat(days, 500)
    slipped = _corrupt._dob_slip(many, g.random(len(many)), g.random(len(many)))
    assert (slipped != many).all()  # a year step, another day or another month: always a change
    text = _corrupt.date_text(slipped)
    assert (pd.to_datetime(text).strftime("%Y-%m-%d") == text).all()


# ---------------------------------------------------------------- agencies


def test_agencies_structure_and_truth():
    names = ["education", "workforce", "health"]
    frames, truth = ds.agencies(names, [3000, 2000, 2500], seed=4)
    assert list(frames) == names
    assert list(truth.columns) == ["agency", "record_id", "entity_id"]
    for name, size in zip(names, [3000, 2000, 2500], strict=True):
        df = frames[name]
        assert len(df) == size and list(df.columns) == ["record_id", *FIELDS]
        assert df["record_id"].is_unique
        assert df["record_id"].str.fullmatch(rf"{name.upper()}-\d{{7}}").all()
        t = truth[truth["agency"] == name]
        assert sorted(t["record_id"]) == sorted(df["record_id"])
    assert not truth.duplicated(["agency", "entity_id"]).any()  # one record per agency per person
    in_k = truth["entity_id"].value_counts().value_counts()
    assert set(in_k.index) == {1, 2, 3}  # overlapping populations
    assert truth["entity_id"].max() < max(3000, (3000 + 2000 + 2500 + 1) // 2)


def test_agencies_none_corruption_matches_population():
    frames, truth = ds.agencies(2, 400, population_size=600, corruption="none", seed=8)
    people = ds.population(600, seed=8).set_index("entity_id")
    for name, df in frames.items():
        t = truth[truth["agency"] == name].set_index("record_id")["entity_id"]
        rows = people.loc[t.loc[df["record_id"]].to_numpy(), FIELDS].reset_index(drop=True)
        pd.testing.assert_frame_equal(df[FIELDS].reset_index(drop=True), rows)


def test_agencies_deterministic_and_per_agency_corruption():
    args = (["a", "b"], {"a": 500, "b": 300})
    one, t1 = ds.agencies(*args, corruption={"a": "none", "b": "high"}, seed=3)
    two, t2 = ds.agencies(*args, corruption={"a": "none", "b": "high"}, seed=3)
    pd.testing.assert_frame_equal(t1, t2)
    for k in one:
        pd.testing.assert_frame_equal(one[k], two[k])
    _, t3 = ds.agencies(*args, seed=4)
    assert not t1.equals(t3)
    assert one["a"][FIELDS].notna().all().all() and one["b"][FIELDS].isna().any().any()


def test_agencies_next_year():
    names, sizes = ["k12", "college"], [2000, 1500]
    ev = ds.Evolution(leave=0.1, arrive=0.05, move=0.0, marry=0.0, edit=0.0)
    base = 5000
    f0, t0 = ds.agencies(names, sizes, population_size=base, evolution=ev, seed=6)
    f1, t1 = ds.agencies(names, sizes, population_size=base, evolution=ev, seed=6, year=1)
    f2, t2 = ds.agencies(names, sizes, population_size=base, evolution=ev, seed=6, year=2)
    for name, size in zip(names, sizes, strict=True):
        a = t0[t0["agency"] == name].merge(t1[t1["agency"] == name], on="record_id",
                                           suffixes=("0", "1"))
        assert (a["entity_id0"] == a["entity_id1"]).all()  # record ids are stable
        assert_rate(np.isin(t0.loc[t0["agency"] == name, "record_id"], a["record_id"]), 0.9)
        assert len(f1[name]) == size == len(f2[name])
        # with nothing else changing, a kept record is the very same record
        m = f0[name].merge(f1[name], on="record_id", suffixes=("_a", "_b"))
        for f in FIELDS:
            assert not changed(m, f).any()
    assert t1["entity_id"].max() >= base  # newcomers joined
    assert t2["entity_id"].max() >= base + round(0.05 * base)
    assert not t1.duplicated(["agency", "entity_id"]).any()
    # an agency as big as the population can only swap members for newcomers
    _, full1 = ds.agencies(1, 300, population_size=300, evolution=ev, seed=6, year=1)
    assert len(full1) == 300 and full1["entity_id"].is_unique
    assert (full1["entity_id"] >= 300).sum() == round(0.05 * 300)
    # the default evolution: people move, marry, get re-keyed; most records stay the same
    g0, _ = ds.agencies(names, sizes, seed=6)
    g1, _ = ds.agencies(names, sizes, seed=6, year=1)
    m = g0["k12"].merge(g1["k12"], on="record_id", suffixes=("_a", "_b"))
    moved = changed(m, "address").mean()
    assert 0.04 < moved < 0.2
    assert 0.8 < (~np.any([changed(m, f) for f in FIELDS], axis=0)).mean() < 0.97


# ---------------------------------------------------------------- reference names


def test_reference_names():
    first = ds.reference_names("first")
    assert list(first.columns) == ["name", "count"] and first["name"].is_unique
    assert first["count"].is_monotonic_decreasing and len(first) > 2500
    assert first["count"].iloc[0] > 100 * first["count"].iloc[-1]
    f = ds.reference_names("first", sex="F")
    assert f["name"].iloc[0] == "JESSICA" and len(f) == 1500
    last = ds.reference_names("last")
    assert last["name"].iloc[0] == "SMITH" and len(last) > 4000
    assert last["count"].iloc[0] > 50 * last["count"].median()
    sample = ds.reference_names("last", size=100_000, seed=1)
    assert sample["count"].sum() == 100_000 and (sample["count"] > 0).all()
    assert sample["name"].iloc[0] in set(last["name"].iloc[:5])
    pd.testing.assert_frame_equal(sample, ds.reference_names("last", size=100_000, seed=1))
    assert not sample.equals(ds.reference_names("last", size=100_000, seed=2))
    # the population draws from these tables: its frequent names are the table's
    p = ds.population(20000, seed=2)
    assert set(p["last_name"].value_counts().index[:3]) <= set(last["name"].iloc[:10])
    assert set(p["first_name"]) <= set(first["name"])


def test_tables_file_is_the_builder_output():
    assert TABLES_PATH.read_text(encoding="utf-8") == _build_tables.render(_build_tables.build())


# ---------------------------------------------------------------- keyed randomness


def test_keyed_uniforms():
    ids = np.arange(200_000, dtype=np.uint64)
    u = _random.uniform(_random.key(1, "x"), ids, 0)
    assert ((u >= 0) & (u < 1)).all() and abs(u.mean() - 0.5) < 0.005
    assert np.array_equal(u, _random.uniform(_random.key(1, "x"), ids, 0))
    v = _random.uniform(_random.key(1, "x"), ids, 1)
    w = _random.uniform(_random.key(2, "x"), ids, 0)
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.01 and abs(np.corrcoef(u, w)[0, 1]) < 0.01
    assert np.array_equal(_random.uniform(7, ids[5:9], 3), _random.uniform(7, ids, 3)[5:9])


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ds.population(-1), "n must be a non-negative integer, got -1"),
    (lambda: ds.population(2.5), "n must be a non-negative integer, got float"),
    (lambda: ds.population(10, seed=-3), "seed must be a non-negative integer, got -3"),
    (lambda: ds.extracts(-5, 10), "n_a must be a non-negative integer, got -5"),
    (lambda: ds.extracts(5, -10), "n_b must be a non-negative integer, got -10"),
    (lambda: ds.extracts(5, 5, overlap=1.5), "overlap must be in [0, 1], got 1.5"),
    (lambda: ds.extracts(5, 5, overlap=-0.1), "overlap must be in [0, 1], got -0.1"),
    (lambda: ds.extracts(5, 5, corruption="extreme"), "unknown corruption preset 'extreme'"),
    (lambda: ds.extracts(5, 5, corruption=1.2), "corruption must be in [0, 1], got 1.2"),
    (lambda: ds.extracts(5, 5, corruption_a="bad"), "unknown corruption preset 'bad'"),
    (lambda: ds.Corruption(typo=2.0), "Corruption.typo must be in [0, 1], got 2.0"),
    (lambda: ds.Evolution(leave=-0.5), "Evolution.leave must be in [0, 1], got -0.5"),
    (lambda: ds.agencies(0, 10), "names_or_k must be at least 1 agency, got 0"),
    (lambda: ds.agencies(["a", "a"], 10), "agency names must be unique, repeated: a"),
    (lambda: ds.agencies(["a", ""], 10), "agency names must be non-empty text"),
    (lambda: ds.agencies(["a", "b"], [10]), "sizes: expected 2 sizes (one per agency), got 1"),
    (lambda: ds.agencies(2, [10, -1]), "sizes[1] must be a non-negative integer, got -1"),
    (lambda: ds.agencies(2, 100, population_size=50),
     "sizes: agencies larger than population_size=50: agency1 (100), agency2 (100)"),
    (lambda: ds.agencies(2, 10, year=-1), "year must be a non-negative integer, got -1"),
    (lambda: ds.agencies(["a", "b"], 10, corruption={"a": "low"}),
     "corruption: expected one entry for each agency"),
    (lambda: ds.reference_names("middle"), "kind must be 'first' or 'last', got 'middle'"),
    (lambda: ds.reference_names("first", sex="X"), "sex must be 'F', 'M' or None, got 'X'"),
    (lambda: ds.reference_names("last", sex="F"), "sex applies only to kind='first'"),
    (lambda: ds.reference_names("last", size=-2), "size must be a non-negative integer"),
])
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    assert message in str(err.value)


def test_bad_argument_types():
    with pytest.raises(TypeError, match="names_or_k must be a number of agencies or a list"):
        ds.agencies("education", 10)
    with pytest.raises(TypeError, match=r"Corruption\.typo must be a number in"):
        ds.Corruption(typo="0.1")
    with pytest.raises(TypeError, match="evolution must be an Evolution"):
        ds.agencies(2, 10, evolution={"leave": 0.1})
    with pytest.raises(TypeError, match="seed must be a non-negative integer, got str"):
        ds.extracts(5, 5, seed="1")


def test_typo_insert_with_u_just_below_one():
    # (u - 0.3) / 0.7 rounds up to 1.0 here; the neighbour index must stay in range
    from pprl.datasets._corrupt import typo

    out = typo("0", 0.5, 0.0, 0.9999999999999999)
    assert len(out) == 2 and out[0] == "0" and out[1] != "0"
