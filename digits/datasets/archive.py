"""Uploaded archives of class folders (.zip, .tar, .tar.gz), unpacked without surprises.

Every member must be a plain file or folder whose path stays inside the destination: no
absolute paths, no `..`, no links, no devices. The count and total size are capped (declared
sizes first, then the bytes actually written, which a forged header cannot hide).
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 500_000
MAX_TOTAL_BYTES = 20 * 1024**3
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


class UnsafeArchive(ValueError):
    pass


def is_archive_name(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or ".." in path.parts or (
        path.parts and ":" in path.parts[0]
    ):  # fmt: skip
        raise UnsafeArchive(f"archive member {name!r} points outside the archive")
    return path


def _members(archive: Path):
    """(relative path, is_dir, declared size, opener) for each member, checked."""
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
        tf = tarfile.open(archive)
    except tarfile.TarError as exc:
        raise UnsafeArchive("not a .zip, .tar or .tar.gz archive") from exc
    with tf:
        for member in tf:
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchive(f"archive member {member.name!r} is a link or special file")
            yield (
                _safe_relative(member.name),
                member.isdir(),
                member.size,
                (lambda member=member: tf.extractfile(member)),
            )


def check_archive(archive: Path) -> int:
    """Raise UnsafeArchive if unpacking would be unsafe or too big; the number of files."""
    files = total = 0
    for _, is_dir, size, _ in _members(archive):
        files += not is_dir
        total += size
        if files > MAX_MEMBERS or total > MAX_TOTAL_BYTES:
            raise UnsafeArchive(
                f"the archive holds more than {MAX_MEMBERS} files or {MAX_TOTAL_BYTES} bytes"
            )
    if files == 0:
        raise UnsafeArchive("the archive holds no files")
    return files


def extract_archive(archive: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    written = count = 0
    for relative, is_dir, _, open_member in _members(archive):
        target = destination.joinpath(*relative.parts)
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        count += 1
        if count > MAX_MEMBERS:
            raise UnsafeArchive(f"the archive holds more than {MAX_MEMBERS} files")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_member() as source, open(target, "wb") as out:
            while chunk := source.read(1024 * 1024):
                written += len(chunk)
                if written > MAX_TOTAL_BYTES:
                    raise UnsafeArchive(f"the archive unpacks to more than {MAX_TOTAL_BYTES} bytes")
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
