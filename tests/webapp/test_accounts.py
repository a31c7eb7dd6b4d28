"""With accounts: passwords, API tokens, CSRF tokens on cookie sessions, owners' rights."""

import html

import pytest

from tests.support.users import add_users, log_in


@pytest.fixture
def accounts(app, jobs_dir):
    return add_users(jobs_dir)


def submit(client, csrf, **headers):
    return client.post(
        "/test/countdown.json", data={"steps": "1", "csrf_token": csrf}, headers=headers
    )


def test_login_needs_the_password_and_a_bare_username_is_nobody(client, accounts):
    assert client.post("/login.json", data={"username": "fred"}).status_code == 401
    wrong = client.post("/login.json", data={"username": "fred", "password": "nope nope"})
    assert wrong.status_code == 401 and wrong.get_json()["errors"]["username"] == [
        "wrong username or password"
    ]
    stand_in = client.post("/test/countdown.json", data={"steps": "1", "username": "fred"})
    assert stand_in.status_code == 401


def test_a_cookie_session_needs_its_csrf_token_and_a_token_caller_does_not(client, app, accounts):
    csrf = log_in(client, "fred")
    assert submit(client, "").status_code == 400
    assert "csrf_token" in submit(client, "forged").get_json()["errors"]
    assert submit(client, csrf).status_code == 200
    api = app.test_client()  # no cookie: a script with fred's token
    token = accounts.new_token("fred")
    created = submit(api, "", Authorization=f"Bearer {token}")
    assert created.status_code == 200
    job_url = f"/jobs/{created.get_json()['id']}.json"
    assert api.get(job_url, headers={"Authorization": f"Bearer {token}"}).json["owner"] == "fred"
    assert submit(api, "", Authorization="Bearer dgt_not-a-token").status_code == 401


def test_only_the_owner_or_an_admin_changes_a_job(app, accounts):
    fred, ann, root = app.test_client(), app.test_client(), app.test_client()
    csrf = {
        name: log_in(client, name)
        for name, client in (("fred", fred), ("ann", ann), ("root", root))
    }
    job_id = submit(fred, csrf["fred"]).get_json()["id"]
    headers = {"X-CSRF-Token": csrf["ann"]}
    for method, url, data in (
        ("post", f"/jobs/{job_id}/abort.json", {}),
        ("put", f"/jobs/{job_id}", {"job_name": "mine"}),
        ("delete", f"/jobs/{job_id}", {}),
        ("post", f"/jobs/{job_id}/resume.json", {}),
    ):
        response = getattr(ann, method)(url, data=data, headers=headers)
        assert response.status_code == 403, (method, url)
        text = html.unescape(response.get_data(as_text=True))  # HTML for PUT and DELETE
        assert "only the job's owner (fred) or an admin" in text
    renamed = root.put(
        f"/jobs/{job_id}", data={"job_name": "by root"}, headers={"X-CSRF-Token": csrf["root"]}
    )
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "by root"
    assert fred.delete(f"/jobs/{job_id}", headers={"X-CSRF-Token": csrf["fred"]}).status_code == 200


def test_classify_needs_a_user_once_accounts_exist(client, accounts):
    response = client.post(
        "/models/images/classification/classify_one.json", data={"job_id": "20200101-000000-0000"}
    )
    assert response.status_code == 401
