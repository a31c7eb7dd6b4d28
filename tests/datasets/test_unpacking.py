import io
import tarfile
import zipfile

import pytest

from digits.datasets.unpacking import (
    ArchiveLimits,
    UnsafeArchive,
    check_archive,
    extract_archive,
    images_root,
)


def make_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path, build):
    with tarfile.open(path, "w:gz") as tf:
        build(tf)
    return path


def add_file(tf, name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def test_a_zip_of_class_folders_unpacks_and_finds_its_root(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"pets/cat/1.png": b"1", "pets/dog/2.png": b"2"})
    assert check_archive(archive) == 2
    extract_archive(archive, tmp_path / "out")
    assert images_root(tmp_path / "out") == tmp_path / "out" / "pets"
    assert (tmp_path / "out" / "pets" / "dog" / "2.png").read_bytes() == b"2"


def test_a_tar_gz_unpacks(tmp_path):
    archive = make_tar(
        tmp_path / "a.tgz", lambda tf: (add_file(tf, "cat/1.png"), add_file(tf, "dog/2.png"))
    )
    extract_archive(archive, tmp_path / "out")
    assert images_root(tmp_path / "out") == tmp_path / "out"


@pytest.mark.parametrize(
    "name", ["../evil.png", "/etc/evil.png", "cat/../../evil.png", "C:/evil.png"]
)
def test_members_escaping_the_destination_are_refused(tmp_path, name):
    archive = make_zip(tmp_path / "a.zip", {"cat/1.png": b"1", name: b"evil"})
    with pytest.raises(UnsafeArchive):
        check_archive(archive)
    with pytest.raises(UnsafeArchive):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "evil.png").exists()


def test_links_in_tar_archives_are_refused(tmp_path):
    def build(tf):
        add_file(tf, "cat/1.png")
        link = tarfile.TarInfo("cat/link.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)

    with pytest.raises(UnsafeArchive, match="link"):
        check_archive(make_tar(tmp_path / "a.tgz", build))


def test_size_limits(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"cat/1.png": b"x" * 1000, "dog/2.png": b"y" * 1000})
    limits = ArchiveLimits(total_bytes=1500)
    with pytest.raises(UnsafeArchive, match="more than"):
        check_archive(archive, limits)
    with pytest.raises(UnsafeArchive, match="more than"):
        extract_archive(archive, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()  # refused before anything was written
    assert check_archive(archive) == 2


def test_a_decompression_bomb_is_refused_from_its_headers(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cat/1.png", bytes(20 * 1024**2))
        zf.writestr("dog/2.png", b"y")
    assert archive.stat().st_size < 100_000
    with pytest.raises(UnsafeArchive, match="decompression bomb"):
        check_archive(archive)


def test_folder_and_file_counts_are_limited(tmp_path):
    folders = tmp_path / "folders.zip"
    with zipfile.ZipFile(folders, "w") as zf:
        for i in range(300):
            zf.writestr(f"empty{i}/", b"")
        zf.writestr("cat/1.png", b"x")
    with pytest.raises(UnsafeArchive, match="more than 200 folders"):
        check_archive(folders, ArchiveLimits(folders=200))
    files = make_zip(tmp_path / "files.zip", {f"cat/{i}.png": b"x" for i in range(30)})
    with pytest.raises(UnsafeArchive, match="more than 20 files"):
        check_archive(files, ArchiveLimits(files=20))


def test_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"hello")
    with pytest.raises(UnsafeArchive):
        check_archive(tmp_path / "x.zip")
