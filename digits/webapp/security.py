"""What another web site can make a user's browser do to this server, refused.

Any page a DIGITS user visits can make their browser send requests here. Two rules stop it:
- **Host**: a server listening on loopback answers only requests addressed to a loopback name
  (or a configured one), as Jupyter does. A site that rebinds its own name to 127.0.0.1 (DNS
  rebinding) is "same-origin" with us, but its requests carry its name as `Host`.
- **Origin**: a request that changes something must come from one of our own pages: the
  browser's `Sec-Fetch-Site` must say so, and an `Origin` must be ours (or a trusted one, for a
  proxy in front). Clients that send neither (curl, scripts) are not browsers and pass.
Socket.IO applies the same origin rule (see realtime).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from digits.webapp.http import error_response, plain_refusal

UNSAFE_METHODS = ("POST", "PUT", "DELETE", "PATCH")
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")
ANY_HOST = "*"


HOST_PATTERN = re.compile(r"(?:\[(?P<ip6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::\d{1,5})?")


def host_name(host_header: str) -> str:
    """`Host` without its port: `[::1]:5000` -> `::1`, `Example.org:80` -> `example.org`;
    "" for anything that is not a name or address with an optional port (`[::1]evil`)."""
    match = HOST_PATTERN.fullmatch(host_header.strip().lower())
    if match is None:
        return ""
    return match.group("ip6") or match.group("name")


def is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(host_header: str, allowed_hosts: Iterable[str]) -> bool:
    """Loopback names always; others only when configured (`*`: any, for a public listener)."""
    allowed = tuple(allowed_hosts)
    name = host_name(host_header)
    return bool(name) and (ANY_HOST in allowed or is_loopback(name) or name in allowed)


class HostCheck:
    """WSGI middleware in front of everything (pages, API, Socket.IO): unknown `Host`, a 403."""

    def __init__(self, app: Callable, allowed_hosts: Iterable[str]):
        self.app = app
        self.allowed_hosts = tuple(allowed_hosts)

    def __call__(self, environ, start_response):
        if host_allowed(environ.get("HTTP_HOST", ""), self.allowed_hosts):
            return self.app(environ, start_response)
        body = (
            b"403: this server answers only requests addressed to its own name "
            b"(DIGITS_ALLOWED_HOSTS adds names)\n"
        )
        return plain_refusal(start_response, "403 FORBIDDEN", body)


def own_origin(environ: dict) -> str:
    return f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}".lower()


def origin_allowed(origin: str | None, environ: dict, trusted: Iterable[str]) -> bool:
    """An `Origin` that is this server's own, or configured as trusted. None: not a browser."""
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    return origin == own_origin(environ) or origin in _normalized(trusted)


def cross_site_refusal(trusted: Iterable[str]) -> str | None:
    """Why this request must be refused as coming from another site, or None."""
    if request.method not in UNSAFE_METHODS:
        return None
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, request.environ, trusted):
        return f"refused: a request from another site ({origin})"
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site not in (None, "same-origin", "none") and not _trusted(origin, trusted):
        return f"refused: a request from another site (Sec-Fetch-Site: {fetch_site})"
    return None


def _trusted(origin: str | None, trusted: Iterable[str]) -> bool:
    return origin is not None and origin.rstrip("/").lower() in _normalized(trusted)


def _normalized(origins: Iterable[str]) -> set[str]:
    return {o.rstrip("/").lower() for o in origins}


class SessionInterface(SecureCookieSessionInterface):
    """Session cookies marked Secure whenever the page came over HTTPS (directly or through a
    proxy that says so: a false claim only makes the cookie stricter)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        forwarded = request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        return super().get_cookie_secure(app) or request.is_secure or forwarded


def init_app(app: Flask) -> None:
    """Wrap the whole app (Socket.IO included: call after realtime.init_app)."""
    settings = app.config["DIGITS_SETTINGS"]
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    app.session_interface = SessionInterface()

    @app.after_request
    def refuse_framing(response):
        # No other site may show our pages in a frame (clickjacking a Delete or a form).
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        return response

    @app.before_request
    def refuse_cross_site():
        reason = cross_site_refusal(settings.trusted_origins)
        return error_response(reason, 403, field="origin") if reason else None

    app.wsgi_app = HostCheck(app.wsgi_app, settings.allowed_hosts)
