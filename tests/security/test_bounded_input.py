"""Bounded work for bounded input: an image, an archive or a dataset that would cost far more
than its size is refused before the work starts, with a 400 naming the field."""

import io
import resource
import struct
import zipfile
import zlib

import pytest
from PIL import Image

from digits.config import Settings
from digits.webapp import create_app
from tests.support.model_forms import done_dataset, stored_job

DATASETS = "/datasets/images/classification.json"


def png_bomb(width: int = 12000, height: int = 12000) -> bytes:
    """A real 16-bit grayscale PNG of zeros: about 280 kB that decode to gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    packer, row = zlib.compressobj(9), b"\0" * (1 + 2 * width)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    return buffer.getvalue()


def dataset_form(archive: bytes, **fields) -> dict:
    return {
        "method": "upload",
        "dataset_name": "d",
        "upload_archive": (io.BytesIO(archive), "images.zip"),
        "resize_width": "8",
        "resize_height": "8",
        **fields,
    }


def no_jobs_and_nothing_staged(client, jobs_dir) -> bool:
    index = client.get("/index.json").get_json()
    return index["datasets"] == index["models"] == [] and not list(jobs_dir.glob(".upload-*"))


def test_a_decompression_bomb_image_is_refused_before_decoding(fred):
    bomb = png_bomb()
    assert len(bomb) < 400_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer = fred.post(
        "/datasets/images/resize-example.json", data={"image_file": (io.BytesIO(bomb), "bomb.png")}
    )
    assert answer.status_code == 400
    [message] = answer.get_json()["errors"]["image_file"]
    assert "12000x12000 is 144 megapixels" in message
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200  # decoding it took 3.6 GB


def test_an_archive_bomb_is_refused_where_it_was_uploaded(fred, jobs_dir):
    bomb = zip_of({"cat/1.png": bytes(300 * 1024**2), "dog/2.png": tiny_png()})
    assert len(bomb) < 1024**2
    answer = fred.post(DATASETS, data=dataset_form(bomb), content_type="multipart/form-data")
    assert answer.status_code == 400
    assert "decompression bomb" in answer.get_json()["errors"]["upload_archive"][0]
    assert no_jobs_and_nothing_staged(fred, jobs_dir)


def test_a_dataset_bigger_than_the_limit_is_refused(jobs_dir, data_dir):
    settings = Settings(
        jobs_dir=jobs_dir, secret_key="t", data_roots=(data_dir,), max_dataset_mb=100
    )
    client = create_app(settings, {"TESTING": True, "HOUSEKEEPING": False}).test_client()
    client.post("/login", data={"username": "fred"})
    four = zip_of({f"{label}/{i}.png": tiny_png() for label in ("a", "b") for i in range(2)})
    assert len(four) < 1000
    fields = dataset_form(four, resize_width="4096", resize_height="4096", encoding="none")
    answer = client.post(DATASETS, data=fields, content_type="multipart/form-data")
    assert answer.status_code == 400
    [message] = answer.get_json()["errors"]["resize_width"]
    assert "about 192 MB (4 images of 4096x4096x3, encoding none)" in message
    assert "limit of 100 MB" in message
    assert no_jobs_and_nothing_staged(client, jobs_dir)
    small = dataset_form(four, resize_width="64", resize_height="64", encoding="none")
    assert client.post(DATASETS, data=small, content_type="multipart/form-data").status_code == 200


@pytest.fixture
def model_with_snapshot(app) -> str:
    store = app.extensions["digits"].store
    done_dataset(store)
    job = stored_job(store, "model")
    (store.folder(job.id) / "snapshot_epoch_1.pt").write_bytes(b"never read by the web server")
    return job.id


def test_classify_many_leaves_unpacking_to_its_worker(fred, model_with_snapshot, jobs_dir):
    archive = zip_of({"a/1.png": tiny_png()})
    answer = fred.post(
        "/models/images/classification/classify_many",
        content_type="multipart/form-data",
        data={"job_id": model_with_snapshot, "image_archive": (io.BytesIO(archive), "a.zip")},
    )
    assert answer.status_code == 302
    job_id = answer.headers["Location"].rsplit("/", 1)[-1]
    folder = jobs_dir / job_id
    assert (folder / "upload.archive").read_bytes() == archive and not (folder / "upload").exists()


def test_an_image_too_heavy_for_a_web_request_is_refused_from_its_header(fred):
    """9000x9000 at 16 bits: under the pixel limit, but 2.1 GB and 8.5 s for See example."""
    heavy = png_bomb(9000, 9000)
    assert len(heavy) < 200_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer = fred.post(
        "/datasets/images/resize-example.json",
        data={"image_file": (io.BytesIO(heavy), "scan.png")},
    )
    assert answer.status_code == 400
    [message] = answer.get_json()["errors"]["image_file"]
    assert "9000x9000 (I;16) is 154 MB decoded" in message
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 100


def test_a_tar_that_is_really_bzip2_is_refused_without_unpacking_it(fred, jobs_dir):
    import bz2
    import tarfile
    import time

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("cat/1.png")
        info.size = 200 * 1024**2
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = bz2.compress(buffer.getvalue(), 9)
    assert len(bomb) < 4096
    fields = dataset_form(bomb)
    fields["upload_archive"] = (io.BytesIO(bomb), "images.tar")
    started = time.process_time()
    answer = fred.post(DATASETS, data=fields, content_type="multipart/form-data")
    assert answer.status_code == 400
    assert "only .zip, .tar and .tar.gz" in answer.get_json()["errors"]["upload_archive"][0]
    assert time.process_time() - started < 1.0  # it took 10 s of CPU
    assert no_jobs_and_nothing_staged(fred, jobs_dir)


def test_a_gzip_tar_bomb_is_refused_before_its_headers_are_all_read(fred, jobs_dir):
    import gzip
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for number in range(2):
            info = tarfile.TarInfo(f"cat/{number}.png")
            info.size = 150 * 1024**2
            archive.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = gzip.compress(buffer.getvalue(), 9)
    fields = dataset_form(bomb)
    fields["upload_archive"] = (io.BytesIO(bomb), "images.tar.gz")
    answer = fred.post(DATASETS, data=fields, content_type="multipart/form-data")
    assert answer.status_code == 400
    assert "decompression bomb" in answer.get_json()["errors"]["upload_archive"][0]


def test_a_list_larger_than_the_web_reads_is_refused_from_its_size(fred, data_dir):
    big = data_dir / "train.txt"
    with open(big, "wb") as out:
        out.truncate(40 * 1024**2)  # sparse: no disk, and never read
    (data_dir / "labels.txt").write_text("a\nb\n")
    fields = {
        "dataset_name": "lists",
        "method": "textfile",
        "textfile_local_labels_file": str(data_dir / "labels.txt"),
        "textfile_local_train_images": str(big),
    }
    answer = fred.post(DATASETS, data=fields)
    assert answer.status_code == 400
    [message] = answer.get_json()["errors"]["textfile_local_train_images"]
    assert "a list is at most 32 MB" in message
