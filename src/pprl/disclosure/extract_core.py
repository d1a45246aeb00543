"""Research extracts: record-level linked data, pseudonymised and k-anonymised for one project.

``extract`` replaces the linked entity id with a project pseudonym (HMAC-SHA256 of the id under a
key derived from the project's secret: stable within a project, unlinkable across projects), drops
the direct identifiers, and generalises the quasi-identifiers by global recoding (the level
combination with the least information loss, found by an exact lattice search) followed by local
suppression (records still in classes smaller than k are removed, at most ``max_suppression`` of
them), as ARX and sdcMicro do. Other columns are left as they are.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from .._log import logger
from ..errors import DataError
from ..secret import Secret
from .extract_hmac import hmac_sha256_hex
from .extract_lattice import Lattice, QuasiIdentifier, build_quasi_identifier
from .extract_report import ColumnReport, ExtractReport, risk_summary
from .hierarchies import Hierarchy, hierarchy_from_spec, infer_hierarchy

PSEUDONYM_INFO = b"pprl/extract/pseudonym"
KEY_ID_INFO = b"pprl/extract/key-id"
PSEUDONYM_HEX = 20


@dataclass(frozen=True)
class ExtractResult:
    """The extract (``data``), what was done to make it (``report``) and, when written by
    :func:`~pprl.disclosure.extract_from_spec`, the output ``files`` by role."""

    data: pd.DataFrame
    report: ExtractReport
    files: dict[str, Path] = field(default_factory=dict)


def pseudonymise(ids: Iterable, project_secret: Secret, *, length: int = PSEUDONYM_HEX) -> np.ndarray:
    """Project pseudonyms: the first ``length`` hex digits of HMAC-SHA256(key, id as UTF-8 text),
    with ``key = project_secret.derive(b"pprl/extract/pseudonym")``. Ids become text as in
    :func:`as_text` (``12345``, ``12345.0`` and ``"12345"`` are one id). Equal ids give equal
    pseudonyms; without the secret they can be neither reversed nor linked to another project's."""
    series = ids if isinstance(ids, pd.Series) else pd.Series(
        ids if isinstance(ids, np.ndarray) else list(ids))
    codes, values = as_codes(series)
    if (codes < 0).any():
        raise DataError(f"pseudonymise: the id at position {int(np.flatnonzero(codes < 0)[0])} "
                        "is missing")
    return distinct_pseudonyms(values, project_secret, length)[codes]


def distinct_pseudonyms(values: np.ndarray, project_secret: Secret,
                        length: int = PSEUDONYM_HEX) -> np.ndarray:
    """The pseudonym of each text value (see :func:`pseudonymise`), in a batch HMAC kernel."""
    if not isinstance(project_secret, Secret):
        raise TypeError("project_secret must be a pprl.Secret")
    if not 8 <= length <= 64:
        raise DataError(f"pseudonym length must be between 8 and 64 hex digits (got {length})")
    out = hmac_sha256_hex(project_secret.derive(PSEUDONYM_INFO), [str(v) for v in values], length)
    return np.asarray(out, dtype=object)


def key_id(project_secret: Secret) -> str:
    """A short one-way identifier of the project key, so stewards can tell extracts of the same
    project apart from others without the key itself appearing anywhere."""
    return hmac.new(project_secret.derive(KEY_ID_INFO), b"", "sha256").hexdigest()[:16]


