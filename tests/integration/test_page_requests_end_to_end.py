"""Requests a page waits for (Classify One's path), on both brokers: a worker of queue `infer`
answers through the jobs folder."""

import pytest

from digits.config import Settings
from digits.jobs.celery_app import create_celery
from digits.jobs.page_requests import RequestFailed, RequestTimedOut, ask, requests_dir
from tests.support.processes import PLUGIN, digits_env, start_worker


@pytest.fixture
def infer_worker(tmp_path, broker_url):
    jobs_dir = tmp_path / "jobs"
    worker = start_worker(jobs_dir, broker_url, queues="infer", node="answers")
    env = digits_env(jobs_dir, broker_url)
    settings = Settings(
        jobs_dir=jobs_dir,
        broker_url=env.get("DIGITS_BROKER_URL") or "filesystem://localhost/",
        plugins=(PLUGIN,),
    )
    yield settings, worker
    worker.discard()


def test_a_worker_answers_with_the_files_it_was_sent(infer_worker):
    settings, worker = infer_worker
    celery = create_celery(settings)
    answer = ask(settings, celery, "test-echo", {"n": 1}, {"image": b"12345"}, timeout=20)
    assert answer["payload"] == {"n": 1} and answer["files"] == {"image": 5}
    assert ask(settings, celery, "test-echo", {"n": 2}, timeout=20)["payload"] == {"n": 2}
    with pytest.raises(RequestFailed, match="refused: no"):
        ask(settings, celery, "test-echo", {"refuse": "no"}, timeout=20)
    with pytest.raises(RequestFailed, match="does not know requests of kind"):
        ask(settings, celery, "no-such-kind", {}, timeout=20)
    assert list(requests_dir(settings).iterdir()) == []  # nothing left behind


def test_no_answer_is_a_timeout_not_a_hang(tmp_path):
    settings = Settings(jobs_dir=tmp_path / "jobs")
    with pytest.raises(RequestTimedOut):
        ask(settings, create_celery(settings), "test-echo", {}, timeout=0.5)
