"""disclosure.extract_from_spec (what `pprl extract SPEC` runs): outputs, manifest, bad specs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest

import pprl
from pprl import disclosure
from pprl.errors import DataError

KEY = "spec-test-project-secret-0123456789"

SPEC = """
input = "linked.csv"
id_column = "entity_id"
quasi_identifiers = ["dob", "sex", "zip"]
k = 4
drop = ["first_name", "last_name", "address"]
sensitive = "city"
secret_file = "project.key"

[outputs]
data = "out/extract.csv"

[hierarchies.dob]
type = "date"
bands = [5, 10]
age_at = 2026
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    df = pprl.datasets.population(1500, seed=5)
    df.to_csv(tmp_path / "linked.csv", index=False)
    (tmp_path / "project.key").write_text(KEY + "\n")
    (tmp_path / "spec.toml").write_text(SPEC)
    return tmp_path


def write_spec(workdir: Path, text: str, name: str = "spec.toml") -> Path:
    path = workdir / name
    path.write_text(text)
    return path


def test_spec_run_writes_data_report_and_manifest(workdir):
    result = disclosure.extract_from_spec(workdir / "spec.toml")
    out = workdir / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "extract.csv", "extract.manifest.json", "extract.report.json", "extract.report.md"]
    assert result.files["data"] == out / "extract.csv"
    written = pd.read_csv(out / "extract.csv", dtype=str, keep_default_na=False)
    assert list(written.columns) == ["entity_id", "dob", "sex", "city", "zip", "household_id"]
    assert written["entity_id"].is_monotonic_increasing  # rows ordered by pseudonym
    assert written.groupby(["dob", "sex", "zip"]).size().min() >= 4
    expected = result.data.fillna("")
    pd.testing.assert_frame_equal(written, expected.astype(str), check_dtype=False)
    source = pd.read_csv(workdir / "linked.csv", dtype=str, keep_default_na=False)
    assert source["zip"].str.startswith("0").any()  # CSV cells were read verbatim as text
    assert (written["zip"].str.len() > 3).all() or (written["zip"] == "*").all()

    report = json.loads((out / "extract.report.json").read_text())
    assert report["records_out"] == len(written) and report["k"] == 4
    assert report["after"]["smallest_class"] >= 4 and report["sensitive"] == "city"
    assert "Research extract" in (out / "extract.report.md").read_text()

    manifest = json.loads((out / "extract.manifest.json").read_text())
    assert manifest["pprl_version"] == pprl.__version__
    assert manifest["input"]["sha256"] == hashlib.sha256((workdir / "linked.csv").read_bytes()).hexdigest()
    for role in ("data", "report", "report_md"):
        entry = manifest["outputs"][role]
        assert entry["sha256"] == hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest()
    assert manifest["parameters"]["hierarchies"]["dob"] == {
        "type": "date", "bands": [5, 10], "month": True, "age_at": 2026, "inferred": False}
    assert manifest["parameters"]["hierarchies"]["zip"]["inferred"] is True
    assert manifest["project_key"] == {"source": "file", "key_id": disclosure.extract_core.key_id(
        pprl.Secret(KEY))}
    assert any("sorted the rows by pseudonym" in step for step in manifest["steps"])


def test_secret_appears_in_no_output(workdir):
    disclosure.extract_from_spec(workdir / "spec.toml")
    secret = pprl.Secret(KEY)
    needles = [KEY, KEY.encode().hex(), secret.derive(b"pprl/extract/pseudonym").hex()]
    for path in (workdir / "out").iterdir():
        text = path.read_text()
        assert not any(n in text for n in needles), path.name


def test_json_spec_parquet_output_env_secret_and_input_order(workdir, monkeypatch):
    monkeypatch.setenv("EXTRACT_KEY", KEY)
    spec = {"input": "linked.csv", "id_column": "entity_id", "quasi_identifiers": ["dob", "zip"],
            "k": 3, "secret_env": "EXTRACT_KEY", "order": "input",
            "outputs": {"data": "x/data.parquet", "report": "x/r.json", "report_md": "x/r.md",
                        "manifest": "x/m.json"}}
    result = disclosure.extract_from_spec(write_spec(workdir, json.dumps(spec), "spec.json"))
    data = pd.read_parquet(workdir / "x" / "data.parquet")
    pd.testing.assert_frame_equal(data, result.data)
    assert json.loads((workdir / "x" / "m.json").read_text())["project_key"]["source"] == "environment"
    direct = disclosure.extract(pd.read_csv(workdir / "linked.csv", dtype=str, keep_default_na=False),
                                "entity_id", ["dob", "zip"], 3, pprl.Secret(KEY))
    assert list(data["entity_id"]) == list(direct["entity_id"])  # input order kept


