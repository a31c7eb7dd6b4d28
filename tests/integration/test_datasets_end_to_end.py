"""Datasets built by a real `digits serve` and its workers, read back as training reads them."""

import io
import tarfile

import numpy as np
import requests
from PIL import Image

from digits.datasets.reader import LmdbImageDataset
from tests.support.api import finished
from tests.support.imagesets import add_odd_files, make_class_folders
from tests.support.processes import wait_until

FORM = "/datasets/images/classification.json"


def create(server, files=None, **fields) -> str:
    data = {"username": "fred", "resize_width": "8", "resize_height": "8", **fields}
    response = requests.post(server.url + FORM, data=data, files=files)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_a_folder_dataset_with_odd_files(server):
    train = make_class_folders(server.data / "odd" / "train", per_class=12)
    add_odd_files(train / "red")
    job_id = create(
        server,
        method="folder",
        folder_train=str(train),
        dataset_name="odd",
        folder_pct_val="25",
        resize_mode="fill",
        resize_channels="3",
    )
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    assert job["labels"] == ["blue", "green", "red"]
    parse = job["ParseFolderTasks"][0]
    assert parse["label_count"] == 3
    # 18 image files in red (2 unreadable), 12 in the others; 25% of each class to validation
    skipped = sorted(s["path"].rsplit("/", 1)[1] for s in job["skipped"])
    assert skipped == ["corrupt.png", "truncated.png"]
    assert parse["train_count"] + parse["val_count"] == 40 and parse["test_count"] == 0
    dbs = {db["name"]: db for db in job["CreateDbTasks"]}
    assert dbs["Create DB (val)"]["entries"] + dbs["Create DB (val)"]["skipped"] == 4 + 3 + 3
    train_db = dbs["Create DB (train)"]
    assert (train_db["image_width"], train_db["image_height"], train_db["image_channels"]) == (
        8,
        8,
        3,
    )
    assert sum(train_db["per_class"]) == train_db["entries"] == parse["train_count"]

    mean = requests.get(f"{server.url}/datasets/{job_id}/mean.png")
    assert mean.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(mean.content)).size == (8, 8)
    page = requests.get(f"{server.url}/datasets/{job_id}").text
    assert "corrupt.png" in page and "Explore" in page and 'data-role="mean-image"' in page

    dataset = LmdbImageDataset(server.jobs_dir / job_id / "train_db")
    image, label = dataset[0]
    assert image.shape == (3, 8, 8) and 0 <= label < 3
    mean_npy = np.load(server.jobs_dir / job_id / "mean.npy")
    pixels = np.stack([dataset[i][0].numpy().transpose(1, 2, 0) for i in range(len(dataset))])
    assert np.allclose(mean_npy, pixels.mean(axis=0), atol=1e-3)


def test_explore_pages_and_filters_by_class(server):
    train = make_class_folders(server.data / "explore" / "train", per_class=10)
    job_id = create(
        server, method="folder", folder_train=str(train), dataset_name="explore", folder_pct_val="0"
    )
    assert finished(server, job_id)["status"] == "Done"
    url = f"{server.url}/datasets/images/classification/explore.json"
    first = requests.get(url, params={"job_id": job_id, "db": "train", "size": 7}).json()
    assert first["total"] == 30 and len(first["items"]) == 7
    reds = requests.get(
        url, params={"job_id": job_id, "db": "train", "label": "red", "size": 50}
    ).json()
    assert reds["total"] == 10 and {i["label"] for i in reds["items"]} == {"red"}
    html = requests.get(
        f"{server.url}/datasets/images/classification/explore",
        params={"job_id": job_id, "db": "train"},
    ).text
    assert html.count("<figure>") == 24
    # Each image comes by its own request: a page of large images is never built in memory.
    assert "data:image" not in html
    first = f"/datasets/{job_id}/records/train/0000000000.png"
    assert f'src="{first}"' in html
    image = requests.get(server.url + first)
    assert image.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (8, 8)
    assert (
        requests.get(f"{server.url}/datasets/{job_id}/records/train/0000009999.png").status_code
        == 404
    )
    missing = requests.get(url, params={"job_id": job_id, "db": "test"})
    assert missing.status_code == 404


def test_text_files_with_relative_absolute_and_missing_paths(server, tmp_path):
    images = make_class_folders(server.data / "lists", per_class=3)
    relative = [f"red/00{n}.png 0" for n in range(3)]
    absolute = [f"{images}/blue/00{n}.png 1" for n in range(3)]
    bad = ["red/missing.png 0", f"{tmp_path}/outside.png 1"]
    train = "\n".join(relative + absolute + bad)
    Image.new("RGB", (4, 4)).save(tmp_path / "outside.png")
    files = {
        "textfile_labels_file": ("labels.txt", b"red\nblue\n"),
        "textfile_train_images": ("train.txt", train.encode()),
    }
    job_id = create(
        server,
        files=files,
        method="textfile",
        dataset_name="lists",
        textfile_train_folder=str(images),
    )
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    assert job["ParseFolderTasks"][0]["train_count"] == 6
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in job["skipped"]}
    assert set(reasons) == {"missing.png", "outside.png"}
    assert "outside the data roots" in reasons["outside.png"]


