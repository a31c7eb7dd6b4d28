import json
import multiprocessing
import os

import pytest

from digits.jobs.job import SCHEMA_VERSION, Job, JobFormatError, new_job_id
from digits.jobs.status import Status
from digits.jobs.store import JobNotFound, JobStore


def make_job(**overrides) -> Job:
    fields = dict(
        id=new_job_id(), type="t", kind="dataset", name="mnist", owner="fred", queue="cpu"
    )
    fields.update(overrides)
    job = Job(**fields)
    job.set_status(Status.INIT)
    return job


def test_a_created_job_reads_back_identical(jobs_dir):
    store = JobStore(jobs_dir)
    job = make_job(parameters={"folder_pct_val": "25", "resize_width": "28"})
    store.create(job)
    again = JobStore(jobs_dir).get(job.id)
    assert again == job
    stored = json.loads((jobs_dir / job.id / "job.json").read_text())
    assert stored["schema_version"] == SCHEMA_VERSION
    assert stored["parameters"] == {"folder_pct_val": "25", "resize_width": "28"}
    assert stored["status_history"][0]["status"] == "Initialized"


def test_job_ids_follow_digits_format():
    assert new_job_id(0).count("-") == 2
    job_id = new_job_id()
    date, clock, suffix = job_id.split("-")
    assert len(date) == 8 and len(clock) == 6 and len(suffix) == 4
    int(suffix, 16)


def test_status_history_keeps_every_change_with_reasons(jobs_dir):
    store = JobStore(jobs_dir)
    job = make_job()
    store.create(job)
    store.update(job.id, lambda j: j.set_status(Status.WAIT))
    store.update(job.id, lambda j: j.set_status(Status.RUN))
    store.update(job.id, lambda j: j.set_status(Status.ERROR, "out of memory"))
    job = store.get(job.id)
    assert [c.status for c in job.status_history] == [
        Status.INIT,
        Status.WAIT,
        Status.RUN,
        Status.ERROR,
    ]
    assert job.status is Status.ERROR
    assert job.error == "out of memory"
    times = [c.time for c in job.status_history]
    assert times == sorted(times)


def test_a_write_that_fails_midway_leaves_the_old_file(jobs_dir):
    store = JobStore(jobs_dir)
    job = make_job()
    store.create(job)

    def explode(j):
        j.name = "half-changed"
        raise RuntimeError("crash while changing")

    with pytest.raises(RuntimeError):
        store.update(job.id, explode)
    assert store.get(job.id).name == "mnist"
    assert [p.name for p in (jobs_dir / job.id).iterdir() if p.name.endswith(".tmp")] == []


def _bump_many(jobs_dir, job_id, count):
    store = JobStore(jobs_dir)
    for _ in range(count):
        store.update(job_id, lambda j: setattr(j, "progress", round(j.progress + 0.001, 6)))


def test_concurrent_writers_lose_no_update(jobs_dir):
    store = JobStore(jobs_dir)
    job = make_job()
    store.create(job)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bump_many, args=(jobs_dir, job.id, 50)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert store.get(job.id).progress == pytest.approx(0.2)


def test_listing_sees_changes_made_by_another_process(jobs_dir):
    reader = JobStore(jobs_dir)
    job = make_job()
    JobStore(jobs_dir).create(job)
    assert [j.name for j in reader.list()] == ["mnist"]
    JobStore(jobs_dir).update(job.id, lambda j: setattr(j, "name", "renamed"))
    assert [j.name for j in reader.list()] == ["renamed"]


def test_corrupt_and_foreign_folders_are_reported_not_fatal(jobs_dir):
    store = JobStore(jobs_dir)
    good = make_job()
    store.create(good)
    corrupt = jobs_dir / "20250101-000000-dead"
    corrupt.mkdir()
    (corrupt / "job.json").write_text("{not json")
    foreign = jobs_dir / "20250101-000000-beef"
    foreign.mkdir()
    (foreign / "job.json").write_text(json.dumps({"id": "x", "pickle": "no"}))
    newer = jobs_dir / "20250101-000000-cafe"
    newer.mkdir()
    (newer / "job.json").write_text(json.dumps({**good.to_dict(), "schema_version": 99}))

    assert [j.id for j in store.list()] == [good.id]
    assert "not valid JSON" in store.problems[corrupt.name]
    assert "schema_version" in store.problems[foreign.name]
    assert "newer" in store.problems[newer.name]


def test_hidden_folders_are_not_jobs(jobs_dir):
    (jobs_dir / ".broker").mkdir()
    store = JobStore(jobs_dir)
    assert store.list() == [] and store.problems == {}


def test_unknown_or_malformed_ids_are_not_found(jobs_dir):
    store = JobStore(jobs_dir)
    with pytest.raises(JobNotFound):
        store.get("20250101-000000-abcd")
    with pytest.raises(JobNotFound):
        store.get("../etc")


def test_delete_removes_the_folder(jobs_dir):
    store = JobStore(jobs_dir)
    job = make_job()
    store.create(job)
    store.delete(job.id)
    assert not (jobs_dir / job.id).exists()
    assert os.listdir(jobs_dir) == []
    with pytest.raises(JobNotFound):
        store.delete(job.id)


def test_from_dict_rejects_non_objects():
    with pytest.raises(JobFormatError):
        Job.from_dict([1, 2])


def test_a_second_job_with_the_same_id_is_refused_and_the_first_kept(jobs_dir):
    from digits.jobs.store import JobIdTaken

    store = JobStore(jobs_dir)
    first = make_job()
    store.create(first)
    twin = make_job()
    twin.id, twin.name = first.id, "twin"
    with pytest.raises(JobIdTaken):
        store.create(twin)
    assert store.get(first.id).name == first.name
    assert [p.name for p in jobs_dir.iterdir()] == [first.id]  # no staging folder left
