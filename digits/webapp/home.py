"""The home page: every dataset and model job, live."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, redirect, render_template, url_for

from digits import __version__
from digits.jobs import types
from digits.webapp.http import wants_json
from digits.webapp.services import services

bp = Blueprint("home", __name__)


@bp.app_template_filter("timestamp")
def format_timestamp(seconds: float) -> str:
    """Server-side rendering of a time; the page's script rewrites it in the viewer's zone."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


@bp.route("/")
@bp.route("/index.json", endpoint="index_json")
def index():
    svc = services()
    summaries = svc.summaries()
    datasets = [s for s in summaries if s["kind"] == "dataset"]
    models = [s for s in summaries if s["kind"] == "model"]
    if wants_json():
        return jsonify(
            {
                "datasets": datasets,
                "models": models,
                "version": __version__,
                "jobs_dir": str(svc.settings.jobs_dir),
                "problems": svc.store.problems,
            }
        )
    forms = [t for t in types.all_types() if t.form_endpoint]
    return render_template(
        "home.html",
        datasets=datasets,
        models=models,
        problems=svc.store.problems,
        dataset_forms=[t for t in forms if t.kind == "dataset"],
        model_forms=[t for t in forms if t.kind == "model"],
    )


@bp.route("/favicon.ico")
def favicon():
    """Browsers and tools ask for it whatever the page says: the same icon as the pages'."""
    return redirect(url_for("static", filename="favicon.svg"), 301)
