"""Generalisation hierarchies of research extracts: known labels, inference, declared specs, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pprl.disclosure.extract_core import prepare_quasi_identifier
from pprl.disclosure.hierarchies import (
    OTHER,
    CategoryHierarchy,
    DateHierarchy,
    IntervalHierarchy,
    MapHierarchy,
    NumericHierarchy,
    PrefixHierarchy,
    UKPostcodeHierarchy,
    hierarchy_from_spec,
    infer_hierarchy,
)
from pprl.errors import DataError


def levels(h, values, counts=None, k=2, column="col"):
    values = np.asarray(values, dtype=object)
    counts = np.ones(len(values), dtype=np.int64) if counts is None else np.asarray(counts)
    return [(name, list(labels)) for name, labels in h.levels(values, counts, column=column, k=k)]


def test_date_levels_known_answer():
    got = levels(DateHierarchy(), ["1985-03-07", "1979/12/31", "2001-01-01T10:00:00"])
    assert got == [
        ("year-month", ["1985-03", "1979-12", "2001-01"]),
        ("year", ["1985", "1979", "2001"]),
        ("5-year band", ["1985-1989", "1975-1979", "2000-2004"]),
        ("10-year band", ["1980-1989", "1970-1979", "2000-2009"]),
    ]


def test_date_age_bands_are_a_function_of_the_year():
    got = levels(DateHierarchy(bands=(5, 10), age_at=2026, month=False), ["1985-03-07", "1986-12-31"])
    assert got == [("year", ["1985", "1986"]), ("5-year age band", ["age 40-44", "age 40-44"]),
                   ("10-year age band", ["age 40-49", "age 40-49"])]


def test_date_mistyped_month_still_generalises_to_its_year():
    (_, ym), (_, year), *_ = levels(DateHierarchy(), ["1856-86-18"])
    assert ym == ["1856-86"] and year == ["1856"]


def test_date_strict_names_column_and_value():
    with pytest.raises(DataError, match=r"column 'dob': value 'not a date' is not covered"):
        levels(DateHierarchy(), ["1985-03-07", "not a date"], column="dob")


def test_date_lenient_puts_non_dates_in_other():
    got = levels(DateHierarchy(strict=False, month=False, bands=()), ["1985-03-07", "-0050-01-0"])
    assert got == [("year", ["1985", OTHER])]


def test_date_band_widths_must_nest():
    with pytest.raises(DataError, match="multiple of the one before"):
        DateHierarchy(bands=(5, 7))
    with pytest.raises(DataError, match=">= 2"):
        DateHierarchy(bands=(1,))


def test_prefix_levels_and_validation():
    assert levels(PrefixHierarchy((5, 3)), ["02139-1234", "1"]) == [
        ("first 5 characters", ["02139*", "1*"]), ("first 3 characters", ["021*", "1*"])]
    with pytest.raises(DataError, match="strictly decreasing"):
        PrefixHierarchy((3, 5))


def test_uk_postcode_levels():
    got = levels(UKPostcodeHierarchy(), ["tq13 8df", "SW1A1AA", "b1 1aa"])
    assert got == [("sector", ["TQ13 8", "SW1A 1", "B1 1"]), ("district", ["TQ13", "SW1A", "B1"]),
                   ("area", ["TQ", "SW", "B"])]
    with pytest.raises(DataError, match="'postcode': value 'no where!' is not covered"):
        levels(UKPostcodeHierarchy(), ["no where!"], column="postcode")


def test_intervals_labels_closed_last_and_coverage():
    h = IntervalHierarchy(cuts=((0, 18, 65, 120), (0, 120)))
    assert levels(h, ["0", "17", "18", "64", "65", "120"]) == [
        ("3 intervals", ["0-17", "0-17", "18-64", "18-64", "65-120", "65-120"]),
        ("1 intervals", ["0-120"] * 6)]
    assert levels(IntervalHierarchy(cuts=((0, 2.5, 5),)), ["1", "2.5", "5"]) == [
        ("2 intervals", ["[0, 2.5)", "[2.5, 5]", "[2.5, 5]"])]
    with pytest.raises(DataError, match=r"column 'age': value '121' is not covered .*0 to 120"):
        levels(h, ["5", "121"], column="age")
    with pytest.raises(DataError, match=r"'age': value 'old' is not covered by its hierarchy \(not a num"):
        levels(h, ["old"], column="age")


def test_intervals_must_nest():
    with pytest.raises(DataError, match="subset"):
        IntervalHierarchy(cuts=((0, 10, 20), (0, 15, 20)))
    with pytest.raises(DataError, match="strictly increasing"):
        IntervalHierarchy(cuts=((0, 0, 20),))


def test_numeric_default_widths_follow_the_bulk_of_the_data():
    x = np.append(np.arange(0.0, 99.0), 10_000.0)  # one far outlier
    counts = np.append(np.full(99, 10), 1)
    h = NumericHierarchy()
    assert h.resolved_widths(x, counts) == (5.0, 10.0, 20.0, 40.0)  # not 500 (the full span / 40)
    got = levels(h, ["0", "7", "99"])
    assert got[0] == ("ranges of 5", ["0-4", "5-9", "95-99"])  # span 99 -> width 5 (about 40 bins)
    assert got[3] == ("ranges of 40", ["0-39", "0-39", "80-119"])
    assert levels(NumericHierarchy(widths=(0.5, 1)), ["0.2", "0.7"])[0] == (
        "ranges of 0.5", ["[0, 0.5)", "[0.5, 1)"])
    with pytest.raises(DataError, match="multiple"):
        NumericHierarchy(widths=(2, 3))


def test_numeric_single_value_has_no_ranges():
    assert levels(NumericHierarchy(), ["7", "7.0"]) == []


def test_categories_default_thresholds_keep_top_quarters():
    values = [f"v{i}" for i in range(40)]
    counts = np.arange(40, 0, -1)  # v0 has 40 records ... v39 has 1
    h = CategoryHierarchy()
    assert h.default_thresholds(counts, k=5) == (5, 31, 39)  # k; top 10 kept; top 2 kept
    got = levels(h, values, counts, k=5)
    assert [name for name, _ in got] == [f"fewer than {t} records -> Other" for t in (5, 31, 39)]
    assert got[0][1][:36] == values[:36] and set(got[0][1][36:]) == {OTHER}
    assert [v for v in got[2][1] if v != OTHER] == ["v0", "v1"]  # hold >= 39 records


def test_map_hierarchy_and_its_errors():
    h = MapHierarchy({"nurse": ["health", "clinical"], "doctor": ["health", "clinical"],
                      "clerk": ["admin", "office"]}, level_names=("field", "area"))
    assert levels(h, ["doctor", "clerk"]) == [("field", ["health", "admin"]),
                                              ("area", ["clinical", "office"])]
    with pytest.raises(DataError, match=r"column 'job': value 'pilot' is not covered"):
        levels(h, ["pilot"], column="job")
    with pytest.raises(DataError, match="'b' has 1 parent levels, expected 2"):
        MapHierarchy({"a": ["x", "y"], "b": ["x"]})


def test_a_declared_map_that_is_not_a_tree_is_refused():
    h = MapHierarchy({"a": ["x", "p"], "b": ["x", "q"]})
    with pytest.raises(DataError, match="column 'job' is not a tree: values 'a' and 'b'"):
        prepare_quasi_identifier(pd.Series(["a", "b"]), "job", h, k=2)


def test_levels_that_merge_nothing_are_dropped():
    h = MapHierarchy({"a": ["a", "g"], "b": ["b", "g"]})  # level 1 = level 0
    qi = prepare_quasi_identifier(pd.Series(["a", "b", "a"]), "c", h, 2)
    assert qi.level_names == ["value", "*"]  # 'g' covers everything like '*', so it goes too


def test_missing_values_keep_their_own_class_until_the_top():
    qi = prepare_quasi_identifier(pd.Series(["1985-01-01", None, "1986-01-01"]), "dob", DateHierarchy(), 2)
    for level in range(qi.height - 1):
        labels = qi.labels[level][qi.level_codes[level][qi.row_codes]]
        assert labels[1] is None
    assert list(qi.labels[-1][qi.level_codes[-1][qi.row_codes]]) == ["*"] * 3


@pytest.mark.parametrize("spec, cls", [
    ({"type": "date", "bands": [5, 10], "age_at": 2026}, DateHierarchy),
    ({"type": "prefix", "lengths": [3]}, PrefixHierarchy),
    ({"type": "uk_postcode"}, UKPostcodeHierarchy),
    ({"type": "intervals", "levels": [[0, 18, 65, 120], [0, 120]]}, IntervalHierarchy),
    ({"type": "numeric", "widths": [5, 10]}, NumericHierarchy),
    ({"type": "categories", "thresholds": [5, 50]}, CategoryHierarchy),
    ({"type": "map", "map": {"a": ["x"]}}, MapHierarchy),
])
def test_spec_round_trip(spec, cls):
    h = hierarchy_from_spec(spec, "c")
    assert isinstance(h, cls)
    assert hierarchy_from_spec(h.to_spec(), "c") == h


def test_plain_mapping_is_a_map_hierarchy():
    assert hierarchy_from_spec({"a": ["x"], "b": ["x"]}) == MapHierarchy({"a": ["x"], "b": ["x"]})


@pytest.mark.parametrize("spec, message", [
    ({"type": "weird"}, "column 'c': unknown type 'weird'"),
    ({"type": "date", "width": 5}, r"column 'c': unknown key\(s\) \['width'\] for type 'date'"),
    ({"type": "prefix", "lengths": [0]}, "column 'c': prefix hierarchy"),
    ("year", "column 'c': expected a mapping"),
])
def test_bad_specs(spec, message):
    with pytest.raises(DataError, match=message):
        hierarchy_from_spec(spec, "c")


@pytest.mark.parametrize("name, values, dtype, expected", [
    ("dob", ["1985-03-07", "1990-12-01"], object, DateHierarchy(strict=False)),
    ("when", pd.to_datetime(["1985-03-07"]), "datetime64[ns]", DateHierarchy()),
    ("zipcode", ["12345", "54321"], object, PrefixHierarchy((3,))),
    ("area", ["02139", "54321"], object, PrefixHierarchy((3,))),  # a leading zero: a zip
    ("area", ["12139", "54321"], object, CategoryHierarchy()),  # five digits alone: a category
    ("zip", ["02139-1234"], object, PrefixHierarchy((5, 3))),
    ("postcode", ["tq13 8df", "sw1a 1aa"], object, UKPostcodeHierarchy(strict=False)),
    ("income", [str(i) for i in range(20)], object, NumericHierarchy(strict=False)),
    ("income", list(range(20)), "int64", NumericHierarchy()),
    ("children", list(range(5)), "int64", CategoryHierarchy()),
    ("sex", ["F", "M"], object, CategoryHierarchy()),
    ("flag", [True, False], bool, CategoryHierarchy()),
])
def test_inference(name, values, dtype, expected):
    assert infer_hierarchy(name, np.asarray(values, dtype=object), np.dtype(dtype)) == expected


def test_inference_tolerates_one_percent_of_typos_only():
    dates = [f"19{i:02d}-01-01" for i in range(99)]
    assert isinstance(infer_hierarchy("d", np.array([*dates, "oops"], dtype=object),
                                      np.dtype(object)), DateHierarchy)
    assert isinstance(infer_hierarchy("d", np.array([*dates[:50], "oops"], dtype=object),
                                      np.dtype(object)), CategoryHierarchy)


dates = st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", st.integers(1, 2200),
                  st.integers(1, 12), st.integers(1, 28))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), kind=st.sampled_from(["date", "age", "prefix", "numeric", "intervals",
                                              "categories"]))
def test_builtin_hierarchies_always_nest(data, kind):
    """Every level coarsens the one below (the engine checks it and raises otherwise)."""
    if kind in ("date", "age"):
        values = data.draw(st.lists(dates | st.none(), min_size=1, max_size=60))
        h = DateHierarchy(bands=(5, 10, 50), age_at=2026 if kind == "age" else None)
    elif kind == "prefix":
        values = data.draw(st.lists(st.text("0123456789ab", max_size=7) | st.none(), min_size=1,
                                    max_size=60))
        h = PrefixHierarchy((5, 3, 1))
    elif kind in ("numeric", "intervals"):
        values = data.draw(st.lists(st.integers(-50, 200).map(str) | st.floats(-50, 200).map(str),
                                    min_size=1, max_size=60))
        h = NumericHierarchy() if kind == "numeric" else IntervalHierarchy(
            cuts=((-50, 0, 18, 65, 200), (-50, 18, 200)))
    else:
        values = data.draw(st.lists(st.sampled_from("abcdefgh") | st.none(), min_size=1, max_size=60))
        h = CategoryHierarchy()
    qi = prepare_quasi_identifier(pd.Series(values, dtype=object), "c", h, k=3)
    for lower in range(qi.height - 1):
        pairs = set(zip(qi.level_codes[lower][qi.row_codes].tolist(),
                        qi.level_codes[lower + 1][qi.row_codes].tolist(), strict=True))
        assert len(pairs) == len({a for a, _ in pairs})  # each class has one parent
        assert qi.gen_num[lower] <= qi.gen_num[lower + 1]  # loss grows with the level


def test_an_all_missing_or_constant_column_is_fine():
    empty = prepare_quasi_identifier(pd.Series([None, "", None]), "c", None, k=2)
    assert empty.level_names == ["value", "*"]
    const = prepare_quasi_identifier(pd.Series(["a", "a"]), "c", None, k=2)
    assert const.gen_num == [0, 0]  # '*' over a single value loses nothing
