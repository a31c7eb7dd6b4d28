"""Accounts kept in the jobs folder: hashed passwords and tokens, and `digits user`."""

import os
import stat
import subprocess
import sys

import pytest

from digits.accounts import AccountError, Accounts


def test_passwords_and_tokens_are_kept_hashed_and_checked(jobs_dir):
    accounts = Accounts(jobs_dir)
    assert not accounts.enabled
    accounts.add("fred", "a long secret", admin=True)
    token = accounts.new_token("fred")
    text = (jobs_dir / ".users.json").read_text()
    assert "a long secret" not in text and token not in text
    assert stat.S_IMODE(os.stat(jobs_dir / ".users.json").st_mode) == 0o600
    again = Accounts(jobs_dir)  # another process's view
    assert again.enabled and again.check_password("fred", "a long secret")
    assert not again.check_password("fred", "a long secreT") and not again.check_password("x", "")
    assert again.user_for_token(token).name == "fred" and again.get("fred").admin
    assert again.user_for_token(token[:-1] + "x") is None
    with pytest.raises(AccountError, match="at least 8"):
        again.add("ann", "short")
    with pytest.raises(AccountError, match="exists"):
        again.add("fred", "another long one")


def test_the_user_command_adds_lists_and_makes_tokens(jobs_dir):
    def digits_user(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "digits", "user", "--jobs-dir", str(jobs_dir), *args],
            input=stdin,
            capture_output=True,
            text=True,
        )

    assert (
        digits_user("add", "ann", "--admin", "--password-stdin", stdin="pass word 1\n").stdout
        == "user ann added (admin)\n"
    )
    assert digits_user("list").stdout == "ann (admin)\n"
    token = digits_user("token", "ann").stdout.strip()
    assert Accounts(jobs_dir).user_for_token(token).name == "ann"
    assert digits_user("token", "ann", "--revoke", token).stdout == "token of ann revoked\n"
    assert Accounts(jobs_dir).user_for_token(token) is None
    digits_user("token", "ann"), digits_user("token", "ann")
    assert digits_user("token", "ann", "--revoke-all").stdout == "2 token(s) of ann revoked\n"
    refused = digits_user("add", "Bad Name", "--password-stdin", stdin="whatever long\n")
    assert refused.returncode == 1 and "lowercase letter" in refused.stderr
    session = Accounts(jobs_dir).start_session("ann")
    changed = digits_user("password", "ann", "--password-stdin", stdin="another pass 2\n")
    assert changed.stdout == "password of ann changed; their sessions have ended\n"
    accounts = Accounts(jobs_dir)
    assert accounts.check_password("ann", "another pass 2")
    assert not accounts.check_password("ann", "pass word 1")
    assert not accounts.session_valid("ann", session)


def add_users(jobs_dir, prefix: str) -> None:
    accounts = Accounts(jobs_dir)
    for n in range(8):
        accounts.add(f"{prefix}{n}", "a long secret")


def test_users_added_at_once_by_two_processes_are_all_kept(jobs_dir):
    """`digits user` and the server (DIGITS_ADMIN_PASSWORD) may change the file together."""
    import multiprocessing

    processes = [multiprocessing.Process(target=add_users, args=(jobs_dir, p)) for p in "ab"]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert len(Accounts(jobs_dir).names()) == 16
