"""Classify and Download as the web layer answers them before any worker is asked."""

import io

import pytest

from digits.jobs.status import Status
from tests.support.model_forms import stored_job


@pytest.fixture
def model(app):
    """A model job folder; `snapshot(model)` adds a snapshot file (the web never opens it)."""
    store = app.extensions["digits"].store
    return store.folder(stored_job(store, "model", Status.RUN, dataset="x").id)


def image():
    return {"image_file": (io.BytesIO(b"\x89PNG not really"), "a.png")}


def test_a_model_with_no_snapshot_yet_says_so(client, model):
    response = client.post(
        "/models/images/classification/classify_one.json", data={"job_id": model.name, **image()}
    )
    assert response.status_code == 400
    assert "no snapshot yet" in response.get_json()["errors"]["job_id"][0]
    download = client.get(f"/models/{model.name}/download.zip")
    assert download.status_code == 404 and "no snapshot" in download.get_data(as_text=True)


def test_with_no_worker_serving_infer_the_answer_is_a_clear_503(client, model):
    (model / "snapshot_epoch_1.pt").write_bytes(b"")
    response = client.post(
        "/models/images/classification/classify_one.json", data={"job_id": model.name, **image()}
    )
    assert response.status_code == 503
    assert "no worker is serving queue infer" in response.get_json()["errors"]["error"][0]
    assert client.get(f"/models/{model.name}/download").status_code == 503


def test_a_dataset_is_not_a_model(client, fred):
    created = fred.post("/test/countdown.json", data={"kind": "dataset", "steps": "1"})
    job_id = created.get_json()["id"]
    response = client.post(
        "/models/images/classification/classify_one.json", data={"job_id": job_id, **image()}
    )
    assert "is not a model" in response.get_json()["errors"]["job_id"][0]


def test_a_refused_image_is_shown_beside_its_field_on_the_model_page(fred, model):
    (model / "snapshot_epoch_1.pt").write_bytes(b"")
    form = {"job_id": model.name, "image_path": "/etc/passwd"}
    response = fred.post("/models/images/classification/classify_one", data=form)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/models/{model.name}#classify-one"
    page = fred.get(f"/models/{model.name}").get_data(as_text=True)
    assert 'data-field-error="image_path"' in page and "outside the data roots" in page
    assert "outside the data roots" not in fred.get(f"/models/{model.name}").get_data(as_text=True)


def test_job_id_may_come_in_the_query_string_as_digits_pages_send_it(client, model):
    (model / "snapshot_epoch_1.pt").write_bytes(b"")
    for route in ("classify_one", "classify_many", "top_n"):
        response = client.post(
            f"/models/images/classification/{route}.json?job_id={model.name}", data=image()
        )
        # Found by its id (a missing one is a 400 naming job_id): the request goes on to ask
        # for what the route needs next.
        errors = response.get_json().get("errors", {})
        assert "job_id" not in errors, (route, errors)
