"""Release files for dashboards: CSV, Parquet and JSON with a metadata block, from a spec file.

A release spec (TOML) names the data, the output folder, an optional privacy budget ledger and
the tables::

    data = "linked.parquet"            # CSV or Parquet, relative to the spec file
    output = "release-2026"            # folder for the files
    formats = ["csv", "parquet", "json"]

    [budget]                           # needed by "dp" tables
    epsilon = 1.0                      # or rho = ...
    path = "budget-2026.json"          # the ledger persists across runs

    [suppression]                      # settings shared by every "suppress" table
    threshold = 11
    suppress_zeros = false
    publish_reason = false             # a published "reason" tells which cells are < threshold

    [[tables]]
    name = "outcomes_by_race_gender"
    method = "suppress"                # every suppress table is protected together
    dimensions = ["race", "gender"]

    [[tables]]
    name = "earnings_by_race"
    method = "dp"
    dimensions = ["race"]
    measure = "mean"                   # count (default) | sum | mean
    value = "earnings"
    bounds = [0, 200000]
    epsilon = 0.3                      # or rho = ...
    margins = true
    privacy_unit = "entity_id"
    categories = { race = ["A", "B", "C"] }
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from .._log import logger
from ..errors import DataError, PprlError
from ..io import atomic_path, read_table
from ._budget import Budget
from ._dp import Privacy, dp_counts, dp_means, dp_sums, layout
from ._suppress import suppress

FORMATS = ("csv", "parquet", "json")
_DP = {"count": dp_counts, "sum": dp_sums, "mean": dp_means}
_TABLE_KEYS = {"name", "method", "dimensions", "measure", "value", "bounds", "epsilon", "rho",
               "margins", "privacy_unit", "max_contributions", "categories", "resolution",
               "alpha", "moe_share"}


def write_release(
    table: pd.DataFrame,
    path: str | os.PathLike,
    metadata: Mapping[str, object] | None = None,
    *,
    formats: Sequence[str] = FORMATS,
) -> dict[str, Path]:
    """Write ``table`` as ``path``.csv / .parquet / .json (atomically) with a metadata block.

    ``path`` is a prefix (a suffix among .csv/.parquet/.json is dropped). The metadata
    (``metadata``, else ``table.attrs["pprl"]``) gets ``created`` (UTC time) and ``pprl_version``;
    the JSON file is ``{"metadata": ..., "data": [rows]}``, the Parquet file keeps it under the
    schema metadata key ``pprl``, and the CSV has the data only (its metadata is in the JSON).
    Returns the written paths by format.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats must be a non-empty subset of {list(FORMATS)}, got {formats!r}")
    prefix = Path(path)
    if prefix.suffix.lower() in {".csv", ".parquet", ".json"}:
        prefix = prefix.with_suffix("")
    meta = dict(metadata if metadata is not None else table.attrs.get("pprl", {}))
    meta.setdefault("created", datetime.now(UTC).isoformat(timespec="seconds"))
    meta.setdefault("pprl_version", __version__)
    meta_json = json.dumps(_jsonable(meta), sort_keys=True)
    frame = _portable(table)
    written: dict[str, Path] = {}
    for fmt in formats:
        target = prefix.with_name(f"{prefix.name}.{fmt}")
        with atomic_path(target) as tmp:
            if fmt == "csv":
                frame.to_csv(tmp, index=False)
            elif fmt == "parquet":
                arrow = pa.Table.from_pandas(frame, preserve_index=False)
                schema_meta = dict(arrow.schema.metadata or {})
                schema_meta[b"pprl"] = meta_json.encode("utf-8")
                pq.write_table(arrow.replace_schema_metadata(schema_meta), tmp)
            else:
                records = json.loads(frame.to_json(orient="records"))
                doc = {"metadata": json.loads(meta_json), "data": records}
                tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        written[fmt] = target
    logger.info("release: wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def _portable(table: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types (a year column with "Total") become text for Parquet."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col] if v is not None}
            if len(kinds) > 1:
                out[col] = out[col].map(lambda v: v if v is None else str(v))
    out.attrs = {}
    return out


