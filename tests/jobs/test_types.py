"""The registry of job types: one type per name, and jobs of a type not installed here."""

import pytest

from digits.config import CPU_QUEUE
from digits.jobs import types
from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status


def test_a_second_type_of_the_same_name_is_refused():
    first = types.register(types.JobType("test-only-once", "dataset", CPU_QUEUE, print))
    assert types.register(first) is first  # the same one again (a module imported twice)
    with pytest.raises(ValueError, match="test-only-once"):
        types.register(types.JobType("test-only-once", "model", CPU_QUEUE, print))
    assert types.get("test-only-once") is first


def test_an_unknown_name_is_an_error_to_submit_but_its_stored_jobs_still_show(fred, app):
    with pytest.raises(types.UnknownJobType, match="removed-plugin-type"):
        types.get("removed-plugin-type")
    job = Job(new_job_id(), "removed-plugin-type", "model", "left over", "fred", "gpu", {"a": 1})
    job.set_status(Status.DONE)
    app.extensions["digits"].store.create(job)
    assert types.of(job).name == "removed-plugin-type" and types.of(job).resume_point is None
    assert fred.get(f"/jobs/{job.id}.json").get_json()["name"] == "left over"
    assert fred.get(f"/jobs/{job.id}").status_code in (200, 302)
    assert fred.post(f"/clone/{job.id}.json").status_code == 400
    assert fred.delete(f"/jobs/{job.id}").status_code == 200