def test_many_unreadable_files_make_a_sample_of_log_lines_and_a_count(server):
    """Each unreadable file of a long list was an event and a broker message (4 MB of them)."""
    images = make_class_folders(server.data / "many-missing", per_class=3)
    lines = [f"red/00{n}.png 0" for n in range(3)] + [f"blue/00{n}.png 1" for n in range(3)]
    lines += [f"red/gone-{n}.png 0" for n in range(60)]
    files = {
        "textfile_labels_file": ("labels.txt", b"red\nblue\n"),
        "textfile_train_images": ("train.txt", "\n".join(lines).encode()),
    }
    job_id = create(
        server,
        files=files,
        method="textfile",
        dataset_name="many missing",
        textfile_train_folder=str(images),
    )
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    assert len(job["skipped"]) == 60  # every one listed on the page
    events = (server.jobs_dir / job_id / "events.jsonl").read_text().splitlines()
    skipped_lines = [e for e in events if '"skipped ' in e]
    assert len(skipped_lines) == 20
    assert any("40 more skipped" in e for e in events)


def test_an_uploaded_archive_of_class_folders(server, tmp_path):
    source = make_class_folders(tmp_path / "pets", classes=("red", "green"), per_class=5)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tf:
        tf.add(source, arcname="pets")
    job_id = create(
        server,
        files={"upload_archive": ("pets.tar.gz", archive.getvalue())},
        method="upload",
        dataset_name="pets",
        folder_pct_val="20",
        folder_train_max_per_class="4",
    )
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    assert job["labels"] == ["green", "red"]
    parse = job["ParseFolderTasks"][0]
    assert (parse["train_count"], parse["val_count"]) == (6, 2)  # 4 per class at most, 20% val


def test_a_dataset_of_unreadable_files_ends_in_error_with_the_reason(server):
    train = server.data / "broken" / "train"
    for name in ("a", "b"):
        (train / name).mkdir(parents=True)
        for n in range(3):
            (train / name / f"{n}.png").write_bytes(b"garbage")
    job_id = create(server, method="folder", folder_train=str(train), dataset_name="broken")
    job = finished(server, job_id)
    assert job["status"] == "Error"
    assert job["error"] == "no training image could be read: nothing to build a dataset from"
    assert not (server.jobs_dir / job_id / "train_db").exists()  # nothing half-made in view


def test_adding_images_and_a_new_class_to_a_done_dataset(server):
    train = make_class_folders(server.data / "grow" / "train", classes=("red", "blue"), per_class=6)
    job_id = create(
        server,
        method="folder",
        folder_train=str(train),
        dataset_name="grow",
        folder_pct_val="0",
        resize_channels="1",
    )
    assert finished(server, job_id)["status"] == "Done"
    more = make_class_folders(server.data / "grow" / "more", classes=("blue", "green"), per_class=4)
    response = requests.post(
        f"{server.url}/datasets/{job_id}/append.json",
        data={
            "username": "fred",
            "method": "folder",
            "folder_train": str(more),
            "folder_pct_val": "25",
        },
    )
    assert response.status_code == 200, response.text
    job = wait_until(lambda: (j := finished(server, job_id)) and j["progress"] == 1.0 and j)
    assert job["status"] == "Done"
    assert [c["status"] for c in job["status_history"]][-3:] == ["Waiting", "Running", "Done"]
    assert job["labels"] == ["blue", "red", "green"]  # existing labels keep their numbers
    parse = job["ParseFolderTasks"][0]
    assert (parse["train_count"], parse["val_count"]) == (12 + 6, 2)
    train_db = next(db for db in job["CreateDbTasks"] if db["name"] == "Create DB (train)")
    assert train_db["per_class"] == [6 + 3, 6, 3]

    dataset = LmdbImageDataset(server.jobs_dir / job_id / "train_db")
    pixels = np.stack([dataset[i][0].numpy().transpose(1, 2, 0) for i in range(len(dataset))])
    mean = np.load(server.jobs_dir / job_id / "mean.npy")
    assert np.allclose(mean, pixels.mean(axis=0), atol=1e-3)  # over old and new images alike

    missing = {"username": "fred", "folder_train": str(server.data / "nope")}
    again = requests.post(f"{server.url}/datasets/{job_id}/append.json", data=missing)
    assert again.status_code == 400 and "folder_train" in again.json()["errors"]
