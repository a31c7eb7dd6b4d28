"""Databases DIGITS already built, used here: an old DIGITS dataset folder (classification) and
generic prebuilt LMDBs of Caffe Datums, read as they are through the JSON API."""

import numpy as np
import pytest
import requests

from digits.datasets.database import iterate
from tests.support.api import created, finished, post, train
from tests.support.caffe_data import datum, label_datum, write_lmdb, write_mean

COLORS = [(230, 20, 20), (20, 230, 20), (20, 20, 230)]  # red, green, blue: labels 0, 1, 2


def picture(n: int) -> np.ndarray:
    """A 28x24 image of class n % 3's colour, with a gradient: its channels tell RGB from BGR."""
    base = np.array(COLORS[n % 3], np.int16)
    ramp = np.arange(28, dtype=np.int16)[None, :, None]
    row = np.clip(base + ramp + n % 5, 0, 255).astype(np.uint8)
    return np.repeat(row, 24, axis=0)


@pytest.fixture(scope="module")
def digits_folder(server):
    """A DIGITS dataset job folder: train_db (24, raw and PNG Datums), val_db (6), labels.txt."""
    folder = server.data / "digits-job"
    folder.mkdir(parents=True)
    write_lmdb(
        folder / "train_db", [datum(picture(n), n % 3, encoded=n % 2 == 1) for n in range(24)]
    )
    write_lmdb(folder / "val_db", [datum(picture(n), n % 3) for n in range(24, 30)])
    (folder / "labels.txt").write_text("red\ngreen\nblue\n")
    write_mean(folder / "mean.binaryproto", np.full((24, 28, 3), (100.0, 110.0, 120.0), np.float32))
    return folder


def test_a_digits_dataset_folder_becomes_a_done_dataset_here(server, digits_folder):
    job_id = created(
        post(
            server,
            "/datasets/images/classification.json",
            method="digits",
            digits_folder=str(digits_folder),
            dataset_name="from digits",
        )
    )
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    detail = requests.get(f"{server.url}/datasets/{job_id}.json").json()
    assert detail["labels"] == ["red", "green", "blue"]
    entries = {t["name"]: (t["entries"], t["per_class"]) for t in detail["CreateDbTasks"]}
    assert entries == {"Create DB (train)": (24, [8, 8, 8]), "Create DB (val)": (6, [2, 2, 2])}
    assert detail["image"]["width"] == 28 and detail["image"]["height"] == 24
    # The pixels are the pictures', red as red (Caffe kept blue-green-red), raw and PNG alike.
    records = list(iterate(server.jobs_dir / job_id / "train_db"))
    for n in (0, 1, 5):
        assert np.array_equal(records[n].pixels(), picture(n)) and records[n].label == n % 3
    mean = np.load(server.jobs_dir / job_id / "mean.npy")
    assert mean[0, 0].tolist() == [100.0, 110.0, 120.0]  # DIGITS' own mean, read as it was
    model = train(server, job_id, train_epochs="1", batch_size="8", crop_size="24")  # it trains
    assert finished(server, model)["status"] == "Done"


def test_prebuilt_lmdbs_make_a_generic_dataset_with_their_value_vectors(server):
    folder = server.data / "prebuilt"
    folder.mkdir(parents=True)
    vectors = [[n / 10, 1 - n / 10] for n in range(12)]
    write_lmdb(folder / "images", [datum(picture(n)) for n in range(12)])
    write_lmdb(folder / "labels", [label_datum(v) for v in vectors])
    job_id = created(
        post(
            server,
            "/datasets/images/generic.json",
            method="prebuilt",
            prebuilt_train_images=str(folder / "images"),
            prebuilt_train_labels=str(folder / "labels"),
            dataset_name="prebuilt",
        )
    )
    assert finished(server, job_id)["status"] == "Done"
    detail = requests.get(f"{server.url}/datasets/{job_id}.json").json()
    assert detail["outputs"] == ["y1", "y2"]
    stored = np.load(server.jobs_dir / job_id / "train_targets.npy")
    np.testing.assert_allclose(stored, vectors, atol=1e-6)


@pytest.mark.parametrize(
    ("path", "fields", "field"),
    [
        ("/etc", {"method": "digits"}, "digits_folder"),  # outside the data roots
        ("prebuilt-bad", {"method": "digits"}, "digits_folder"),  # no labels.txt
        ("prebuilt-bad", {"method": "prebuilt"}, "prebuilt_train_images"),  # no data.mdb
        ("", {"method": "prebuilt"}, "prebuilt_train_images"),  # required
    ],
)
def test_prebuilt_sources_are_checked_before_any_job(server, path, fields, field):
    (server.data / "prebuilt-bad").mkdir(exist_ok=True)
    full = str(server.data / path) if path and not path.startswith("/") else path
    route = "classification" if fields["method"] == "digits" else "generic"
    response = post(
        server, f"/datasets/images/{route}.json", dataset_name="bad", **fields, **{field: full}
    )
    assert response.status_code == 400, response.text
    assert field in response.json()["errors"]
