"""The job spec: a TOML (or YAML) file naming the agencies' encodings and how to link them.

Every problem in a spec is collected and reported at once (:class:`JobSpecError`), each naming its
key (``agencies[2].encodings: file not found: ...``). Relative paths are relative to the spec
file's folder. See :mod:`pprl.job` for the keys.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError

THRESHOLD_AUTO = "auto"
SOLVERS = ("greedy", "optimal")
BLOCKING = ("auto", "none", "signatures", "lsh", "signatures+lsh")
DEFAULT_PARTITION_ROWS = 250_000
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]|_(?!_))*$")
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z_-]*$")
_TOP_KEYS = {"output", "threshold", "previous", "fingerprint", "schema", "blocking",
             "candidate_threshold", "top_k", "solver", "recall", "seed", "partition_rows",
             "workers", "id_prefix", "id_width", "agencies", "dask", "report"}
_AGENCY_KEYS = {"name", "encodings", "rows"}
_DASK_KEYS = {"scheduler", "threads_per_task"}
_REPORT_KEYS = {"title", "histograms"}


class JobSpecError(DataError):
    """A job spec (or the inputs it names) is invalid; ``errors`` lists every problem found."""

    def __init__(self, source: str, errors: list[str]):
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{source}: {len(self.errors)} problem(s):\n{lines}")


@dataclass(frozen=True)
class AgencySpec:
    """One agency: a name (used in file names and the entity table) and its encodings file."""

    name: str
    encodings: Path
    rows: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """A validated job spec; paths are absolute. Build it with :func:`load_spec`."""

    path: Path
    output: Path
    agencies: tuple[AgencySpec, ...]
    threshold: float | str = THRESHOLD_AUTO
    previous: Path | None = None
    fingerprint: str | None = None
    blocking: str = "auto"
    candidate_threshold: float = 0.5
    top_k: int | None = 10
    solver: str = "greedy"
    recall: float = 0.99
    seed: int = 0
    partition_rows: int = DEFAULT_PARTITION_ROWS
    workers: int | None = None
    id_prefix: str = "E"
    id_width: int = 9
    scheduler: str | None = None
    threads_per_task: int | None = None
    title: str | None = None
    histograms: bool = True
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.agencies)

    @property
    def entities_path(self) -> Path:
        return self.output / "entities.parquet"

    def pair_params(self) -> dict:
        """What decides the candidates of an agency pair (part of each pair's manifest)."""
        return {"candidate_threshold": self.candidate_threshold, "top_k": self.top_k,
                "blocking": self.blocking, "recall": self.recall, "seed": self.seed,
                "partition_rows": self.partition_rows}


def load_spec(path: str | os.PathLike) -> JobSpec:
    """Read and validate a job spec (``.toml``, or ``.yaml``/``.yml`` with PyYAML installed)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"job spec not found: {p}")
    doc = _parse(p)
    errors: list[str] = []
    spec = _build(p.resolve(), doc, errors)
    if errors:
        raise JobSpecError(str(p), errors)
    return spec


def _parse(p: Path) -> dict:
    try:
        text = p.read_text("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{p}: job spec is not UTF-8 text") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise DataError(f"{p}: YAML job specs need PyYAML (pip install pyyaml), or use "
                            "TOML") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise DataError(f"{p}: not valid YAML ({err})") from None
    else:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise DataError(f"{p}: not valid TOML ({err})") from None
    if not isinstance(doc, dict):
        raise DataError(f"{p}: a job spec is a table of keys, got {type(doc).__name__}")
    return doc


class _Reader:
    """Typed access to one table of the spec; problems go to ``errors`` with the key's name."""

    def __init__(self, table: dict, where: str, base: Path, errors: list[str]):
        self.table, self.where, self.base, self.errors = table, where, base, errors

    def key(self, name: str) -> str:
        return f"{self.where}{name}"

    def fail(self, name: str, message: str) -> None:
        self.errors.append(f"{self.key(name)}: {message}")

    def unknown(self, allowed: set[str]) -> None:
        for k in sorted(set(self.table) - allowed, key=str):
            self.fail(str(k), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def text(self, name: str, default: str | None = None, *, required: bool = False,
             choices: tuple[str, ...] | None = None, pattern: re.Pattern | None = None) -> Any:
        if name not in self.table:
            if required:
                self.fail(name, "missing")
            return default
        value = self.table[name]
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"expected non-empty text, got {value!r}")
            return default
        if choices is not None and value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        if pattern is not None and not pattern.match(value):
            self.fail(name, f"{value!r} is not allowed here")
            return default
        return value

    def integer(self, name: str, default: int | None, *, low: int, high: int | None = None):
        if name not in self.table:
            return default
        value = self.table[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"expected a whole number, got {value!r}")
            return default
        if value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"in {low}..{high}"
            self.fail(name, f"must be {bound}, got {value}")
            return default
        return value

    def number(self, name: str, default: float, *, low: float, high: float,
               open_low: bool = False) -> float:
        if name not in self.table:
            return default
        value = self.table[name]
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value)):
            self.fail(name, f"expected a number, got {value!r}")
            return default
        if value > high or value < low or (open_low and value == low):
            self.fail(name, f"must be in {'(' if open_low else '['}{low:g}, {high:g}], got {value}")
            return default
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, f"expected true or false, got {value!r}")
            return default
        return value

    def path(self, name: str, *, required: bool = False, must_exist: bool = True) -> Path | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        p = Path(value).expanduser()
        p = (p if p.is_absolute() else self.base / p).resolve()
        if must_exist and not p.is_file():
            self.fail(name, f"file not found: {p}")
        return p

    def sub(self, name: str, allowed: set[str]) -> _Reader:
        value = self.table.get(name, {})
        if not isinstance(value, dict):
            self.fail(name, f"expected a table, got {type(value).__name__}")
            value = {}
        reader = _Reader(value, f"{self.where}{name}.", self.base, self.errors)
        reader.unknown(allowed)
        return reader


