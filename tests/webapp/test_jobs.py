"""The job routes, with no worker running: what a user sees before any job runs."""

import json
import time

from digits.jobs.events import read_events


def submit(client, **fields):
    data = {"steps": "3", "delay": "0.01", **fields}
    response = client.post("/test/countdown.json", data=data)
    assert response.status_code == 200, response.data
    return response.get_json()["id"]


def test_a_submitted_job_waits_and_says_why(fred):
    job_id = submit(fred)
    status = fred.get(f"/datasets/{job_id}/status").get_json()
    assert status == {
        "status": "Waiting",
        "name": "countdown",
        "type": "test-countdown-dataset",
        "error": None,
        "progress": 0.0,
    }
    index = fred.get("/index.json").get_json()
    [dataset] = index["datasets"]
    assert dataset["status_reason"] == "no worker is serving queue cpu"
    model_id = submit(fred, kind="model")
    [model] = fred.get("/index.json").get_json()["models"]
    assert model["id"] == model_id
    assert model["status_reason"] == "no worker is serving queue gpu"


def test_index_json_has_digits_keys(fred):
    submit(fred)
    index = fred.get("/index.json").get_json()
    assert {"datasets", "models", "version", "jobs_dir"} <= index.keys()
    assert {"id", "name", "status"} <= index["datasets"][0].keys()
    assert fred.get("/", headers={"Accept": "application/json"}).get_json() == index


def test_job_page_shows_history_parameters_and_actions(fred):
    job_id = submit(fred, name="my countdown")
    page = fred.get(f"/datasets/{job_id}").data.decode()
    for text in ("my countdown", "Initialized", "Waiting", "steps", "Abort", "Delete", "Clone"):
        assert text in page
    assert fred.get(f"/jobs/{job_id}").headers["Location"] == f"/datasets/{job_id}"
    detail = fred.get(f"/models/{job_id}.json").get_json()
    assert detail["parameters"] == {"steps": "3", "delay": "0.01"}
    assert [c["status"] for c in detail["status_history"]] == ["Initialized", "Waiting"]


def test_unknown_jobs_are_404_in_html_and_json(fred):
    for url in ("/jobs/20250101-000000-abcd", "/datasets/nonsense", "/models/20250101-000000-abcd"):
        page = fred.get(url)
        assert page.status_code == 404 and b"not found" in page.data
    response = fred.get("/jobs/20250101-000000-abcd.json")
    assert response.status_code == 404
    assert response.get_json()["errors"] == {"job_id": ["job 20250101-000000-abcd not found"]}
    assert fred.get("/jobs/20250101-000000-abcd/status").status_code == 404
    assert fred.delete("/jobs/20250101-000000-abcd").status_code == 404
    assert fred.post("/jobs/20250101-000000-abcd/abort.json").status_code == 404


def test_rename_and_notes(fred):
    job_id = submit(fred)
    response = fred.put(f"/jobs/{job_id}", data={"job_name": "renamed", "job_notes": "try 2"})
    assert response.status_code == 200
    detail = fred.get(f"/jobs/{job_id}.json").get_json()
    assert (detail["name"], detail["notes"]) == ("renamed", "try 2")
    assert fred.put(f"/jobs/{job_id}", data={"job_name": "  "}).status_code == 400
    assert fred.put(f"/jobs/{job_id}", data={}).get_json()["errors"]["job_name"]


def test_aborting_a_queued_job_ends_it_at_once(fred, app):
    job_id = submit(fred)
    response = fred.post(f"/jobs/{job_id}/abort.json")
    assert response.get_json()["status"] == "Aborted"
    again = fred.post(f"/jobs/{job_id}/abort.json")
    assert again.status_code == 400 and "already ended" in again.get_json()["errors"]["job_id"][0]
    folder = app.extensions["digits"].store.folder(job_id)
    assert [e["status"] for e in read_events(folder) if e["update"] == "status"] == [
        "Initialized",
        "Waiting",
        "Aborted",
    ]


