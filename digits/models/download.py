"""Where a model's downloads live and how they are packed (no torch here: the web uses it)."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from digits.files import open_regular

EXPORTS = "exports"  # in the model's folder: exports/v<FORMAT>/epoch_<N>/, made once per snapshot
# The exported files' format: raised whenever what an export holds changes, so that exports
# made by an earlier version are made again rather than served as they were.
EXPORT_FORMAT = 2


def export_folder(model_folder: Path, epoch: float) -> Path:
    return model_folder / EXPORTS / f"v{EXPORT_FORMAT}" / f"epoch_{epoch:g}"


def archive_path(folder: Path, model_id: str, epoch: float, fmt: str) -> Path:
    return folder / f"{model_id}_epoch_{epoch:g}.{fmt}"


def build_archive(folder: Path, model_id: str, epoch: float, fmt: str) -> Path:
    """The export as one .tar.gz, .tar or .zip (made once, kept beside the files). Only the
    folder's regular files go in, none reached through a link (the export of a model whose
    network is a user's code is written by that code, in its sandbox)."""
    target = archive_path(folder, model_id, epoch, fmt)
    try:
        open_regular(target, folder).close()
        return target
    except FileNotFoundError:
        pass
    names = sorted(
        entry.name
        for entry in os.scandir(folder)
        if entry.is_file(follow_symlinks=False) and not entry.name.startswith((model_id, "."))
    )
    fd, tmp = tempfile.mkstemp(prefix=".archive.", dir=folder)
    os.close(fd)
    try:
        _pack(folder, names, tmp, fmt)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _pack(folder: Path, names: list[str], archive_file: str, fmt: str) -> None:
    if fmt == "zip":
        with zipfile.ZipFile(archive_file, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in names:
                with open_regular(folder / name, folder) as f, archive.open(name, "w") as out:
                    shutil.copyfileobj(f, out)
        return
    mode = {"tar.gz": "w:gz", "tar.bz2": "w:bz2"}.get(fmt, "w")
    with tarfile.open(archive_file, mode) as archive:
        for name in names:
            with open_regular(folder / name, folder) as f:
                info = tarfile.TarInfo(name)
                stat = os.fstat(f.fileno())
                info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o644
                archive.addfile(info, f)
