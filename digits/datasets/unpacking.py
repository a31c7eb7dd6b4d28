"""Uploaded archives of class folders (.zip, .tar, .tar.gz), unpacked without surprises.

Every member must be a plain file or folder whose path stays inside the destination: no
absolute paths, no `..`, no links, no devices. Files, folders, the total size and the ratio of
that size to the archive's are capped, from the headers before anything is written (a bomb is
refused where it was uploaded), then again on the bytes actually written while unpacking,
which a forged header cannot hide. Unpacking happens on workers, never in a web request.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class ArchiveLimits:
    files: int = 2_000_000  # ImageNet's training set is 1.28 million
    folders: int = 100_000
    total_bytes: int = 20 * 1024**3
    # Unpacked size over archive size: images barely compress; 1 GiB from 1 MB is a bomb.
    ratio: float = 100.0

    @classmethod
    def from_settings(cls, settings) -> ArchiveLimits:
        return cls(total_bytes=settings.max_unpacked_mb * 1024**2)


class UnsafeArchive(ValueError):
    pass


def is_archive_name(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if (
        path.is_absolute()
        or name.startswith(("/", "\\"))
        or ".." in path.parts
        or (path.parts and ":" in path.parts[0])
    ):
        raise UnsafeArchive(f"archive member {name!r} points outside the archive")
    return path


GZIP_MAGIC = b"\x1f\x8b"
# Slack on the unpacked bytes allowed for a tar's own headers before the ratio applies.
HEADER_SLACK = 16 * 1024**2


def _tar_mode(archive: Path) -> str:
    """How to read a tar, from its first bytes whatever its name: plain or gzip. bzip2 and xz
    take seconds of CPU per kilobyte of a bomb before a header can be read: refused."""
    with open(archive, "rb") as f:
        start = f.read(6)
    if start.startswith(GZIP_MAGIC):
        return "r:gz"
    if start.startswith((b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")):  # bzip2, xz, zstd
        raise UnsafeArchive("only .zip, .tar and .tar.gz archives are taken (this one is not)")
    return "r:"


def _members(archive: Path, max_stream: float | None = None):
    """(relative path, is_dir, declared size, opener) for each member, checked. With
    `max_stream`, a tar whose headers alone unpack past it is refused as it is read."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                mode = (info.external_attr >> 16) & 0o170000
                if mode == 0o120000:
                    raise UnsafeArchive(f"archive member {info.filename!r} is a link")
                yield (
                    _safe_relative(info.filename),
                    info.is_dir(),
                    info.file_size,
                    (lambda info=info: zf.open(info)),
                )
        return
    try:
        tf = tarfile.open(archive, _tar_mode(archive))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UnsafeArchive("not a .zip, .tar or .tar.gz archive") from exc
    with tf:
        for member in tf:
            if max_stream is not None and tf.fileobj.tell() > max_stream:
                raise UnsafeArchive(
                    "the archive unpacks to far more than its size: refused as a decompression bomb"
                )
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchive(f"archive member {member.name!r} is a link or special file")
            yield (
                _safe_relative(member.name),
                member.isdir(),
                member.size,
                (lambda member=member: tf.extractfile(member)),
            )


def check_archive(archive: Path, limits: ArchiveLimits = ArchiveLimits()) -> int:
    """Raise UnsafeArchive if unpacking would be unsafe or too big; the number of files."""
    files = total = 0
    folders: set[PurePosixPath] = set()
    most = limits.ratio * max(archive.stat().st_size, 1)
    for relative, is_dir, size, _ in _members(archive, most + HEADER_SLACK):
        files += not is_dir
        total += size
        folders.update(relative.parents if not is_dir else (relative, *relative.parents))
        if files > limits.files:
            raise UnsafeArchive(f"the archive holds more than {limits.files} files")
        if len(folders) > limits.folders:
            raise UnsafeArchive(f"the archive holds more than {limits.folders} folders")
        if total > limits.total_bytes:
            raise UnsafeArchive(f"the archive unpacks to more than {_size(limits.total_bytes)}")
        if total > most:
            break  # a bomb: said below, without reading on
    if files == 0:
        raise UnsafeArchive("the archive holds no files")
    if total > limits.ratio * max(archive.stat().st_size, 1):
        raise UnsafeArchive(
            f"the archive unpacks to {_size(total)} from "
            f"{_size(archive.stat().st_size)}, more than {limits.ratio:g} times "
            "its size: refused as a decompression bomb"
        )
    return files


def _size(count: int) -> str:
    return f"{count / 1024**2:.1f} MB" if count < 1024**3 else f"{count / 1024**3:.1f} GB"


def extract_archive(
    archive: Path, destination: Path, limits: ArchiveLimits = ArchiveLimits()
) -> None:
    """Unpack, checking the headers first and the bytes written as they come."""
    check_archive(archive, limits)
    destination.mkdir(parents=True, exist_ok=True)
    written = count = 0
    for relative, is_dir, _, open_member in _members(archive):
        target = destination.joinpath(*relative.parts)
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        count += 1
        if count > limits.files:
            raise UnsafeArchive(f"the archive holds more than {limits.files} files")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_member() as source, open(target, "wb") as out:
            while chunk := source.read(1024 * 1024):
                written += len(chunk)
                if written > limits.total_bytes:
                    raise UnsafeArchive(
                        f"the archive unpacks to more than {_size(limits.total_bytes)}"
                    )
                out.write(chunk)


def images_root(folder: Path) -> Path:
    """The folder holding the class folders: descend through lone wrapper folders."""
    while True:
        entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        if len(entries) == 1 and entries[0].is_dir():
            subfolders = [p for p in entries[0].iterdir() if p.is_dir()]
            if subfolders:
                folder = entries[0]
                continue
        return folder
