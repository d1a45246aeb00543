"""The validate stage: bad inputs are all reported at once, before any linkage, naming the file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pprl
from pprl.job import JobSpecError

from .conftest import write_spec


def encodings(n: int, nbits: int = 128, fingerprint: str | None = "fp-A", ids=None,
              seed: int = 0) -> pprl.Encodings:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**63, size=(n, nbits // 64), dtype=np.int64).astype(np.uint64)
    return pprl.Encodings(bits, ids, nbits, fingerprint=fingerprint)


def test_every_input_problem_at_once(tmp_path):
    files = {
        "good": tmp_path / "good.parquet", "longer": tmp_path / "longer.parquet",
        "dups": tmp_path / "dups.parquet", "counted": tmp_path / "counted.parquet",
        "plain": tmp_path / "plain.parquet",
    }
    encodings(20).write(files["good"])
    encodings(20, nbits=256, seed=1).write(files["longer"])
    encodings(4, ids=["a", "b", "c", "b"], seed=2).write(files["dups"])
    encodings(7, seed=3).write(files["counted"])
    pd.DataFrame({"id": [1, 2], "clk": [b"x", b"y"]}).to_parquet(files["plain"])
    spec = write_spec(tmp_path / "job.toml", files, agency_extra={"counted": {"rows": 8}})
    with pytest.raises(JobSpecError) as info:
        pprl.job.run(spec)
    errors = info.value.errors
    assert any("agency 'dups'" in e and "row 3: record id 'b' appears more than once" in e
               for e in errors), errors
    assert any("agency 'counted'" in e and "has 7 records, the spec expects 8" in e
               for e in errors), errors
    assert any("agency 'plain'" in e and "not a pprl encodings file" in e for e in errors), errors
    assert any("agencies differ in CLK length (bits)" in e and "longer: 256" in e
               for e in errors), errors
    assert len(errors) == 4
    assert not (tmp_path / "out" / "entities.parquet").exists()
    assert not (tmp_path / "out" / "work" / "inputs.json").exists()


def test_fingerprints_must_agree_or_match_the_spec(tmp_path):
    files = {"a": tmp_path / "a.parquet", "b": tmp_path / "b.parquet"}
    encodings(10, fingerprint="fp-A").write(files["a"])
    encodings(10, fingerprint="fp-B", seed=1).write(files["b"])
    with pytest.raises(JobSpecError, match=r"agencies differ in schema fingerprint \(a: fp-A…, "
                                           r"b: fp-B…\)"):
        pprl.job.run(write_spec(tmp_path / "job.toml", files))
    with pytest.raises(JobSpecError) as info:
        pprl.job.run(write_spec(tmp_path / "job.toml", files, fingerprint="fp-B"))
    assert len(info.value.errors) == 1
    assert "agency 'a'" in info.value.errors[0]
    assert "schema fingerprint fp-A… is not the expected fp-B…" in info.value.errors[0]


def test_missing_ids_and_unusable_id_type(tmp_path):
    files = {"a": tmp_path / "a.parquet", "b": tmp_path / "b.parquet"}
    encodings(3, ids=["x", None, "z"]).write(files["a"])
    encodings(3, ids=[0.5, 1.5, 2.5], seed=1).write(files["b"])
    with pytest.raises(JobSpecError) as info:
        pprl.job.run(write_spec(tmp_path / "job.toml", files))
    errors = info.value.errors
    assert any("agency 'a'" in e and "row 1: record id is missing" in e for e in errors), errors
    assert any("agency 'b'" in e and "record ids must be integers or text" in e
               for e in errors), errors


def test_previous_table_problems(tmp_path):
    files = {"a": tmp_path / "a.parquet", "b": tmp_path / "b.parquet"}
    encodings(5).write(files["a"])
    encodings(5, seed=1).write(files["b"])
    prev = tmp_path / "prev.parquet"
    pd.DataFrame({"entity_id": ["E01", "X7", "E03"], "agency": ["a", "a", "a"],
                  "record_id": [1, 2, 1]}).to_parquet(prev)
    with pytest.raises(JobSpecError) as info:
        pprl.job.run(write_spec(tmp_path / "job.toml", files, previous="prev.parquet"))
    errors = info.value.errors
    assert any("row 1: entity_id 'X7' is not 'E' followed by digits" in e for e in errors), errors
    assert any("row 2: record '1' of agency 'a' appears more than once" in e
               for e in errors), errors
    pd.DataFrame({"entity_id": ["E01"], "source": ["a"], "record_id": [1]}).to_parquet(prev)
    with pytest.raises(JobSpecError, match=r"previous entity table .*: no column 'agency'"):
        pprl.job.run(write_spec(tmp_path / "job.toml", files, previous="prev.parquet"))
