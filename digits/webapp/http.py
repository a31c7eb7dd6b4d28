"""How the web layer answers: JSON for API callers, HTML for browsers, errors in both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import jsonify, render_template, request
from werkzeug.exceptions import default_exceptions

# Fields a request carries that are about the request, not the job: never stored with it
# (a stored CSRF token would be shown on the job's page and copied by Clone).
REQUEST_ONLY_FIELDS = frozenset({"username", "password", "csrf_token", "next"})


def plain_refusal(start_response, status: str, body: bytes) -> list[bytes]:
    """A refusal answered by WSGI middleware, before Flask: plain text."""
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


def job_parameters(form: Mapping[str, Any]) -> dict[str, Any]:
    """A submitted form's fields as a job keeps them, without the request's own."""
    return {k: v for k, v in form.items() if k not in REQUEST_ONLY_FIELDS}


def wants_json() -> bool:
    """DIGITS' rule: a `.json` route, or a client that prefers JSON to HTML."""
    if request.path.endswith(".json"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def json_errors(errors: dict[str, list[str]], status: int = 400):
    return jsonify({"errors": errors}), status


def error_response(message: str, status: int, field: str = "error") -> Any:
    """An error where the user acted: `{"errors": {field: [message]}}` or an error page. The
    JSON also carries DIGITS' own error object, `{"error": {"message", "type", "description"}}`
    (`type`: the HTTP error's name, as DIGITS' werkzeug exceptions had it), for its scripts."""
    if wants_json():
        kind = default_exceptions.get(status)
        error = {
            "message": message,
            "type": kind.__name__ if kind else "HTTPException",
            "description": message,
        }
        return jsonify({"errors": {field: [message]}, "error": error}), status
    return render_template("error.html", message=message, status=status), status
