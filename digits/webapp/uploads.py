"""Uploaded archives, staged: saved under the jobs folder and checked from their headers before
any job exists (a bomb is refused where it was sent). Workers unpack them, never a request."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from werkzeug.datastructures import FileStorage

from digits.datasets import unpacking
from digits.forms import field_error
from digits.webapp.services import services


def stage_archive(upload: FileStorage | None, field: str) -> tuple[Path, int]:
    """The checked archive's staged path and its number of files (FormErrors on `field`)."""
    if upload is None or not upload.filename:
        raise field_error(field, "choose a .zip or .tar.gz of class folders")
    if not unpacking.is_archive_name(upload.filename):
        raise field_error(field, "must be a .zip, .tar, .tar.gz or .tgz file")
    settings = services().settings
    path = Path(tempfile.mkdtemp(prefix=".upload-", dir=settings.jobs_dir)) / "archive"
    upload.save(path)
    try:
        return path, unpacking.check_archive(path, unpacking.ArchiveLimits.from_settings(settings))
    except unpacking.UnsafeArchive as exc:
        discard_staged(path)
        raise field_error(field, str(exc)) from None


def move_staged(path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    discard_staged(path)


def discard_staged(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)
