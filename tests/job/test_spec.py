"""The job spec: defaults, paths, and every problem reported at once."""

from __future__ import annotations

import dataclasses
import json

import pytest

import pprl
from pprl.job import JobSpecError, load_spec
from pprl.job.spec import DEFAULT_PARTITION_ROWS

from .conftest import write_spec


@pytest.fixture
def files(tmp_path):
    """Two (empty-content) files standing in for encodings: the spec only checks they exist."""
    out = {}
    for name in ("education", "workforce"):
        out[name] = tmp_path / "data" / f"{name}.parquet"
        out[name].parent.mkdir(exist_ok=True)
        out[name].write_bytes(b"x")
    return out


def test_minimal_spec_defaults_and_relative_paths(tmp_path, files):
    spec_file = write_spec(tmp_path / "job.toml", {k: f"data/{k}.parquet" for k in files},
                           "linkage-2026")
    spec = load_spec(spec_file)
    assert spec.output == tmp_path / "linkage-2026"
    assert spec.entities_path == tmp_path / "linkage-2026" / "entities.parquet"
    assert [a.encodings for a in spec.agencies] == [files["education"], files["workforce"]]
    assert spec.names == ("education", "workforce")
    assert (spec.threshold, spec.solver, spec.blocking) == ("auto", "greedy", "auto")
    assert (spec.candidate_threshold, spec.top_k) == (0.5, 10)
    assert spec.partition_rows == DEFAULT_PARTITION_ROWS
    assert spec.previous is None and spec.scheduler is None and spec.fingerprint is None


def test_every_key(tmp_path, files):
    prev = tmp_path / "last" / "entities.parquet"
    prev.parent.mkdir()
    prev.write_bytes(b"x")
    spec = load_spec(write_spec(
        tmp_path / "job.toml", files, "out", threshold=0.8, previous="last/entities.parquet",
        fingerprint="abc", blocking="lsh", candidate_threshold=0.6, top_k=0, solver="optimal",
        recall=0.95, seed=7, partition_rows=1000, workers=2, id_prefix="P", id_width=6,
        tables={"dask": {"scheduler": "tcp://10.0.0.1:8786", "threads_per_task": 4},
                "report": {"title": "Statewide 2026", "histograms": False}},
        agency_extra={"education": {"rows": 12}}))
    assert spec.threshold == 0.8 and spec.previous == prev and spec.fingerprint == "abc"
    assert spec.top_k is None  # 0: no top-k
    assert (spec.blocking, spec.solver, spec.recall, spec.seed) == ("lsh", "optimal", 0.95, 7)
    assert (spec.partition_rows, spec.workers, spec.id_prefix, spec.id_width) == (1000, 2, "P", 6)
    assert (spec.scheduler, spec.threads_per_task) == ("tcp://10.0.0.1:8786", 4)
    assert (spec.title, spec.histograms) == ("Statewide 2026", False)
    assert [a.rows for a in spec.agencies] == [12, None]
    assert spec.pair_params() == {"candidate_threshold": 0.6, "top_k": None, "blocking": "lsh",
                                  "recall": 0.95, "seed": 7, "partition_rows": 1000}


def test_all_problems_at_once(tmp_path, files):
    text = f"""
output = "out"
threshold = "high"
candidate_threshold = 1.5
solver = "fastest"
top_k = -1
colour = "blue"
[dask]
schedular = "tcp://x:1"
[[agencies]]
name = "education"
encodings = "{files['education']}"
[[agencies]]
name = "Education"
encodings = "missing.parquet"
[[agencies]]
name = "bad__name"
encodings = "{files['workforce']}"
size = 3
"""
    (tmp_path / "job.toml").write_text(text)
    with pytest.raises(JobSpecError) as info:
        load_spec(tmp_path / "job.toml")
    errors = info.value.errors
    expected = [
        "threshold: must be 'auto' or a number in (0, 1], got 'high'",
        "candidate_threshold: must be in [0, 1], got 1.5",
        "solver: must be one of greedy, optimal, got 'fastest'",
        "top_k: must be >= 0, got -1",
        "colour: unknown key",
        "dask.schedular: unknown key",
        "agencies[1].name: 'Education' is also the name of agencies[0]",
        "agencies[1].encodings: file not found:",
        "agencies[2].name: 'bad__name': use letters, digits",
        "agencies[2].size: unknown key",
    ]
    for e in expected:
        assert any(x.startswith(e) for x in errors), (e, errors)
    assert len(errors) == len(expected)
    assert str(info.value).count("\n  - ") == len(expected)
    assert isinstance(info.value, pprl.DataError)


def test_threshold_and_candidate_threshold_agree(tmp_path, files):
    with pytest.raises(JobSpecError, match=r"candidate_threshold: 0.9 is above threshold 0.8"):
        load_spec(write_spec(tmp_path / "job.toml", files, threshold=0.8, candidate_threshold=0.9))


def test_agencies_required(tmp_path, files):
    (tmp_path / "job.toml").write_text('output = "out"\n')
    with pytest.raises(JobSpecError, match=r"agencies: missing"):
        load_spec(tmp_path / "job.toml")
    one = {"education": files["education"]}
    with pytest.raises(JobSpecError, match=r"at least 2 agencies, got 1"):
        load_spec(write_spec(tmp_path / "job.toml", one))
    with pytest.raises(JobSpecError, match=r"agencies\[2\].encodings: same file as agencies\[0\]"):
        load_spec(write_spec(tmp_path / "job.toml", files | {"other": files["education"]}))


def test_previous_cannot_be_this_jobs_output(tmp_path, files):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "entities.parquet").write_bytes(b"x")
    with pytest.raises(JobSpecError, match=r"previous: is this job's own output"):
        load_spec(write_spec(tmp_path / "job.toml", files, previous="out/entities.parquet"))


def test_schema_gives_the_expected_fingerprint(tmp_path, files):
    schema = pprl.encode.default_schema()
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema.to_dict()))
    spec = load_spec(write_spec(tmp_path / "job.toml", files, schema="schema.json"))
    assert spec.fingerprint == schema.fingerprint
    with pytest.raises(JobSpecError, match=r"give either 'fingerprint' or 'schema'"):
        load_spec(write_spec(tmp_path / "job.toml", files, schema="schema.json", fingerprint="a"))
    path.write_text("{}")
    with pytest.raises(JobSpecError, match=r"schema: "):
        load_spec(write_spec(tmp_path / "job.toml", files, schema="schema.json"))


def test_yaml_spec_equals_toml(tmp_path, files):
    toml = load_spec(write_spec(tmp_path / "job.toml", files, threshold=0.75, solver="optimal"))
    agencies = "\n".join(f"  - name: {k}\n    encodings: {v}" for k, v in files.items())
    (tmp_path / "job.yaml").write_text(f"output: out\nthreshold: 0.75\nsolver: optimal\n"
                                       f"agencies:\n{agencies}\n")
    yaml_spec = load_spec(tmp_path / "job.yaml")
    assert dataclasses.replace(yaml_spec, path=toml.path) == toml


def test_unreadable_specs(tmp_path):
    with pytest.raises(pprl.DataError, match=r"job spec not found: .*nope.toml"):
        load_spec(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("output = \n")
    with pytest.raises(pprl.DataError, match=r"bad.toml: not valid TOML"):
        load_spec(tmp_path / "bad.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(pprl.DataError, match=r"bin.toml: job spec is not UTF-8 text"):
        load_spec(tmp_path / "bin.toml")
