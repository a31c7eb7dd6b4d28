import multiprocessing

from digits.jobs.events import JobEvents, append_event, last_seq, read_events
from digits.jobs.status import Status
from digits.jobs.store import JobStore

from .test_store import make_job


def _append_many(folder, count):
    for i in range(count):
        append_event(folder, "log", {"line": f"{i}"})


def test_events_are_numbered_without_gaps_across_processes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(tmp_path, 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [e["seq"] for e in read_events(tmp_path)] == list(range(120))
    assert last_seq(tmp_path) == 119


def test_read_events_since(tmp_path):
    for i in range(5):
        append_event(tmp_path, "log", {"line": str(i)})
    assert [e["line"] for e in read_events(tmp_path, since=3)] == ["3", "4"]


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path):
    append_event(tmp_path, "log", {"line": "a"})
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write('{"seq": 1, "upd')  # the writer died here
    append_event(tmp_path, "log", {"line": "b"})
    assert [(e["seq"], e["line"]) for e in read_events(tmp_path)] == [(0, "a"), (1, "b")]


def test_status_changes_reach_file_job_and_rooms(jobs_dir):
    sent = []
    store = JobStore(jobs_dir)
    events = JobEvents(store, lambda name, data, room: sent.append((name, data, room)))
    job = make_job()
    store.create(job)
    assert events.move(job.id, Status.WAIT)
    assert store.get(job.id).status is Status.WAIT
    assert [room for _, _, room in sent] == [job.id, "job_management"]
    assert sent[0][1]["status"] == "Waiting" and sent[0][1]["job_id"] == job.id
    events.log_line(job.id, "hello")
    assert sent[-1][2] == job.id  # log lines stay out of the home page's room


def test_move_refuses_from_a_status_not_allowed(jobs_dir):
    store = JobStore(jobs_dir)
    events = JobEvents(store, lambda *a: None)
    job = make_job()
    store.create(job)
    events.move(job.id, Status.ABORT, "aborted")
    assert not events.move(job.id, Status.RUN, only_from=frozenset({Status.WAIT}))
    assert store.get(job.id).status is Status.ABORT


def test_a_failing_emitter_does_not_lose_the_event(jobs_dir):
    store = JobStore(jobs_dir)

    def broken(*_):
        raise ConnectionError("broker down")

    events = JobEvents(store, broken)
    job = make_job()
    store.create(job)
    events.move(job.id, Status.WAIT)
    assert read_events(store.folder(job.id))[-1]["status"] == "Waiting"


def test_usage_samples_reach_the_room_and_a_file_that_stays_small(jobs_dir, monkeypatch):
    from digits.files import read_last_json_lines
    from digits.jobs import events as events_module

    store = JobStore(jobs_dir)
    job = make_job()
    store.create(job)
    sent = []
    events = JobEvents(store, lambda name, data, room: sent.append((name, data["n"], room)))
    monkeypatch.setattr(events_module, "USAGE_FILE_LIMIT", 2000)
    monkeypatch.setattr(events_module, "USAGE_KEEP", 10)
    for n in range(100):
        events.record_usage(job.id, {"n": n, "gpus": []})
    assert sent[-1] == ("job usage", 99, job.id)
    path = store.folder(job.id) / "usage.jsonl"
    assert path.stat().st_size <= 2000 + 100
    assert [row["n"] for row in read_last_json_lines(path, 3)] == [97, 98, 99]
    assert read_events(store.folder(job.id)) == []  # samples are not history events