def _build(path: Path, doc: dict, errors: list[str]) -> JobSpec:
    r = _Reader(doc, "", path.parent, errors)
    r.unknown(_TOP_KEYS)
    output = r.path("output", required=True, must_exist=False)
    if output is not None and output.exists() and not output.is_dir():
        r.fail("output", f"exists and is not a folder: {output}")
    agencies = _agencies(doc.get("agencies"), r)
    threshold = _threshold(r)
    low = r.number("candidate_threshold", 0.5, low=0.0, high=1.0)
    if isinstance(threshold, float) and low > threshold:
        r.fail("candidate_threshold", f"{low:g} is above threshold {threshold:g}")
    top_k = r.integer("top_k", 10, low=0)
    previous = r.path("previous")
    if previous is not None and output is not None and previous == output / "entities.parquet":
        r.fail("previous", "is this job's own output; name last year's entity table")
    fingerprint = _fingerprint(r)
    dask = r.sub("dask", _DASK_KEYS)
    report = r.sub("report", _REPORT_KEYS)
    return JobSpec(
        path=path, output=output or path.parent, agencies=tuple(agencies), threshold=threshold,
        previous=previous, fingerprint=fingerprint,
        blocking=r.text("blocking", "auto", choices=BLOCKING),
        candidate_threshold=low, top_k=top_k or None,
        solver=r.text("solver", "greedy", choices=SOLVERS),
        recall=r.number("recall", 0.99, low=0.0, high=1.0, open_low=True),
        seed=r.integer("seed", 0, low=0, high=2**63 - 1),
        partition_rows=r.integer("partition_rows", DEFAULT_PARTITION_ROWS, low=1),
        workers=r.integer("workers", None, low=1),
        id_prefix=r.text("id_prefix", "E", pattern=_PREFIX),
        id_width=r.integer("id_width", 9, low=1, high=18),
        scheduler=dask.text("scheduler"),
        threads_per_task=dask.integer("threads_per_task", None, low=1),
        title=report.text("title"), histograms=report.flag("histograms", True), raw=doc)


def _threshold(r: _Reader) -> float | str:
    value = r.table.get("threshold", THRESHOLD_AUTO)
    if value == THRESHOLD_AUTO:
        return THRESHOLD_AUTO
    if isinstance(value, str):
        r.fail("threshold", f"must be 'auto' or a number in (0, 1], got {value!r}")
        return THRESHOLD_AUTO
    return r.number("threshold", 1.0, low=0.0, high=1.0, open_low=True)


def _fingerprint(r: _Reader) -> str | None:
    fingerprint = r.text("fingerprint")
    schema = r.path("schema")
    if fingerprint is not None and "schema" in r.table:
        r.fail("schema", "give either 'fingerprint' or 'schema', not both")
    if schema is not None and schema.is_file():
        from ..encode.schema import Schema
        from ..errors import SchemaError

        try:
            return Schema.load(schema).fingerprint
        except SchemaError as err:
            r.fail("schema", str(err).splitlines()[0])
    return fingerprint


def _agencies(value, r: _Reader) -> list[AgencySpec]:
    if value is None:
        r.fail("agencies", "missing: list each agency as [[agencies]] with name and encodings")
        return []
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        r.fail("agencies", "expected a list of tables ([[agencies]] in TOML)")
        return []
    if len(value) < 2:
        r.fail("agencies", f"a linkage needs at least 2 agencies, got {len(value)}")
    out, seen, files = [], {}, {}
    for i, table in enumerate(value):
        a = _Reader(table, f"agencies[{i}].", r.base, r.errors)
        a.unknown(_AGENCY_KEYS)
        name = a.text("name", required=True)
        if name is not None and not _NAME.match(name):
            a.fail("name", f"{name!r}: use letters, digits, '.', '-' and single '_' (it names "
                           "files), starting with a letter or digit")
            name = None
        encodings = a.path("encodings", required=True)
        rows = a.integer("rows", None, low=1)
        if name is not None:
            if name.lower() in seen:
                a.fail("name", f"{name!r} is also the name of agencies[{seen[name.lower()]}]")
            seen.setdefault(name.lower(), i)
        if encodings is not None:
            if encodings in files:
                a.fail("encodings", f"same file as agencies[{files[encodings]}]: {encodings}")
            files.setdefault(encodings, i)
        if name is not None and encodings is not None:
            out.append(AgencySpec(name, encodings, rows))
    return out
