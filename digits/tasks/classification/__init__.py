"""Image classification: a class per image, a probability per class, top-1 decides "best"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digits.tasks import CLASSIFICATION_MODEL_TYPE, Metric, Task, register


class Classification(Task):
    name = "classification"
    title = "Classification"
    dataset_type = "image-classification-dataset"
    metric = Metric("val_top1", "max", "validation top-1", "%", ".1f", short="top-1")
    model_type = CLASSIFICATION_MODEL_TYPE
    training_module = "digits.tasks.classification.training"
    inference_module = "digits.tasks.classification.inference"
    output_name = "probabilities"
    model_kind = "an image classifier"
    label_kind = "class names"
    follows_probes = True
    final_activation = "softmax"
    templates = Path(__file__).parent / "templates"
    list_help = "A list of images (a path a line, optionally a label: its number or class name)"

    def compare_columns(self):
        return (("val_top1", "Best val top-1", "%.2f%%"), ("val_loss", "Its val loss", "%.4f"))

    def compare_chart(self):
        return "val_top1", "validation top-1 (%)"

    def describe_best(self, row) -> str:
        return f"val loss {row['val_loss']:.4f}, top-1 {row['val_top1']:.2f}%"

    def many_json(self, detail, top_n: bool) -> dict[str, Any]:
        results = detail["results"]
        if top_n:
            return {
                "top_n": {
                    group["label"]: [[i["path"], i["percent"]] for i in group["images"]]
                    for group in results["top_n"]
                }
            }
        return {
            "classifications": detail["classifications"],
            **{k: results[k] for k in ("accuracy", "per_class", "confusion", "labels")},
        }

    def answers_described(self, count: int) -> str:
        return f"class probabilities (N x {count})"

    def counted(self, count: int) -> str:
        return f"{count} classes"

    def many_answers(self, results) -> dict[str, Any]:
        """DIGITS' `classifications`: {path: [[label, percent], ...]}."""
        return {"classifications": {row["path"]: row["predictions"] for row in results["rows"]}}


TASK = register(Classification())
