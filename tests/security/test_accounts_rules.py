"""One rule for who may do what, with accounts: nothing without a user, changes only by a job's
owner or an admin, a CSRF token made at each login, logins that tell nothing and can't be
guessed at speed."""

import statistics
import time

import pytest

from digits.accounts import AccountError
from digits.config import Settings
from digits.jobs.job import is_job_id
from digits.jobs.status import Status
from digits.webapp import create_app
from tests.support.model_forms import done_dataset, stored_job
from tests.support.users import add_users, log_in


def refused(response) -> bool:
    """A 401 (API) or the login page (a browser)."""
    if response.status_code == 302:
        return response.headers["Location"].startswith("/login")
    return response.status_code == 401


@pytest.fixture
def accounts(app, jobs_dir):
    return add_users(jobs_dir)


@pytest.fixture
def dataset(app, accounts) -> str:
    return done_dataset(app.extensions["digits"].store)  # fred's


def test_an_anonymous_visitor_sees_the_login_page_and_nothing_else(client, dataset):
    for url in (
        "/index.json",
        f"/datasets/{dataset}.json",
        f"/datasets/{dataset}/status",
        f"/datasets/{dataset}/mean.png",
        "/hardware.json",
        f"/datasets/images/classification/explore.json?job_id={dataset}",
        f"/jobs/{dataset}/table_data.json",
        f"/files/{dataset}/info.json",
    ):
        assert refused(client.get(url)), url
    page = client.get(f"/datasets/{dataset}")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200
    assert client.get("/static/css/digits.css").status_code == 200


def test_public_reads_are_an_opt_in_and_never_allow_changes(jobs_dir, data_dir, accounts):
    settings = Settings(
        jobs_dir=jobs_dir, secret_key="t", data_roots=(data_dir,), public_reads=True
    )
    client = create_app(settings, {"TESTING": True, "HOUSEKEEPING": False}).test_client()
    dataset = done_dataset(client.application.extensions["digits"].store)
    assert client.get(f"/datasets/{dataset}.json").status_code == 200
    assert client.put(f"/datasets/{dataset}", data={"job_name": "x"}).status_code == 401


def test_a_json_login_makes_a_csrf_token_and_an_empty_one_never_matches(client, accounts, dataset):
    login = client.post("/login.json", data={"username": "fred", "password": "fred's password"})
    token = login.get_json()["csrf_token"]
    assert len(token) > 20
    url = f"/datasets/{dataset}.json"
    assert client.put(url, data={"job_name": "no token"}).status_code == 400
    assert client.put(url, data={"job_name": "empty", "csrf_token": ""}).status_code == 400
    renamed = client.put(url, data={"job_name": "mine"}, headers={"X-CSRF-Token": token})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "mine"


def test_only_the_owner_adds_images_and_only_to_a_dataset(app, accounts, dataset, data_dir):
    ann = app.test_client()
    fields = {"folder_train": str(data_dir), "csrf_token": log_in(ann, "ann")}
    denied = ann.post(f"/datasets/{dataset}/append.json", data=fields)
    assert denied.status_code == 403 and "only the job's owner (fred)" in denied.text
    model = stored_job(app.extensions["digits"].store, "model", Status.INIT, owner="ann")
    not_a_dataset = ann.post(f"/datasets/{model.id}/append.json", data=fields)
    assert not_a_dataset.status_code == 400 and "is not a dataset" in not_a_dataset.text
    assert app.extensions["digits"].store.get(model.id).status.label == "Initialized"


def test_the_csrf_token_is_never_stored_with_a_job(app, accounts):
    client = app.test_client()
    csrf = log_in(client, "fred")
    created = client.post("/test/countdown.json", data={"steps": "1", "csrf_token": csrf})
    job = app.extensions["digits"].store.get(created.get_json()["id"])
    assert "csrf_token" not in job.parameters and job.parameters["steps"] == "1"
    shown = client.get(f"/jobs/{job.id}.json").get_json()["parameters"]
    assert csrf not in str(shown)


