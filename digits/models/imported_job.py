"""An imported model (DIGITS 6's Upload Pretrained Model) as a job: Done as it arrives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digits.config import CPU_QUEUE
from digits.jobs.context import JobContext, JobError
from digits.jobs.job import Job
from digits.jobs.types import JobType, register
from digits.models.layout import (
    imported_info,
    list_snapshots,
)

IMPORTED_MODEL_TYPE = "image-classification-pretrained"


def imported_details(job: Job, folder: Path) -> dict[str, Any]:
    """An imported model's JSON: DIGITS' model keys from what its files declare."""
    declared = imported_info(folder) or {}
    return {
        "framework": "pytorch",
        "snapshots": list_snapshots(folder),
        "labels": declared.get("labels", []),
        "image dimensions": [
            declared.get("height"),
            declared.get("width"),
            declared.get("channels"),
        ],
        "image resize mode": declared.get("resize_mode"),
        "network": declared.get("network", "imported"),
        "imported": declared,
    }


def imported_ready(ctx: JobContext) -> None:
    """The worker that checked the upload wrote the model's files: it is ready as it is."""
    declared = imported_info(ctx.folder)
    if declared is None:
        raise JobError("the imported model's files are missing")
    size = f"{declared['width']}x{declared['height']}"
    ctx.log(f"imported: {len(declared['labels'])} classes, {size} images")
    ctx.progress(1.0)


IMPORTED_MODEL = register(
    JobType(
        name=IMPORTED_MODEL_TYPE,
        kind="model",
        queue=CPU_QUEUE,
        run=imported_ready,
        title="Import a model",
        form_endpoint="imports.new_import",
        details=imported_details,
        page_template="models/imported.html",
    )
)
