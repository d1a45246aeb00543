"""``pprl.attack.audit``: verdicts, the printed report, files, bad input."""

from __future__ import annotations

import pandas as pd
import pytest

import pprl
from pprl.attack import audit, audit_files

ROWS = 2000


def _truth(lab):
    return lab.truth.iloc[:ROWS].reset_index(drop=True)


def test_unhardened_encodings_are_at_risk(lab):
    s, enc = lab.encode(lab.default, rows=ROWS)
    rep = audit(enc, lab.names, schema=s, truth=_truth(lab), max_nodes=300)
    assert not rep.passed and rep.evaluated
    text = str(rep)
    assert "verdict: AT RISK" in text and "field:first_name" in text
    assert "graph_matching  clk                 skipped" in text
    frame = rep.to_frame()
    assert set(frame["attack"]) == {"frequency", "pattern_mining", "graph_matching"}
    assert rep.worst.risk == frame["correct_one_to_one"].max() / ROWS


def test_recommended_profile_passes(lab):
    s, enc = lab.encode(lab.default, "recommended", rows=ROWS)
    rep = audit(enc, lab.names, schema=s, truth=_truth(lab), max_nodes=300)
    assert rep.passed
    assert "verdict: PASS" in str(rep)
    assert all(r.source == "clk" for r in rep.results)
    assert ("frequency", "block:soundex_last_yob", "the reference has no 'last_name'") in \
        rep.skipped


def test_blocking_keys_are_audited_with_a_population_reference(lab):
    s, enc = lab.encode(lab.default, "recommended", rows=ROWS)
    rep = audit(enc, lab.population, schema=s, truth=_truth(lab), attacks=["frequency"])
    sources = {r.source for r in rep.results}
    assert "block:metaphone_first_last" in sources and "clk" in sources
    assert {x[1] for x in rep.skipped} == {"block:soundex_last_yob", "block:first_initial_dob",
                                           "block:zip_yob"}  # the reference has no dob, no zip


def test_files_give_the_same_report(lab, tmp_path):
    s, enc = lab.encode(lab.default, rows=ROWS)
    enc.write(tmp_path / "enc.parquet")
    s.save(tmp_path / "schema.json")
    lab.names.to_csv(tmp_path / "names.csv", index=False)
    _truth(lab).sample(frac=1.0, random_state=1).rename(columns={"record_id": "id"}).to_csv(
        tmp_path / "truth.csv", index=False)
    rep = audit_files(tmp_path / "enc.parquet", tmp_path / "names.csv",
                      schema=tmp_path / "schema.json", truth=tmp_path / "truth.csv",
                      max_nodes=300)
    want = audit(enc, lab.names, schema=s, truth=_truth(lab), max_nodes=300)
    cols = ["attack", "source", "correct_one_to_one", "correct_one_to_many", "wrong"]
    pd.testing.assert_frame_equal(rep.to_frame()[cols], want.to_frame()[cols])
    assert str(tmp_path / "names.csv") in str(rep)
    blind = audit_files(tmp_path / "enc.parquet", tmp_path / "names.csv",
                        attacks=["frequency"])
    assert not blind.evaluated and "upper bounds" in str(blind)


def test_bad_input(lab, tmp_path):
    _, enc = lab.encode(lab.default, rows=ROWS)
    with pytest.raises(ValueError, match="unknown attack 'dictionary'"):
        audit(enc, lab.names, attacks=["dictionary"])
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\], got 5"):
        audit(enc, lab.names, threshold=5)
    with pytest.raises(pprl.DataError, match="is not the one the encodings were made with"):
        audit(enc, lab.names, schema=lab.first_only)
    enc.write(tmp_path / "enc.parquet")
    lab.names.to_csv(tmp_path / "names.csv", index=False)
    pd.DataFrame({"record": ["x"], "first_name": ["ann"]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(pprl.DataError, match="truth has no id column 'id'"):
        audit_files(tmp_path / "enc.parquet", tmp_path / "names.csv", truth=tmp_path / "t.csv")
    with pytest.raises(pprl.DataError, match="truth has no row for encoding id"):
        audit_files(tmp_path / "enc.parquet", tmp_path / "names.csv", truth=tmp_path / "t.csv",
                    truth_id_column="record")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(pprl.DataError, match="empty"):
        audit_files(tmp_path / "enc.parquet", tmp_path / "empty.csv")