def as_text(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The cells as text (object array) and a mask of missing cells (None, NaN, NaT, empty text).

    Dates without a time of day become ``YYYY-MM-DD``; integral floats lose their ``.0``."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        valid = series.dropna()
        fmt = "%Y-%m-%d" if (valid == valid.dt.normalize()).all() else "%Y-%m-%dT%H:%M:%S"
        text = series.dt.strftime(fmt).to_numpy(dtype=object)
    elif pd.api.types.is_float_dtype(series.dtype):
        x = series.to_numpy(dtype=float, na_value=np.nan)
        integral = np.isfinite(x) & (x == np.round(x)) & (np.abs(x) < 2**53)
        text = np.where(integral, np.where(integral, x, 0).astype(np.int64).astype(str),
                        x.astype(str)).astype(object)
    elif pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        text = series.astype(object).astype(str).to_numpy(dtype=object)
    else:
        text = series.to_numpy(dtype=object, na_value=None)
        if pd.api.types.infer_dtype(text, skipna=True) not in ("string", "empty"):
            text = np.array([None if m else _cell_text(v) for v, m in zip(text, missing, strict=True)],
                            dtype=object)
        missing = missing | (text == "")
    return np.where(missing, None, text), missing


def _cell_text(value) -> str:
    """One cell of a mixed column as text; integral floats lose their ``.0`` like float columns."""
    if isinstance(value, float | np.floating) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def as_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The cells as codes into distinct text values (-1 for missing cells), and those values.

    Like :func:`as_text`, but the text is made once per distinct value, not once per cell."""
    codes, uniques = pd.factorize(series)
    text, missing = as_text(pd.Series(uniques, dtype=series.dtype))
    text_codes, distinct = pd.factorize(np.where(missing, None, text).astype(object))
    remap = np.append(text_codes, -1)  # cells that factorize found missing stay missing
    return remap[codes].astype(np.int64), np.asarray(distinct, dtype=object)


def text_series(labels: np.ndarray, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """``labels[codes]`` as a pandas text column (None -> missing), built without a Python loop."""
    taken = pa.array(labels.tolist(), type=pa.string()).take(pa.array(codes))
    try:
        values = pd.arrays.ArrowStringArray(taken, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    except TypeError:  # pandas < 2.3 has no NaN-semantics Arrow strings
        return pd.Series(labels[codes], index=index, dtype="str")
    return pd.Series(values, index=index)


def _check_columns(df: pd.DataFrame, id_column: str, qis: list[str], drop: list[str],
                   sensitive: str | None, hierarchies: Mapping) -> None:
    cols = set(df.columns)

    def unknown(name: str, what: str) -> DataError:
        return DataError(f"unknown column {name!r} ({what}); the input has: "
                         f"{', '.join(map(str, df.columns))}")

    if id_column not in cols:
        raise unknown(id_column, "id_column")
    if not qis:
        raise DataError("quasi_identifiers is empty: name the columns an attacker could know")
    for name in qis:
        if name not in cols:
            raise unknown(name, "quasi_identifiers")
    if len(set(qis)) != len(qis):
        raise DataError(f"quasi_identifiers names a column twice: {qis}")
    for name in drop:
        if name not in cols:
            raise unknown(name, "drop")
    for name in hierarchies:
        if name not in qis:
            raise DataError(f"hierarchy given for column {name!r}, which is not a quasi-identifier")
    if sensitive is not None and sensitive not in cols:
        raise unknown(sensitive, "sensitive")
    roles = {"id_column": [id_column], "drop": drop, "sensitive": [sensitive] if sensitive else []}
    for role, names in roles.items():
        for name in names:
            if name in qis:
                raise DataError(f"column {name!r} is both a quasi-identifier and {role}")
    if id_column in drop:
        raise DataError(f"column {id_column!r} is both id_column and in drop")
    if sensitive is not None and sensitive in [*drop, id_column]:
        raise DataError(f"column {sensitive!r} is the sensitive column and is dropped or the id")


def _check_params(k, max_suppression, l_diversity, sensitive) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise DataError(f"k must be an integer >= 2 (got {k!r})")
    if isinstance(max_suppression, bool) or not isinstance(max_suppression, int | float) \
            or not 0 <= max_suppression < 1:
        raise DataError(f"max_suppression must be a share in [0, 1) (got {max_suppression!r})")
    if l_diversity is not None:
        if isinstance(l_diversity, bool) or not isinstance(l_diversity, int | np.integer) or l_diversity < 2:
            raise DataError(f"l_diversity must be an integer >= 2 (got {l_diversity!r})")
        if sensitive is None:
            raise DataError("l-diversity (l_diversity) needs a sensitive column (sensitive)")


def _sensitive_codes(series: pd.Series) -> tuple[np.ndarray, int]:
    """Codes of the sensitive values; missing cells get the last code, which is returned too."""
    codes, values = as_codes(series)
    return np.where(codes < 0, len(values), codes), len(values)


@dataclass(frozen=True)
class _Request:
    """The checked parameters of one extract."""

    id_column: str
    qi_names: list[str]
    k: int
    drop: list[str]
    hierarchies: dict
    max_suppression: float
    sensitive: str | None
    l_diversity: int | None


def _request(df, id_column, quasi_identifiers, k, project_secret, drop, hierarchies,
             max_suppression, sensitive, l_diversity) -> _Request:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame (got {type(df).__name__})")
    if not isinstance(project_secret, Secret):
        raise TypeError("project_secret must be a pprl.Secret")
    qi_names = [quasi_identifiers] if isinstance(quasi_identifiers, str) else list(quasi_identifiers)
    drop = [drop] if isinstance(drop, str) else list(drop)
    hierarchies = dict(hierarchies or {})
    _check_params(k, max_suppression, l_diversity, sensitive)
    _check_columns(df, id_column, qi_names, drop, sensitive, hierarchies)
    if len(df) < k:
        raise DataError(f"the input has {len(df)} records, fewer than k={k}: nothing can be released")
    return _Request(id_column, qi_names, int(k), drop, hierarchies, float(max_suppression), sensitive,
                    None if l_diversity is None else int(l_diversity))


def extract_with_report(df: pd.DataFrame, id_column: str, quasi_identifiers: list[str], k: int,
                        project_secret: Secret, drop: Iterable[str] = (), *,
                        hierarchies: Mapping[str, Hierarchy | Mapping] | None = None,
                        max_suppression: float = 0.05, sensitive: str | None = None,
                        l_diversity: int | None = None) -> ExtractResult:
    """:func:`extract` and its :class:`ExtractReport`, as an :class:`ExtractResult`."""
    req = _request(df, id_column, quasi_identifiers, k, project_secret, drop, hierarchies,
                   max_suppression, sensitive, l_diversity)
    id_codes, id_values = as_codes(df[id_column])
    if (id_codes < 0).any():
        row = df.index[np.flatnonzero(id_codes < 0)[0]]
        raise DataError(f"column {id_column!r}, row {row!r}: the id is missing")
    qis = [prepare_quasi_identifier(df[name], name, req.hierarchies.get(name), req.k)
           for name in req.qi_names]
    sens, sens_missing = (None, -1) if sensitive is None else _sensitive_codes(df[sensitive])
    lattice = Lattice(qis, req.k, int(np.floor(req.max_suppression * len(df) + 1e-9)),
                      sensitive=sens, sens_missing=sens_missing, l_diversity=req.l_diversity)
    found = lattice.search()
    node = found.best.node
    logger.info("extract: levels %s, %d of %d records suppressed, %d of %d nodes evaluated in %.2fs",
                dict(zip(req.qi_names, node, strict=True)), found.best.suppressed, len(df),
                found.evaluated, found.lattice_size, found.seconds)
    keep = lattice.keep_rows(node)
    out = df.drop(columns=req.drop)
    out[id_column] = text_series(distinct_pseudonyms(id_values, project_secret), id_codes, df.index)
    for q, level in zip(qis, node, strict=True):
        out[q.name] = text_series(q.labels[level], q.level_codes[level][q.row_codes], df.index)
    return ExtractResult(out.loc[keep], _report(lattice, req, qis, found, keep, sens, sens_missing))


def extract(df: pd.DataFrame, id_column: str, quasi_identifiers: list[str], k: int,
            project_secret: Secret, drop: Iterable[str] = (), *,
            hierarchies: Mapping[str, Hierarchy | Mapping] | None = None,
            max_suppression: float = 0.05, sensitive: str | None = None,
            l_diversity: int | None = None) -> pd.DataFrame:
    """A k-anonymous, pseudonymised research extract of ``df``.

    Returns the same columns minus ``drop``; ``id_column`` holds project pseudonyms; each
    quasi-identifier is generalised in place (as text, hierarchy per column: declared in
    ``hierarchies`` or inferred from the content) so that every combination of their values occurs
    at least ``k`` times; records that cannot be kept (at most ``max_suppression`` of them) are
    removed; the index of the kept rows is kept. With ``sensitive`` and ``l_diversity``, every class holds
    at least that many distinct values of the sensitive column. See :func:`extract_with_report` for the
    risk and utility report.
    """
    return extract_with_report(df, id_column, quasi_identifiers, k, project_secret, drop,
                               hierarchies=hierarchies, max_suppression=max_suppression,
                               sensitive=sensitive, l_diversity=l_diversity).data


def prepare_quasi_identifier(series: pd.Series, name: str, declared: Hierarchy | Mapping | None,
                             k: int) -> QuasiIdentifier:
    """The levels of one quasi-identifier: its declared hierarchy, or one inferred from content."""
    codes, values = as_codes(series)
    if declared is None:
        hierarchy, inferred = infer_hierarchy(name, values, series.dtype), True
    else:
        hierarchy, inferred = hierarchy_from_spec(declared, name), False
    return build_quasi_identifier(name, codes, values, hierarchy, k, inferred)


def _report(lattice: Lattice, req: _Request, qis: list[QuasiIdentifier], found, keep: np.ndarray,
            sens: np.ndarray | None, sens_missing: int) -> ExtractReport:
    """Risk before and after, and what became of each quasi-identifier."""
    node, k = found.best.node, req.k
    card = 0 if sens is None else sens_missing + 1
    bottom_cls, bottom_g = lattice.row_classes(tuple(0 for _ in qis))
    cls, g = lattice.row_classes(node)
    before = risk_summary(bottom_cls, bottom_g, k, sens, card, sens_missing)
    after = risk_summary(cls[keep], g, k, None if sens is None else sens[keep], card, sens_missing)
    columns = []
    for q, level in zip(qis, node, strict=True):
        value_codes = q.row_codes[keep]
        level_codes = q.level_codes[level][value_codes]
        loss = q.loss_num[level][level_codes].sum() / (q.denom * max(int(keep.sum()), 1))
        columns.append(ColumnReport(
            name=q.name, hierarchy=q.hierarchy.describe(), hierarchy_spec=q.hierarchy.to_spec(),
            inferred=q.inferred, level=int(level),
            level_name=q.level_names[level], levels=list(q.level_names),
            distinct_before=int(len(q.level_codes[0]) - 1),
            distinct_after=len(np.unique(level_codes[value_codes != q.missing])),
            information_loss=float(loss)))
    notes = []
    if found.best.suppressed:
        notes.append(f"{found.best.suppressed:,} records were in classes smaller than k"
                     f"{' or not l-diverse' if req.l_diversity else ''} after recoding and were "
                     "removed.")
    return ExtractReport(
        k=k, max_suppression=req.max_suppression, id_column=req.id_column,
        pseudonym=f"HMAC-SHA256 under the project key, first {PSEUDONYM_HEX} hex digits",
        dropped=list(req.drop), quasi_identifiers=columns, records_in=len(keep),
        records_out=int(keep.sum()), records_suppressed=int((~keep).sum()), before=before,
        after=after, information_loss=float(found.best.objective), lattice_size=found.lattice_size,
        nodes_evaluated=found.evaluated, search_seconds=float(found.seconds),
        sensitive=req.sensitive, l_diversity=req.l_diversity, notes=notes)
