"""Run the annual job stage by stage, skipping what is up to date; report where a job stands."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import __version__
from .._log import logger
from . import _link, _pairs
from ._inputs import read_ids, validate
from ._manifest import WORK, Stage, clean_temporaries, job_lock, read_json, sha256_file, write_json
from ._report import ReportInputs, write_report
from .spec import JobSpec, load_spec

STAGES = ("validate", "pairs", "thresholds", "clusters", "entities", "report")
JOB_FILE = "job.json"
REPORT = "report"


@dataclass(frozen=True)
class StageRun:
    """One stage (or one agency pair) of a run: whether it ran or was up to date, and how long."""

    name: str
    ran: bool
    seconds: float


@dataclass
class JobResult:
    """What :func:`run` did: ``entities`` and ``report`` paths, the stages run or skipped,
    wall-clock ``seconds`` per stage of this run, and a ``summary`` of the numbers."""

    output: Path
    entities: Path
    report: Path
    stages: tuple[StageRun, ...]
    seconds: dict[str, float]
    summary: dict = field(default_factory=dict)

    @property
    def ran(self) -> list[str]:
        return [s.name for s in self.stages if s.ran]

    def __str__(self) -> str:
        s = self.summary
        done = len(self.ran)
        lines = [f"job finished: {s.get('records', 0):,} records in {s.get('entities', 0):,} "
                 f"entities -> {self.entities}",
                 f"report: {self.report}",
                 f"{done} of {len(self.stages)} stages ran ({len(self.stages) - done} up to date)"]
        lines += [f"  {name:<11} {secs:8.1f} s" for name, secs in self.seconds.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class StageState:
    name: str
    state: str  # "done", "stale", "pending" or "waiting" (for an unfinished earlier stage)
    detail: str


@dataclass
class JobStatus:
    """Where a job stands; ``str()`` gives human-readable lines."""

    spec: Path
    output: Path
    complete: bool
    stages: tuple[StageState, ...]
    summary: dict = field(default_factory=dict)

    def __str__(self) -> str:
        if self.complete:
            s = self.summary
            head = (f"complete: {s.get('records', 0):,} records in {s.get('entities', 0):,} "
                    f"entities ({self.output / 'entities.parquet'})")
        else:
            head = f"incomplete: `pprl job run {self.spec}` continues where it stopped"
        lines = [f"job {self.output} (spec {self.spec}): {head}"]
        lines += [f"  {s.name:<11} {s.state:<8} {s.detail}" for s in self.stages]
        return "\n".join(lines)


class _Job:
    """The stages of one spec: paths, inputs and the Stage (manifest) objects."""

    def __init__(self, spec: JobSpec):
        self.spec = spec
        self.root = spec.output
        self.work = self.root / WORK
        self.files = {a.name: a.encodings for a in spec.agencies}
        self.pairs = [(a, b) for i, a in enumerate(spec.names) for b in spec.names[i + 1:]]
        self.hashes = {name: sha256_file(p) for name, p in self.files.items()}
        self.previous_hash = None if spec.previous is None else sha256_file(spec.previous)

    def _stage(self, name: str, manifest: str, outputs, inputs: dict, params: dict) -> Stage:
        return Stage(name, self.root, self.work / manifest, outputs, inputs, params)

    def validate(self) -> Stage:
        s = self.spec
        inputs = {f"agency:{n}": h for n, h in self.hashes.items()}
        inputs["previous"] = self.previous_hash
        params = {"agencies": list(s.names), "rows": [a.rows for a in s.agencies],
                  "fingerprint": s.fingerprint, "id_prefix": s.id_prefix}
        return self._stage("validate", "manifests/validate.json", (f"{WORK}/inputs.json",),
                           inputs, params)

    def pair(self, a: str, b: str) -> Stage:
        name = _pairs.pair_name(a, b)
        return self._stage(f"pairs/{name}", f"pairs/{name}.json",
                           (f"{WORK}/pairs/{name}.parquet",),
                           {"left": self.hashes[a], "right": self.hashes[b]},
                           self.spec.pair_params())

    def thresholds(self, pair_docs: dict) -> Stage:
        return self._stage("thresholds", "manifests/thresholds.json",
                           (f"{WORK}/thresholds.json",), _outputs_of(pair_docs),
                           {"threshold": self.spec.threshold,
                            "candidate_threshold": self.spec.candidate_threshold})

    def clusters(self, pair_docs: dict, thresholds: dict, validated: dict) -> Stage:
        inputs = {**_outputs_of(pair_docs), **_outputs_of({"t": thresholds, "v": validated})}
        return self._stage("clusters", "manifests/clusters.json", (f"{WORK}/clusters.parquet",),
                           inputs, {"solver": self.spec.solver})

    def entities(self, clusters: dict) -> Stage:
        inputs = {**_outputs_of({"c": clusters}), "previous": self.previous_hash}
        return self._stage("entities", "manifests/entities.json",
                           ("entities.parquet", f"{WORK}/changes.parquet"), inputs,
                           {"id_prefix": self.spec.id_prefix, "id_width": self.spec.id_width})

    def report(self, upstream: dict) -> Stage:
        s = self.spec
        params = {"title": s.title, "histograms": s.histograms, "threshold": s.threshold,
                  "solver": s.solver, **s.pair_params(), "previous": str(s.previous)}
        return self._stage("report", "manifests/report.json", None, _outputs_of(upstream), params)


def _outputs_of(docs: dict) -> dict[str, str]:
    """Output hashes of upstream manifests, as the inputs of a later stage."""
    return {rel: digest for doc in docs.values() for rel, digest in doc["outputs"].items()}


# ---------------------------------------------------------------------------------------- run


def run(spec_path: str | os.PathLike, *, scheduler=None, progress: bool = False) -> JobResult:
    """Run the job of ``spec_path`` (see :mod:`pprl.job`); stages that are up to date are skipped.

    ``scheduler``: a Dask scheduler address (or a ``distributed.Client``) for the pair stage;
    default the spec's ``[dask] scheduler``, else the local machine. ``progress``: progress bars
    on stderr. Raises JobSpecError (every problem of the spec or inputs at once).
    """
    spec = load_spec(spec_path)
    scheduler = scheduler if scheduler is not None else spec.scheduler
    with job_lock(spec.output):
        return _Runner(spec, scheduler, progress).run()


class _Runner:
    def __init__(self, spec: JobSpec, scheduler, progress: bool):
        self.spec, self.scheduler, self.progress = spec, scheduler, progress
        self.runs: list[StageRun] = []
        self.seconds: dict[str, float] = {}

    def run(self) -> JobResult:
        spec = self.spec
        clean_temporaries(spec.output, spec.output / WORK, spec.output / WORK / "pairs",
                          spec.output / WORK / "manifests")
        with contextlib.suppress(FileNotFoundError):
            (spec.output / JOB_FILE).unlink()  # the job is complete again only at the end
        t0 = time.perf_counter()
        job = _Job(spec)
        val = self.step(job.validate(), lambda st: self.do_validate(st), t0)
        t0 = time.perf_counter()
        pair_docs = self.do_pairs(job)
        self.seconds["pairs"] = time.perf_counter() - t0
        thr = self.step(job.thresholds(pair_docs), lambda st: self.do_thresholds(job))
        cl = self.step(job.clusters(pair_docs, thr, val), lambda st: self.do_clusters(job))
        ent = self.step(job.entities(cl), lambda st: self.do_entities())
        upstream = {"pairs": {"outputs": _outputs_of(pair_docs)}, "val": val, "thr": thr,
                    "ent": ent}
        docs = {"validate": val, "pairs": pair_docs, "thresholds": thr, "clusters": cl,
                "entities": ent}
        rep = self.step(job.report(upstream), lambda st: self.do_report(job, st, docs))
        summary = {**ent["stats"], "estimated_pairwise": rep["stats"].get("estimated_pairwise")}
        write_json(spec.output / JOB_FILE, {
            "complete": True, "pprl_version": __version__, "spec": str(spec.path),
            "stages": _stage_keys(docs, rep), "entities": ent["outputs"]["entities.parquet"],
            "summary": summary})
        return JobResult(spec.output, spec.entities_path, spec.output / REPORT / "report.md",
                         tuple(self.runs), self.seconds, summary)

    def step(self, stage: Stage, compute: Callable[[Stage], dict], t0: float | None = None) -> dict:
        """Skip ``stage`` if it is done, else compute it and write its manifest."""
        t0 = time.perf_counter() if t0 is None else t0
        state, why = stage.check()
        if state == "done":
            logger.info("job: %s up to date, skipped", stage.name)
            doc = stage.read()
            self.runs.append(StageRun(stage.name, False, 0.0))
        else:
            logger.info("job: %s running (%s)", stage.name, why)
            started = stage.begin()
            doc = stage.finish(started, compute(stage))
            self.runs.append(StageRun(stage.name, True, doc["seconds"]))
            logger.info("job: %s done in %.1f s", stage.name, doc["seconds"])
        self.seconds[stage.name] = time.perf_counter() - t0
        return doc

    # -- stages -------------------------------------------------------------------------------
    def do_validate(self, stage: Stage) -> dict:
        summary = validate(self.spec)
        for a in summary["agencies"]:
            a["sha256"] = stage.inputs[f"agency:{a['name']}"]
        write_json(self.spec.output / WORK / "inputs.json", summary)
        return {"records": sum(a["rows"] for a in summary["agencies"])}

    def do_pairs(self, job: _Job) -> dict:
        stages = {p: job.pair(*p) for p in job.pairs}
        _drop_other_pairs(job.work / "pairs", {_pairs.pair_name(*p) for p in job.pairs})
        docs, todo, started = {}, [], {}
        for p, st in stages.items():
            state, why = st.check()
            if state == "done":
                docs[p] = st.read()
                self.runs.append(StageRun(st.name, False, 0.0))
            else:
                todo.append(p)
                logger.info("job: %s to run (%s)", st.name, why)
        logger.info("job: %d of %d agency pairs up to date", len(docs), len(stages))
        params = _pairs.PairParams(**self.spec.pair_params())

        def finish(a: str, b: str, parts: list) -> None:
            cands, stats = _pairs.merge(parts, params.candidate_threshold)
            st = stages[(a, b)]
            _pairs.write_pair(self.spec.output / st.outputs[0], cands)
            docs[(a, b)] = st.finish(started[(a, b)], stats)
            self.runs.append(StageRun(st.name, True, docs[(a, b)]["seconds"]))
            logger.info("job: %s done: %s", st.name, "; ".join(stats["blocking"]))

        def begin(p: tuple[str, str]) -> None:
            started[p] = stages[p].begin()

        if self.scheduler is not None:
            from .distributed import run_pairs

            for p in todo:  # every pair's tasks are submitted at once
                begin(p)
            run_pairs(self.scheduler, job.files, todo, params, finish,
                      threads=self.spec.threads_per_task, progress=self.progress)
        else:
            self.local_pairs(job, todo, params, begin, finish)
        return {_pairs.pair_name(*p): docs[p] for p in job.pairs}

    def local_pairs(self, job: _Job, todo: list, params: _pairs.PairParams, begin,
                    finish) -> None:
        from tqdm import tqdm

        loaded: dict = {}
        for a, b in tqdm(todo, desc="agency pairs", unit="pair", file=sys.stderr,
                         disable=not self.progress):
            begin((a, b))
            for name in [n for n in loaded if n not in (a, b)]:
                del loaded[name]  # at most the two agencies of this pair in memory
            for name in (a, b):
                if name not in loaded:
                    loaded[name] = _pairs.load_encodings(job.files[name])
            parts = [_pairs.partition_candidates(loaded[a], loaded[b], s, e, params,
                                                 self.spec.workers)
                     for s, e in _pairs.partitions(len(loaded[a]), params.partition_rows)]
            finish(a, b, parts)

    def do_thresholds(self, job: _Job) -> dict:
        spec, out = self.spec, {}
        for a, b in job.pairs:
            name = _pairs.pair_name(a, b)
            cands = _pairs.read_pair(job.work / "pairs" / f"{name}.parquet",
                                     spec.candidate_threshold)
            out[name] = _link.choose(cands, spec.threshold, spec.candidate_threshold)
        write_json(job.work / "thresholds.json", out)
        return {"thresholds": {k: v["threshold"] for k, v in out.items()}}

    def do_clusters(self, job: _Job) -> dict:
        spec = self.spec
        inputs = read_json(job.work / "inputs.json")
        thresholds = read_json(job.work / "thresholds.json")
        index = {n: i for i, n in enumerate(spec.names)}
        links, counts = [], {}
        for a, b in job.pairs:
            name = _pairs.pair_name(a, b)
            cands = _pairs.read_pair(job.work / "pairs" / f"{name}.parquet",
                                     spec.candidate_threshold)
            chosen = _link.pair_links(cands, thresholds[name]["threshold"], spec.solver)
            links.append((index[a], index[b], chosen))
            counts[name] = len(chosen)
        sizes = [a["rows"] for a in inputs["agencies"]]
        labels = _link.cluster_labels(links, sizes)
        ids = [read_ids(job.files[n]) for n in spec.names]
        frame = _link.clusters_frame(spec.names, ids, labels, inputs["record_id_type"])
        _link.write_parquet(frame, job.work / "clusters.parquet")
        return {"links": counts, "clusters": int(labels.max(initial=-1)) + 1}

    def do_entities(self) -> dict:
        spec = self.spec
        clusters = pd.read_parquet(spec.output / WORK / "clusters.parquet")
        table, changes = _link.stable_entities(clusters, spec.previous, spec.id_prefix,
                                               spec.id_width)
        _link.write_parquet(changes, spec.output / WORK / "changes.parquet")
        _link.write_parquet(table, spec.entities_path)
        counts = changes["event"].value_counts()
        return {"records": len(table), "entities": int(table["entity_id"].nunique()),
                "changes": {str(k): int(v) for k, v in counts.items()}}

    def do_report(self, job: _Job, stage: Stage, docs: dict) -> dict:
        spec = self.spec
        seconds = {name: docs[name]["seconds"] for name in ("validate", "thresholds", "clusters",
                                                            "entities")}
        # blocking + comparison time of every partition (Dask tasks overlap in wall time)
        seconds["pairs"] = round(sum(d["stats"]["compute_seconds"]
                                     for d in docs["pairs"].values()), 3)
        r = ReportInputs(spec, read_json(job.work / "inputs.json"), job.pairs,
                         {k: d["stats"] for k, d in docs["pairs"].items()},
                         read_json(job.work / "thresholds.json"),
                         pd.read_parquet(spec.entities_path),
                         pd.read_parquet(job.work / "changes.parquet"), seconds)
        partial = spec.output / f".{REPORT}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        doc = write_report(r, partial)
        _swap_folder(partial, spec.output / REPORT)
        stage.outputs = tuple(sorted(
            p.relative_to(spec.output).as_posix()
            for p in (spec.output / REPORT).rglob("*") if p.is_file()))
        return {"estimated_pairwise": doc["estimated_pairwise"], "files": len(stage.outputs)}


def _drop_other_pairs(folder: Path, names: set[str]) -> None:
    """Remove pair files of agency pairs this spec no longer has (renamed, reordered, dropped)."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.suffix in (".parquet", ".json") and path.stem not in names:
            logger.info("job: removing %s (not an agency pair of this spec)", path.name)
            path.unlink()