def test_delete_answers_like_digits_and_removes_the_folder(fred, jobs_dir):
    job_id = submit(fred)
    response = fred.delete(f"/datasets/{job_id}")
    assert response.status_code == 200 and response.data == b"Job deleted."
    assert not (jobs_dir / job_id).exists()
    assert fred.get("/index.json").get_json()["datasets"] == []


def test_a_dataset_in_use_by_a_model_cannot_be_deleted(fred, jobs_dir):
    dataset_id = submit(fred)
    model_id = submit(fred, kind="model", dataset=dataset_id)
    response = fred.delete(f"/datasets/{dataset_id}.json")
    assert response.status_code == 403
    assert model_id in response.get_json()["errors"]["job_id"][0]
    assert (jobs_dir / dataset_id).exists()
    fred.delete(f"/models/{model_id}")
    assert fred.delete(f"/datasets/{dataset_id}").status_code == 200


def test_clone_submits_a_copy_with_the_same_parameters(fred):
    job_id = submit(fred, name="original", steps="7")
    clone = fred.post(f"/clone/{job_id}.json").get_json()
    assert clone["id"] != job_id and clone["name"] == "original (clone)"
    detail = fred.get(f"/jobs/{clone['id']}.json").get_json()
    assert detail["parameters"]["steps"] == "7"
    assert fred.get(f"/clone/{job_id}").status_code == 404  # no creation form for this type


def test_a_corrupt_job_json_is_shown_on_the_home_page(fred, jobs_dir):
    good = submit(fred)
    bad = jobs_dir / "20240101-000000-0bad"
    bad.mkdir()
    (bad / "job.json").write_text(json.dumps({"schema_version": 1, "id": "nope"}))
    page = fred.get("/").data.decode()
    assert "20240101-000000-0bad" in page and "Unreadable job folders" in page
    index = fred.get("/index.json").get_json()
    assert [d["id"] for d in index["datasets"]] == [good]
    assert "20240101-000000-0bad" in index["problems"]


def test_unexpected_errors_are_json_500_without_traceback(fred, app, monkeypatch):
    store = app.extensions["digits"].store

    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "list", broken)
    response = fred.get("/index.json")
    assert response.status_code == 500
    assert "Traceback" not in response.get_data(as_text=True)
    assert "errors" in response.get_json()


def test_jobs_that_draw_the_same_id_both_get_created(fred, monkeypatch):
    """DIGITS' ids have 4 random hex digits a second: a clash draws a new id, never a 500."""
    from digits.jobs import control

    ids = iter(["20260101-000000-aaaa", "20260101-000000-aaaa", "20260101-000000-bbbb"])
    monkeypatch.setattr(control, "new_job_id", lambda: next(ids))
    first = fred.post("/test/countdown.json", data={"steps": "1"}).get_json()["id"]
    second = fred.post("/test/countdown.json", data={"steps": "1"}).get_json()["id"]
    assert (first, second) == ("20260101-000000-aaaa", "20260101-000000-bbbb")


def test_the_status_of_a_job_that_is_gone_is_a_json_404(fred):
    response = fred.get("/models/20250101-000000-abcd/status")
    assert response.status_code == 404
    message = "job 20250101-000000-abcd not found"
    assert response.get_json() == {"error": message, "errors": {"job_id": [message]}}


def test_a_jobs_json_has_digits_own_names_too(fred):
    job_id = submit(fred)
    detail = fred.get(f"/datasets/{job_id}.json").get_json()
    assert detail["job id"] == detail["id"] == job_id
    assert detail["username"] == detail["owner"] == "fred"
    assert detail["creation time"].startswith(time.strftime("%Y-"))


def test_errors_carry_digits_own_error_object_as_well(fred):
    response = fred.get("/models/20250101-000000-abcd.json")
    assert response.status_code == 404
    body = response.get_json()
    message = "job 20250101-000000-abcd not found"
    assert body["errors"] == {"job_id": [message]}  # ours: the field to blame
    assert body["error"] == {"message": message, "type": "NotFound", "description": message}
