"""The web layer: app factory, blueprints, Socket.IO. It calls the job system, runs nothing."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

from digits import __version__, tasks
from digits.accounts import Accounts
from digits.config import Settings, ensure_secret_key, load_settings
from digits.jobs.celery_app import create_celery
from digits.jobs.control import JobControl
from digits.jobs.events import JobEvents
from digits.jobs.messaging import prune_processed_messages
from digits.jobs.page_requests import prune_stale_requests
from digits.jobs.store import JobStore
from digits.jobs.types import load_plugins
from digits.webapp import (
    auth,
    classify,
    compare,
    datasets,
    downloads,
    errors,
    hardware,
    home,
    jobs,
    model_imports,
    models,
    realtime,
    security,
    worker_requests,
)
from digits.webapp.services import Services

log = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL = 5.0


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    settings = ensure_secret_key(settings or load_settings())
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        DIGITS_SETTINGS=settings,
        DIGITS_VERSION=__version__,
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024**2,
        HOUSEKEEPING=True,
    )
    if test_config:
        app.config.update(test_config)

    plugins = load_plugins(settings.plugins)
    realtime.init_app(app)
    security.init_app(app)  # after realtime: its checks wrap Socket.IO too
    store = JobStore(settings.jobs_dir)
    events = JobEvents(store, realtime.emit_to_room)
    control = JobControl(events, create_celery(settings))
    app.extensions["digits"] = Services(
        settings, store, events, control, Accounts(settings.jobs_dir)
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(datasets.bp)
    app.register_blueprint(models.bp)
    app.register_blueprint(hardware.bp)
    app.register_blueprint(classify.bp)
    app.register_blueprint(downloads.bp)
    app.register_blueprint(model_imports.bp)
    app.register_blueprint(compare.bp)
    errors.init_app(app)
    worker_requests.init_app(app)
    for plugin in plugins:
        if hasattr(plugin, "init_app"):
            plugin.init_app(app)

    _find_task_views(app)
    store.list()  # read every job now, so a bad job.json is reported at start-up
    if app.config["HOUSEKEEPING"]:
        _start_housekeeping(control)
    return app


def _find_task_views(app: Flask) -> None:
    """Each task's page views (digits.tasks), as "<task name>/<view>.html", after ours."""
    folders = [str(task.templates) for task in tasks.all_tasks() if task.templates]
    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(folders)])


def _start_housekeeping(control: JobControl) -> None:
    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(HOUSEKEEPING_INTERVAL):
            try:
                for job_id in control.recover_orphaned_jobs():
                    log.warning("job %s: its worker stopped while it ran", job_id)
                prune_processed_messages(control.settings)
                prune_stale_requests(control.settings)
            except Exception:
                log.exception("housekeeping failed; trying again later")

    threading.Thread(target=loop, name="digits-housekeeping", daemon=True).start()
