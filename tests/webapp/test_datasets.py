"""The New Dataset form and API: what is refused before any job exists, and how."""

import io
import zipfile
from pathlib import Path

import pytest

from tests.support.imagesets import make_class_folders

FORM = "/datasets/images/classification.json"


def mnist_call(folder, **overrides):
    """DIGITS' documented MNIST call, as written."""
    fields = {
        "folder_train": str(folder),
        "encoding": "png",
        "resize_channels": "1",
        "resize_width": "28",
        "resize_height": "28",
        "method": "folder",
        "dataset_name": "mnist",
    }
    return {**fields, **overrides}


def errors_of(response):
    assert response.status_code == 400, response.data
    return response.get_json()["errors"]


def test_digits_mnist_call_creates_a_waiting_job(fred, data_dir, jobs_dir):
    train = make_class_folders(data_dir / "mnist" / "train", per_class=2)
    response = fred.post(FORM, data=mnist_call(train, group_name="digits"))
    assert response.status_code == 200
    job = response.get_json()
    assert job["name"] == "mnist" and job["status"] == "Waiting"
    detail = fred.get(f"/datasets/{job['id']}.json").get_json()
    assert detail["parameters"]["folder_train"] == str(train)
    assert detail["type"] == "image-classification-dataset"
    assert detail["group"] == "digits"


def test_the_username_field_stands_in_for_login(client, data_dir):
    train = make_class_folders(data_dir / "train", per_class=2)
    assert client.post(FORM, data=mnist_call(train)).status_code == 401
    assert client.post(FORM, data=mnist_call(train, username="fred")).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"resize_width": "0"}, "resize_width"),
        ({"resize_height": "4097"}, "resize_height"),
        ({"resize_width": "abc"}, "resize_width"),
        ({"resize_channels": "2"}, "resize_channels"),
        ({"resize_mode": "stretch"}, "resize_mode"),
        ({"encoding": "gif"}, "encoding"),
        ({"dataset_name": " "}, "dataset_name"),
        ({"folder_pct_val": "80", "folder_pct_test": "30"}, "folder_pct_val"),
        ({"folder_pct_val": "-5"}, "folder_pct_val"),
        (
            {"folder_train_min_per_class": "5", "folder_train_max_per_class": "3"},
            "folder_train_max_per_class",
        ),
        ({"method": "magic"}, "method"),
        ({"backend": "hdf5"}, "backend"),
    ],
)
def test_bad_fields_are_400s_naming_the_field(fred, data_dir, overrides, field):
    train = make_class_folders(data_dir / "train", per_class=2)
    assert field in errors_of(fred.post(FORM, data=mnist_call(train, **overrides)))


def test_server_paths_must_be_inside_the_data_roots(fred, data_dir, tmp_path):
    outside = make_class_folders(tmp_path / "elsewhere", per_class=2)
    for path in (str(outside), str(data_dir / ".." / "elsewhere"), "relative/path", "x\0y"):
        message = errors_of(fred.post(FORM, data=mnist_call(path)))["folder_train"][0]
        assert (
            "outside the data roots" in message
            or "not an absolute path" in message
            or ("not a valid path" in message)
        )
    (data_dir / "link").symlink_to(outside)
    assert (
        "outside the data roots"
        in errors_of(fred.post(FORM, data=mnist_call(data_dir / "link")))["folder_train"][0]
    )


def test_missing_empty_and_single_class_folders(fred, data_dir):
    assert (
        "not an existing folder"
        in errors_of(fred.post(FORM, data=mnist_call(data_dir / "nope")))["folder_train"][0]
    )
    (data_dir / "empty").mkdir()
    assert (
        "at least 2"
        in errors_of(fred.post(FORM, data=mnist_call(data_dir / "empty")))["folder_train"][0]
    )


