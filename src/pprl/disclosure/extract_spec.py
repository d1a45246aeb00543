"""``pprl extract SPEC``: a research extract driven by a small TOML (or JSON) spec file.

```toml
input = "linked.csv"                 # CSV (cells read verbatim as text) or Parquet
id_column = "entity_id"              # replaced by project pseudonyms
quasi_identifiers = ["dob", "sex", "zip"]
k = 5
drop = ["first_name", "last_name"]   # direct identifiers to remove (optional)
max_suppression = 0.05               # optional, share of records that may be removed
sensitive = "diagnosis"              # optional: l-diversity of this column is reported
l_diversity = 2                      # optional: and enforced
secret_file = "project.key"          # or secret_env = "PROJECT_SECRET"; never the key itself
order = "pseudonym"                  # optional: rows sorted by pseudonym (default) or "input"

[outputs]
data = "out/extract.csv"             # .csv or .parquet
report = "out/extract.report.json"   # optional; default <data stem>.report.json
report_md = "out/extract.report.md"  # optional; default <data stem>.report.md
manifest = "out/extract.manifest.json"  # optional; default <data stem>.manifest.json

[hierarchies.dob]                    # optional, per quasi-identifier; others are inferred
type = "date"
bands = [5, 10]
[hierarchies.zip]
type = "prefix"
lengths = [3]
```

Relative paths are relative to the spec file's folder. The outputs are written atomically, the
manifest last, so a manifest names only complete outputs.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .._log import logger
from ..errors import DataError
from ..io import PARQUET_SUFFIXES, atomic_path, read_table
from ..secret import Secret
from .extract_core import PSEUDONYM_HEX, ExtractResult, extract_with_report, key_id

REQUIRED = ("input", "id_column", "quasi_identifiers", "k", "outputs")
OPTIONAL = ("drop", "max_suppression", "sensitive", "l_diversity", "hierarchies", "secret_file",
            "secret_env", "order")
OUTPUT_KEYS = ("data", "report", "report_md", "manifest")
ORDERS = ("pseudonym", "input")


def load_spec(spec_path: str | os.PathLike) -> dict:
    """Parse and check a spec file (TOML, or JSON by its suffix); DataError naming file and key."""
    path = Path(spec_path)
    if not path.is_file():
        raise DataError(f"spec file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
        spec = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except UnicodeDecodeError:
        raise DataError(f"{path}: spec is not UTF-8 text") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a valid {'JSON' if path.suffix == '.json' else 'TOML'} "
                        f"spec ({err})") from None
    if not isinstance(spec, dict):
        raise DataError(f"{path}: the spec must be a table of keys")
    _check_spec(path, spec)
    return spec


def _check_spec(path: Path, spec: dict) -> None:
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise DataError(f"{path}: missing key(s) {missing}")
    unknown = sorted(set(spec) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise DataError(f"{path}: unknown key(s) {unknown} (allowed: {sorted(REQUIRED + OPTIONAL)})")

    def need(key, kind, what):
        if key in spec and not (isinstance(spec[key], kind) and not isinstance(spec[key], bool)):
            raise DataError(f"{path}: {key} must be {what} (got {spec[key]!r})")

    need("input", str, "a file path")
    need("id_column", str, "a column name")
    need("k", int, "an integer >= 2")
    need("max_suppression", int | float, "a share in [0, 1)")
    need("sensitive", str, "a column name")
    need("l_diversity", int, "an integer >= 2")
    need("secret_file", str, "a file path")
    need("secret_env", str, "an environment variable name")
    need("hierarchies", dict, "a table of column -> hierarchy")
    need("outputs", dict, "a table with at least `data`")
    for key in ("quasi_identifiers", "drop"):
        value = spec.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataError(f"{path}: {key} must be a list of column names (got {value!r})")
    if spec.get("order", "pseudonym") not in ORDERS:
        raise DataError(f"{path}: order must be one of {list(ORDERS)} (got {spec['order']!r})")
    outputs = spec["outputs"]
    bad = sorted(set(outputs) - set(OUTPUT_KEYS))
    if bad:
        raise DataError(f"{path}: unknown key(s) {bad} in [outputs] (allowed: {list(OUTPUT_KEYS)})")
    if "data" not in outputs:
        raise DataError(f"{path}: [outputs] needs `data` (a .csv or .parquet path)")
    for key, value in outputs.items():
        if not isinstance(value, str):
            raise DataError(f"{path}: outputs.{key} must be a file path (got {value!r})")
    suffix = Path(outputs["data"]).suffix.lower()
    if suffix not in PARQUET_SUFFIXES | {".csv"}:
        raise DataError(f"{path}: outputs.data must end in .csv or .parquet (got {outputs['data']!r})")
    if "secret_file" in spec and "secret_env" in spec:
        raise DataError(f"{path}: give secret_file or secret_env, not both")


def _secret(path: Path, spec: Mapping, given: Secret | None) -> tuple[Secret, str]:
    if given is not None:
        if not isinstance(given, Secret):
            raise TypeError("project_secret must be a pprl.Secret")
        return given, "argument"
    if "secret_file" in spec:
        return Secret.from_file(path.parent / spec["secret_file"]), "file"
    if "secret_env" in spec:
        return Secret.from_env(spec["secret_env"]), "environment"
    raise DataError(f"{path}: no project secret: set secret_file or secret_env in the spec")


def _output_paths(base: Path, outputs: Mapping) -> dict[str, Path]:
    data = base / outputs["data"]
    stem = data.with_suffix("")
    defaults = {"report": f"{stem}.report.json", "report_md": f"{stem}.report.md",
                "manifest": f"{stem}.manifest.json"}
    paths = {"data": data}
    for key, default in defaults.items():
        paths[key] = base / outputs[key] if key in outputs else Path(default)
    if len(set(paths.values())) != len(paths):
        raise DataError(f"outputs must be four different files (got {sorted(map(str, paths.values()))})")
    return paths


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_data(df: pd.DataFrame, tmp: Path, suffix: str) -> None:
    if suffix == ".csv":
        df.to_csv(tmp, index=False)
    else:
        df.to_parquet(tmp, index=False)


def extract_from_spec(spec_path: str | os.PathLike, project_secret: Secret | None = None
                      ) -> ExtractResult:
    """Everything ``pprl extract SPEC`` does: read the spec and the input, make the extract, and
    write the data, the report (JSON and Markdown) and the manifest atomically (manifest last).

    The project secret comes from ``project_secret`` if given, else from the spec's
    ``secret_file`` or ``secret_env``; it never appears in any output. Returns the extract as
    written (rows in the spec's ``order``) and its report; ``result.files`` maps each output
    (``data``, ``report``, ``report_md``, ``manifest``) to its path.
    """
    path = Path(spec_path)
    spec = load_spec(path)
    base = path.parent
    secret, secret_source = _secret(path, spec, project_secret)
    paths = _output_paths(base, spec["outputs"])
    input_path = base / spec["input"]
    logger.info("extract: reading %s", input_path)
    df = read_table(input_path)
    try:
        result = extract_with_report(
            df, spec["id_column"], spec["quasi_identifiers"], spec["k"], secret,
            spec.get("drop", []), hierarchies=spec.get("hierarchies"),
            max_suppression=spec.get("max_suppression", 0.05), sensitive=spec.get("sensitive"),
            l_diversity=spec.get("l_diversity"))
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
    data = result.data
    order = spec.get("order", "pseudonym")
    if order == "pseudonym":
        data = data.sort_values(spec["id_column"], kind="stable")
    data = data.reset_index(drop=True)

    with contextlib.ExitStack() as stack:
        tmp = {key: stack.enter_context(atomic_path(paths[key]))
               for key in ("manifest", "report_md", "report", "data")}  # renamed in reverse order
        _write_data(data, tmp["data"], paths["data"].suffix.lower())
        tmp["report"].write_text(result.report.to_json() + "\n", encoding="utf-8")
        tmp["report_md"].write_text(result.report.to_markdown(), encoding="utf-8")
        manifest = _manifest(path, spec, input_path, df, data, result, paths, tmp, order,
                             secret, secret_source)
        tmp["manifest"].write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    logger.info("extract: wrote %s (%d records) and its report and manifest", paths["data"], len(data))
    return ExtractResult(data, result.report, dict(paths))


def _manifest(spec_path, spec, input_path, df, data, result, paths, tmp, order, secret,
              secret_source) -> dict:
    from .. import __version__

    report = result.report
    steps = [
        f"read {len(df):,} records and {df.shape[1]} columns from {input_path.name}",
        f"replaced {report.id_column} with project pseudonyms (HMAC-SHA256 under a key derived "
        f"from the project secret, first {PSEUDONYM_HEX} hex digits)",
        f"removed columns {report.dropped}" if report.dropped else "removed no columns",
        *[f"generalised {c.name} to '{c.level_name}' (level {c.level} of {len(c.levels) - 1}, "
          f"{c.distinct_before:,} -> {c.distinct_after:,} distinct values)"
          for c in report.quasi_identifiers],
        f"removed {report.records_suppressed:,} records left in classes smaller than k={report.k}"
        + (f" or with fewer than {report.l_diversity} distinct {report.sensitive}"
           if report.l_diversity else ""),
        "sorted the rows by pseudonym" if order == "pseudonym" else "kept the input's row order",
    ]
    return {
        "tool": "pprl extract",
        "pprl_version": __version__,
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "created_utc": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "spec": spec_path.name,
        "input": {"file": input_path.name, "sha256": _sha256(input_path), "records": len(df),
                  "columns": [str(c) for c in df.columns]},
        "outputs": {
            key: {"file": os.path.relpath(paths[key], paths["manifest"].parent),
                  "sha256": _sha256(tmp[key]),
                  **({"records": len(data), "columns": [str(c) for c in data.columns]}
                     if key == "data" else {})}
            for key in ("data", "report", "report_md")
        },
        "parameters": {
            "id_column": spec["id_column"], "quasi_identifiers": spec["quasi_identifiers"],
            "k": spec["k"], "drop": spec.get("drop", []),
            "max_suppression": report.max_suppression, "sensitive": spec.get("sensitive"),
            "l_diversity": spec.get("l_diversity"), "order": order,
            "hierarchies": {c.name: {**c.hierarchy_spec, "inferred": c.inferred}
                            for c in report.quasi_identifiers},
        },
        "project_key": {"source": secret_source, "key_id": key_id(secret)},
        "steps": steps,
        "summary": {"records_in": report.records_in, "records_out": report.records_out,
                    "records_suppressed": report.records_suppressed,
                    "information_loss": report.information_loss,
                    "smallest_class": report.after.smallest_class},
    }
