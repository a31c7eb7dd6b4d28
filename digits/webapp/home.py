"""The home page: every dataset and model job, live."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from digits import __version__
from digits.jobs import types
from digits.jobs.status import Status
from digits.models.imported_job import IMPORTED_MODEL_TYPE
from digits.paging import page_number, page_of
from digits.webapp.http import wants_json
from digits.webapp.job_list import (
    DEFAULT_TAB,
    PAGE_SIZE,
    STATUSES,
    TABS,
    JobFilter,
    by_tab,
)
from digits.webapp.services import services

bp = Blueprint("home", __name__)


@bp.app_template_filter("timestamp")
def format_timestamp(seconds: float) -> str:
    """Server-side rendering of a time; the page's script rewrites it in the viewer's zone."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


@bp.route("/")
@bp.route("/index.json", endpoint="index_json")
def index():
    """Every job under its tab, filtered by the address's `status`, `owner`, `name` and `group`.

    The page shows one tab (`tab`) a page (`page`) at a time. The JSON keeps DIGITS' shape, every
    matching job in `datasets` and `models` (and ours in `inference_runs`), unless it is asked for
    a `page`: then each list is that page of it, and `pages` says how many there are.
    """
    svc = services()
    job_filter = JobFilter.from_args(request.args)
    summaries = svc.summaries()
    listed = by_tab(summaries, job_filter)
    number = page_number(request.args.get("page"))
    if wants_json():
        answer: dict = {"version": __version__, "jobs_dir": str(svc.settings.jobs_dir)}
        if "page" in request.args:
            pages = {tab: page_of(rows, number, PAGE_SIZE) for tab, rows in listed.items()}
            answer |= {tab: page.rows for tab, page in pages.items()}
            answer["pages"] = {tab: page.to_dict() for tab, page in pages.items()}
        else:
            answer |= listed
        return jsonify(answer | {"problems": svc.store.problems})
    tab = request.args.get("tab", DEFAULT_TAB)
    tab = tab if tab in TABS else DEFAULT_TAB
    forms = [t for t in types.all_types() if t.form_endpoint]
    return render_template(
        "home.html",
        tab=tab,
        tabs=TABS,
        counts={name: len(rows) for name, rows in listed.items()},
        page=page_of(listed[tab], number, PAGE_SIZE),
        job_filter=job_filter,
        statuses=STATUSES,
        owners=sorted({s["owner"] for s in summaries}),
        groups=sorted({s["group"] for s in summaries if s["group"]}),
        problems=svc.store.problems,
        new_forms=[t for t in forms if f"{t.kind}s" == tab],
    )


@bp.route("/completed_jobs.json")
def completed_jobs():
    """DIGITS 6's job tables: the running jobs, then the ended ones by kind, newest first."""
    svc = services()
    # DIGITS had no inference runs: its scripts read `models` as trained models.
    rows = [_digits_row(summary) for summary in svc.summaries() if not summary["run_of"]]
    running = [row for row in rows if not Status.parse(row["status"]).is_terminal]
    ended = [row for row in rows if Status.parse(row["status"]).is_terminal]
    return jsonify(
        {
            "running": running,
            "datasets": [row for row in ended if row["type"] == "dataset"],
            "models": [row for row in ended if row["type"] == "model"],
            "pretrained_models": [row for row in ended if row["type"] == "pretrained_model"],
            "model_output_fields": [],
        }
    )


@bp.route("/jobs/<job_id>/table_data.json")
def table_data(job_id: str):
    """DIGITS' row of one job in its home page tables: `{"job": {...}}`."""
    svc = services()
    job = svc.store.get(job_id)
    summary = svc.summary(job, svc.live_workers()) | {"kind": job.kind}
    return jsonify({"job": _digits_row(summary)})


def _digits_row(summary: dict) -> dict:
    """A job as DIGITS' tables had it (`type` dataset, model or pretrained_model; `progress` in
    percent), with ours beside it."""
    kind = "pretrained_model" if summary["type"] == IMPORTED_MODEL_TYPE else summary["kind"]
    return summary | {
        "type": kind,
        "job_type": summary["type"],
        "status_css": summary["status"].lower(),
        "progress": int(round(100 * summary["progress"])),
    }


@bp.route("/favicon.ico")
def favicon():
    """Browsers and tools ask for it whatever the page says: the same icon as the pages'."""
    return redirect(url_for("static", filename="favicon.svg"), 301)
