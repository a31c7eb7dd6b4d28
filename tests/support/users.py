"""Accounts as the web tests use them: fred, ann and root (an admin), and logging in."""

import re

from digits.accounts import Accounts


def add_users(jobs_dir) -> Accounts:
    accounts = Accounts(jobs_dir)
    accounts.add("fred", "fred's password")
    accounts.add("ann", "ann's password")
    accounts.add("root", "root's password", admin=True)
    return accounts


def log_in(client, name: str) -> str:
    """Log in through the form as a browser would; returns the session's CSRF token."""
    page = client.get("/login").get_data(as_text=True)
    assert 'name="password"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": name, "password": f"{name}'s password", "csrf_token": csrf}
    )
    assert response.status_code == 302
    home = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)
