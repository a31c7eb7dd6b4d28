"""The stand-in task's dataset, built in a child of the worker as the built-in ones are."""

from __future__ import annotations

from digits.datasets.creation import build_dataset
from digits.datasets.layout import read_info, write_info
from digits.jobs.child import child_main
from tests.support.colour_task import BANDS, NAME


def build(ctx) -> None:
    """Images from class folders, whatever the classes: a record holds its image alone."""
    build_dataset(ctx)
    info = read_info(ctx.folder)
    info.labels, info.task = BANDS, NAME
    write_info(ctx.folder, info)


if __name__ == "__main__":
    child_main(build)
