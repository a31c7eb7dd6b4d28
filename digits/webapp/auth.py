"""Logging in with a username, DIGITS style, and guarding the routes that change things."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for

from digits.webapp.http import json_errors, wants_json

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]*$")
USERNAME_RULE = (
    "a username starts with a lowercase letter, then lowercase letters, digits, . _ or -"
)

bp = Blueprint("auth", __name__)


def current_user() -> str | None:
    """The logged-in user, or a valid `username` field sent with the request (as DIGITS allowed)."""
    if session.get("username"):
        return session["username"]
    username = request.form.get("username") or request.args.get("username")
    if username and USERNAME_PATTERN.match(username):
        return username
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
    if not USERNAME_PATTERN.match(username):
        if wants_json():
            return json_errors({"username": [USERNAME_RULE]})
        return render_template(
            "login.html", error=USERNAME_RULE, next=request.form.get("next")
        ), 400
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
