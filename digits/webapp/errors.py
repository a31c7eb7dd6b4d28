"""Errors answered where the user acted: JSON `{"errors": ...}` for the API, a page otherwise."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from digits.forms import FormErrors
from digits.jobs.store import JobNotFound
from digits.webapp.http import error_response, json_errors, wants_json


def init_app(app: Flask) -> None:
    @app.errorhandler(FormErrors)
    def refused(exc: FormErrors):
        """Input refused where the user gave it: a 400 naming the fields."""
        if wants_json():
            return json_errors(exc.errors)
        message = "; ".join(f"{field}: {m}" for field, ms in exc.errors.items() for m in ms)
        return error_response(message, 400)

    @app.errorhandler(JobNotFound)
    def job_not_found(exc: JobNotFound):
        return error_response(f"job {exc.args[0]} not found", 404, field="job_id")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge):
        limit = app.config["MAX_CONTENT_LENGTH"] // 1024**2
        return error_response(
            f"the upload is larger than this server takes ({limit} MB; "
            "DIGITS_MAX_UPLOAD_MB sets it)",
            413,
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is not None and exc.code < 400:
            return exc  # redirects such as a missing trailing slash
        return error_response(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        app.logger.exception("unexpected error")
        return error_response("internal error; the server log has the details", 500)
