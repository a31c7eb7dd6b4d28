"""The Import model page and routes, with no worker running: what is refused before any job."""

import io


def test_the_import_page_offers_both_ways(fred):
    page = fred.get("/pretrained_models/new").data.decode()
    for field in ("archive", "weights_file", "model_def_file", "labels_file", "mean_file"):
        assert f'name="{field}"' in page
    for field in ("image_type", "resize_mode", "width", "height", "normalize_mean", "job_name"):
        assert f'name="{field}"' in page
    assert 'href="/pretrained_models/new"' in fred.get("/?tab=models").data.decode()


def test_an_archive_is_checked_before_any_worker_is_asked(fred, jobs_dir):
    missing = fred.post("/pretrained_models/upload_archive.json", data={})
    assert missing.status_code == 400 and "archive" in missing.get_json()["errors"]
    not_archive = fred.post(
        "/pretrained_models/upload_archive.json",
        data={"archive": (io.BytesIO(b"x"), "weights.pt")},
        content_type="multipart/form-data",
    )
    assert not_archive.status_code == 400
    assert "must be a .zip" in not_archive.get_json()["errors"]["archive"][0]
    assert not [p for p in jobs_dir.iterdir() if p.name.startswith(".upload-")]


def test_without_a_worker_of_queue_infer_the_answer_is_a_503_and_nothing_is_kept(fred, jobs_dir):
    files = {
        "weights_file": (io.BytesIO(b"w"), "w.pt"),
        "model_def_file": (io.BytesIO(b"def network(): pass"), "network.py"),
        "labels_file": (io.BytesIO(b"a\n"), "labels.txt"),
    }
    answer = fred.post(
        "/pretrained_models/new.json", data=files, content_type="multipart/form-data"
    )
    assert answer.status_code == 503
    assert "no worker is serving queue infer" in answer.get_json()["errors"]["error"][0]
    assert not [p for p in jobs_dir.iterdir() if p.name.startswith(".upload-")]
    assert fred.get("/index.json").get_json()["models"] == []


def test_importing_needs_a_user(client):
    assert client.post("/pretrained_models/new.json").status_code == 401
