"""Regression, DIGITS' generic ("Other") models: a vector of values per image, learnt with an
L2, L1 or Huber loss; the lowest validation loss decides "best"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digits.datasets import targets
from digits.tasks import Metric, RecordView, Task, register


class Regression(Task):
    name = "regression"
    title = "Other (regression)"
    dataset_type = "image-generic-dataset"
    metric = Metric("val_loss", "min", "validation loss")
    training_module = "digits.tasks.regression.training"
    inference_module = "digits.tasks.regression.inference"
    output_name = "outputs"
    model_kind = "a regression model"
    label_kind = "output names"
    templates = Path(__file__).parent / "templates"
    list_help = "A list of images (a path a line), or a CSV of path,value,… with their known values"

    def labels_of(self, info) -> list[str]:
        return list(info.outputs)

    def describe_outputs(self, details) -> str:
        outputs = details.get("outputs") or []
        loss = str(details.get("loss", "")).upper()
        return f"{len(outputs)} outputs ({', '.join(outputs)}), {loss} loss"

    def compare_columns(self):
        return (("val_loss", "Best val loss", "%.4g"), ("val_mae", "Its mean abs. error", "%.4g"))

    def compare_chart(self):
        return "val_mae", "validation mean absolute error"

    def describe_best(self, row) -> str:
        return f"val loss {row['val_loss']:.4f}, mean absolute error {row['val_mae']:.4g}"

    def many_json(self, detail, top_n: bool) -> dict[str, Any]:
        results = detail["results"]
        return {
            "outputs": detail["outputs"],
            "output_names": results["outputs"],
            "target_errors": results["target_errors"],
        }

    def dataset_details(self, info, folder: Path) -> dict[str, Any]:
        """The outputs, and each one's distribution per split (for the dataset's page)."""
        statistics = {}
        for split in info.splits:
            values = targets.load_targets(folder, split)
            if values is not None:
                statistics[split] = targets.output_statistics(values, info.outputs)
        return {"outputs": info.outputs, "output_statistics": statistics}

    def record_view(self, info, folder: Path, split: str) -> RecordView:
        """A record's label is its row of the split's values: each by its output's name."""
        values = targets.load_targets(folder, split)

        def named(row: int) -> dict[str, float]:
            return dict(zip(info.outputs, values[row].tolist(), strict=True))

        return RecordView(
            lambda row: ", ".join(f"{n} {v:.4g}" for n, v in named(row).items()),
            lambda row: {"values": named(row)},
        )

    def model_details(self, info, options) -> dict[str, Any]:
        # A generic model predicts these values (DIGITS' generic models had no labels).
        return {"outputs": info.outputs, "loss": options.loss}


TASK = register(Regression())