def test_failed_logins_are_limited(client, accounts):
    for _ in range(10):
        wrong = client.post("/login.json", data={"username": "ann", "password": "guess guess"})
        assert wrong.status_code == 401
    blocked = client.post("/login.json", data={"username": "ann", "password": "ann's password"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    # Whoever guessed cannot lock others out: fred from here, and ann from her own address.
    other = client.post("/login.json", data={"username": "fred", "password": "fred's password"})
    assert other.status_code == 200
    ann = {"REMOTE_ADDR": "10.1.2.3"}
    own = client.application.test_client().post(
        "/login.json",
        data={"username": "ann", "password": "ann's password"},
        environ_base=ann,
    )
    assert own.status_code == 200


def test_guesses_from_many_addresses_meet_a_slower_limit(client, accounts):
    for number in range(100):
        wrong = client.post(
            "/login.json",
            data={"username": "ann", "password": "guess guess"},
            environ_base={"REMOTE_ADDR": f"10.0.{number // 9}.{number % 9 + 1}"},
        )
        assert wrong.status_code == 401
    anywhere = {"REMOTE_ADDR": "10.9.9.9"}
    data = {"username": "ann", "password": "ann's password"}
    assert client.post("/login.json", data=data, environ_base=anywhere).status_code == 429


def test_logging_out_ends_the_session_for_every_copy_of_its_cookie(app, accounts):
    browser = app.test_client()
    csrf = log_in(browser, "fred")
    cookie = browser.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert thief.get("/index.json").status_code == 200
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert thief.get("/index.json").status_code == 401


def test_a_new_password_ends_every_session_of_the_user(app, accounts):
    browser, other = app.test_client(), app.test_client()
    log_in(browser, "fred")
    log_in(other, "ann")
    accounts.set_password("fred", "a brand new password")
    assert browser.get("/index.json").status_code == 401
    assert other.get("/index.json").status_code == 200  # ann's session goes on
    accounts.remove("ann")
    accounts.add("ann", "ann's second password")  # the same name again: a new person
    assert other.get("/index.json").status_code == 401


def test_login_time_does_not_tell_which_users_exist(accounts):
    def timed(name):
        start = time.perf_counter()
        assert not accounts.check_password(name, "not the password")
        return time.perf_counter() - start

    known = statistics.median(timed("fred") for _ in range(3))
    unknown = statistics.median(timed("nobody") for _ in range(3))
    assert unknown > known / 2  # it was 5 ms against 150 ms


def test_tokens_are_revoked_one_by_one(app, accounts):
    first, second = accounts.new_token("fred"), accounts.new_token("fred")
    with pytest.raises(AccountError):
        accounts.revoke_token("ann", first)  # not hers
    accounts.revoke_token("fred", first)
    client = app.test_client()

    def status_with(token):
        return client.get("/index.json", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status_with(first) == 401 and status_with(second) == 200


def test_job_ids_match_whole():
    assert is_job_id("20250101-000000-abcd")
    assert not is_job_id("20250101-000000-abcd\n")


def test_the_secret_key_file_is_never_readable_by_others(tmp_path):
    import stat

    from digits.config import ensure_secret_key

    settings = ensure_secret_key(Settings(jobs_dir=tmp_path))
    mode = stat.S_IMODE((tmp_path / ".secret_key").stat().st_mode)
    assert mode == 0o600 and len(settings.secret_key) == 64


def test_the_web_servers_secrets_stay_out_of_workers_and_trainers(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITS_SECRET_KEY", "sign sessions")
    monkeypatch.setenv("DIGITS_ADMIN_PASSWORD", "first admin")
    env = Settings(jobs_dir=tmp_path, secret_key="sign sessions").child_environment()
    assert "sign sessions" not in env.values() and "first admin" not in env.values()
    assert env["DIGITS_JOBS_DIR"] == str(tmp_path) and "PATH" in env
