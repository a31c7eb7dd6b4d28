"""Accounts: users with hashed passwords and API tokens, kept in `<jobs dir>/.users.json`.

With no account, DIGITS' way: anyone names themselves with a username (a trusted network).
Once `digits user add` has made one, logging in takes the password, the JSON API takes a
user's token (`Authorization: Bearer <token>`), every form carries a CSRF token, and only a
job's owner or an admin may abort, delete, rename or resume it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from digits.files import locked, write_json_atomically

USERS_FILE = ".users.json"
TOKEN_PREFIX = "dgt_"
USERNAME_PATTERN = re.compile(r"[a-z][a-z0-9._-]*")
USERNAME_RULE = (
    "a username starts with a lowercase letter, then lowercase letters, digits, . _ or -"
)


def valid_username(name: str) -> bool:
    return bool(USERNAME_PATTERN.fullmatch(name))


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user is unknown, so that a login takes as long either way."""
    return generate_password_hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A request about accounts that cannot be done as asked (its message says why)."""


@dataclass
class User:
    name: str
    password_hash: str
    admin: bool = False
    token_hashes: list[str] = field(default_factory=list)
    # Logged-in sessions (hashes of their ids): logging out ends one, a new password all.
    session_hashes: list[str] = field(default_factory=list)


MAX_SESSIONS = 20  # per user; a new login beyond them ends the oldest


def _token_hash(token: str) -> str:
    # Tokens are long and random: a fast hash is enough, and lets a request be checked quickly.
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """The users of one DIGITS install (its jobs folder); re-read when the file changes."""

    def __init__(self, jobs_dir: Path):
        self.path = jobs_dir / USERS_FILE
        self._lock = threading.Lock()
        self._cache: tuple[int, dict[str, User]] | None = None

    def _users(self) -> dict[str, User]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        with self._lock:
            if self._cache is None or self._cache[0] != stamp:
                data = json.loads(self.path.read_text())
                self._cache = (stamp, {u["name"]: User(**u) for u in data.get("users", [])})
            return self._cache[1]

    @contextmanager
    def _changing(self) -> Iterator[dict[str, User]]:
        """The users, to change and save under an exclusive lock (`digits user` and the server
        may change the file at once: neither loses the other's change)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with locked(self.path.with_name(USERS_FILE + ".lock"), mode=0o600):
            with self._lock:
                self._cache = None  # read what is on disk now, under the lock
            users = dict(self._users())
            yield users
            write_json_atomically(self.path, {"users": [asdict(u) for u in users.values()]})
            os.chmod(self.path, 0o600)  # password and token hashes: for the server's user only

    @property
    def enabled(self) -> bool:
        return bool(self._users())

    def names(self) -> list[str]:
        return sorted(self._users())

    def get(self, name: str) -> User | None:
        return self._users().get(name)

    def add(self, name: str, password: str, admin: bool = False) -> None:
        if not valid_username(name):
            raise AccountError(USERNAME_RULE)
        if len(password) < 8:
            raise AccountError("a password has at least 8 characters")
        with self._changing() as users:
            if name in users:
                raise AccountError(f"user {name} exists; remove it first to change it")
            users[name] = User(name, generate_password_hash(password), admin)

    def remove(self, name: str) -> None:
        with self._changing() as users:
            if users.pop(name, None) is None:
                raise AccountError(f"no user {name}")

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session of the user's ends (a copied cookie too)."""
        if len(password) < 8:
            raise AccountError("a password has at least 8 characters")
        with self._changing() as users:
            if name not in users:
                raise AccountError(f"no user {name}")
            users[name].password_hash = generate_password_hash(password)
            users[name].session_hashes.clear()

    def start_session(self, name: str) -> str:
        """A new session id for a user who just logged in (only its hash is kept)."""
        session_id = secrets.token_urlsafe(32)
        with self._changing() as users:
            if name not in users:
                raise AccountError(f"no user {name}")
            kept = users[name].session_hashes[-(MAX_SESSIONS - 1) :]
            users[name].session_hashes = [*kept, _token_hash(session_id)]
        return session_id

    def end_session(self, name: str, session_id: str) -> None:
        with self._changing() as users:
            user = users.get(name)
            if user and _token_hash(session_id) in user.session_hashes:
                user.session_hashes.remove(_token_hash(session_id))

    def session_valid(self, name: str, session_id: str) -> bool:
        user = self.get(name)
        if user is None or not session_id:
            return False
        wanted = _token_hash(session_id)
        return any(hmac.compare_digest(wanted, known) for known in user.session_hashes)

    def check_password(self, name: str, password: str) -> bool:
        """Takes as long for an unknown user as for a known one: timing tells no names."""
        user = self.get(name)
        known = check_password_hash(user.password_hash if user else _dummy_hash(), password)
        return bool(user and password and known)

    def new_token(self, name: str) -> str:
        """A new API token for the user (shown once; only its hash is kept)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._changing() as users:
            if name not in users:
                raise AccountError(f"no user {name}")
            users[name].token_hashes.append(_token_hash(token))
        return token

    def revoke_token(self, name: str, token: str) -> None:
        """Revoke one of a user's tokens."""
        with self._changing() as users:
            if name not in users:
                raise AccountError(f"no user {name}")
            if _token_hash(token) not in users[name].token_hashes:
                raise AccountError(f"that is not a token of {name}'s")
            users[name].token_hashes.remove(_token_hash(token))

    def revoke_all_tokens(self, name: str) -> int:
        """Revoke every token of a user; returns how many there were."""
        with self._changing() as users:
            if name not in users:
                raise AccountError(f"no user {name}")
            count = len(users[name].token_hashes)
            users[name].token_hashes.clear()
        return count

    def user_for_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        wanted = _token_hash(token)
        for user in self._users().values():
            if any(hmac.compare_digest(wanted, known) for known in user.token_hashes):
                return user
        return None
