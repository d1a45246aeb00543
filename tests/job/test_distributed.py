"""The pair stage on a Dask LocalCluster (2 worker processes) gives exactly the local result."""

from __future__ import annotations

import pytest
from distributed import Client, LocalCluster

from pprl import job
from pprl.job.distributed import connect

from .conftest import outputs_digest, write_spec

# 3 tasks per pair; the agencies' keyed blocking keys travel to the workers with the CLKs
SETTINGS = {"partition_rows": 120, "blocking": "signatures"}
NO_PNG = {"report": {"histograms": False}}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as c:
        yield c


def test_dask_run_equals_local_run(years, tmp_path, cluster):
    y0 = years[0]
    local_spec = write_spec(tmp_path / "local" / "job.toml", y0.files, **SETTINGS, tables=NO_PNG)
    dask_spec = write_spec(tmp_path / "dask" / "job.toml", y0.files, **SETTINGS,
                           tables={"dask": {"scheduler": cluster.scheduler_address}, **NO_PNG})
    local = job.run(local_spec)
    distributed = job.run(dask_spec)  # the scheduler named by the spec
    assert outputs_digest(tmp_path / "dask" / "out") == outputs_digest(tmp_path / "local" / "out")
    assert sorted(distributed.ran) == sorted(local.ran)  # pairs finish in any order
    manifest = (tmp_path / "dask" / "out" / "work" / "pairs" / "education__colleges.json")
    assert '"partitions": 3' in manifest.read_text()
    assert '"signatures"' in manifest.read_text()
    # the work really ran on the cluster's workers
    with Client(cluster.scheduler_address) as client:
        assert len(client.scheduler_info()["workers"]) == 2


def test_client_object_and_resume_on_the_cluster(years, tmp_path, cluster):
    """Given a Client; a pair already done locally is not recomputed on the cluster."""
    spec = write_spec(tmp_path / "job.toml", years[0].files, **SETTINGS,
                      tables=NO_PNG)
    first = job.run(spec)
    (tmp_path / "out" / "work" / "pairs" / "colleges__employment.json").unlink()
    expected = outputs_digest(tmp_path / "out")
    with Client(cluster.scheduler_address) as client:
        again = job.run(spec, scheduler=client)
        assert client.status == "running"  # a caller's client is left open
    assert [s for s in again.ran if s.startswith("pairs/")] == ["pairs/colleges__employment"]
    assert outputs_digest(tmp_path / "out") == expected
    assert first.entities == again.entities


def test_bad_scheduler_values():
    with pytest.raises(ValueError, match=r"scheduler must be an address"):
        connect("")
    with pytest.raises(ValueError, match=r"scheduler must be an address"):
        connect(8786)
