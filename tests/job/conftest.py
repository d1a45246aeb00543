"""Generated multi-agency data for the job tests (encoded once per session) and spec helpers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import pprl

SECRET = pprl.Secret(b"job tests secret: 32 bytes!!!!!!")
AGENCIES = ("education", "colleges", "employment")
RECORDS = 300


@dataclass(frozen=True)
class Year:
    """Encodings files of one year (``files[name]``) and the truth (agency, record_id,
    entity_id)."""

    folder: Path
    files: dict
    truth: pd.DataFrame


def _encode_year(folder: Path, year: int) -> Year:
    frames, truth = pprl.datasets.agencies(list(AGENCIES), RECORDS, year=year, seed=11)
    schema = pprl.encode.default_schema()
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, frame in frames.items():
        files[name] = folder / f"{name}.parquet"
        pprl.encode.clks(frame, schema, SECRET, id_column="record_id").write(files[name])
    return Year(folder, files, truth)


@pytest.fixture(scope="session")
def years(tmp_path_factory) -> tuple[Year, Year]:
    """This year's and next year's encodings of three agencies sharing one population."""
    root = tmp_path_factory.mktemp("agencies")
    return _encode_year(root / "y0", 0), _encode_year(root / "y1", 1)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def write_spec(path: Path, files: dict, output: str | Path = "out", *, tables: dict | None = None,
               agency_extra: dict | None = None, **keys) -> Path:
    """A TOML job spec: top-level ``keys``, ``tables`` ({"dask": {...}}), one [[agencies]] per
    file (``agency_extra[name]`` adds keys to that agency)."""
    lines = [f"output = {toml_value(output)}"]
    lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    for name, table in (tables or {}).items():
        lines += ["", f"[{name}]"] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    for name, file in files.items():
        lines += ["", "[[agencies]]", f"name = {toml_value(name)}",
                  f"encodings = {toml_value(file)}"]
        lines += [f"{k} = {toml_value(v)}" for k, v in (agency_extra or {}).get(name, {}).items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def outputs_digest(output: Path) -> dict[str, str]:
    """Hashes of the deterministic outputs: entity table, pair files, clusters, report tables."""
    names = ["entities.parquet", "work/clusters.parquet", "work/changes.parquet",
             "work/thresholds.json", "report/agencies.csv", "report/entity_sizes.csv",
             "report/pairs.csv", "report/changes.csv"]
    pairs = (output / "work" / "pairs").glob("*.parquet")
    names += sorted(p.relative_to(output).as_posix() for p in pairs)
    return {n: digest(output / n) for n in names}
