"""Accounts: users with hashed passwords and API tokens, kept in `<jobs dir>/.users.json`.

With no account, DIGITS' way: anyone names themselves with a username (a trusted network).
Once `digits user add` has made one, logging in takes the password, the JSON API takes a
user's token (`Authorization: Bearer <token>`), every form carries a CSRF token, and only a
job's owner or an admin may abort, delete, rename or resume it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from digits.jobs.store import write_json_atomically

USERS_FILE = ".users.json"
TOKEN_PREFIX = "dgt_"


class AccountError(ValueError):
    """A request about accounts that cannot be done as asked (its message says why)."""


@dataclass
class User:
    name: str
    password_hash: str
    admin: bool = False
    token_hashes: list[str] = field(default_factory=list)


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

    def _save(self, users: dict[str, User]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        if len(password) < 8:
            raise AccountError("a password has at least 8 characters")
        users = dict(self._users())
        if name in users:
            raise AccountError(f"user {name} exists; remove it first to change it")
        users[name] = User(name, generate_password_hash(password), admin)
        self._save(users)

    def remove(self, name: str) -> None:
        users = dict(self._users())
        if users.pop(name, None) is None:
            raise AccountError(f"no user {name}")
        self._save(users)

    def check_password(self, name: str, password: str) -> bool:
        user = self.get(name)
        return bool(user and password and check_password_hash(user.password_hash, password))

    def new_token(self, name: str) -> str:
        """A new API token for the user (shown once; only its hash is kept)."""
        users = dict(self._users())
        if name not in users:
            raise AccountError(f"no user {name}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        users[name].token_hashes.append(_token_hash(token))
        self._save(users)
        return token

    def user_for_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        wanted = _token_hash(token)
        for user in self._users().values():
            if any(hmac.compare_digest(wanted, known) for known in user.token_hashes):
                return user
        return None
