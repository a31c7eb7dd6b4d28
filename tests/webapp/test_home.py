"""The home page and /index.json: each job under its tab, a page at a time, filtered on demand."""

import itertools
import json
import re

import pytest

from digits.jobs.job import Job, new_job_id
from digits.jobs.status import Status
from tests.support.model_forms import new_job

NUMBERS = itertools.count()


@pytest.fixture
def store(app):
    return app.extensions["digits"].store


def add_job(store, kind="dataset", status=Status.DONE, owner="fred", **fields) -> Job:
    """A job folder of the real type of `kind` with these Job fields (name, group, created)."""
    job = new_job(kind, owner=owner)
    job.id = f"20260101-{next(NUMBERS):06d}-0000"  # DIGITS' random ids could repeat in a second
    for key, value in fields.items():
        setattr(job, key, value)
    job.set_status(status)
    store.create(job)
    return job


def rows_of(response) -> list[str]:
    """The job ids of the rows the page shows, in order."""
    return re.findall(r'<tr data-job-id="([^"]+)"', response.data.decode())


def names_of(response) -> list[str]:
    return re.findall(r'data-role="job-link">([^<]*)<', response.data.decode())


def many_datasets(store, count: int) -> list[str]:
    """`count` Done datasets, named by their order of creation, newest first."""
    jobs = [
        add_job(store, name=f"dataset {number}", created=1_700_000_000 + number).id
        for number in range(count)
    ]
    return jobs[::-1]


def test_the_page_shows_fifty_jobs_at_a_time_newest_first(fred, store):
    newest_first = many_datasets(store, 120)
    first = fred.get("/")
    assert rows_of(first) == newest_first[:50]
    page = first.data.decode()
    assert "1–50 of 120" in page and 'href="/?tab=datasets&amp;page=2"' in page
    assert rows_of(fred.get("/?page=2")) == newest_first[50:100]
    assert rows_of(fred.get("/?page=3")) == newest_first[100:]
    assert rows_of(fred.get("/?page=99")) == newest_first[100:]  # past the end: the last page
    assert rows_of(fred.get("/?page=nonsense")) == newest_first[:50]


def test_index_json_keeps_every_job_unless_asked_for_a_page(fred, store):
    newest_first = many_datasets(store, 60)
    index = fred.get("/index.json").get_json()
    assert [job["id"] for job in index["datasets"]] == newest_first  # DIGITS' scripts read them all
    paged = fred.get("/index.json?page=2").get_json()
    assert [job["id"] for job in paged["datasets"]] == newest_first[50:]
    assert paged["pages"]["datasets"] == {"page": 2, "pages": 2, "total": 60, "first": 50}


def test_filters_by_status_owner_name_and_group(fred, store):
    def dataset(name, status=Status.DONE, owner="fred", group=""):
        return add_job(store, status=status, owner=owner, name=name, group=group).id

    done = dataset("MNIST digits")
    failed = dataset("cats", status=Status.ERROR, group="pets")
    running = dataset("dogs", status=Status.RUN, owner="ann", group="pets")

    def listed(query):
        return set(rows_of(fred.get(f"/?{query}")))

    assert listed("status=done") == {done}
    assert listed("status=active") == {running}
    assert listed("status=error") == {failed}
    assert listed("owner=ann") == {running}
    assert listed("name=mnist") == {done}  # a part of the name, any case
    assert listed("group=pets") == {failed, running}
    assert listed("group=pets&owner=fred") == {failed}
    assert listed("status=bogus") == {done, failed, running}  # not understood: no filter
    page = fred.get("/?group=pets&name=zebra").data.decode()
    assert "No datasets match these filters." in page
    assert "<option selected>pets</option>" in page and "<option selected>ann</option>" not in page
    index = fred.get("/index.json?owner=ann").get_json()
    assert [job["id"] for job in index["datasets"]] == [running]


