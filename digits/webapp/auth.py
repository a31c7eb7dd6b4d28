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
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from digits.accounts import USERNAME_RULE, valid_username
from digits.webapp.http import error_response, json_errors, wants_json
from digits.webapp.services import services

BAD_LOGIN = "wrong username or password"
UNSAFE_METHODS = ("POST", "PUT", "DELETE", "PATCH")
# What an anonymous visitor may reach with accounts on: the login page and what it loads.
PUBLIC_ENDPOINTS = ("auth.login", "auth.login_json", "static", "home.favicon")
# Failed logins allowed for a username from one address in a window, then a 429 for that pair
# only (another person's failures cannot lock a user out); and a slower backstop per username
# from every address together (a password guessed from many addresses).
LOGIN_FAILURES = 10
LOGIN_WINDOW = 300.0
BACKSTOP_FAILURES = 100
BACKSTOP_WINDOW = 3600.0

bp = Blueprint("auth", __name__)


class LoginThrottle:
    """Recent failed logins, per username and per client address (this process's memory)."""

    def __init__(self, limit: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        """The key's failures within the window; a key with none is forgotten (random
        usernames cannot grow this without bound)."""
        times = self._failures.get(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def retry_after(self, keys: list[str]) -> int:
        """Seconds until another try is allowed (0: now)."""
        now = time.monotonic()
        with self._lock:
            recent = [self._recent(key, now) for key in keys]
        waits = [self.window - (now - times[0]) for times in recent if len(times) >= self.limit]
        return int(max(waits, default=0)) + (1 if waits else 0)

    def failed(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now)
                self._failures[key].append(now)


@bp.record_once
def _create_throttle(state) -> None:
    state.app.extensions["digits.login_throttle"] = (
        LoginThrottle(),
        LoginThrottle(BACKSTOP_FAILURES, BACKSTOP_WINDOW),
    )


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
        return username if username and valid_username(username) else None
    token = _request_token()
    if token:
        user = accounts.user_for_token(token)
        return user.name if user else None
    name = session.get("username")
    # The session must still be one the server keeps: logging out (anywhere) or a new
    # password ends it, whoever holds a copy of the cookie.
    return name if name and accounts.session_valid(name, session.get("sid", "")) else None


def may_change(owner: str) -> bool:
    """A job's owner or an admin may abort, delete, rename, resume it or add images to it
    (anyone, without accounts)."""
    accounts = _accounts()
    if not accounts.enabled:
        return True
    user = current_user()
    return user == owner or bool(user and accounts.get(user) and accounts.get(user).admin)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_app_request
def require_a_user():
    """With accounts, an anonymous visitor sees the login page and nothing else (reads are
    public only where DIGITS_PUBLIC_READS says so; changes never are)."""
    if not _accounts().enabled or request.endpoint in PUBLIC_ENDPOINTS or current_user():
        return None
    if services().settings.public_reads and request.method in ("GET", "HEAD"):
        return None
    return _ask_to_log_in()


def _ask_to_log_in():
    if wants_json() or request.method not in ("GET", "POST"):
        return json_errors({"username": ["log in first: this needs a user"]}, 401)
    return redirect(url_for("auth.login", next=request.full_path))


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
    expected = session.get("csrf", "")
    if not (sent and expected and hmac.compare_digest(sent, expected)):
        return error_response(
            "missing or wrong CSRF token: reload the page", 400, field="csrf_token"
        )
    return None


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return _ask_to_log_in()
        return view(*args, **kwargs)

    return wrapped


# A path on this site: one slash, then no slash or backslash (`//host`, `/\\host` are other
# sites to a browser), and no whitespace or control character anywhere (browsers drop tabs and
# newlines, so `/\t/evil.example` would become `//evil.example`).
SAFE_NEXT = re.compile(r"/(?![/\\])[^\s\x00-\x1f\x7f\\]*")


def _safe_next(target: str | None) -> str:
    # Only paths on this site, so a crafted link cannot send a user elsewhere after login.
    if target and SAFE_NEXT.fullmatch(target):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@bp.route("/login.json", methods=["POST"], endpoint="login_json")
def login():
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    username = (request.form.get("username") or "").strip()
    error, status, headers = _login_error(username)
    if error:
        if wants_json():
            return json_errors({"username": [error]}, status)[0], status, headers
        page = render_template("login.html", error=error, next=request.form.get("next"))
        return page, status, headers
    session.clear()
    session["username"] = username
    if _accounts().enabled:
        session["sid"] = _accounts().start_session(username)
    session["csrf"] = secrets.token_urlsafe(32)  # a new session, a new token: never empty
    if wants_json():
        return jsonify({"username": username, "csrf_token": session["csrf"]})
    return redirect(_safe_next(request.form.get("next") or request.args.get("next")))


def _login_error(username: str) -> tuple[str | None, int, dict[str, str]]:
    """Why this login fails, its status and headers; or None."""
    if not valid_username(username):
        return USERNAME_RULE, 400, {}
    if not _accounts().enabled:
        return None, 200, {}
    pair, backstop = current_app.extensions["digits.login_throttle"]
    pair_key, user_key = [f"{username} from {request.remote_addr}"], [username]
    wait = max(pair.retry_after(pair_key), backstop.retry_after(user_key))
    if wait:
        return f"too many failed logins: try again in {wait} s", 429, {"Retry-After": str(wait)}
    if not _accounts().check_password(username, request.form.get("password", "")):
        pair.failed(pair_key)
        backstop.failed(user_key)
        return BAD_LOGIN, 401, {}
    return None, 200, {}


@bp.route("/logout", methods=["POST"])
@bp.route("/logout.json", methods=["POST"], endpoint="logout_json")
def logout():
    """POST only: a link or image on another site cannot log a user out. The session ends on
    the server too: a copy of its cookie no longer works."""
    if _accounts().enabled and session.get("username") and session.get("sid"):
        _accounts().end_session(session["username"], session["sid"])
    session.clear()
    if wants_json():
        return jsonify({"username": None})
    return redirect(url_for("home.index"))
