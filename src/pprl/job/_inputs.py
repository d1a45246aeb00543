"""The validate stage: every input is checked before any linkage; all problems are reported at once.

Each agency's file must be a pprl encodings file with the expected schema fingerprint (the same for
all), the same CLK length, unique non-null ids and the expected row count; last year's entity table
must have ``entity_id``, ``agency``, ``record_id`` with ids of this job's form.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..encodings import CLK_COLUMN, ID_COLUMN, read_metadata, words_for
from ..errors import DataError
from .spec import AgencySpec, JobSpec, JobSpecError

ENTITY_COLUMNS = ("entity_id", "agency", "record_id")


def read_ids(path: Path) -> np.ndarray:
    """The ``id`` column of an encodings file."""
    return pq.read_table(path, columns=[ID_COLUMN]).column(ID_COLUMN).to_numpy(zero_copy_only=False)


def validate(spec: JobSpec) -> dict:
    """Check every input; returns the summary written to ``work/inputs.json``.

    Raises JobSpecError listing every problem found.
    """
    errors: list[str] = []
    agencies = [_agency(a, errors) for a in spec.agencies]
    found = [a for a in agencies if a is not None]
    _same(found, "nbits", "CLK length (bits)", errors)
    if spec.fingerprint is not None:
        for a in found:
            if a["fingerprint"] != spec.fingerprint:
                errors.append(f"agency {a['name']!r} ({a['file']}): schema fingerprint "
                              f"{_short(a['fingerprint'])} is not the expected "
                              f"{_short(spec.fingerprint)}")
    else:
        _same(found, "fingerprint", "schema fingerprint", errors)
    previous = None if spec.previous is None else _previous(spec, errors)
    if errors:
        raise JobSpecError(f"{spec.path}: inputs", errors)
    kinds = {a["id_type"] for a in found}
    return {"agencies": found, "previous": previous,
            "record_id_type": "int64" if kinds == {"int64"} else "string"}


def _short(fingerprint: str | None) -> str:
    return "(none)" if not fingerprint else fingerprint[:12] + "…"


def _same(found: list[dict], key: str, what: str, errors: list[str]) -> None:
    values = {a[key] for a in found}
    if len(values) > 1:
        detail = ", ".join(f"{a['name']}: {_short(a[key]) if key == 'fingerprint' else a[key]}"
                           for a in found)
        errors.append(f"agencies differ in {what} ({detail}); all must be encoded with one schema")


def _agency(agency: AgencySpec, errors: list[str]) -> dict | None:
    where = f"agency {agency.name!r} ({agency.encodings})"
    before = len(errors)
    try:
        meta = read_metadata(agency.encodings)
        pf = pq.ParquetFile(agency.encodings)
    except (DataError, pa.ArrowInvalid, OSError) as err:
        errors.append(f"{where}: {err}")
        return None
    schema = pf.schema_arrow
    nbits = int(meta.get("nbits", 0))
    n = pf.metadata.num_rows
    if CLK_COLUMN not in schema.names or ID_COLUMN not in schema.names:
        errors.append(f"{where}: missing the {ID_COLUMN!r} or {CLK_COLUMN!r} column")
        return None
    clk = schema.field(CLK_COLUMN).type
    if not pa.types.is_fixed_size_binary(clk) or clk.byte_width != words_for(max(nbits, 1)) * 8:
        errors.append(f"{where}: column {CLK_COLUMN!r} has type {clk}, which does not hold "
                      f"{nbits}-bit CLKs")
    if n == 0:
        errors.append(f"{where}: has no records")
    if agency.rows is not None and n != agency.rows:
        errors.append(f"{where}: has {n:,} records, the spec expects {agency.rows:,}")
    id_type = _id_type(schema.field(ID_COLUMN).type)
    if id_type is None:
        errors.append(f"{where}: column {ID_COLUMN!r} has type {schema.field(ID_COLUMN).type}; "
                      "record ids must be integers or text")
    else:
        _check_ids(read_ids(agency.encodings), where, errors)
    if len(errors) > before:
        return None
    return {"name": agency.name, "file": str(agency.encodings), "rows": n, "nbits": nbits,
            "fingerprint": meta.get("fingerprint"), "id_type": id_type}


def _id_type(t: pa.DataType) -> str | None:
    if pa.types.is_integer(t):
        return "int64"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return None


def _check_ids(ids: np.ndarray, where: str, errors: list[str]) -> None:
    s = pd.Series(ids)
    missing = s.isna().to_numpy()
    if missing.any():
        errors.append(f"{where}: row {int(np.flatnonzero(missing)[0])}: record id is missing")
        return
    dup = s.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        errors.append(f"{where}: row {row}: record id {str(ids[row])!r} appears more than once "
                      f"({int(dup.sum()):,} repeated ids)")


def _previous(spec: JobSpec, errors: list[str]) -> dict | None:
    where = f"previous entity table ({spec.previous})"
    try:
        prev = pd.read_parquet(spec.previous)
    except (pa.ArrowInvalid, OSError, ValueError) as err:
        errors.append(f"{where}: not a readable Parquet file ({err})")
        return None
    missing = [c for c in ENTITY_COLUMNS if c not in prev.columns]
    if missing:
        errors.append(f"{where}: no column {missing[0]!r} (columns: {list(prev.columns)})")
        return None
    before = len(errors)
    for col in ENTITY_COLUMNS:
        bad = prev[col].isna().to_numpy()
        if bad.any():
            errors.append(f"{where}: row {int(np.flatnonzero(bad)[0])}: {col} is missing")
    pattern = re.compile(rf"^{re.escape(spec.id_prefix)}\d+$")
    ok = prev["entity_id"].astype(str).str.match(pattern).to_numpy()
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        errors.append(f"{where}: row {row}: entity_id {str(prev['entity_id'].iloc[row])!r} is "
                      f"not {spec.id_prefix!r} followed by digits (id_prefix)")
    dup = prev.duplicated(["agency", "record_id"]).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        errors.append(f"{where}: row {row}: record {str(prev['record_id'].iloc[row])!r} of agency "
                      f"{str(prev['agency'].iloc[row])!r} appears more than once")
    if len(errors) > before:
        return None
    return {"file": str(spec.previous), "rows": len(prev),
            "entities": int(prev["entity_id"].nunique()),
            "agencies": sorted(map(str, prev["agency"].unique()))}
