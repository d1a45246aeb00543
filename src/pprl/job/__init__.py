"""pprl.job: the annual multi-agency linkage, resumable, locally or on a Dask cluster.

>>> result = pprl.job.run("job.toml")          # doctest: +SKIP
>>> print(pprl.job.status("job.toml"))         # doctest: +SKIP

``pprl job run JOB.toml [--scheduler ADDRESS]`` and ``pprl job status JOB.toml`` wrap these.

The spec (TOML; YAML with PyYAML installed). Relative paths are relative to the spec's folder::

    output = "linkage-2026"             # folder; the entity table is OUTPUT/entities.parquet
    threshold = "auto"                  # or a Dice threshold in (0, 1]
    previous = "linkage-2025/entities.parquet"   # optional: last year's table, for stable ids
    fingerprint = "3f9c…"               # optional: the schema fingerprint every file must have
    # schema = "schema.json"            #   (or the schema file whose fingerprint that is)
    blocking = "auto"                   # auto | none | signatures | lsh | signatures+lsh
    candidate_threshold = 0.5           # candidates are kept down to here (the auto threshold
    top_k = 10                          #   and the quality estimates need them); 0: no top-k
    solver = "greedy"                   # greedy | optimal (see below)
    recall = 0.99                       # LSH recall at the threshold (blocking = lsh)
    seed = 0                            # LSH seed
    partition_rows = 250000             # left-agency rows per unit of work (a Dask task)
    workers = 2                         # threads of a local run (default: every core)
    id_prefix = "E"                     # entity ids: E000000001, ...
    id_width = 9

    [dask]                              # optional
    scheduler = "tcp://scheduler:8786"  # run blocking + comparison on this cluster
    threads_per_task = 8                # default: the worker's cores / its Dask threads

    [report]                            # optional
    title = "Statewide linkage 2026"
    histograms = true                   # similarity histograms as PNG (needs matplotlib)

    [[agencies]]                        # at least two; one table per agency
    name = "education"                  # letters, digits, '.', '-', single '_'
    encodings = "education.parquet"     # written by `pprl encode`
    rows = 201234                       # optional: the expected number of records

Stages, each skipped when its manifest says its inputs and parameters did not change:

1. **validate** - every encodings file has the same schema fingerprint (the expected one, if
   given) and CLK length, unique non-null ids and the expected row count; last year's table has
   ``entity_id, agency, record_id``. Every problem is reported at once (:class:`JobSpecError`).
2. **pairs** - one unit per agency pair (``OUTPUT/work/pairs/LEFT__RIGHT.parquet``): blocking
   and Dice comparison by :func:`pprl.block.candidates` down to ``candidate_threshold``, each left
   record's ``top_k`` best. Locally or as Dask tasks (:mod:`pprl.job.distributed`).
3. **thresholds** - per agency pair, ``"auto"`` picks the threshold with the best estimated F1
   (:func:`pprl.solve.choose_threshold`); estimated precision and recall either way.
4. **clusters** - the pairs above the thresholds are merged greedily with anonlink's multi-party
   rule (records of an entity are pairwise candidates, so an entity holds at most one record per
   agency); ``solver = "optimal"`` first keeps only a maximum-weight one-to-one matching of each
   agency pair.
5. **entities** - stable ids against last year's table (:func:`pprl.solve.stable_ids`):
   ``OUTPUT/entities.parquet`` with ``entity_id, agency, record_id``, sorted (``record_id`` is
   int64 when every agency's ids are integers, else text); the id counter for next year is kept
   in the file's metadata.
6. **report** - ``OUTPUT/report/``: ``report.md`` (for a program officer), ``report.json``,
   ``agencies.csv``, ``entity_sizes.csv``, ``pairs.csv``, ``changes.csv`` (new / merged / split
   / removed entities) and ``histograms/*.png``.

Safety: every output is written atomically and its manifest (input hashes, parameters, pprl
version, output hashes) last; ``OUTPUT/job.json`` appears only when all stages are done. A job
killed at any moment and run again gives byte-identical ``entities.parquet``; an exclusive lock
stops two runs on one output folder.
"""

from ._runner import JobResult, JobStatus, StageRun, StageState, run, status
from .spec import AgencySpec, JobSpec, JobSpecError, load_spec

__all__ = ["AgencySpec", "JobResult", "JobSpec", "JobSpecError", "JobStatus", "StageRun",
           "StageState", "load_spec", "run", "status"]
