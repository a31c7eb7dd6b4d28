"""What the workers of queue `infer` answer for pages (short work a page waits for): Classify
One, a download's export, Visualize and the fit check, a model import's check."""

from __future__ import annotations

from digits.jobs.page_requests import register_handler
from digits.models.importing import IMPORT_REQUEST, import_model
from digits.models.network_check import CHECK_NETWORK_REQUEST, check_network


def classify_one(ctx):
    """Classify One on a worker (torch is loaded there, never in the web process); a model
    whose network is a user's code answers from its sandboxed child."""
    from digits.models.classify import classify_one as classify
    from digits.models.served_models import answered_by_model

    return answered_by_model(ctx, "classify_one", classify)


def export_snapshot(ctx):
    """The files of a download, made on a worker: {"epoch": the snapshot's epoch}. A model
    whose network is a user's code is exported by its sandboxed child, which writes only the
    model's `exports/` folder."""
    from digits.jobs.store import JobStore
    from digits.models.download import EXPORTS
    from digits.models.export import export_request
    from digits.models.served_models import answered_by_model

    exports = JobStore(ctx.settings.jobs_dir).folder(ctx.payload["job_id"]) / EXPORTS
    exports.mkdir(exist_ok=True)
    return answered_by_model(ctx, "export", export_request, writable=(exports,))


register_handler("classify_one", classify_one)
register_handler("export", export_snapshot)
register_handler(CHECK_NETWORK_REQUEST, check_network)
register_handler(IMPORT_REQUEST, import_model)
