"""Where a model's downloads live and how they are packed (no torch here: the web uses it)."""

from __future__ import annotations

import os
import tarfile
import tempfile
import zipfile
from pathlib import Path

EXPORTS = "exports"  # in the model's folder: exports/epoch_<N>/, made once per snapshot


def export_folder(model_folder: Path, epoch: float) -> Path:
    return model_folder / EXPORTS / f"epoch_{epoch:g}"


def archive_path(folder: Path, model_id: str, epoch: float, fmt: str) -> Path:
    return folder / f"{model_id}_epoch_{epoch:g}.{fmt}"


def build_archive(folder: Path, model_id: str, epoch: float, fmt: str) -> Path:
    """The export as one .tar.gz, .tar or .zip (made once, kept beside the files)."""
    target = archive_path(folder, model_id, epoch, fmt)
    if target.exists():
        return target
    members = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name != target.name and not p.name.startswith(f"{model_id}_epoch_")
    )
    fd, tmp = tempfile.mkstemp(prefix=".archive.", dir=folder)
    os.close(fd)
    try:
        if fmt == "zip":
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in members:
                    archive.write(path, path.name)
        else:
            mode = {"tar.gz": "w:gz", "tar.bz2": "w:bz2"}.get(fmt, "w")
            with tarfile.open(tmp, mode) as archive:
                for path in members:
                    archive.add(path, path.name)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
