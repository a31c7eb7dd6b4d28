"""The image-classification dataset job type, and what its page and JSON show."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from digits import tasks
from digits.config import CPU_QUEUE
from digits.datasets import layout
from digits.datasets.layout import read_info
from digits.datasets.options import PREBUILT_FIELDS
from digits.datasets.parsing import SPLITS
from digits.jobs.child import python_module, run_in_child
from digits.jobs.job import Job
from digits.jobs.types import JobType, register


def dataset_details(job: Job, folder: Path) -> dict[str, Any]:
    """DIGITS' JSON keys (ParseFolderTasks, CreateDbTasks) plus ours."""
    info = read_info(folder)
    if info is None:
        return {"ParseFolderTasks": [], "CreateDbTasks": []}
    image = info.image
    counts = {f"{s}_count": info.entries(s) for s in SPLITS}
    return {
        "ParseFolderTasks": [{"name": "Parse Folder", "label_count": len(info.labels), **counts}],
        "CreateDbTasks": [
            {
                "name": f"Create DB ({split})",
                "backend": "lmdb",
                "encoding": image.encoding,
                "compression": "none",
                "entries": figures.entries,
                "image_channels": image.channels,
                "image_height": image.height,
                "image_width": image.width,
                "db_size": figures.db_size,
                "per_class": figures.per_class,
                "skipped": figures.skipped,
            }
            for split, figures in info.splits.items()
        ],
        "labels": info.labels,
        "image": asdict(image),
        "skipped": info.skipped,
        "messages": info.messages,
        "mean_image": (folder / layout.MEAN_PNG).exists(),
        **tasks.of_dataset(info).dataset_details(info, folder),
    }


def dataset_builder(ctx) -> tuple[list[str], dict[str, str]]:
    """The child that builds the dataset: from image files, or from databases already built."""
    prebuilt = ctx.parameters.get("method") in PREBUILT_FIELDS
    module = "digits.datasets.prebuilt" if prebuilt else "digits.datasets.creation"
    return python_module(module)(ctx)


def start_again(job: Job, folder: Path) -> str:
    """A dataset builds again from the start: it builds aside (`.build/`) and swaps in at the
    end, so an interrupted build leaves nothing half-made to be used."""
    return "the start"


IMAGE_CLASSIFICATION_DATASET = register(
    JobType(
        name="image-classification-dataset",
        kind="dataset",
        queue=CPU_QUEUE,
        run=run_in_child(dataset_builder),
        title="Images → Classification",
        form_endpoint="datasets.new_classification",
        details=dataset_details,
        page_template="datasets/sections.html",
        resume_point=start_again,
    )
)


IMAGE_GENERIC_DATASET = register(
    replace(
        IMAGE_CLASSIFICATION_DATASET,
        name="image-generic-dataset",
        title="Images → Other",
        form_endpoint="datasets.new_generic",
    )
)
