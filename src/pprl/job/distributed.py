"""The pair stage on a Dask distributed cluster (``pip install 'pprl[dask]'``).

When the job spec names a scheduler (``[dask] scheduler = "tcp://host:8786"``) or the command
line does (``pprl job run JOB.toml --scheduler tcp://host:8786``), blocking and comparison run as
Dask tasks: each agency's encodings (CLKs, ids, blocking keys; never PII, never the secret) are
read once by the job's process and scattered to the cluster, one task per (agency pair, partition
of the left agency) calls the same :func:`pprl.block.candidates` as a local run, and the job's
process merges each pair's partitions into Candidates order and writes the pair's file and
manifest as soon as all its tasks are done. Results are identical to a local run; a killed job
resumes with the pairs it had not finished. Thresholds, clustering, stable ids and the report run
in the job's process.

Running on a real cluster
-------------------------
1. Install the same pprl version with the extra on the job's machine and on every worker machine:
   ``pip install 'pprl[dask]'`` (a worker must import ``pprl``; numba compiles its kernels once per
   machine and caches them).
2. Start a scheduler and workers, e.g. by hand::

       dask scheduler --port 8786                          # on the scheduler machine
       dask worker tcp://SCHEDULER:8786 --nworkers 1 --nthreads 1 --memory-limit 16GiB  # each

   or with any Dask deployment (dask-jobqueue on SLURM/PBS, dask-kubernetes, Coiled); pprl
   only needs the scheduler address. One worker process per machine with one Dask thread is the
   best layout: each task runs the numba kernels on all the machine's cores
   (``max(1, cores // worker threads)`` threads, or ``[dask] threads_per_task``).
3. Run ``pprl job run JOB.toml --scheduler tcp://SCHEDULER:8786``. The spec, the encodings files
   and the output folder stay on the job's machine; workers need no shared file system.

Memory: a worker holds the encodings of the agencies its tasks need (about ``rows * nbits / 8``
bytes each plus the blocking keys) and the candidates of its running tasks. Lower
``partition_rows`` in the spec for more, smaller tasks (it is part of each pair's manifest: with
``blocking = "auto"`` or LSH the partition size can change which pairs are found, so local and
distributed runs must use the same value to give the same result).

Secure the cluster as you would any Dask deployment holding sensitive data (TLS between scheduler
and workers, a private network): encodings are not PII, but they are the linkage's raw material.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .._log import logger
from ..errors import PprlError
from ._pairs import PairParams, PartResult, load_encodings, partition_candidates, partitions


def connect(scheduler) -> tuple[object, bool]:
    """``(client, owned)`` for a scheduler address or an existing ``distributed.Client``."""
    try:
        from distributed import Client
    except ImportError:
        raise PprlError("running on a Dask cluster needs the dask extra: "
                        "pip install 'pprl[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler must be an address such as 'tcp://host:8786' or a "
                         f"distributed.Client, got {scheduler!r}")
    try:
        return Client(scheduler, timeout="30s"), True
    except (OSError, TimeoutError) as err:
        raise PprlError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None


def task_threads(threads: int | None) -> int:
    """Threads for one task: ``threads``, else the worker's cores shared by its Dask threads."""
    if threads is not None:
        return threads
    try:
        from distributed import get_worker

        per_worker = max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError):
        per_worker = 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // per_worker)


def _task(left, right, start: int, stop: int, params: PairParams,
          threads: int | None) -> PartResult:
    """One Dask task: a partition of the left agency against the right one."""
    return partition_candidates(left, right, start, stop, params, workers=task_threads(threads))


def run_pairs(scheduler, files: Mapping[str, Path], todo: Sequence[tuple[str, str]],
              params: PairParams, on_pair: Callable[[str, str, list[PartResult]], None], *,
              threads: int | None = None, progress: bool = False) -> None:
    """Compute the agency pairs ``todo`` on the cluster; ``on_pair(left, right, parts)`` is called
    in this process as each pair's last partition arrives."""
    if not todo:
        return
    from distributed import as_completed
    from tqdm import tqdm

    client, owned = connect(scheduler)
    try:
        needed = [n for n in files if any(n in pair for pair in todo)]
        encodings, sizes = {}, {}
        for name in needed:  # one agency in memory here at a time
            enc = load_encodings(files[name])
            sizes[name] = len(enc)
            encodings[name] = client.scatter(enc, hash=False)
            del enc
        futures, owner = [], {}
        for left, right in todo:
            for start, stop in partitions(sizes[left], params.partition_rows):
                fut = client.submit(_task, encodings[left], encodings[right], start, stop, params,
                                    threads, pure=False)
                futures.append(fut)
                owner[fut.key] = (left, right)
        waiting = {pair: sum(1 for k in owner.values() if k == pair) for pair in todo}
        logger.info("job: %d tasks for %d agency pairs on %s", len(futures), len(todo),
                    client.scheduler.address)
        done: dict[tuple[str, str], list[PartResult]] = {pair: [] for pair in todo}
        bar = tqdm(total=len(futures), desc="pairs (dask)", unit="task", file=sys.stderr,
                   disable=not progress)
        for fut in as_completed(futures):
            pair = owner[fut.key]
            done[pair].append(fut.result())
            fut.release()
            bar.update()
            if len(done[pair]) == waiting[pair]:
                on_pair(pair[0], pair[1], done.pop(pair))
        bar.close()
    finally:
        if owned:
            client.close()