def _jsonable(value: object) -> object:
    """Metadata as plain JSON types (numpy scalars, paths and NaN handled)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# -- spec-driven releases -----------------------------------------------------------------------
def release(
    spec: str | os.PathLike | Mapping[str, object],
    *,
    data: pd.DataFrame | None = None,
    base_dir: str | os.PathLike | None = None,
) -> dict[str, dict[str, Path]]:
    """Run a release spec (a TOML file or the same as a dict) and write every table's files.

    Relative paths in the spec resolve against the spec file's folder (or ``base_dir``, default
    the working directory, for a dict). ``data`` replaces the spec's ``data`` file. All
    ``suppress`` tables are protected together (one table cannot undo another's suppression);
    the total privacy loss of all ``dp`` tables is checked against the budget before any noise is
    drawn, so an overspending spec writes nothing. Returns ``{table name: {format: path}}``.
    """
    spec_dict, origin, base = _load_spec(spec, base_dir)
    tables = _tables(spec_dict, origin)
    frame = data if data is not None else read_table(base / _required(spec_dict, "data", origin))
    output = base / str(_required(spec_dict, "output", origin))
    formats = spec_dict.get("formats", list(FORMATS))
    if not isinstance(formats, list) or not formats or any(f not in FORMATS for f in formats):
        raise DataError(f"{origin}: formats must be a non-empty list among {list(FORMATS)}")
    dp_tables = [t for t in tables if t["method"] == "dp"]
    budget = _budget(spec_dict, base, origin) if dp_tables else None
    if budget is not None:
        _precheck(frame, dp_tables, budget, origin)
    results: dict[str, tuple[pd.DataFrame, dict]] = {}
    results.update(_suppressed(frame, [t for t in tables if t["method"] == "suppress"],
                               spec_dict, origin))
    for t in dp_tables:
        results[t["name"]] = _dp_table(frame, t, budget, origin)
    written = {}
    stamp = {"release": spec_dict.get("name", origin), "data": str(spec_dict.get("data", "<frame>"))}
    for t in tables:
        table, meta = results[t["name"]]
        meta = {**meta, **stamp, "spec": t}
        written[t["name"]] = write_release(table, output / t["name"], meta, formats=formats)
    return written


def _load_spec(spec, base_dir) -> tuple[dict, str, Path]:
    if isinstance(spec, Mapping):
        return dict(spec), "release spec", Path(base_dir) if base_dir else Path.cwd()
    path = Path(spec)
    try:
        with open(path, "rb") as fh:
            parsed = tomllib.load(fh)
    except FileNotFoundError:
        raise DataError(f"release spec not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"release spec {path}: not valid TOML ({err})") from None
    return parsed, f"release spec {path}", Path(base_dir) if base_dir else path.parent


def _required(spec: Mapping, key: str, origin: str) -> object:
    if key not in spec:
        raise DataError(f"{origin}: missing key {key!r}")
    return spec[key]


def _tables(spec: Mapping, origin: str) -> list[dict]:
    tables = _required(spec, "tables", origin)
    if not isinstance(tables, list) or not tables:
        raise DataError(f"{origin}: 'tables' must be a non-empty list of [[tables]]")
    names: set[str] = set()
    out = []
    for i, t in enumerate(tables):
        where = f"{origin}: tables[{i}]"
        if not isinstance(t, Mapping):
            raise DataError(f"{where} must be a table")
        unknown = set(t) - _TABLE_KEYS
        if unknown:
            raise DataError(f"{where}: unknown keys {sorted(unknown)}")
        name = t.get("name")
        if not isinstance(name, str) or not name or "/" in name or name in names:
            raise DataError(f"{where}: 'name' must be a unique file-name-safe string")
        names.add(name)
        if t.get("method") not in ("suppress", "dp"):
            raise DataError(f"{where} ({name}): 'method' must be 'suppress' or 'dp'")
        dims = t.get("dimensions")
        if not isinstance(dims, list) or not dims or not all(isinstance(d, str) for d in dims):
            raise DataError(f"{where} ({name}): 'dimensions' must be a list of column names")
        measure = t.get("measure", "count")
        if measure not in _DP or (t["method"] == "suppress" and measure != "count"):
            raise DataError(f"{where} ({name}): 'measure' must be count, sum or mean "
                            "(suppression publishes counts only)")
        if t["method"] == "dp" and not isinstance(t.get("categories"), Mapping):
            raise DataError(f"{where} ({name}): a dp table needs public 'categories' "
                            "(column -> list), never read from the data")
        if t["method"] == "dp" and measure != "count" and ("value" not in t or "bounds" not in t):
            raise DataError(f"{where} ({name}): measure {measure!r} needs 'value' and 'bounds'")
        out.append({**t, "measure": measure})
    return out


def _budget(spec: Mapping, base: Path, origin: str) -> Budget:
    b = spec.get("budget")
    if not isinstance(b, Mapping):
        raise DataError(f"{origin}: dp tables need a [budget] with epsilon or rho (and a path)")
    path = b.get("path")
    if path is None:
        logger.warning("%s: [budget] has no path; the ledger will not persist across runs", origin)
    try:
        return Budget(b.get("epsilon"), rho=b.get("rho"),
                      path=base / str(path) if path is not None else None)
    except ValueError as err:
        raise DataError(f"{origin}: [budget]: {err}") from None


def _dp_args(t: Mapping) -> dict:
    keys = ("epsilon", "rho", "privacy_unit", "max_contributions", "margins", "alpha",
            "moe_share")
    args = {k: t[k] for k in keys if k in t}
    if t["measure"] != "count":
        args.update(value=t["value"], bounds=tuple(t["bounds"]))
        if "resolution" in t:
            args["resolution"] = t["resolution"]
    return args


def _precheck(frame: pd.DataFrame, dp_tables: list[dict], budget: Budget, origin: str) -> None:
    """Refuse the whole release before any noise if its dp tables together would overspend."""
    total = 0.0
    for t in dp_tables:
        try:
            privacy = Privacy.of(t.get("epsilon"), t.get("rho"))
        except ValueError as err:
            raise DataError(f"{origin}: table {t['name']}: {err}") from None
        if privacy.measure == "rho" and budget.measure == "epsilon":
            raise DataError(f"{origin}: table {t['name']} spends rho but the budget is epsilon")
        # a table's cost: its requested amount (split in two for a mean), each part converted
        # to the ledger's measure (epsilon-DP is epsilon**2/2-zCDP)
        parts = 2 if t["measure"] == "mean" else 1
        part = privacy.amount / parts
        total += parts * (part if privacy.measure == budget.measure else part**2 / 2)
        layout(frame, t["dimensions"], _as_text_where_text(frame, t["categories"]),
               privacy_unit=t.get("privacy_unit"),
               max_contributions=t.get("max_contributions", 1), margins=t.get("margins", False),
               value=t.get("value"))
    budget.check(total, f"{origin} ({len(dp_tables)} dp tables)")


def _as_text_where_text(frame: pd.DataFrame, categories: Mapping) -> dict:
    """Spec categories as text for columns read as text (CSV cells are text: year 2024 in the
    spec must match "2024" in the data)."""
    out = {}
    for col, cats in categories.items():
        textual = col in frame.columns and pd.api.types.is_string_dtype(frame[col])
        out[col] = [str(c) for c in cats] if textual else list(cats)
    return out


def _dp_table(frame: pd.DataFrame, t: dict, budget: Budget | None, origin: str):
    fn = _DP[t["measure"]]
    categories = _as_text_where_text(frame, t["categories"])
    try:
        result = fn(frame, t["dimensions"], categories=categories, budget=budget,
                    label=f"{origin}: {t['name']}", **_dp_args(t))
    except PprlError:
        raise
    except (TypeError, ValueError) as err:
        raise DataError(f"{origin}: table {t['name']}: {err}") from None
    meta = dict(result.attrs.get("pprl", {}))
    if budget is not None:
        meta["budget"] = {"measure": budget.measure, "total": budget.total,
                          "spent_after": budget.spent}
    return result, meta


def _suppressed(frame: pd.DataFrame, tables: list[dict], spec: Mapping, origin: str) -> dict:
    if not tables:
        return {}
    opts = spec.get("suppression", {})
    if not isinstance(opts, Mapping) or set(opts) - {"threshold", "suppress_zeros",
                                                      "publish_reason"}:
        raise DataError(f"{origin}: [suppression] takes threshold, suppress_zeros, publish_reason")
    threshold = opts.get("threshold", 11)
    zeros = bool(opts.get("suppress_zeros", False))
    frames = suppress(frame, [t["dimensions"] for t in tables], threshold,
                      suppress_zeros=zeros)
    names = [t["name"] for t in tables]
    out = {}
    for t, f in zip(tables, frames, strict=True):
        if not opts.get("publish_reason", False):
            f = f.drop(columns="reason")
        meta = {"method": "suppress", "threshold": threshold, "suppress_zeros": zeros,
                "by": t["dimensions"], "protected_with": [n for n in names if n != t["name"]],
                "suppressed_cells": int(f["suppressed"].sum())}
        out[t["name"]] = (f, meta)
    return out