def test_the_tabs_count_what_the_filter_lets_through(fred, store):
    add_job(store, "dataset", owner="ann")
    add_job(store, "model", owner="ann")
    add_job(store, "model", owner="fred")
    page = fred.get("/?owner=fred").data.decode()
    assert '<span data-count="datasets">0</span>' in page
    assert '<span data-count="models">1</span>' in page
    assert 'href="/?tab=models&amp;owner=fred"' in page  # a tab keeps the filter


def inference_run(store, model: Job, top_n: str = "") -> Job:
    """A Classify Many (or, with top_n, Top N) run of `model`, as the classify routes file it."""
    job = Job(
        id=new_job_id(),
        type="image-classification-inference",
        kind="model",
        name=f"Classify Many with {model.name}",
        owner="fred",
        queue="cpu",
        parameters={
            "job_id": model.id,
            "snapshot_epoch": "",
            "top_n": top_n,
            "image_list": "val.txt",
        },
    )
    job.set_status(Status.DONE)
    store.create(job)
    return job


def test_inference_runs_are_listed_apart_from_models_and_on_their_models_page(fred, store):
    model = add_job(store, "model", name="LeNet")
    run = inference_run(store, model)
    assert rows_of(fred.get("/?tab=models")) == [model.id]
    assert rows_of(fred.get("/?tab=inference_runs")) == [run.id]
    index = fred.get("/index.json").get_json()
    assert [job["id"] for job in index["models"]] == [model.id]
    assert [job["id"] for job in index["inference_runs"]] == [run.id]
    assert index["inference_runs"][0]["run_of"] == model.id
    detail = fred.get(f"/models/{model.id}.json").get_json()
    assert [r["id"] for r in detail["inference_runs"]] == [run.id]
    model_page = fred.get(f"/models/{model.id}").data.decode()
    assert f'href="/models/{run.id}">Classify Many with LeNet</a>' in model_page


def test_an_inference_runs_page_says_what_it_ran(fred, store):
    model = add_job(store, "model", name="LeNet")
    run = inference_run(store, model, top_n="9")
    page = fred.get(f"/models/{run.id}").data.decode()
    assert (
        f'Inference run of model <a href="/models/{model.id}" data-role="run-of">LeNet</a>' in page
    )
    assert "Model job" not in page
    assert "<th>Top N: images shown per class</th><td><code>9</code></td>" in page
    assert "<th>List of images</th><td><code>val.txt</code></td>" in page
    assert "<th>top_n</th>" not in page and "Snapshot epoch" not in page  # blank: not shown
    store.delete(model.id)
    assert f"<code>{model.id}</code> (deleted)" in fred.get(f"/models/{run.id}").data.decode()


def test_a_group_is_set_and_changed_with_the_job(fred, store):
    job = add_job(store)
    changed = fred.put(f"/datasets/{job.id}.json", data={"group_name": "  pets  "})
    assert changed.get_json()["group"] == "pets"
    assert rows_of(fred.get("/?group=pets")) == [job.id]
    page = fred.get(f"/datasets/{job.id}").data.decode()
    assert (
        'in group <a class="tag" data-role="group" href="/?tab=datasets&amp;group=pets">pets</a>'
        in page
    )
    too_long = fred.put(f"/datasets/{job.id}.json", data={"group_name": "x" * 101})
    assert too_long.status_code == 400 and "group_name" in too_long.get_json()["errors"]
    cleared = fred.put(f"/datasets/{job.id}.json", data={"group_name": ""})
    assert cleared.get_json()["group"] == ""


