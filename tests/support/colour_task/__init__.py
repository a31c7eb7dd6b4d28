"""A stand-in task, loaded as a plugin: each image's brightness histogram (the share of its
pixels in four bands, dark to light), learnt from the images alone and judged by its own
metric, the histogram intersection. It proves the Task contract: everything about this kind
of problem is in this folder, and nothing outside it knows of it (tests/tasks/test_stand_in.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from flask import Blueprint, jsonify, request

from digits.datasets.job_type import IMAGE_CLASSIFICATION_DATASET
from digits.jobs.child import python_module, run_in_child
from digits.jobs.types import register as register_job_type
from digits.tasks import Metric, Task, register
from digits.webapp.auth import current_user, login_required
from digits.webapp.services import services

BANDS = ["dark", "dim", "bright", "light"]
NAME = "colour-histogram"


class ColourHistogram(Task):
    name = NAME
    title = "Brightness histogram"
    dataset_type = "test-colour-histogram-dataset"
    metric = Metric("val_intersection", "max", "validation intersection", "%", ".1f")
    training_module = "tests.support.colour_task.training"
    inference_module = "tests.support.colour_task.inference"
    output_name = "histogram"
    final_activation = "softmax"
    model_kind = "a brightness histogram model"
    label_kind = "band names"
    templates = Path(__file__).parent / "templates"
    example_script = Path(__file__).parent / "example.py"

    def describe_outputs(self, details) -> str:
        return f"a histogram of {len(details.get('labels') or ())} brightness bands"

    def describe_best(self, row) -> str:
        return f"histogram intersection {row['val_intersection']:.1f}%"

    def many_answers(self, results):
        return {"histograms": {row["path"]: row["histogram"] for row in results["rows"]}}

    def many_json(self, detail, top_n: bool):
        return {"histograms": detail["histograms"]}


TASK = register(ColourHistogram())


DATASET = register_job_type(
    replace(
        IMAGE_CLASSIFICATION_DATASET,
        name=TASK.dataset_type,
        run=run_in_child(python_module("tests.support.colour_task.dataset")),
        title="Images → Brightness histogram",
        form_endpoint=None,
    )
)

bp = Blueprint("colour_histogram", __name__)


@bp.route("/datasets/images/colour-histogram.json", methods=["POST"])
@login_required
def create_dataset():
    form = request.form.to_dict()
    job = services().control.submit(DATASET, form.get("dataset_name", ""), current_user(), form)
    return jsonify({"id": job.id, "name": job.name, "status": job.status.label})


def init_app(app) -> None:
    app.register_blueprint(bp)
