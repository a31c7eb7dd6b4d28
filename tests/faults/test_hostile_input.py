"""Every JSON and form endpoint, fed random and malformed values (property-based): never a
500, never a traceback in the answer, never a job folder left half-made."""

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.model_forms import stored_job

NASTY = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1e309",
            "nan",
            "inf",
            "999999999999999999999",
            "../../etc/passwd",
            "/etc/passwd",
            "a\x00b",
            "%s%n",
            "{}",
            "[]",
            "null",
            "lenet",
            "custom",
            "previous",
            "standard",
            "folder",
            "upload",
            "textfile",
            "1,2,3",
            "0.1,0.01",
            "squash",
            "fill",
            "none",
            "rotall",
            "SGD",
        ]
    ),
)
FIELDS = [
    "dataset_name",
    "method",
    "folder_train",
    "folder_pct_val",
    "folder_pct_test",
    "resize_width",
    "resize_height",
    "resize_channels",
    "resize_mode",
    "encoding",
    "folder_train_min_per_class",
    "folder_train_max_per_class",
    "textfile_train_images",
    "model_name",
    "dataset",
    "standard_networks",
    "custom_network",
    "previous_networks",
    "train_epochs",
    "batch_size",
    "learning_rate",
    "lr_policy",
    "solver_type",
    "crop_size",
    "select_gpus",
    "select_gpu_count",
    "snapshot_interval",
    "val_interval",
    "aug_flip",
    "aug_rot",
    "aug_hsv_use",
    "use_mean",
    "random_seed",
    "job_id",
    "snapshot_epoch",
    "image_path",
    "image_folder",
    "num_test_images",
    "top_n",
    "network",
    "num_classes",
    "channels",
    "height",
    "width",
    "job_name",
    "job_notes",
    "username",
    "password",
]
FORMS = st.dictionaries(st.sampled_from(FIELDS), NASTY, max_size=12)
UPLOADS = st.one_of(st.none(), st.binary(max_size=64), st.just(b"\x89PNG\r\n\x1a\n broken"))


@pytest.fixture
def known_jobs(app):
    """A Done dataset and a model with a (fake) snapshot, for routes that need a real id."""
    store = app.extensions["digits"].store
    ids = {kind: stored_job(store, kind).id for kind in ("dataset", "model")}
    (store.folder(ids["model"]) / "snapshot_epoch_1.pt").write_bytes(b"not a snapshot")
    return ids


ENDPOINTS = [
    ("post", "/datasets/images/classification.json", "upload_archive"),
    ("post", "/models/images/classification.json", None),
    ("post", "/models/visualize-network.json", None),
    ("post", "/models/customize.json", None),
    ("post", "/models/visualize-lr.json", None),
    ("post", "/datasets/images/resize-example.json", "image_file"),
    ("post", "/models/images/classification/classify_one.json", "image_file"),
    ("post", "/models/images/classification/classify_many.json", "image_list"),
    ("post", "/models/images/classification/top_n.json", "image_archive"),
    ("post", "/login.json", None),
    ("post", "/datasets/{dataset}/append.json", "upload_archive"),
    ("put", "/jobs/{model}", None),
    ("post", "/jobs/{model}/abort.json", None),
    ("post", "/jobs/{dataset}/resume.json", None),
    ("post", "/clone/{dataset}.json", None),
    ("get", "/datasets/images/classification/explore.json", None),
    ("get", "/models/{model}/download.zip", None),
]


@pytest.mark.parametrize(("method", "path", "upload"), ENDPOINTS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(form=FORMS, data=UPLOADS)
def test_no_input_breaks_an_endpoint(fred, app, known_jobs, method, path, upload, form, data):
    url = path.format(**known_jobs)
    if method == "get":
        response = fred.get(url, query_string=form)
    else:
        body = dict(form)
        if upload and data is not None:
            body[upload] = (io.BytesIO(data), "file.bin")
        response = getattr(fred, method)(url, data=body)
    text = response.get_data(as_text=True)
    # 503 is an answer too: with no worker here, what needs one says so.
    assert response.status_code < 500 or response.status_code == 503, (url, form, text[:500])
    assert "Traceback" not in text
    if response.is_json and response.status_code >= 400:
        assert "errors" in response.get_json()
    store = app.extensions["digits"].store
    store.list()
    assert store.problems == {}  # every job folder whole and readable
    assert not [p for p in store.jobs_dir.iterdir() if p.name.startswith(".creating-")]


@given(value=NASTY)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_server_paths_outside_the_data_roots_are_refused(fred, data_dir, value):
    """Anything that is not a path inside the data roots, '..' and NUL bytes included."""
    response = fred.post(
        "/datasets/images/classification.json",
        data={"method": "folder", "folder_train": value, "dataset_name": "x"},
    )
    assert response.status_code == 400
    assert "folder_train" in response.get_json()["errors"]


def test_a_symlink_out_of_the_data_roots_is_refused(fred, data_dir, tmp_path):
    outside = tmp_path / "outside"
    (outside / "cat").mkdir(parents=True)
    (data_dir / "link").symlink_to(outside)
    fields = {"method": "folder", "folder_train": str(data_dir / "link"), "dataset_name": "x"}
    response = fred.post("/datasets/images/classification.json", data=fields)
    assert response.status_code == 400
    assert "outside the data roots" in json.dumps(response.get_json())
