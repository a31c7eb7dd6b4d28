"""The Hardware page: every live worker host, its GPUs with their figures and holders, and the
jobs that wait for GPUs, with the reason."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template

from digits.jobs.gang_runs import read_gang
from digits.jobs.heartbeats import node_of
from digits.jobs.status import Status
from digits.webapp.http import wants_json
from digits.webapp.services import services

bp = Blueprint("hardware", __name__)


def hosts_report(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per host (node): its workers' queues and the GPUs they offer."""
    hosts: dict[str, dict[str, Any]] = {}
    for worker in sorted(workers, key=lambda w: w.get("hostname", "")):
        node = node_of(worker.get("hostname", "?"))
        host = hosts.setdefault(
            node,
            {"node": node, "host": worker.get("host"), "queues": [], "workers": [], "gpus": []},
        )
        host["workers"].append(worker.get("hostname"))
        host["queues"].extend(worker.get("queues", []))
        host["gpus"].extend(worker.get("devices", []))
    return list(hosts.values())


@bp.route("/hardware")
@bp.route("/hardware.json", endpoint="hardware_json")
def show():
    svc = services()
    workers = svc.live_workers()
    # Only the active jobs, oldest first (the order in which they are served): the page asks
    # every few seconds, and finished jobs, most of them, need not be read for it.
    active = sorted(
        (j for j in svc.store.list() if j.status in (Status.RUN, Status.WAIT)),
        key=lambda j: j.created,
    )
    running, waiting = [], []
    for job in active:
        row = svc.summary(job, workers) | {
            "kind": job.kind,
            "seq": svc.last_seq(job.id),
            "worker": job.worker,
            "gpus": job.gpus,
            "queue": job.queue,
            # Trained across hosts: every host's GPUs (`worker` and `gpus` are the leader's).
            "hosts": (read_gang(svc.store.folder(job.id)) or {}).get("hosts"),
        }
        (running if job.status is Status.RUN else waiting).append(row)
    report = {"hosts": hosts_report(workers), "running": running, "waiting": waiting}
    if wants_json():
        return jsonify(report)
    return render_template("hardware.html", report=report)
