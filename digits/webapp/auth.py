"""Who is asking, and may they: logging in, API tokens, CSRF tokens, owners' rights.

With no account (see digits.accounts), DIGITS' way: a username is enough, in the session or as
a `username` field of the request. With accounts, the session comes from a password login and
carries a CSRF token that every form and page script sends back; API callers send a token.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Callable

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for

from digits.webapp.http import error_response, json_errors, wants_json
from digits.webapp.services import services

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]*$")
USERNAME_RULE = (
    "a username starts with a lowercase letter, then lowercase letters, digits, . _ or -"
)
BAD_LOGIN = "wrong username or password"
UNSAFE_METHODS = ("POST", "PUT", "DELETE", "PATCH")

bp = Blueprint("auth", __name__)


def _accounts():
    return services().accounts


def _request_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("X-DIGITS-Token")


def current_user() -> str | None:
    """Who the request is from, or None."""
    accounts = _accounts()
    if not accounts.enabled:  # a username names you, as in DIGITS
        if session.get("username"):
            return session["username"]
        username = request.form.get("username") or request.args.get("username")
        return username if username and USERNAME_PATTERN.match(username) else None
    token = _request_token()
    if token:
        user = accounts.user_for_token(token)
        return user.name if user else None
    name = session.get("username")
    return name if name and accounts.get(name) else None


def may_change(owner: str) -> bool:
    """A job's owner or an admin may abort, delete, rename or resume it (anyone, without
    accounts)."""
    accounts = _accounts()
    if not accounts.enabled:
        return True
    user = current_user()
    return user == owner or bool(user and accounts.get(user) and accounts.get(user).admin)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_context_processor
def auth_helpers():
    return {"csrf_token": csrf_token, "accounts_enabled": _accounts().enabled}


@bp.before_app_request
def check_csrf():
    """A change asked with a logged-in session's cookie must carry that session's CSRF token
    (form field `csrf_token` or header `X-CSRF-Token`): another site cannot read it."""
    if request.method not in UNSAFE_METHODS or not _accounts().enabled:
        return None
    if _request_token() or not session.get("username"):
        return None  # no cookie-borne identity to abuse
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not hmac.compare_digest(sent, session.get("csrf", "")):
        return error_response("missing or wrong CSRF token: reload the page", 400,
                              field="csrf_token")  # fmt: skip
    return None


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            if wants_json() or request.method not in ("GET", "POST"):
                return json_errors({"username": ["log in first: this needs a user"]}, 401)
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def user_required_with_accounts(view: Callable) -> Callable:
    """Open to all as in DIGITS (Classify One, downloads), until accounts exist."""
    guarded = login_required(view)

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        return (guarded if _accounts().enabled else view)(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    # Only paths on this site, so a crafted link cannot send a user elsewhere after login.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@bp.route("/login.json", methods=["POST"], endpoint="login_json")
def login():
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    username = (request.form.get("username") or "").strip()
    error, status = None, 400
    if not USERNAME_PATTERN.match(username):
        error = USERNAME_RULE
    elif _accounts().enabled and not _accounts().check_password(
        username, request.form.get("password", "")
    ):
        error, status = BAD_LOGIN, 401
    if error:
        if wants_json():
            return json_errors({"username": [error]}, status)
        return render_template("login.html", error=error, next=request.form.get("next")), status
    session.clear()
    session["username"] = username
    if wants_json():
        return jsonify({"username": username})
    return redirect(_safe_next(request.form.get("next") or request.args.get("next")))


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    session.clear()
    if wants_json():
        return jsonify({"username": None})
    return redirect(url_for("home.index"))
