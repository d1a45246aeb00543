"""Kill the job (SIGKILL) at chosen moments inside every stage, run it again, and get exactly the
uninterrupted result; a killed run never leaves output that looks complete."""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from pprl import job
from pprl.io import atomic_path

from .conftest import outputs_digest, write_spec

NO_PNG = {"report": {"histograms": False}}
PARTITION_ROWS = 200  # two partitions per agency pair of 300 records


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _run_and_die(spec, module: str, attr: str, when: str, n: int) -> None:
    """In a child process: make the ``n``-th call of ``module.attr`` kill the process."""
    mod = importlib.import_module(module)
    original = getattr(mod, attr)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n and when == "before":
            _die()
        if calls[0] == n and when == "mid-write":  # the temporary file written, not renamed
            frame, path = args
            with atomic_path(path) as tmp:
                frame.to_parquet(tmp, index=False)
                _die()
        out = original(*args, **kwargs)
        if calls[0] == n and when == "after":
            _die()
        return out

    setattr(mod, attr, wrapper)
    job.run(spec)
    os._exit(3)  # the kill point was never reached


def run_killed(spec, module: str, attr: str, when: str, n: int) -> None:
    proc = multiprocessing.get_context("fork").Process(
        target=_run_and_die, args=(spec, module, attr, when, n))
    proc.start()
    proc.join(120)
    assert proc.exitcode == -signal.SIGKILL, f"child exit code {proc.exitcode}"


def leftovers(output) -> list[str]:
    return sorted(p.name for p in output.rglob(".*") if p.name != ".lock")


@pytest.fixture(scope="module")
def reference(years, tmp_path_factory):
    """The uninterrupted run's outputs."""
    folder = tmp_path_factory.mktemp("reference")
    spec = write_spec(folder / "job.toml", years[0].files, partition_rows=PARTITION_ROWS,
                      tables=NO_PNG)
    job.run(spec)
    return outputs_digest(folder / "out")


# (module, function, when, which call) -> what must have been kept at the kill
KILLS = {
    "mid-pair": ("pprl.job._pairs", "partition_candidates", "before", 2, ["validate"]),
    "pair-file-without-manifest": ("pprl.job._pairs", "write_pair", "after", 2,
                                   ["validate", "pairs/education__colleges"]),
    "between-stages": ("pprl.job._manifest", "write_json", "after", 5,
                       ["validate", "pairs/education__colleges", "pairs/education__employment",
                        "pairs/colleges__employment", "thresholds"]),
    "mid-clustering": ("pprl.job._link", "cluster_labels", "before", 1,
                       ["validate", "pairs/education__colleges", "pairs/education__employment",
                        "pairs/colleges__employment", "thresholds"]),
    "mid-write-entities": ("pprl.job._link", "write_parquet", "mid-write", 3,
                           ["validate", "pairs/education__colleges", "pairs/education__employment",
                            "pairs/colleges__employment", "thresholds", "clusters"]),
    "report-not-in-place": ("pprl.job._runner", "write_report", "after", 1,
                            ["validate", "pairs/education__colleges",
                             "pairs/education__employment", "pairs/colleges__employment",
                             "thresholds", "clusters", "entities"]),
    "before-job-marker": ("pprl.job._manifest", "write_json", "after", 8,
                          ["validate", "pairs/education__colleges",
                           "pairs/education__employment", "pairs/colleges__employment",
                           "thresholds", "clusters", "entities", "report"]),
}


@pytest.mark.parametrize("point", list(KILLS))
def test_kill_and_resume(point, years, tmp_path, reference):
    module, attr, when, n, kept = KILLS[point]
    spec = write_spec(tmp_path / "job.toml", years[0].files, partition_rows=PARTITION_ROWS,
                      tables=NO_PNG)
    out = tmp_path / "out"
    run_killed(spec, module, attr, when, n)

    status = job.status(spec)
    assert not status.complete and not (out / "job.json").exists()
    if point == "mid-write-entities":
        assert not (out / "entities.parquet").exists()
        assert any(name.startswith(".entities.parquet.") for name in leftovers(out))
    if point == "report-not-in-place":
        assert not (out / "report").exists() and ".report.partial" in leftovers(out)
    if point == "before-job-marker":
        assert [s.state for s in status.stages] == ["done"] * 6  # but not complete yet

    resumed = job.run(spec)
    skipped = [s.name for s in resumed.stages if not s.ran]
    assert skipped == kept
    assert outputs_digest(out) == reference
    assert leftovers(out) == []
    assert job.status(spec).complete


def test_kill_from_outside_at_a_random_moment(years, tmp_path, reference):
    """A real separate process, killed while the pair stage is under way."""
    spec = write_spec(tmp_path / "job.toml", years[0].files, partition_rows=PARTITION_ROWS,
                      tables=NO_PNG)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", f"import pprl.job; pprl.job.run({str(spec)!r})"])
    deadline = time.monotonic() + 120
    while not list((out / "work" / "pairs").glob("*.json")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (out / "job.json").exists()
    resumed = job.run(spec)
    assert "pairs/education__colleges" not in resumed.ran  # finished before the kill
    assert outputs_digest(out) == reference