def test_classify_manys_image_list_is_paged_and_can_show_only_the_misclassified(fred, store):
    model = add_job(store, "model", name="LeNet")
    run = inference_run(store, model)
    rows = [
        {"path": f"img{n}.png", "label": n % 2, "predictions": [["a" if n % 3 else "b", 90.0]]}
        for n in range(120)
    ]
    results = {
        "labels": ["a", "b"],
        "epoch": 1,
        "classified": 120,
        "rows": rows,
        "accuracy": {"labelled": 120, "top1": 50.0, "top5": 100.0},
        "per_class": [],
        "confusion": [[0, 0], [0, 0]],
        "top_n": [],
        "errors": [],
    }
    (store.folder(run.id) / "results.json").write_text(json.dumps(results))

    def images(query=""):
        page = fred.get(f"/models/{run.id}{query}").data.decode()
        return re.findall(r"<tr><td><code>(img\d+)\.png</code>", page), page

    shown, page = images()
    assert shown == [f"img{n}" for n in range(50)] and "1–50 of 120" in page
    assert images("?page=3")[0] == [f"img{n}" for n in range(100, 120)]
    wrong = [f"img{n}" for n in range(120) if ("a" if n % 3 else "b") != "ab"[n % 2]]
    assert images("?show=wrong")[0] == wrong[:50]
    assert len(fred.get(f"/models/{run.id}.json").get_json()["classifications"]) == 120


def test_completed_jobs_json_has_digits_tables(fred, store):
    dataset = add_job(store, "dataset")
    model = add_job(store, "model", name="LeNet")
    running = add_job(store, "model", status=Status.RUN)
    inference_run(store, model)
    tables = fred.get("/completed_jobs.json").get_json()
    assert [row["id"] for row in tables["running"]] == [running.id]
    assert [row["id"] for row in tables["datasets"]] == [dataset.id]
    assert [row["id"] for row in tables["models"]] == [model.id]  # its Classify Many run is not
    row = tables["models"][0]
    assert (row["type"], row["status"], row["status_css"], row["progress"]) == (
        "model",
        "Done",
        "done",
        100,
    )
    assert tables["pretrained_models"] == [] and tables["model_output_fields"] == []


def test_table_data_json_is_one_jobs_row_of_digits_tables(fred, store):
    model = add_job(store, "model", name="LeNet")
    row = fred.get(f"/jobs/{model.id}/table_data.json").get_json()["job"]
    assert (row["id"], row["type"], row["status_css"], row["progress"]) == (
        model.id,
        "model",
        "done",
        100,
    )
    assert fred.get("/jobs/20250101-000000-abcd/table_data.json").status_code == 404


def test_digits_acts_on_the_jobs_ticked_in_its_tables(fred, store):
    mine = [add_job(store, "dataset", status=Status.WAIT) for _ in range(2)]  # queued
    ticked = {"job_ids[]": [job.id for job in mine], "group_name": "week 1"}
    assert fred.post("/group", data=ticked).get_data(as_text=True) == "Jobs regrouped."
    assert {store.get(job.id).group for job in mine} == {"week 1"}
    aborted = fred.post("/abort_jobs", data={"job_ids[]": [mine[0].id]})
    assert aborted.get_data(as_text=True) == "Jobs aborted."
    assert store.get(mine[0].id).status is Status.ABORT
    # Without accounts anyone may change any job; a job that is gone is counted and said.
    gone = fred.delete("/jobs", data={"job_ids[]": [mine[1].id, "20250101-000000-abcd"]})
    assert gone.status_code == 400 and "1 job not found." in gone.get_data(as_text=True)
    assert mine[1].id not in {job.id for job in store.list()}


def test_files_serves_a_jobs_own_files_and_nothing_else(fred, store):
    dataset = add_job(store, "dataset")
    (store.folder(dataset.id) / "labels.txt").write_text("red\ngreen\n")
    (store.folder(dataset.id) / ".error").write_text("hidden")
    assert fred.get(f"/files/{dataset.id}/labels.txt").get_data(as_text=True) == "red\ngreen\n"
    for path in (
        f"{dataset.id}/.error",
        f"{dataset.id}/../.secret_key",
        ".secret_key",
        f"{dataset.id}/missing.txt",
        "20250101-000000-abcd/labels.txt",
    ):
        assert fred.get(f"/files/{path}").status_code == 404, path