def test_text_file_method_checks_lines_and_labels(fred, data_dir):
    make_class_folders(data_dir / "imgs", per_class=2)
    base = {
        "method": "textfile",
        "dataset_name": "lists",
        "resize_width": "8",
        "resize_height": "8",
    }
    labels = (io.BytesIO(b"red\nblue\n"), "labels.txt")
    bad_list = (io.BytesIO(b"red/000.png 0\nblue/000.png 7\n"), "train.txt")
    data = {**base, "textfile_labels_file": labels, "textfile_train_images": bad_list}
    errors = errors_of(fred.post(FORM, data=data, content_type="multipart/form-data"))
    assert "line 2: label 7 is outside the labels file" in errors["textfile_train_images"][0]

    data = {
        **base,
        "textfile_labels_file": (io.BytesIO(b"red\nblue\n"), "labels.txt"),
        "textfile_train_images": (io.BytesIO(b"red/000.png 0\nblue/000.png 1\n"), "train.txt"),
        "textfile_train_folder": str(data_dir / "imgs"),
    }
    response = fred.post(FORM, data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    detail = fred.get(f"/datasets/{response.get_json()['id']}.json").get_json()
    assert detail["parameters"]["textfile_train_images"] == "train.txt"
    assert (Path(detail["directory"]) / "lists" / "train.txt").read_text().startswith("red/000")


def test_uploads_are_checked_before_a_job_exists(fred, jobs_dir):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("cat/1.png", b"x")
        zf.writestr("../../escape.png", b"x")
    data = {
        "method": "upload",
        "dataset_name": "up",
        "resize_width": "8",
        "resize_height": "8",
        "upload_archive": (io.BytesIO(buffer.getvalue()), "evil.zip"),
    }
    errors = errors_of(fred.post(FORM, data=data, content_type="multipart/form-data"))
    assert "points outside the archive" in errors["upload_archive"][0]
    data["upload_archive"] = (io.BytesIO(b"hello"), "notes.txt")
    assert (
        "must be a .zip"
        in errors_of(fred.post(FORM, data=data, content_type="multipart/form-data"))[
            "upload_archive"
        ][0]
    )
    assert fred.get("/index.json").get_json()["datasets"] == []
    assert [p.name for p in jobs_dir.iterdir() if not p.name.startswith(".")] == []
    assert not any(p.name.startswith(".upload-") for p in jobs_dir.iterdir())


def test_the_form_page_shows_every_digits_option(fred):
    page = fred.get("/datasets/images/classification/new").get_data(as_text=True)
    names = """folder_train folder_pct_val folder_pct_test folder_train_min_per_class
        folder_train_max_per_class has_val_folder folder_val has_test_folder folder_test
        textfile_train_images textfile_train_folder textfile_labels_file textfile_shuffle
        resize_channels resize_width resize_height resize_mode encoding dataset_name
        upload_archive""".split()
    for name in names:
        assert f'name="{name}"' in page


def test_the_html_form_shows_errors_beside_fields(fred):
    page = fred.post(
        "/datasets/images/classification", data={"dataset_name": "x", "resize_width": "0"}
    )
    assert page.status_code == 400
    assert b'data-field-error="resize_width"' in page.data


def test_resize_example_shows_each_mode(fred):
    image = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (40, 10), (255, 0, 0)).save(image, "PNG")
    url = "/datasets/images/resize-example.json"
    upload = (io.BytesIO(image.getvalue()), "a.png")
    data = {"resize_width": "16", "resize_height": "16", "image_file": upload}
    response = fred.post(url, data=data, content_type="multipart/form-data")
    assert sorted(response.get_json()["examples"]) == ["crop", "fill", "half_crop", "squash"]
    data = {"image_file": (io.BytesIO(b"nope"), "a.png")}
    bad = fred.post(url, data=data, content_type="multipart/form-data")
    assert "image_file" in errors_of(bad)


def test_clone_opens_the_form_prefilled(fred, data_dir):
    train = make_class_folders(data_dir / "train", per_class=2)
    job_id = fred.post(FORM, data=mnist_call(train, resize_width="31")).get_json()["id"]
    form = fred.get(f"/clone/{job_id}", follow_redirects=True).get_data(as_text=True)
    assert 'value="mnist (clone)"' in form and 'value="31"' in form


def test_an_upload_over_the_limit_is_a_413_saying_so(settings):
    import io

    from digits.webapp import create_app

    app = create_app(
        settings.with_changes(max_upload_mb=1), {"TESTING": True, "HOUSEKEEPING": False}
    )
    client = app.test_client()
    big = {
        "upload_archive": (io.BytesIO(b"x" * (2 * 1024**2)), "big.zip"),
        "method": "upload",
        "username": "fred",
    }
    response = client.post("/datasets/images/classification.json", data=big)
    assert response.status_code == 413
    assert "larger than this server takes (1 MB" in response.get_json()["errors"]["error"][0]
