"""The command line: happy paths and every bad-input case of issue #2 (one-line message, exit code,
no output left behind, secret never shown)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import pprl
from pprl.cli import main

SECRET = "cli-test-secret-that-must-never-be-printed"


@pytest.fixture(scope="module")
def extracts():
    return pprl.datasets.extracts(300, 300, overlap=0.6, corruption="low", seed=7)


@pytest.fixture
def files(tmp_path, extracts):
    df_a, df_b, _ = extracts
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(pprl.encode.default_schema().to_dict()))
    key = tmp_path / "key.txt"
    key.write_text(SECRET + "\n")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    df_a.to_csv(a, index=False)
    df_b.to_csv(b, index=False)
    return {"schema": schema, "key": key, "a": a, "b": b, "dir": tmp_path}


def run(capsys, *argv: str | Path) -> tuple[int, str]:
    """Run the CLI in-process; returns (exit code, stderr). Asserts the secret never shows."""
    try:
        code = main([str(x) for x in argv])
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    assert SECRET not in out.out and SECRET not in out.err
    return code, out.err


def encode_args(files, inp, out, *extra):
    return ("encode", inp, "--schema", files["schema"], "--secret-file", files["key"],
            "--id-column", "record_id", "--out", out, *extra)


def test_encode_then_link(capsys, files, extracts):
    _, _, truth = extracts
    ea, eb = files["dir"] / "a.parquet", files["dir"] / "b.parquet"
    assert run(capsys, *encode_args(files, files["a"], ea))[0] == 0
    assert run(capsys, *encode_args(files, files["b"], eb, "--chunk-rows", "70"))[0] == 0
    enc = pprl.Encodings.read(eb)
    assert len(enc) == 300 and enc.ids[0].startswith("B")
    out = files["dir"] / "links.csv"
    code, err = run(capsys, "link", ea, eb, "--threshold", "0.8", "--out", out)
    assert code == 0, err
    links = pd.read_csv(out, dtype={"left_id": str, "right_id": str})
    assert list(links.columns) == ["left_id", "right_id", "score"]
    assert links.score.min() >= 0.8 and links.left_id.is_unique and links.right_id.is_unique
    true = set(zip(truth.left_id, truth.right_id, strict=True))
    found = set(zip(links.left_id, links.right_id, strict=True))
    assert len(found & true) / len(found) > 0.95 and len(found & true) / len(true) > 0.8
    code, err = run(capsys, "link", ea, eb, "--out", files["dir"] / "auto.parquet")
    assert code == 0, err
    assert len(pd.read_parquet(files["dir"] / "auto.parquet")) > 0.8 * len(true)


def test_encode_json_output_is_clkhash_format(capsys, files):
    out = files["dir"] / "a.json"
    assert run(capsys, *encode_args(files, files["a"], out))[0] == 0
    clks = json.loads(out.read_text())["clks"]
    assert len(clks) == 300
    assert pprl.Encodings.from_clkhash(clks).nbits == pprl.encode.default_schema().nbits


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda f: f["dir"] / "absent.csv", "input file not found"),
        (lambda f: _write(f["dir"] / "empty.csv", b""), "input file is empty"),
        (lambda f: _write(f["dir"] / "latin1.csv", "record_id,first_name\n1,Jos\xe9\n".encode("latin-1")),
         "not UTF-8"),
        (lambda f: _write(f["dir"] / "nocol.csv", b"record_id,first_name\n1,ann\n"), "last_name"),
    ],
)
def test_encode_bad_input(capsys, files, setup, message):
    inp = setup(files)
    out = files["dir"] / "out.parquet"
    code, err = run(capsys, *encode_args(files, inp, out))
    assert code == 1 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(files["dir"].glob(".*tmp"))


def test_encode_invalid_value_names_row_and_column(capsys, files, tmp_path):
    schema = {
        "version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
        "features": [
            {"identifier": "record_id", "ignored": True},
            {"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"},
             "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 20}}},
        ],
    }
    (tmp_path / "v3.json").write_text(json.dumps(schema))
    _write(tmp_path / "d.csv", b"record_id,dob\n1,2001-02-03\n2,2001-02-03\n3,2001-13-45\n")
    out = tmp_path / "o.parquet"
    code, err = run(capsys, "encode", tmp_path / "d.csv", "--schema", tmp_path / "v3.json",
                    "--secret-file", files["key"], "--out", out)
    assert code == 1 and "column 'dob'" in err and "row 3" in err and not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "not found"), (b"{not json", "JSON"), (b'{"version": 3, "features": 5}', "features")],
)
def test_encode_bad_schema(capsys, files, content, message):
    path = files["dir"] / "bad_schema.json"
    if content is not None:
        path.write_bytes(content)
    out = files["dir"] / "out.parquet"
    code, err = run(capsys, "encode", files["a"], "--schema", path, "--secret-file", files["key"],
                    "--out", out)
    assert code == 1 and message in err and not out.exists()


def test_encode_bad_secret(capsys, files):
    out = files["dir"] / "out.parquet"
    code, err = run(capsys, "encode", files["a"], "--schema", files["schema"], "--secret-file",
                    files["dir"] / "nokey", "--out", out)
    assert code == 1 and "secret file not found" in err and not out.exists()
    _write(files["dir"] / "emptykey", b"\n")
    code, err = run(capsys, "encode", files["a"], "--schema", files["schema"], "--secret-file",
                    files["dir"] / "emptykey", "--out", out)
    assert code == 1 and "secret file is empty" in err and not out.exists()


def test_secret_is_not_a_command_line_argument(capsys, files):
    code, err = run(capsys, "encode", files["a"], "--schema", files["schema"], "--secret", SECRET,
                    "--out", files["dir"] / "o.parquet")
    assert code == 2 and "--secret" in err  # run() asserts the value itself is not echoed
    code, err = run(capsys, "encode", files["a"], "--schema", files["schema"], "--secret-file",
                    files["key"], "--out", files["dir"] / "o.parquet", SECRET)
    assert code == 2 and "unrecognized" in err


def test_link_rejects_different_lengths(capsys, files, tmp_path):
    import numpy as np

    a = pprl.Encodings(np.zeros((3, 16), dtype=np.uint64), nbits=1024)
    b = pprl.Encodings(np.zeros((3, 8), dtype=np.uint64), nbits=512)
    a.write(tmp_path / "a.parquet")
    b.write(tmp_path / "b.parquet")
    out = tmp_path / "links.csv"
    code, err = run(capsys, "link", tmp_path / "a.parquet", tmp_path / "b.parquet", "--out", out)
    assert code == 1 and "1024 bits" in err and "512 bits" in err and not out.exists()


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2", "high"])
def test_link_threshold_out_of_range(capsys, files, value):
    code, err = run(capsys, "link", files["a"], files["b"], "--threshold", value, "--out",
                    files["dir"] / "l.csv")
    assert code == 2 and "threshold" in err


def test_console_script_version_and_help():
    exe = Path(sys.executable).with_name("pprl")
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"pprl {pprl.__version__}"
    for cmd in ("encode", "link", "demo"):
        done = subprocess.run([exe, cmd, "--help"], capture_output=True, text=True, check=True)
        assert "usage: pprl " + cmd in done.stdout
    done = subprocess.run([exe, "frobnicate"], capture_output=True, text=True)
    assert done.returncode == 2


def test_demo_runs_and_reports_quality(capsys):
    from pprl.demo import run_demo

    numbers = run_demo(records=800, seed=3)
    assert numbers["f1"] > 0.9 and numbers["epsilon_spent"] == pytest.approx(0.5)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_release_and_extract_commands(capsys, tmp_path):
    import numpy as np

    rng = np.random.default_rng(1)
    pd.DataFrame({"race": rng.choice(list("ABC"), 400), "sex": rng.choice(list("FM"), 400)}).to_csv(
        tmp_path / "linked.csv", index=False)
    (tmp_path / "release.toml").write_text(
        'data = "linked.csv"\noutput = "pub"\n[budget]\nepsilon = 1.0\npath = "budget.json"\n'
        '[[tables]]\nname = "by_race_sex"\nmethod = "suppress"\ndimensions = ["race", "sex"]\n'
        '[[tables]]\nname = "dp_race"\nmethod = "dp"\ndimensions = ["race"]\nepsilon = 0.6\n'
        'categories = { race = ["A", "B", "C"] }\n')
    code, err = run(capsys, "release", tmp_path / "release.toml")
    assert code == 0, err
    assert {p.name for p in (tmp_path / "pub").iterdir()} >= {"by_race_sex.csv", "dp_race.json"}
    code, err = run(capsys, "release", tmp_path / "release.toml")  # 0.6 + 0.6 > 1.0
    assert code == 1 and "epsilon" in err

    people = pprl.datasets.population(600, seed=2)
    people.to_csv(tmp_path / "people.csv", index=False)
    (tmp_path / "project.key").write_text(SECRET + "\n")
    (tmp_path / "extract.toml").write_text(
        'input = "people.csv"\nid_column = "entity_id"\nquasi_identifiers = ["dob", "sex", "zip"]\n'
        'k = 5\ndrop = ["first_name", "last_name", "address"]\nsecret_file = "project.key"\n'
        '[outputs]\ndata = "out/extract.csv"\n')
    code, err = run(capsys, "extract", tmp_path / "extract.toml")
    assert code == 0, err
    out = pd.read_csv(tmp_path / "out" / "extract.csv", dtype=str)
    assert "first_name" not in out.columns and out.groupby(["dob", "sex", "zip"]).size().min() >= 5
    (tmp_path / "bad.toml").write_text('input = "people.csv"\nk = 1\n')
    code, err = run(capsys, "extract", tmp_path / "bad.toml")
    assert code == 1 and "bad.toml" in err


def test_job_run_and_status_commands(capsys, tmp_path):
    frames, _ = pprl.datasets.agencies(["education", "employment"], 200, seed=4)
    schema = pprl.encode.default_schema()
    secret = pprl.Secret(SECRET.encode())
    lines = ['output = "out"', 'threshold = "auto"']
    for name, frame in frames.items():
        pprl.encode.clks(frame, schema, secret, id_column="record_id").write(tmp_path / f"{name}.parquet")
        lines += ["[[agencies]]", f'name = "{name}"', f'encodings = "{name}.parquet"']
    spec = tmp_path / "job.toml"
    spec.write_text("\n".join(lines) + "\n")
    code, err = run(capsys, "job", "run", spec)
    assert code == 0, err
    entities = pd.read_parquet(tmp_path / "out" / "entities.parquet")
    assert list(entities.columns[:3]) == ["entity_id", "agency", "record_id"]
    assert not entities.duplicated(["entity_id", "agency"]).any()
    code, err = run(capsys, "job", "status", spec)
    assert code == 0, err
    (tmp_path / "broken.toml").write_text('output = "x"\n[[agencies]]\nname = "a"\n')
    code, err = run(capsys, "job", "run", tmp_path / "broken.toml")
    assert code == 1 and "encodings" in err


def test_audit_command(capsys, tmp_path):
    people = pprl.datasets.population(400, seed=9)
    enc = pprl.encode.clks(people, pprl.encode.default_schema(), pprl.Secret(SECRET.encode()),
                           id_column="entity_id")
    enc.write(tmp_path / "enc.parquet")
    pprl.datasets.population(600, seed=10).to_csv(tmp_path / "reference.csv", index=False)
    code, err = run(capsys, "audit", tmp_path / "enc.parquet", "--reference", tmp_path / "reference.csv")
    assert code == 0, err
    code, err = run(capsys, "audit", tmp_path / "enc.parquet", "--reference", tmp_path / "nope.csv")
    assert code == 1 and "nope.csv" in err