def _swap_folder(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``: the old one is moved aside first, so at any moment
    ``target`` is either the old complete folder, absent, or the new complete folder."""
    old = target.parent / f".{target.name}-old.partial"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _stage_keys(docs: dict, report: dict) -> dict:
    keys = {name: doc["key"] for name, doc in docs.items() if name != "pairs"}
    keys.update({f"pairs/{k}": d["key"] for k, d in docs["pairs"].items()})
    keys["report"] = report["key"]
    return keys


# ------------------------------------------------------------------------------------- status


def status(spec_path: str | os.PathLike) -> JobStatus:
    """Where the job of ``spec_path`` stands, without running anything (inputs are hashed)."""
    spec = load_spec(spec_path)
    job = _Job(spec)
    states: list[StageState] = []
    docs: dict = {}

    def check(label: str, stage: Stage) -> dict | None:
        state, why = stage.check()
        states.append(StageState(label, state, why))
        return stage.read() if state == "done" else None

    val = check("validate", job.validate())
    pair_docs, waiting = {}, []
    for p in job.pairs:
        st = job.pair(*p)
        if st.check()[0] == "done":
            pair_docs[_pairs.pair_name(*p)] = st.read()
        else:
            waiting.append(_pairs.pair_name(*p))
    detail = f"{len(pair_docs)}/{len(job.pairs)} agency pairs done"
    if waiting:
        detail += "; to do: " + ", ".join(waiting[:5]) + (" …" if len(waiting) > 5 else "")
    states.append(StageState("pairs", "done" if not waiting else "pending", detail))
    chain = [("thresholds", lambda: job.thresholds(pair_docs)),
             ("clusters", lambda: job.clusters(pair_docs, docs["thresholds"], val)),
             ("entities", lambda: job.entities(docs["clusters"])),
             ("report", lambda: job.report({"pairs": {"outputs": _outputs_of(pair_docs)},
                                            "val": val, "thr": docs["thresholds"],
                                            "ent": docs["entities"]}))]
    blocked = val is None or bool(waiting)
    for name, make in chain:
        if blocked:
            states.append(StageState(name, "waiting", "for the stages above"))
            continue
        docs[name] = check(name, make())
        blocked = docs[name] is None
    job_doc = read_json(spec.output / JOB_FILE)
    complete = not blocked and job_doc is not None and job_doc.get("complete") is True and (
        job_doc.get("stages") == _stage_keys({"validate": val, "pairs": pair_docs, **{
            k: docs[k] for k in ("thresholds", "clusters", "entities")}}, docs["report"]))
    summary = job_doc.get("summary", {}) if complete else {}
    return JobStatus(spec.path, spec.output, complete, tuple(states), summary)


__all__ = ["JobResult", "JobStatus", "StageRun", "StageState", "run", "status"]
