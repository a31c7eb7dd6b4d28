"""Many jobs submitted at the same moment."""


def test_fifty_jobs_submitted_at_once_all_appear_with_distinct_ids_and_finish(stack):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as threads:
        ids = list(
            threads.map(lambda n: stack.submit(steps="1", delay="0", name=f"n{n}"), range(50))
        )
    assert len(set(ids)) == 50
    listed = {job["id"] for job in stack.session.get(stack.url + "/index.json").json()["datasets"]}
    assert set(ids) <= listed
    for job_id in ids:
        assert stack.wait_for_status(job_id, "Done", timeout=120)
