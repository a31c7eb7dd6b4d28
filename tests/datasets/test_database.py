import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from digits.datasets.database import (
    DatabaseWriter,
    browse,
    decode_record,
    encode_record,
    read_record,
)
from digits.datasets.reader import LmdbImageDataset


@pytest.mark.parametrize("encoding", ["png", "none"])
def test_lossless_records_give_back_the_same_pixels(encoding):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    record = decode_record(encode_record(pixels, 4, encoding))
    assert record.label == 4 and (record.height, record.width, record.channels) == (5, 7, 3)
    assert (record.pixels() == pixels).all()


def test_jpeg_records_are_close_and_gray_keeps_one_channel():
    pixels = np.full((8, 8), 120, dtype=np.uint8)
    record = decode_record(encode_record(pixels, 0, "jpg"))
    assert record.pixels().shape == (8, 8, 1)
    assert abs(int(record.pixels().mean()) - 120) <= 2


def test_writer_grows_the_map_and_appends_in_order(tmp_path, monkeypatch):
    import digits.datasets.database as module

    monkeypatch.setattr(module, "INITIAL_MAP_SIZE", 64 * 1024)  # forces several growths
    value = encode_record(np.zeros((32, 32, 3), dtype=np.uint8), 1, "none")
    writer = DatabaseWriter(tmp_path / "db", batch_size=10)
    for _ in range(50):
        writer.put(value)
    writer.close()
    again = DatabaseWriter(tmp_path / "db")  # appending continues the numbering
    again.put(encode_record(np.zeros((32, 32, 3), dtype=np.uint8), 2, "none"))
    again.close()
    page, total = browse(tmp_path / "db", 49, 5)
    assert total == 51 and [key for key, _ in page] == ["0000000049", "0000000050"]
    assert page[-1][1] == 2  # its label, read from the header alone


def test_reader_feeds_a_dataloader_with_worker_processes(tmp_path):
    writer = DatabaseWriter(tmp_path / "db")
    for n in range(40):
        writer.put(encode_record(np.full((4, 4, 3), n, dtype=np.uint8), n % 3, "png"))
    writer.close()
    dataset = LmdbImageDataset(tmp_path / "db")
    loader = DataLoader(dataset, batch_size=8, num_workers=2, multiprocessing_context="spawn")
    images, labels = zip(*loader, strict=True)
    images, labels = torch.cat(images), torch.cat(labels)
    assert images.shape == (40, 3, 4, 4) and images.dtype == torch.uint8
    assert images[:, 0, 0, 0].tolist() == list(range(40))
    assert labels.tolist() == [n % 3 for n in range(40)]


def test_threads_of_one_process_read_a_database_at_once(tmp_path):
    """A page's images are asked for together; LMDB refuses a second open in one process."""
    import threading

    writer = DatabaseWriter(tmp_path / "db")
    for n in range(24):
        writer.put(encode_record(np.full((4, 4, 3), n, dtype=np.uint8), n % 3, "png"))
    writer.close()
    failures, records = [], {}

    def read(number: int) -> None:
        try:
            for _ in range(20):
                records[number] = read_record(tmp_path / "db", f"{number:010d}")
                browse(tmp_path / "db", 0, 3)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [records[n].pixels()[0, 0, 0] for n in range(24)] == list(range(24))
