"""Errors answered where the user acted: JSON `{"errors": ...}` for the API, a page otherwise."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from digits.jobs.store import JobNotFound
from digits.webapp.http import error_response


def init_app(app: Flask) -> None:
    @app.errorhandler(JobNotFound)
    def job_not_found(exc: JobNotFound):
        return error_response(f"job {exc.args[0]} not found", 404, field="job_id")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is not None and exc.code < 400:
            return exc  # redirects such as a missing trailing slash
        return error_response(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        app.logger.exception("unexpected error")
        return error_response("internal error; the server log has the details", 500)