def test_secret_argument_overrides_the_spec(workdir):
    text = SPEC.replace('secret_file = "project.key"\n', "")
    result = disclosure.extract_from_spec(write_spec(workdir, text, "nokey.toml"),
                                          project_secret=pprl.Secret(KEY))
    same = disclosure.extract_from_spec(workdir / "spec.toml")
    assert set(result.data["entity_id"]) == set(same.data["entity_id"])


def test_rerun_replaces_outputs_and_is_deterministic(workdir):
    disclosure.extract_from_spec(workdir / "spec.toml")
    first = (workdir / "out" / "extract.csv").read_bytes()
    disclosure.extract_from_spec(workdir / "spec.toml")
    assert (workdir / "out" / "extract.csv").read_bytes() == first


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("k = 4", "k = 1"), r"spec.toml: k must be an integer >= 2 \(got 1\)"),
    (lambda s: s.replace("k = 4", 'k = "4"'), r"spec.toml: k must be an integer >= 2"),
    (lambda s: s.replace('"sex", "zip"]', '"sex", "zipcode"]'),
     r"spec.toml: unknown column 'zipcode' \(quasi_identifiers\)"),
    (lambda s: s.replace('"address"]', '"adress"]'), r"spec.toml: unknown column 'adress' \(drop\)"),
    (lambda s: s.replace("k = 4", "k = 4\nkk = 5"), r"spec.toml: unknown key\(s\) \['kk'\]"),
    (lambda s: s.replace('id_column = "entity_id"\n', ""), r"missing key\(s\) \['id_column'\]"),
    (lambda s: s.replace('"out/extract.csv"', '"out/extract.xlsx"'), "must end in .csv or .parquet"),
    (lambda s: s.replace("[outputs]", "[outputs]\nsummary = 'x.txt'"),
     r"unknown key\(s\) \['summary'\] in \[outputs\]"),
    (lambda s: s.replace("bands = [5, 10]", "bands = [5, 7]"), "multiple of the one before"),
    (lambda s: s + '\n[hierarchies.sex]\nF = ["any"]\n',
     r"spec.toml: column 'sex': value 'M' is not covered by its hierarchy"),
    (lambda s: s + '\n[hierarchies.zip]\ntype = "intervals"\nlevels = [[0, 500]]\n',
     r"column 'zip': value '\d+' is not covered by its hierarchy \(intervals cover 0 to 500\)"),
    (lambda s: s.replace('secret_file = "project.key"', 'secret_file = "k"\nsecret_env = "E"'),
     "secret_file or secret_env, not both"),
    (lambda s: s.replace('secret_file = "project.key"\n', ""), "no project secret"),
    (lambda s: s.replace('secret_file = "project.key"', 'secret_file = "absent.key"'),
     "secret file not found"),
    (lambda s: s.replace('input = "linked.csv"', 'input = "absent.csv"'), "input file not found"),
    (lambda s: s.replace("k = 4", "k = = 4"), "spec.toml: not a valid TOML spec"),
    (lambda s: 'order = "random"\n' + s, "order must be one of"),
])
def test_bad_specs_fail_clearly_and_write_nothing(workdir, edit, message):
    path = write_spec(workdir, edit(SPEC))
    with pytest.raises(DataError, match=message):
        disclosure.extract_from_spec(path)
    assert not (workdir / "out").exists() or not any((workdir / "out").iterdir())


def test_missing_spec_file(tmp_path):
    with pytest.raises(DataError, match="spec file not found"):
        disclosure.extract_from_spec(tmp_path / "nope.toml")


def test_outputs_must_differ(workdir):
    text = SPEC.replace('data = "out/extract.csv"', 'data = "out/a.csv"\nreport = "out/a.csv"')
    with pytest.raises(DataError, match="four different files"):
        disclosure.extract_from_spec(write_spec(workdir, text))


def test_files_are_relative_to_the_spec_folder(workdir, monkeypatch):
    monkeypatch.chdir(os.path.dirname(workdir))
    result = disclosure.extract_from_spec(Path(workdir.name) / "spec.toml")
    assert (workdir / "out" / "extract.csv").is_file()
    assert len(result.data) > 0
